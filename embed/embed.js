/* Booking widget loader. One tag on any page of the studio's site:
     <script src="https://SERVICE/embed.js" data-service="massage-60" async></script>
   data-widget   "book" (default) or "comments"
   data-mode     "inline" (default) or "popup" (a button, plus any element with data-booking-widget-open)
   data-target   CSS selector of the element to fill (inline; default: right after this script)
   data-service, data-name, data-email, data-phone   prefill the booking form
   data-page     the article address for comments (default: the canonical link, else this page)
   data-accent   a colour for buttons and links, like #2f5d50
   data-title, data-button   the iframe's title and the popup button's text
   Messages go only to and from the service's own origin, in the "bookingWidget" namespace.
   The host page receives "bookingwidget:booked" and "bookingwidget:commented" DOM events. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.URL) return;
  var origin = new URL(script.src, location.href).origin;
  var data = script.dataset;
  var kind = data.widget === "comments" ? "comments" : "book";
  var frames = [];

  function pageAddress() {
    var link = document.querySelector('link[rel="canonical"]');
    var url = new URL(link && link.href ? link.href : location.href);
    url.search = "";
    url.hash = "";
    return url.toString();
  }

  function address() {
    var query = new URLSearchParams();
    if (kind === "book") {
      ["service", "name", "email", "phone"].forEach(function (key) {
        if (data[key]) query.set(key, data[key]);
      });
    } else {
      query.set("page", data.page || pageAddress());
    }
    if (data.accent) query.set("accent", data.accent);
    try {
      // The visitor's zone up front saves the frame a second request to switch to it.
      query.set("tz", Intl.DateTimeFormat().resolvedOptions().timeZone);
    } catch (error) { /* old browser: the frame shows studio time, switchable */ }
    query.set("embed", location.origin);
    return origin + "/" + kind + "?" + query.toString();
  }

  function style() {
    if (document.getElementById("bw-style")) return;
    var css = document.createElement("style");
    css.id = "bw-style";
    css.textContent =
      ".bw-frame{display:block;width:100%;min-height:320px;border:0;background:transparent;opacity:0;transition:opacity .2s}" +
      ".bw-frame.bw-ready{opacity:1}" +
      ".bw-dialog{width:min(40rem,calc(100vw - 2rem));max-height:calc(100vh - 2rem);padding:0;border:0;border-radius:12px;overflow:auto}" +
      ".bw-dialog::backdrop{background:rgba(0,0,0,.5)}" +
      ".bw-close{position:sticky;top:0;float:right;margin:.5rem;font:inherit;font-size:1.5rem;line-height:1;background:#fff;border:1px solid #ccc;border-radius:50%;width:2.5rem;height:2.5rem;cursor:pointer}" +
      ".bw-open{font:inherit;font-weight:600;padding:.6rem 1.2rem;border:0;border-radius:6px;color:#fff;background:" +
      (data.accent || "#2f5d50") + ";cursor:pointer}";
    // First in <head>, so the host page's own rules win.
    document.head.insertBefore(css, document.head.firstChild);
  }

  function frame(lazy) {
    var element = document.createElement("iframe");
    element.src = address();
    element.title = data.title || (kind === "book" ? "Book an appointment" : "Comments");
    element.className = "bw-frame";
    element.setAttribute("scrolling", "no");
    if (lazy) element.loading = "lazy";
    element.addEventListener("load", function () { element.classList.add("bw-ready"); });
    frames.push(element);
    return element;
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin) return;
    var message = event.data && typeof event.data === "object" ? event.data.bookingWidget : null;
    if (!message || typeof message !== "object") return;
    var element = null;
    for (var i = 0; i < frames.length; i++) if (frames[i].contentWindow === event.source) element = frames[i];
    if (!element) return;
    if (message.type === "height" && typeof message.height === "number" && message.height > 0 && message.height < 20000) {
      element.style.height = Math.ceil(message.height) + "px";
    } else if (message.type === "close") {
      var dialog = element.closest("dialog");
      if (dialog && dialog.open) dialog.close();
    } else if (message.type === "booked" || message.type === "commented") {
      var detail = {};
      ["service", "start", "end", "page", "status"].forEach(function (key) {
        if (typeof message[key] === "string") detail[key] = message[key];
      });
      element.dispatchEvent(new CustomEvent("bookingwidget:" + message.type, { bubbles: true, detail: detail }));
    }
  });

  style();
  if (data.mode !== "popup") {
    var target = data.target && document.querySelector(data.target);
    if (!target) {
      target = document.createElement("div");
      script.parentNode.insertBefore(target, script.nextSibling);
    }
    target.appendChild(frame(true));
    return;
  }

  var dialog = document.createElement("dialog");
  dialog.className = "bw-dialog";
  dialog.setAttribute("aria-label", data.title || "Book an appointment");
  var close = document.createElement("button");
  close.type = "button";
  close.className = "bw-close";
  close.setAttribute("aria-label", "Close");
  close.textContent = "\u00d7";
  close.addEventListener("click", function () { dialog.close(); });
  dialog.appendChild(close);
  document.body.appendChild(dialog);
  var opener = null;
  dialog.addEventListener("close", function () {
    // Focus goes back where it was, as for any modal dialog.
    if (opener && opener.focus) opener.focus();
  });

  function open(event) {
    if (event) event.preventDefault();
    opener = document.activeElement;
    if (!dialog.querySelector("iframe")) dialog.appendChild(frame(false));
    // showModal() makes the rest of the page inert (focus stays inside) and Esc closes it.
    dialog.showModal();
    close.focus();
  }

  var button = document.createElement("button");
  button.type = "button";
  button.className = "bw-open";
  button.textContent = data.button || "Book now";
  button.addEventListener("click", open);
  script.parentNode.insertBefore(button, script.nextSibling);
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-booking-widget-open]");
    if (trigger) open(event);
  });
})();
