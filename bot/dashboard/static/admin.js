// The dashboard's small scripts: the larger-text switch, confirmations, live broadcast progress,
// the content editor's character count and unsaved-changes warning.
(function () {
  "use strict";
  var html = document.documentElement;
  function setLarge(on) {
    html.classList.toggle("large", on);
    document.querySelectorAll("[data-larger]").forEach(function (b) { b.setAttribute("aria-pressed", String(on)); });
    try { if (on) localStorage.setItem("cchc-admin-large", "1"); else localStorage.removeItem("cchc-admin-large"); } catch (e) {}
  }
  try { if (localStorage.getItem("cchc-admin-large")) setLarge(true); } catch (e) {}

  document.addEventListener("DOMContentLoaded", function () {
    try { if (localStorage.getItem("cchc-admin-large")) setLarge(true); } catch (e) {}
    document.querySelectorAll("[data-larger]").forEach(function (b) {
      b.addEventListener("click", function () { setLarge(!html.classList.contains("large")); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
    // After a preview or a result, take keyboard and screen-reader users to it.
    var shown = document.getElementById("preview-title") || document.getElementById("result-title") ||
                document.getElementById("form-error");
    if (shown) { if (!shown.hasAttribute("tabindex")) shown.setAttribute("tabindex", "-1"); shown.focus(); }

    // The content editor: the answer's length as it is typed; a warning before leaving unsaved edits.
    document.querySelectorAll("textarea[data-count]").forEach(function (area) {
      var out = document.getElementById(area.getAttribute("data-count"));
      area.addEventListener("input", function () { out.textContent = area.value.length + " ký tự"; });
    });
    var editor = document.querySelector("form[data-editor]");
    if (editor) {
      var dirty = false;
      editor.addEventListener("input", function () { dirty = true; });
      editor.addEventListener("submit", function () { dirty = false; });
      window.addEventListener("beforeunload", function (ev) { if (dirty) { ev.preventDefault(); ev.returnValue = ""; } });
    }

    var box = document.querySelector("[data-progress-url]");
    if (box && box.getAttribute("data-active") === "yes") {
      var url = box.getAttribute("data-progress-url");
      var field = function (name) { return box.querySelector('[data-field="' + name + '"]'); };
      var timer = setInterval(function () {
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
          .then(function (d) {
            var status = field("status_label");
            if (status.textContent !== d.status_label) status.textContent = d.status_label;  // announced (role=status)
            var bar = field("bar");
            bar.max = d.total || 1; bar.value = d.finished;
            field("summary").textContent = d.finished + "/" + d.total + " lượt gửi đã xong (" + d.percent + "%)";
            var body = field("counts");
            body.textContent = "";
            Object.keys(d.counts).sort().forEach(function (k) {
              var tr = document.createElement("tr");
              var a = document.createElement("td"); a.textContent = d.labels[k] || k;
              var b = document.createElement("td"); b.textContent = d.counts[k];
              tr.appendChild(a); tr.appendChild(b); body.appendChild(tr);
            });
            if (!d.active) {
              clearInterval(timer);
              document.querySelectorAll("[data-while-active]").forEach(function (n) { n.hidden = true; });
            }
          })
          .catch(function () { /* try again at the next tick */ });
      }, 2000);
    }
  });
})();
