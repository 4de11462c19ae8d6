/* The admin's small enhancements; every page works without them.
   1. A form, or a submit button, with data-confirm asks before it acts.
   2. A list of comments gets a "Select all" box for its bulk actions.
   Loaded as a file, never inline: the admin's Content-Security-Policy runs no inline script. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  function addSelectAll(form) {
    var boxes = form.querySelectorAll('input[type="checkbox"][name="ids"]');
    var actions = form.querySelector(".actions");
    if (!boxes.length || !actions) return;
    var label = document.createElement("label");
    var all = document.createElement("input");
    all.type = "checkbox";
    all.className = "select-all";
    label.appendChild(all);
    label.appendChild(document.createTextNode(" Select all"));
    actions.insertBefore(label, actions.firstChild);
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    form.addEventListener("change", function (event) {
      if (event.target === all) return;
      var ticked = Array.prototype.filter.call(boxes, function (box) { return box.checked; }).length;
      all.checked = ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  }

  document.querySelectorAll("form[data-bulk]").forEach(addSelectAll);
})();
