/* Booking widget loader: <script src="https://SERVICE/embed.js" data-service="massage-60" async></script>
   Places the booking widget in an iframe right after the script tag (or inside the element
   named by data-target). No dependencies; talks only to the origin it was loaded from. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src).origin;
  var data = script.dataset;
  var query = new URLSearchParams();
  ["service", "name", "email", "phone"].forEach(function (key) {
    if (data[key]) query.set(key, data[key]);
  });
  var frame = document.createElement("iframe");
  frame.src = origin + "/book" + (query.toString() ? "?" + query : "");
  frame.title = data.title || "Book an appointment";
  frame.loading = "lazy";
  frame.style.cssText = "width:100%;min-height:" + (data.height || "640") + "px;border:0;display:block";
  var target = data.target && document.querySelector(data.target);
  if (target) target.appendChild(frame);
  else script.parentNode.insertBefore(frame, script.nextSibling);
})();
