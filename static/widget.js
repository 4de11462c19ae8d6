/* Upgrades the framed pages; everything works without it.
   1. Booking: steps swap in place instead of reloading the page, and times follow the visitor's zone.
   2. Frame: tells the host page the content's height and what happened (booked, commented).
   The comments page adds comments.js. */
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.hasAttribute("data-step") || !window.fetch || !window.DOMParser) return;

  function swap(html, url, push) {
    var next = new DOMParser().parseFromString(html, "text/html");
    var nextMain = next.getElementById("main");
    if (!nextMain) { window.location.href = url; return; }
    main.innerHTML = nextMain.innerHTML;
    main.setAttribute("data-step", nextMain.getAttribute("data-step") || "");
    document.title = next.title;
    if (push) history.pushState({ widget: true }, "", url);
    var heading = main.querySelector("h1");
    if (heading) heading.focus();
  }

  // Only the latest load may change the page: a slower, older answer (the first visit's reload in the
  // visitor's zone, say) must not undo the step she has clicked to since.
  var latest = 0;
  function load(url, options, push) {
    var ticket = ++latest;
    document.body.classList.add("loading");
    return fetch(url, options || { credentials: "same-origin" }).then(function (response) {
      // A form answered in place (a taken time, a field to fix) has no address of its own.
      var own = !options || !options.method || response.redirected;
      return response.text().then(function (html) { if (ticket === latest) swap(html, response.url, push && own); });
    }).catch(function () {
      // Any network trouble: fall back to an ordinary page load.
      if (ticket === latest) window.location.href = url;
    }).then(function () { if (ticket === latest) document.body.classList.remove("loading"); });
  }

  function withZone(url) {
    var u = new URL(url, window.location.href);
    if (!u.searchParams.get("tz") && visitorZone) u.searchParams.set("tz", visitorZone);
    return u.toString();
  }

  var visitorZone = "";
  try { visitorZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* old browser */ }

  main.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    var url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.indexOf("/book") !== 0) return;
    event.preventDefault();
    load(withZone(url.toString()), null, true);
  });

  main.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented) return;
    event.preventDefault();
    var data = new FormData(form);
    if ((form.method || "get").toLowerCase() === "get") {
      var url = new URL(form.action, window.location.href);
      data.forEach(function (value, key) { url.searchParams.set(key, value); });
      load(url.toString(), null, true);
    } else {
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;  // one click, one booking
      load(form.action, { method: "POST", body: new URLSearchParams(data), credentials: "same-origin" }, true);
    }
  });

  window.addEventListener("popstate", function () { load(window.location.href, null, false); });

  // First visit without a chosen zone: show times in the visitor's own zone.
  var params = new URLSearchParams(window.location.search);
  if (!params.get("tz") && visitorZone && main.querySelector("#tz") && main.querySelector("#tz").value !== visitorZone) {
    load(withZone(window.location.href), null, false).then(function () {
      history.replaceState({ widget: true }, "", withZone(window.location.href));
    });
  }
})();

/* In an iframe: tell the host page (and only it) the height of the content, that a booking was
   made or a comment posted (no personal data). The host's origin comes from the server, which checked it. */
(function () {
  "use strict";
  var host = document.documentElement.getAttribute("data-embed");
  if (!host || window.parent === window) return;
  function post(message) { window.parent.postMessage({ bookingWidget: message }, host); }
  var last = 0;
  function measure() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) { last = height; post({ type: "height", height: height }); }
  }
  if (window.ResizeObserver) new ResizeObserver(measure).observe(document.documentElement);
  measure();
  var reported = "";
  function booked() {
    var marker = document.querySelector("[data-booked]");
    var value = marker ? marker.getAttribute("data-booked") : "";
    if (value && value !== reported) {
      reported = value;
      var detail = JSON.parse(value);
      post({ type: "booked", service: detail.service, start: detail.start, end: detail.end });
    }
  }
  booked();
  document.addEventListener("widget:commented", function (event) {
    post({ type: "commented", page: event.detail.page, status: event.detail.status });
  });
  // Esc inside the frame reaches only the frame: ask the host to close its dialog, if it has one.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") post({ type: "close" });
  });
  // Steps swap in place: look again whenever the main content changes.
  var main = document.getElementById("main");
  if (main && window.MutationObserver) new MutationObserver(booked).observe(main, { childList: true });
})();

