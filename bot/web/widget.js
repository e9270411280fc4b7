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
    ".icon { width: 1.15em; height: 1.15em; vertical-align: -.2em; margin-right: .25em; flex: none; fill: none;",
    "  stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }",
    ".sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden;",
    "  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }"
  ].join("\n");

  // --- icons -----------------------------------------------------------------------------------
  // Emoji show as empty boxes where no emoji font is installed (kiosks, older PCs at the one-stop
  // office), so the chat draws its own: the server's texts keep their emoji (Telegram and Zalo
  // show them), and here each known one becomes an inline SVG icon, any other pictograph a dot.
  var ICONS = {
    menu: "M4 6h16M4 12h16M4 18h16",
    chat: "M4 5h16v11H10l-5 4v-4H4z",
    close: "M6 6l12 12M18 6L6 18",
    up: "M7 11v9H4v-9zM7 11l4-7c1.5 0 2.5 1.2 2 3l-1 3h6c1.2 0 2 1 1.7 2.2l-1.5 5.8c-.3 1.2-1 2-2.2 2H7",
    down: "M7 13V4H4v9zM7 13l4 7c1.5 0 2.5-1.2 2-3l-1-3h6c1.2 0 2-1 1.7-2.2l-1.5-5.8C17.9 4.8 17.2 4 16 4H7",
    bell: "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
    belloff: "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0M3 3l18 18",
    check: "M5 12.5l4.5 4.5L19 7",
    warn: "M12 3l10 18H2zM12 10v5M12 17.5v.5",
    mail: "M3 6h18v12H3zM3 6l9 7 9-7",
    pen: "M4 20h4L19 9l-4-4L4 16zM14 6l4 4",
    next: "M4 12h15M13 6l6 6-6 6",
    back: "M9 14L4 9l5-5M4 9h10a6 6 0 0 1 0 12h-3",
    star: "M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z",
    person: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0",
    idea: "M9 18h6M10 21h4M12 3a6 6 0 0 0-4 10.5c.7.7 1 1.5 1 2.5h6c0-1 .3-1.8 1-2.5A6 6 0 0 0 12 3z",
    card: "M3 6h18v12H3zM3 10h18M7 15h4",
    doc: "M6 3h8l4 4v14H6zM14 3v4h4M9 12h6M9 16h6",
    phone: "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a1 1 0 0 1-1 1A16 16 0 0 1 4 5a1 1 0 0 1 1-1z",
    announce: "M3 10v4h4l8 5V5l-8 5zM18 9a4 4 0 0 1 0 6",
    search: "M10.5 17a6.5 6.5 0 1 0 0-13 6.5 6.5 0 0 0 0 13zM15.5 15.5L21 21",
    link: "M10 14a4 4 0 0 0 5.7 0l3-3A4 4 0 0 0 13 5.3l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
    tools: "M14.7 6.3a4 4 0 0 0-5.4 5.4L3 18l3 3 6.3-6.3a4 4 0 0 0 5.4-5.4l-2.5 2.5-2.5-.5-.5-2.5z",
    clock: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 7v5l3 2",
    calendar: "M4 6h16v14H4zM4 10h16M8 3v4M16 3v4",
    trophy: "M8 4h8v5a4 4 0 0 1-8 0zM8 6H5a3 3 0 0 0 3 4M16 6h3a3 3 0 0 1-3 4M12 13v4M9 21h6M10 17h4v4",
    computer: "M5 5h14v10H5zM2 19h20",
    dot: "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z"
  };
  var EMOJI = {
    "\u2630": "menu", "\uD83D\uDCAC": "chat", "\u2715": "close", "\u2716": "close", "\uD83D\uDC4D": "up",
    "\uD83D\uDC4E": "down", "\uD83D\uDD14": "bell", "\uD83D\uDD15": "belloff", "\u2705": "check", "\u2714": "check",
    "\u26A0": "warn", "\u2709": "mail", "\uD83D\uDCE8": "mail", "\uD83D\uDCEC": "mail", "\u270D": "pen",
    "\uD83D\uDCDD": "pen", "\u27A1": "next", "\u21A9": "back", "\u2B50": "star", "\uD83D\uDC64": "person",
    "\uD83D\uDCA1": "idea", "\uD83D\uDCB3": "card", "\uD83D\uDCC4": "doc", "\uD83D\uDCDE": "phone",
    "\uD83D\uDCE2": "announce", "\uD83D\uDD0E": "search", "\uD83D\uDD0D": "search", "\uD83D\uDD17": "link",
    "\uD83D\uDEE0": "tools", "\u23F0": "clock", "\uD83D\uDDD3": "calendar", "\uD83D\uDCC5": "calendar",
    "\uD83C\uDFC6": "trophy", "\uD83D\uDCBB": "computer"
  };
  var PICTOGRAPH = /(\p{Extended_Pictographic}|[\u2630\u2715])\uFE0F?/u;
  var SVG = "http://www.w3.org/2000/svg";

  function icon(name) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("data-icon", name);
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  // Every pictograph in the text under ``node`` becomes its icon.
  function withIcons(node) {
    var walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    var found = [];
    while (walker.nextNode()) if (PICTOGRAPH.test(walker.currentNode.nodeValue)) found.push(walker.currentNode);
    found.forEach(function (textNode) {
      var parts = textNode.nodeValue.split(new RegExp(PICTOGRAPH.source, "gu"));  // odd: the pictographs
      var out = document.createDocumentFragment();
      parts.forEach(function (part, i) {
        if (i % 2) out.appendChild(icon(EMOJI[part] || "dot"));
        else if (part) out.appendChild(document.createTextNode(part));
      });
      textNode.parentNode.replaceChild(out, textNode);
    });
    return node;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; withIcons(node); }
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
    div.appendChild(el("span", null, text));
    log.appendChild(div);
    scrollDown();
  }

  function showReply(reply) {
    var div = el("div", { "class": "msg bot" });
    div.appendChild(el("span", { "class": "sr-only" }, "Trợ lý: "));
    var text = el("div", { "class": "text" });
    // The server sends this HTML with everything escaped except its own <b>, <i> and <a> tags.
    text.innerHTML = reply.html || "";
    withIcons(text);
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
        } else if (b.request === "phone") {  // no platform to share it: the citizen types it
          node = el("button", { type: "button" }, b.label);
          node.addEventListener("click", askPhone);
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

  var QUESTION_HINT = input.getAttribute("placeholder");
  var PHONE_HINT = "Gõ số điện thoại của Anh/Chị, ví dụ 0912 345 678";
  // The input takes the number: a phone keypad on touch screens, a hint, the cursor in it.
  function askPhone() {
    input.setAttribute("placeholder", PHONE_HINT);
    input.setAttribute("inputmode", "tel");
    input.setAttribute("autocomplete", "tel");
    input.focus();
  }
  function askQuestion() {
    input.setAttribute("placeholder", QUESTION_HINT);
    input.removeAttribute("inputmode");
    input.setAttribute("autocomplete", "off");
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
    askQuestion();
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
