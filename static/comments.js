/* Upgrades the comments page: post without reloading, reply inline, show "more comments" in place,
   edit or delete one's own comment for a while. Everything works without it. widget.js, loaded
   first, passes the "widget:commented" event on to the host page. */
(function () {
  "use strict";
  var main = document.querySelector("main.comments");
  if (!main || !window.fetch || !window.DOMParser || !window.JSON) return;
  var page = main.getAttribute("data-page");
  var api = main.getAttribute("data-api");
  var section = document.getElementById("comment-form");
  var form = section.querySelector("form");
  var home = section.nextElementSibling;  // where the form goes back to after a reply
  var KEY = "widget.comments";

  // The edit tokens of one's own comments. Storage may be refused to a third-party frame:
  // then they live as long as the page does.
  var memory = {};
  function load() {
    try { return JSON.parse(window.localStorage.getItem(KEY) || "{}"); } catch (e) { return memory; }
  }
  function save(own) {
    var now = Date.now();
    Object.keys(own).forEach(function (id) { if (own[id].until < now) delete own[id]; });
    memory = own;
    try { window.localStorage.setItem(KEY, JSON.stringify(own)); } catch (e) { /* kept in memory */ }
  }

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text) node.textContent = text;
    return node;
  }

  // Move the focus to what just changed (made focusable by script only, so Tab skips it).
  function focusOn(element) {
    if (!element.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|TEXTAREA|SELECT)$/.test(element.tagName)) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus();
  }

  function notice(text) {
    var box = document.getElementById("comments-notice");
    box.textContent = text;
    box.hidden = !text;
  }

  function clearErrors() {
    form.querySelectorAll(".error").forEach(function (node) { node.remove(); });
    form.querySelectorAll(".has-error").forEach(function (node) { node.classList.remove("has-error"); });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    var problems = form.querySelector(".form-problems");
    problems.textContent = "";
    problems.hidden = true;
  }

  function showErrors(errors) {
    var problems = form.querySelector(".form-problems");
    var first = null;
    Object.keys(errors).forEach(function (name) {
      var input = form.elements[name];
      if (input && input.type !== "hidden" && name !== "homepage") {
        var label = form.querySelector("label[for='" + input.id + "']");
        var message = el("p", { "class": "error", id: input.id + "-error" },
          (label ? label.firstChild.textContent.trim() + " " : "") + errors[name]);
        input.parentNode.classList.add("has-error");
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", input.id + "-error");
        input.parentNode.appendChild(message);
        first = first || input;
      } else {
        problems.appendChild(el("p", {}, errors[name]));
        problems.hidden = false;
      }
    });
    focusOn(first || problems);
  }

  function replyTo(id) {
    var item = document.getElementById("comment-" + id);
    if (!item) return;
    form.elements.parent_id.value = id;
    var author = item.querySelector(".comment-author");
    section.querySelector("#form-title").textContent = "Reply to " + (author ? author.textContent.trim() : "this comment");
    section.querySelector(".cancel-reply").hidden = false;
    item.querySelector(".comment-card").after(section);
    form.elements.body.focus();
  }

  function cancelReply() {
    form.elements.parent_id.value = "";
    section.querySelector("#form-title").textContent = "Leave a comment";
    section.querySelector(".cancel-reply").hidden = true;
    home.before(section);
  }

  // Fetch the thread as the server shows it now and put it in place of ours.
  function refresh(focusId) {
    var url = new URL(window.location.href);
    url.searchParams.delete("posted");
    url.searchParams.delete("reply");
    return fetch(url.toString(), { credentials: "omit" }).then(function (response) {
      return response.text();
    }).then(function (html) {
      var next = new DOMParser().parseFromString(html, "text/html");
      ["comments-title", "thread"].forEach(function (id) {
        var fresh = next.getElementById(id);
        if (fresh && document.getElementById(id)) document.getElementById(id).replaceWith(fresh);
      });
      var empty = document.getElementById("no-comments");
      if (empty && document.querySelector("#thread > li")) empty.remove();
      decorate();
      var target = focusId && document.getElementById("comment-" + focusId);
      if (target) focusOn(target);
    });
  }

  function ownControls(item, id, entry) {
    if (item.querySelector(".own-controls")) return;
    item.classList.add("own");
    var actions = item.querySelector(".comment-actions") || item.querySelector(".comment-card").appendChild(el("p", { "class": "comment-actions" }));
    var edit = el("button", { type: "button", "class": "secondary own-controls" }, "Edit");
    var remove = el("button", { type: "button", "class": "danger own-controls" }, "Delete");
    actions.appendChild(edit);
    actions.appendChild(remove);
    edit.addEventListener("click", function () { startEdit(item, id, entry); });
    remove.addEventListener("click", function () {
      if (!window.confirm("Delete your comment?")) return;
      call("DELETE", id, entry, null).then(function (response) {
        if (response.status === 204) {
          var own = load(); delete own[id]; save(own);
          notice("Your comment is deleted.");
          item.remove();
          refresh();
        } else {
          response.json().then(function (body) { notice(errorText(body)); });
        }
      });
    });
  }

  function errorText(body) {
    var errors = (body && body.errors) || {};
    return Object.keys(errors).map(function (name) { return errors[name]; }).join(" ") || "That did not work. Please try again.";
  }

  function call(method, id, entry, payload) {
    var options = { method: method, credentials: "omit", headers: { "X-Comment-Token": entry.token } };
    if (payload) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    return fetch(api + "/" + id, options);
  }

  function startEdit(item, id, entry) {
    var body = item.querySelector(".comment-body");
    if (!body || item.querySelector(".edit-form")) return;
    var editor = el("form", { "class": "edit-form" });
    var label = el("label", { "for": "edit-" + id, "class": "visually-hidden" }, "Edit your comment");
    var limits = form.elements.body;  // the same limits as the comment form's
    var area = el("textarea", {
      id: "edit-" + id, name: "body", rows: "5", required: "",
      minlength: limits.getAttribute("minlength"), maxlength: limits.getAttribute("maxlength")
    });
    area.value = entry.body;
    var saveButton = el("button", { type: "submit" }, "Save");
    var cancel = el("button", { type: "button", "class": "secondary" }, "Cancel");
    editor.append(label, area, saveButton, cancel);
    body.hidden = true;
    body.after(editor);
    area.focus();
    cancel.addEventListener("click", function () { editor.remove(); body.hidden = false; });
    editor.addEventListener("submit", function (event) {
      event.preventDefault();
      saveButton.disabled = true;
      call("PATCH", id, entry, { body: area.value }).then(function (response) {
        return response.json().then(function (answer) {
          saveButton.disabled = false;
          if (!response.ok) { notice(errorText(answer)); return; }
          var own = load();
          if (own[id]) { own[id].body = answer.body; save(own); }
          entry.body = answer.body;
          body.innerHTML = answer.body_html;  // sanitised by the server when it was written
          editor.remove();
          body.hidden = false;
          notice(answer.status === "published" ? "Your comment is updated." : "Your comment is updated and will appear once approved.");
        });
      });
    });
  }

  function pendingPreview(id, answer) {
    var item = el("li", { "class": "comment own pending", id: "comment-" + id });
    var card = el("article", { "class": "comment-card", "aria-label": "Your comment, awaiting approval" });
    var meta = el("p", { "class": "comment-meta muted" }, "Your comment, awaiting approval");
    var body = el("div", { "class": "comment-body" });
    body.innerHTML = answer.body_html;  // sanitised by the server
    card.append(meta, body);
    item.appendChild(card);
    return item;
  }

  // Add "Edit" and "Delete" to one's own comments while they may still be changed.
  function decorate() {
    var own = load();
    save(own);  // drops expired entries
    Object.keys(own).forEach(function (id) {
      if (own[id].page !== page) return;
      var item = document.getElementById("comment-" + id);
      if (item && !item.classList.contains("deleted")) ownControls(item, id, own[id]);
    });
  }

  main.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a");
    if (!link) return;
    if (link.hasAttribute("data-reply")) {
      event.preventDefault();
      replyTo(link.getAttribute("data-reply"));
    } else if (link.closest(".cancel-reply")) {
      event.preventDefault();
      cancelReply();
    } else if (link.classList.contains("more-comments")) {
      event.preventDefault();
      fetch(link.href, { credentials: "omit" }).then(function (response) { return response.text(); }).then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        var thread = document.getElementById("thread");
        var first = null;
        next.querySelectorAll("#thread > li").forEach(function (item) { thread.appendChild(item); first = first || item; });
        var pager = main.querySelector(".pager");
        var nextPager = next.querySelector(".pager");
        if (nextPager && nextPager.querySelector(".more-comments")) pager.replaceWith(nextPager); else pager.remove();
        decorate();
        if (first) focusOn(first);
      }).catch(function () { window.location.href = link.href; });
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    var data = {
      page: page,
      name: form.elements.name.value,
      email: form.elements.email.value,
      website: form.elements.website.value,
      body: form.elements.body.value,
      parent_id: form.elements.parent_id.value ? Number(form.elements.parent_id.value) : null,
      notify: form.elements.notify.checked,
      form_token: form.elements.form_token.value,
      homepage: form.elements.homepage.value
    };
    fetch(api, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(data)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        button.disabled = false;
        if (response.status === 201) {
          var own = load();
          own[answer.id] = { token: answer.edit_token, until: Date.now() + answer.editable_for * 1000, body: answer.body, page: page };
          save(own);
          var parent = data.parent_id;
          form.elements.body.value = "";
          cancelReply();
          document.dispatchEvent(new CustomEvent("widget:commented", { detail: { page: page, status: answer.status } }));
          if (answer.status === "published") {
            notice("Thank you! Your comment is published.");
            refresh(answer.id);
          } else {
            notice("Thank you! Your comment will appear once the studio has approved it.");
            var preview = pendingPreview(answer.id, answer);
            var list = parent && document.getElementById("comment-" + parent);
            if (list) {
              var replies = list.querySelector(":scope > ol.replies") || list.appendChild(el("ol", { "class": "replies" }));
              replies.appendChild(preview);
            } else {
              document.getElementById("thread").appendChild(preview);
            }
            ownControls(preview, String(answer.id), own[answer.id]);
            focusOn(document.getElementById("comments-notice"));
          }
        } else if (response.status === 429) {
          showErrors({ form: "You are posting very fast. Please wait a minute and try again." });
        } else {
          showErrors(answer.errors || { form: "That did not work. Please try again." });
        }
      });
    }).catch(function () {
      // Network trouble: post the ordinary way.
      button.disabled = false;
      form.submit();
    });
  });

  // A reply link followed without this script (?reply=ID) already placed the form; otherwise start fresh.
  decorate();
})();
