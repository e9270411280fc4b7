/*
 * CCHC Bot chat widget. A commune portal embeds it with one tag:
 *
 *   <script src="https://bot.example.gov.vn/widget.js" defer></script>
 *
 * and gets a "Hỏi đáp thủ tục" button that opens the chat panel. The bot's own page (/) uses
 * the same script with data-mode="page" to draw the chat full-page.
 *
 * Optional attributes on the <script> tag:
 *   data-mode="page"        draw the chat inside data-target (or <body>) instead of a button
 *   data-target="ID"        the element to draw into (page mode)
 *   data-title="..."        the panel's title
 *   data-endpoint="api/chat" the API, relative to the script's own address
 *
 * No external resources. The conversation id is kept in localStorage and sent in the
 * X-CCHC-Session header, so the widget also works where third-party cookies are blocked.
 * Styles live in a shadow root: the portal's CSS does not leak in, ours does not leak out.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__cchcChatWidget) return;
  window.__cchcChatWidget = true;

  var base = new URL(".", script.src);
  var endpoint = new URL(script.getAttribute("data-endpoint") || "api/chat", base).href;
  var pageMode = script.getAttribute("data-mode") === "page";
  var title = script.getAttribute("data-title") || "Trợ lý ảo hướng dẫn thủ tục hành chính";
  var SESSION_KEY = "cchc-session";
  var LARGE_KEY = "cchc-large";
  var LOG_KEY = "cchc-log";
  var MAX_KEPT = 40;

  function store(kind) {
    try { return window[kind]; } catch (e) { return null; }
  }
  function get(kind, key) {
    var s = store(kind);
    try { return s ? s.getItem(key) : null; } catch (e) { return null; }
  }
  function put(kind, key, value) {
    var s = store(kind);
    try { if (s) { if (value === null) s.removeItem(key); else s.setItem(key, value); } } catch (e) { /* full or blocked */ }
  }

  var CSS = [
    ":host { all: initial; }",
    ".root { font-family: system-ui, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif; font-size: 17px;",
    "  line-height: 1.45; color: #1b1b1b; --brand: #a8201a; --focus: #0b57d0; }",
    ".root.large { font-size: 21px; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "button, textarea { font: inherit; }",
    ".launcher { position: fixed; right: 16px; bottom: 16px; z-index: 2147483000; background: var(--brand);",
    "  color: #fff; border: 0; border-radius: 999px; padding: .7em 1.1em; font-weight: 600; cursor: pointer;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.3); }",
    ".panel { display: flex; flex-direction: column; background: #f4f6f8; overflow: hidden; }",
    ".panel[hidden] { display: none; }",
    ".floating { position: fixed; right: 16px; bottom: 16px; z-index: 2147483001; width: 380px;",
    "  height: min(620px, calc(100vh - 32px)); border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.35); }",
    ".inline { position: relative; width: 100%; height: 100%; min-height: 100%; }",
    "@media (max-width: 520px) { .floating { right: 0; bottom: 0; width: 100vw; height: 100vh; height: 100dvh;",
    "  border-radius: 0; } }",
    "header { background: var(--brand); color: #fff; padding: .45em .7em; display: flex; align-items: center;",
    "  gap: .4em; flex-wrap: wrap; flex: none; }",
    "header h1, header h2 { font-size: 1em; line-height: 1.3; margin: 0; flex: 1 1 60%; }",
    ".tools { display: flex; gap: .4em; flex: 0 0 auto; }",
    ".floating .tools { flex-basis: 100%; order: 3; }",
    "header button { background: #fff; color: var(--brand); border: 0; border-radius: .4em; padding: .3em .6em;",
    "  cursor: pointer; font-size: .85em; font-weight: 600; min-height: 44px; min-width: 44px; }",
    ".log { flex: 1 1 auto; min-height: 0; overflow-y: auto; padding: .8em; display: flex; flex-direction: column;",
    "  gap: .6em; position: relative; }",
    ".log > * { flex: none; }",
    ".msg { max-width: 92%; padding: .55em .8em; border-radius: .8em; overflow-wrap: anywhere; }",
    ".bot { background: #fff; align-self: flex-start; box-shadow: 0 1px 2px rgba(0,0,0,.15); }",
    ".me { background: #d6e8ff; align-self: flex-end; white-space: pre-wrap; }",
    ".text { white-space: pre-wrap; }",
    ".text a { color: #0b4fa8; }",
    ".msg img { max-width: 100%; height: auto; display: block; margin-top: .4em; }",
    ".buttons { display: flex; flex-wrap: wrap; gap: .4em; margin-top: .5em; }",
    ".buttons button, .buttons a { border: 1px solid var(--brand); color: var(--brand); background: #fff;",
    "  border-radius: 1em; padding: .35em .8em; cursor: pointer; text-decoration: none; font-size: .92em;",
    "  min-height: 40px; display: inline-flex; align-items: center; text-align: left; }",
    ".buttons button:hover, .buttons a:hover { background: #fbeceb; }",
    "form { display: flex; gap: .5em; padding: .6em; background: #fff; border-top: 1px solid #ccc; flex: none; }",
    "textarea { flex: 1; resize: none; padding: .5em; border: 1px solid #777; border-radius: .5em; min-height: 2.8em; }",
    "form button { background: var(--brand); color: #fff; border: 0; border-radius: .5em; padding: 0 1em;",
    "  cursor: pointer; font-weight: 600; min-width: 44px; }",
    ".status { min-height: 1.4em; margin: 0; padding: 0 .9em; font-size: .85em; color: #444; flex: none; }",
    "button:focus-visible, a:focus-visible, textarea:focus-visible, .log:focus-visible {",
    "  outline: 3px solid var(--focus); outline-offset: 2px; }",
    ".sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden;",
    "  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }"
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function safeUrl(url) {
    try {
      var u = new URL(url, window.location.href);
      return /^(https?:|tel:|mailto:)$/.test(u.protocol) ? u.href : null;
    } catch (e) { return null; }
  }

  // --- the DOM -------------------------------------------------------------------------------
  var host = el("div", { id: "cchc-chat-widget" });
  var target = pageMode ? document.getElementById(script.getAttribute("data-target") || "") : null;
  (target || document.body).appendChild(host);
  if (pageMode) host.style.cssText = "display:block;height:100%;";
  var shadow = host.attachShadow({ mode: "open" });
  var style = el("style"); style.textContent = CSS; shadow.appendChild(style);
  var root = el("div", { "class": "root", lang: "vi" });
  shadow.appendChild(root);
  if (pageMode) root.style.height = "100%";

  var launcher = null;
  if (!pageMode) {
    launcher = el("button", { type: "button", "class": "launcher", "aria-expanded": "false",
                              "aria-controls": "cchc-panel" }, "💬 Hỏi đáp thủ tục");
    root.appendChild(launcher);
  }
  var panel = el("section", { id: "cchc-panel", "class": "panel " + (pageMode ? "inline" : "floating"),
                              "aria-labelledby": "cchc-title" });
  if (!pageMode) { panel.setAttribute("role", "dialog"); panel.hidden = true; }
  root.appendChild(panel);

  var header = el("header");
  header.appendChild(el(pageMode ? "h1" : "h2", { id: "cchc-title" }, title));
  var tools = el("div", { "class": "tools" });
  var menuButton = el("button", { type: "button", "class": "menu" }, "☰ Menu");
  var largeButton = el("button", { type: "button", "class": "larger", "aria-pressed": "false" }, "A+ Chữ to");
  tools.appendChild(menuButton);
  tools.appendChild(largeButton);
  header.appendChild(tools);
  var closeButton = null;
  if (!pageMode) {  // title and close on the first row, the tools under them
    closeButton = el("button", { type: "button", "class": "close", "aria-label": "Đóng cửa sổ hỏi đáp" }, "✕");
    header.appendChild(closeButton);
  }
  panel.appendChild(header);

  var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
                        "aria-label": "Cuộc trò chuyện", tabindex: "0" });
  panel.appendChild(log);
  var status = el("p", { "class": "status", role: "status", "aria-live": "polite" });
  panel.appendChild(status);
  var form = el("form", { "class": "ask" });
  var label = el("label", { "for": "cchc-q", "class": "sr-only" }, "Câu hỏi của Anh/Chị");
  var input = el("textarea", { id: "cchc-q", rows: "2", maxlength: "2000", autocomplete: "off",
                               placeholder: "Gõ câu hỏi, ví dụ: làm giấy khai sinh cần gì" });
  var sendButton = el("button", { type: "submit" }, "Gửi");
  form.appendChild(label); form.appendChild(input); form.appendChild(sendButton);
  panel.appendChild(form);

  // --- the conversation ----------------------------------------------------------------------
  var kept = [];
  var started = false;
  var queue = Promise.resolve();

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function showMine(text) {
    var div = el("div", { "class": "msg me" });
    div.appendChild(el("span", { "class": "sr-only" }, "Anh/Chị: "));
    div.appendChild(document.createTextNode(text));
    log.appendChild(div);
    scrollDown();
  }

  function showReply(reply) {
    var div = el("div", { "class": "msg bot" });
    div.appendChild(el("span", { "class": "sr-only" }, "Trợ lý: "));
    var text = el("div", { "class": "text" });
    // The server sends this HTML with everything escaped except its own <b>, <i> and <a> tags.
    text.innerHTML = reply.html || "";
    Array.prototype.forEach.call(text.querySelectorAll("a"), function (a) {
      var href = safeUrl(a.getAttribute("href") || "");
      if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; }
      else { a.replaceWith(document.createTextNode(a.textContent)); }
    });
    div.appendChild(text);
    if (reply.image && /^data:image\/png;base64,/.test(reply.image)) {
      div.appendChild(el("img", { src: reply.image, alt: "Hình ảnh kèm câu trả lời" }));
    }
    var rows = reply.buttons || [];
    var flat = [].concat.apply([], rows);
    if (flat.length) {
      var box = el("div", { "class": "buttons", role: "group", "aria-label": "Các lựa chọn" });
      flat.forEach(function (b) {
        var node;
        if (b.url) {
          var href = safeUrl(b.url);
          if (!href) return;
          node = el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, b.label);
          node.appendChild(el("span", { "class": "sr-only" }, " (mở trang mới)"));
        } else if (b.payload) {
          node = el("button", { type: "button" }, b.label);
          node.addEventListener("click", function () { send({ payload: b.payload }, b.label); });
        } else { return; }
        box.appendChild(node);
      });
      div.appendChild(box);
    }
    log.appendChild(div);
    scrollDown();
    return div;
  }

  function remember(entry) {
    kept.push(entry);
    if (kept.length > MAX_KEPT) kept = kept.slice(-MAX_KEPT);
    put("sessionStorage", LOG_KEY, JSON.stringify(kept));
  }

  function restore() {
    var raw = get("sessionStorage", LOG_KEY);
    if (!raw) return false;
    try { kept = JSON.parse(raw) || []; } catch (e) { kept = []; }
    if (!Array.isArray(kept) || !kept.length) { kept = []; return false; }
    kept.forEach(function (e) { if (e.me) showMine(e.me); else if (e.reply) showReply(e.reply); });
    return true;
  }

  function apology(text) {
    var reply = { html: "", buttons: [] };
    var div = el("div", { "class": "msg bot" });
    div.appendChild(el("span", { "class": "sr-only" }, "Trợ lý: "));
    div.appendChild(el("div", { "class": "text" }, text));
    log.appendChild(div);
    scrollDown();
    return reply;
  }

  // Messages go one after another, in order: one typed while the previous answer is on its way
  // waits for it instead of being lost.
  function send(body, shown) {
    queue = queue.then(function () {
      if (shown) { showMine(shown); remember({ me: shown }); }  // in order with the replies
      return post(body);
    });
    return queue;
  }

  function post(body) {
    status.textContent = "Trợ lý đang trả lời…";
    log.setAttribute("aria-busy", "true");
    var headers = { "Content-Type": "application/json" };
    var sid = get("localStorage", SESSION_KEY);
    if (sid) headers["X-CCHC-Session"] = sid;
    return fetch(endpoint, { method: "POST", headers: headers, body: JSON.stringify(body),
                             credentials: "same-origin", mode: "cors" })
      .then(function (res) {
        if (res.status === 403) throw new Error("origin");
        if (!res.ok) throw new Error(String(res.status));
        return res.json();
      })
      .then(function (data) {
        if (data.session) put("localStorage", SESSION_KEY, data.session);
        var first = null;
        (data.replies || []).forEach(function (r) { var d = showReply(r); first = first || d; remember({ reply: r }); });
        // Long answers are read from the top: show the start of the first new reply.
        if (first) log.scrollTop = first.offsetTop - 8;  // the browser stops at the end
      })
      .catch(function (err) {
        apology(err && err.message === "origin"
          ? "Dạ, trang này chưa được kết nối với trợ lý ảo. Anh/Chị vui lòng liên hệ Bộ phận Một cửa để được hướng dẫn ạ."
          : "Dạ, hệ thống đang bận. Anh/Chị vui lòng thử lại sau ít phút ạ.");
      })
      .then(function () {
        status.textContent = "";
        log.removeAttribute("aria-busy");
      });
  }

  function start() {
    if (started) return;
    started = true;
    if (!restore()) send({ text: "/start" });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ text: text }, text);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {  // IME (Telex) composition keeps Enter
      ev.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else sendButton.click();
    }
  });
  menuButton.addEventListener("click", function () { send({ payload: "menu" }, "☰ Menu"); });

  function setLarge(on) {
    root.classList.toggle("large", on);
    largeButton.setAttribute("aria-pressed", String(on));
    put("localStorage", LARGE_KEY, on ? "1" : null);
  }
  largeButton.addEventListener("click", function () { setLarge(!root.classList.contains("large")); });
  if (get("localStorage", LARGE_KEY)) setLarge(true);

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.hidden = true;
    start();
    input.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  if (pageMode) {
    start();
  } else {
    launcher.addEventListener("click", open);
    closeButton.addEventListener("click", close);
    panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { ev.preventDefault(); close(); } });
  }
})();
