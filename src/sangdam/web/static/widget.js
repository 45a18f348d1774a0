/*
 * 한빛카드 채팅 상담 위젯 (Sangdam web chat widget).
 *
 * Embed with one tag:  <script src="https://host/static/widget.js" data-sangdam-chat></script>
 * A floating button opens the chat panel. With an element marked data-sangdam-chat-inline on the
 * page, the panel is drawn inside it instead, always open (the portal's /chat page).
 *
 * Protocol: see sangdam/channels/webchat/__init__.py. The token (localStorage) resumes the same
 * chat after a reload or a lost network; unsent messages wait in an outbox with their client ids
 * and are resent in order after every reconnect (the server stores each id once).
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-sangdam-chat]");
  if (!script || window.__sangdamChat) return;
  window.__sangdamChat = true;

  var base = new URL(script.getAttribute("src"), location.href);
  var WS_URL = (base.protocol === "https:" ? "wss:" : "ws:") + "//" + base.host + "/chat/ws";
  var pageLang = (script.getAttribute("data-lang") || document.documentElement.lang || "ko").toLowerCase();
  var LANG = pageLang.indexOf("en") === 0 ? "en" : "ko";
  var KEY = "sangdam-chat:" + base.host;
  var MAX_FILE = 10 * 1024 * 1024;

  var T = {
    ko: {
      title: "채팅 상담", open: "채팅 상담 열기", close: "닫기", placeholder: "메시지를 입력하세요",
      send: "보내기", attach: "파일 첨부", sending: "보내는 중", failed: "전송 실패", read: "읽음",
      typing: "상담원이 입력 중입니다…", connecting: "연결 중…", reconnecting: "연결이 끊겼습니다. 다시 연결하는 중…",
      queueTitle: "상담원 연결 대기", end: "상담 종료", endConfirm: "채팅 상담을 종료할까요?",
      ended: "상담이 종료되었습니다.", rateTitle: "상담은 만족스러우셨나요?", rateComment: "의견을 남겨 주세요 (선택)",
      rateEmail: "대화 내용을 받을 이메일 (선택)", rateSend: "평가 보내기", rated: "소중한 의견 감사합니다.",
      emailSent: "대화 내용을 이메일로 보냈습니다.", emailFailed: "이메일을 보내지 못했습니다.",
      newChat: "새 상담 시작", topics: "문의 유형을 고르거나 바로 질문해 주세요.",
      offline: "지금은 상담 시간이 아닙니다.", leave: "메시지 남기기", leaveTitle: "메시지를 남겨 주세요",
      name: "이름", phone: "휴대폰 번호", email: "이메일 (선택)", body: "문의 내용",
      consent: "개인정보 수집·이용에 동의합니다 (이름, 휴대폰 번호, 이메일: 문의 답변 목적, 3년 보관)",
      submit: "남기기", left: "메시지가 접수되었습니다. 접수번호: ", star: "점",
      warnCard: "카드번호", warnCvc: "CVC(보안코드)", warnPassword: "비밀번호", warnRrn: "주민등록번호",
      warn: "{items}로 보이는 내용이 있습니다. 상담원도 이 정보를 묻지 않습니다. 그래도 보낼까요? (보내더라도 가려서 저장됩니다)",
      file: "첨부파일", tooBig: "파일은 10MB까지 보낼 수 있습니다.", you: "나", agent: "상담원", bot: "챗봇"
    },
    en: {
      title: "Chat with us", open: "Open chat", close: "Close", placeholder: "Type a message",
      send: "Send", attach: "Attach a file", sending: "Sending", failed: "Not sent", read: "Read",
      typing: "The agent is typing…", connecting: "Connecting…", reconnecting: "Connection lost. Reconnecting…",
      queueTitle: "Waiting for an agent", end: "End chat", endConfirm: "End this chat?",
      ended: "The chat has ended.", rateTitle: "How was your chat?", rateComment: "Comments (optional)",
      rateEmail: "E-mail me the transcript (optional)", rateSend: "Send rating", rated: "Thank you for your feedback.",
      emailSent: "The transcript is on its way.", emailFailed: "We could not send the e-mail.",
      newChat: "Start a new chat", topics: "Pick a topic or just ask.",
      offline: "We are closed now.", leave: "Leave a message", leaveTitle: "Leave us a message",
      name: "Name", phone: "Mobile number", email: "E-mail (optional)", body: "Your message",
      consent: "I agree to the collection and use of my name, phone and e-mail to answer this inquiry (kept 3 years)",
      submit: "Send", left: "Your message is filed. Receipt number: ", star: "",
      warnCard: "a card number", warnCvc: "a CVC", warnPassword: "a password", warnRrn: "a resident registration number",
      warn: "This looks like {items}. We never ask for it. Send anyway? (It will be masked when stored.)",
      file: "Attachment", tooBig: "Files can be at most 10 MB.", you: "You", agent: "Agent", bot: "Bot"
    }
  }[LANG];

  // ------------------------------------------------------------------ sensitive data warning

  function luhn(digits) {
    var sum = 0, alt = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var d = digits.charCodeAt(i) - 48;
      if (alt) { d *= 2; if (d > 9) d -= 9; }
      sum += d; alt = !alt;
    }
    return sum % 10 === 0;
  }

  function sensitiveKinds(text) {
    var kinds = [];
    var cards = text.match(/\d(?:[ -]?\d){12,18}/g) || [];
    for (var i = 0; i < cards.length; i++) {
      var digits = cards[i].replace(/\D/g, "");
      if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) { kinds.push(T.warnCard); break; }
    }
    if (/(cvc|cvv|보안\s*코드|뒷\s*면|뒤\s*3\s*자리|서명란)(?:\D|\d\s*자리){0,14}\d{3,4}(?!\d)/i.test(text)) kinds.push(T.warnCvc);
    if (/(비밀\s*번호|비번|패스워드|password|passwd|pin)\s*(은|는|이|가|:|=|is)?\s*(?=[A-Za-z0-9!@#$%^&*]*\d)[A-Za-z0-9!@#$%^&*]{4,}/i.test(text)) kinds.push(T.warnPassword);
    if (/(^|\D)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\s*-?\s*[1-8]\d{6}(?!\d)/.test(text)) kinds.push(T.warnRrn);
    return kinds;
  }

  function confirmSensitive(text) {
    var kinds = sensitiveKinds(text);
    if (!kinds.length) return true;
    return window.confirm(T.warn.replace("{items}", kinds.join(", ")));
  }

  // ----------------------------------------------------------------------------- storage

  function load(name, fallback) {
    try { var raw = localStorage.getItem(KEY + ":" + name); return raw ? JSON.parse(raw) : fallback; }
    catch (e) { return fallback; }
  }
  function save(name, value) {
    try {
      if (value === null || value === undefined) localStorage.removeItem(KEY + ":" + name);
      else localStorage.setItem(KEY + ":" + name, JSON.stringify(value));
    } catch (e) { /* private mode: the chat still works until the page is closed */ }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  var state = {
    token: load("token", null),
    outbox: load("outbox", []), // [{frame, shown}] in order; attachments stay in memory only
    lastId: 0,
    seen: {},
    agentRead: 0,
    status: "new",
    ended: false,
    rated: false,
    open: false,
    emailAvailable: false,
    unread: 0,
    lastRead: 0
  };
  var memoryOutbox = state.outbox.slice();
  var ws = null, attempts = 0, pingTimer = null, reconnectTimer = null, typingTimer = null, typingShownTimer = null;
  var typingSentAt = 0, typingOn = false;

  // --------------------------------------------------------------------------------- UI

  var inlineHost = document.querySelector("[data-sangdam-chat-inline]");
  var host = document.createElement("div");
  host.setAttribute("data-sangdam-chat-root", "");
  (inlineHost || document.body).appendChild(host);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:'Pretendard','Apple SD Gothic Neo','Malgun Gothic',system-ui,sans-serif}",
    ".fab{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;",
    "background:#1849a9;color:#fff;font-size:15px;font-weight:600;box-shadow:0 6px 20px rgba(16,24,40,.25);cursor:pointer}",
    ".fab .badge{display:inline-block;min-width:20px;margin-left:8px;padding:1px 6px;border-radius:10px;background:#d92d20;font-size:12px}",
    ".panel{display:flex;flex-direction:column;background:#fff;color:#101828;border:1px solid #d0d5dd;border-radius:16px;overflow:hidden;font-size:14px}",
    ".panel.floating{position:fixed;right:20px;bottom:84px;width:370px;max-width:calc(100vw - 24px);height:600px;max-height:calc(100vh - 110px);",
    "z-index:2147483000;box-shadow:0 12px 32px rgba(16,24,40,.25)}",
    ".panel.inline{width:100%;height:640px;max-height:80vh}",
    ".hidden{display:none!important}",
    "header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:#1849a9;color:#fff}",
    "header .t{flex:1}header strong{display:block;font-size:15px}header small{opacity:.85}",
    "header button{background:transparent;border:1px solid rgba(255,255,255,.5);color:#fff;border-radius:8px;padding:4px 8px;cursor:pointer;font-size:12px}",
    ".conn{padding:6px 12px;background:#fffaeb;color:#93370d;font-size:12px}",
    ".banner{padding:10px 12px;background:#fef3f2;color:#912018;font-size:13px}",
    ".banner button{margin-top:6px}",
    ".queue{padding:10px 12px;background:#eff8ff;color:#1849a9;font-size:13px;border-bottom:1px solid #d1e9ff}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f9fafb}",
    ".row{display:flex;flex-direction:column;margin:6px 0}",
    ".row.customer{align-items:flex-end}",
    ".who{font-size:11px;color:#667085;margin:0 4px 2px}",
    ".bubble{max-width:85%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;word-break:break-word;line-height:1.45}",
    ".customer .bubble{background:#1849a9;color:#fff;border-bottom-right-radius:4px}",
    ".agent .bubble,.bot .bubble{background:#fff;border:1px solid #eaecf0;border-bottom-left-radius:4px}",
    ".system .bubble{background:transparent;color:#475467;font-size:12px;text-align:center;max-width:100%;align-self:center}",
    ".meta{font-size:11px;color:#667085;margin:2px 4px}",
    ".pending .bubble{opacity:.6}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}",
    ".chips button{border:1px solid #84adff;background:#fff;color:#1849a9;border-radius:16px;padding:5px 10px;cursor:pointer;font-size:13px}",
    ".file{display:inline-block;margin-top:4px;background:none;border:0;color:inherit;text-decoration:underline;cursor:pointer;padding:0}",
    ".typing{padding:2px 14px 6px;font-size:12px;color:#667085;background:#f9fafb}",
    "form.compose{display:flex;gap:6px;padding:10px;border-top:1px solid #eaecf0;align-items:flex-end}",
    "textarea{flex:1;resize:none;border:1px solid #d0d5dd;border-radius:10px;padding:8px;font-size:14px;min-height:40px;max-height:120px}",
    "button.primary{background:#1849a9;color:#fff;border:0;border-radius:10px;padding:9px 14px;cursor:pointer;font-size:14px}",
    "button.ghost{background:#fff;border:1px solid #d0d5dd;border-radius:10px;padding:8px 10px;cursor:pointer}",
    ".sheet{padding:12px;border-top:1px solid #eaecf0;background:#fff;display:flex;flex-direction:column;gap:8px}",
    ".sheet input,.sheet textarea{width:100%;border:1px solid #d0d5dd;border-radius:8px;padding:8px;font-size:14px}",
    ".sheet label.check{display:flex;gap:6px;font-size:12px;color:#475467;align-items:flex-start}",
    ".sheet label.check input{width:auto}",
    ".stars{display:flex;gap:4px}.stars button{font-size:26px;background:none;border:0;cursor:pointer;color:#d0d5dd;padding:0 2px}",
    ".stars button.on{color:#f79009}",
    ".note{font-size:13px;color:#027a48}"
  ].join("");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (k.indexOf("on") === 0) node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  var style = el("style", { text: css });
  var badge = el("span", { class: "badge hidden", text: "0" });
  var fab = el("button", { class: "fab", type: "button", "aria-label": T.open, "data-sangdam-open": "" }, [
    document.createTextNode(T.title), badge
  ]);
  var subtitle = el("small", { text: "" });
  var endButton = el("button", { type: "button", text: T.end, class: "hidden" });
  var closeButton = el("button", { type: "button", text: T.close });
  var connBar = el("div", { class: "conn hidden", text: T.connecting });
  var banner = el("div", { class: "banner hidden" });
  var queueBox = el("div", { class: "queue hidden", role: "status" });
  var log = el("div", { class: "log", role: "log", "aria-live": "polite" });
  var typingBar = el("div", { class: "typing hidden", text: T.typing });
  var input = el("textarea", { rows: "1", placeholder: T.placeholder, "aria-label": T.placeholder, maxlength: "2000" });
  var fileInput = el("input", { type: "file", class: "hidden", accept: "image/*,.pdf" });
  var attachButton = el("button", { type: "button", class: "ghost", title: T.attach, "aria-label": T.attach, text: "📎" });
  var sendButton = el("button", { type: "submit", class: "primary", text: T.send });
  var compose = el("form", { class: "compose" }, [attachButton, fileInput, input, sendButton]);
  var sheet = el("div", { class: "sheet hidden" });
  var panel = el("section", { class: "panel " + (inlineHost ? "inline" : "floating hidden"), "aria-label": T.title }, [
    el("header", null, [el("div", { class: "t" }, [el("strong", { text: T.title }), subtitle]), endButton,
      inlineHost ? null : closeButton]),
    connBar, banner, queueBox, log, typingBar, sheet, compose
  ]);
  root.appendChild(style);
  if (!inlineHost) root.appendChild(fab);
  root.appendChild(panel);

  function setOpen(open) {
    state.open = open || !!inlineHost;
    panel.classList.toggle("hidden", !state.open);
    if (state.open) {
      state.unread = 0;
      badge.classList.add("hidden");
      markRead();
      input.focus();
      if (!ws) connect();
    }
  }
  fab.addEventListener("click", function () { setOpen(!state.open); });
  closeButton.addEventListener("click", function () { setOpen(false); });

  function fmtTime(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString(LANG === "en" ? "en-US" : "ko-KR", { hour: "2-digit", minute: "2-digit" });
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function whoLabel(frame) {
    if (frame.sender === "agent") return frame.agent_name ? T.agent + " " + frame.agent_name : T.agent;
    if (frame.sender === "bot") return T.bot;
    return "";
  }

  function renderChips(container, items, onPick) {
    var chips = el("div", { class: "chips" });
    items.forEach(function (item) {
      chips.appendChild(el("button", { type: "button", text: item.label, "data-value": item.value, onclick: function () {
        chips.remove();
        onPick(item);
      } }));
    });
    container.appendChild(chips);
    return chips;
  }

  function clearChips() {
    var old = log.querySelectorAll(".chips");
    for (var i = 0; i < old.length; i++) old[i].remove();
  }

  function addMessage(frame) {
    if (state.seen[frame.id]) return;
    state.seen[frame.id] = true;
    state.lastId = Math.max(state.lastId, frame.id);
    if (frame.sender === "customer" && frame.client_id) {
      var pending = log.querySelector('[data-client-id="' + CSS.escape(frame.client_id) + '"]');
      if (pending) pending.remove();
    }
    clearChips();
    var row = el("div", { class: "row " + frame.sender, "data-id": String(frame.id) });
    var label = whoLabel(frame);
    if (label) row.appendChild(el("div", { class: "who", text: label }));
    var bubble = el("div", { class: "bubble", text: frame.body || "" });
    (frame.attachments || []).forEach(function (a) {
      bubble.appendChild(el("br"));
      bubble.appendChild(el("button", { type: "button", class: "file", text: "📎 " + a.filename, onclick: function () {
        send({ type: "file", id: a.id });
      } }));
    });
    row.appendChild(bubble);
    var meta = el("div", { class: "meta", text: fmtTime(frame.created_at) });
    if (frame.sender === "customer") meta.setAttribute("data-read", frame.id <= state.agentRead ? "1" : "0");
    row.appendChild(meta);
    insertOrdered(row, frame.id);
    if (frame.quick_replies && frame.quick_replies.length && !state.ended) {
      renderChips(log, frame.quick_replies, function (item) {
        queue({ type: "quick_reply", value: item.value }, item.label);
      });
    }
    refreshReadMarks();
    if (frame.sender !== "customer") {
      if (!state.open || document.hidden) {
        state.unread += 1;
        badge.textContent = String(state.unread);
        badge.classList.remove("hidden");
      } else {
        markRead();
      }
    }
    scrollDown();
  }

  function insertOrdered(row, id) {
    // Before the first message with a larger id (a late commit), else at the end; the greeting stays first.
    var rows = log.querySelectorAll(".row[data-id]");
    for (var i = 0; i < rows.length; i++) {
      if (Number(rows[i].getAttribute("data-id")) > id) {
        log.insertBefore(row, rows[i]);
        return;
      }
    }
    log.appendChild(row);
    movePendingLast();
  }

  function movePendingLast() {
    var pend = log.querySelectorAll(".row.pending");
    for (var i = 0; i < pend.length; i++) log.appendChild(pend[i]);
  }

  function refreshReadMarks() {
    var metas = log.querySelectorAll(".row.customer[data-id] .meta");
    for (var i = 0; i < metas.length; i++) {
      var id = Number(metas[i].parentNode.getAttribute("data-id"));
      var read = id <= state.agentRead;
      var base = metas[i].textContent.replace(" · " + T.read, "");
      metas[i].textContent = read ? base + " · " + T.read : base;
    }
  }

  function showPending(item) {
    var f = item.frame;
    var text = f.type === "attachment" ? "📎 " + f.filename : item.shown;
    var row = el("div", { class: "row customer pending", "data-client-id": f.client_id }, [
      el("div", { class: "bubble", text: text }),
      el("div", { class: "meta", text: T.sending })
    ]);
    log.appendChild(row);
    scrollDown();
  }

  function system(text) {
    log.appendChild(el("div", { class: "row system" }, [el("div", { class: "bubble", text: text })]));
    scrollDown();
  }

  // ----------------------------------------------------------------------------- sending

  function persistOutbox() {
    save("outbox", memoryOutbox.filter(function (i) { return i.frame.type !== "attachment"; }));
  }

  function queue(frame, shown) {
    frame.client_id = newId();
    var item = { frame: frame, shown: shown };
    memoryOutbox.push(item);
    persistOutbox();
    showPending(item);
    if (ws && ws.readyState === 1 && state.welcomed) send(frame);
  }

  function send(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function flushOutbox() {
    memoryOutbox.forEach(function (item) { send(item.frame); });
  }

  function settle(clientId) {
    memoryOutbox = memoryOutbox.filter(function (i) { return i.frame.client_id !== clientId; });
    persistOutbox();
  }

  compose.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || state.ended) return;
    if (!confirmSensitive(text)) return;
    input.value = "";
    stopTyping();
    queue({ type: "message", body: text }, text);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      compose.requestSubmit ? compose.requestSubmit() : compose.dispatchEvent(new Event("submit"));
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (!typingOn || now - typingSentAt > 3000) {
      typingOn = true; typingSentAt = now;
      send({ type: "typing", typing: true });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  });
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn) { typingOn = false; send({ type: "typing", typing: false }); }
  }
  attachButton.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (file.size > MAX_FILE) { system(T.tooBig); return; }
    var reader = new FileReader();
    reader.onload = function () {
      var data = String(reader.result).split(",")[1] || "";
      queue({ type: "attachment", filename: file.name, data: data }, file.name);
    };
    reader.readAsDataURL(file);
  });
  endButton.addEventListener("click", function () {
    if (window.confirm(T.endConfirm)) send({ type: "close" });
  });

  function markRead() {
    if (!state.open || document.hidden || state.lastId <= state.lastRead) return;
    state.lastRead = state.lastId;
    send({ type: "read", message_id: state.lastId });
  }
  document.addEventListener("visibilitychange", markRead);

  // ------------------------------------------------------------------------- sheets (forms)

  function openSheet(children) {
    sheet.innerHTML = "";
    children.forEach(function (c) { sheet.appendChild(c); });
    sheet.classList.remove("hidden");
  }
  function closeSheet() { sheet.classList.add("hidden"); sheet.innerHTML = ""; }

  function leaveMessageForm() {
    var name = el("input", { placeholder: T.name, autocomplete: "name", name: "name" });
    var phone = el("input", { placeholder: T.phone, autocomplete: "tel", inputmode: "tel", name: "phone" });
    var email = el("input", { placeholder: T.email, autocomplete: "email", type: "email", name: "email" });
    var body = el("textarea", { placeholder: T.body, rows: "3", name: "body" });
    var consent = el("input", { type: "checkbox", name: "consent" });
    var submit = el("button", { type: "button", class: "primary", text: T.submit });
    submit.addEventListener("click", function () {
      if (!confirmSensitive(body.value)) return;
      var frame = { type: "leave_message", name: name.value, phone: phone.value, email: email.value,
        body: body.value, consent: consent.checked, client_id: state.leaveId || (state.leaveId = newId()) };
      send(frame);
    });
    openSheet([el("strong", { text: T.leaveTitle }), name, phone, email, body,
      el("label", { class: "check" }, [consent, document.createTextNode(T.consent)]), submit]);
  }

  function ratingForm() {
    var score = 0;
    var stars = el("div", { class: "stars", role: "radiogroup", "aria-label": T.rateTitle });
    for (var i = 1; i <= 5; i++) {
      (function (n) {
        stars.appendChild(el("button", { type: "button", text: "★", "aria-label": n + T.star, "data-score": String(n),
          onclick: function () {
            score = n;
            var all = stars.querySelectorAll("button");
            for (var j = 0; j < all.length; j++) all[j].classList.toggle("on", j < n);
          } }));
      })(i);
    }
    var comment = el("textarea", { placeholder: T.rateComment, rows: "2", name: "comment" });
    var email = el("input", { placeholder: T.rateEmail, type: "email", name: "email" });
    var submit = el("button", { type: "button", class: "primary", text: T.rateSend });
    submit.addEventListener("click", function () {
      if (!score) return;
      var frame = { type: "rate", score: score, comment: comment.value };
      if (state.emailAvailable && email.value.trim()) frame.email = email.value.trim();
      send(frame);
    });
    openSheet([el("strong", { text: T.rateTitle }), stars, comment, state.emailAvailable ? email : null, submit]
      .filter(Boolean));
  }

  function endedView() {
    compose.classList.add("hidden");
    endButton.classList.add("hidden");
    queueBox.classList.add("hidden");
    if (!state.rated) ratingForm();
    else openSheet([el("div", { class: "note", text: T.rated }), newChatButton()]);
  }

  function newChatButton() {
    return el("button", { type: "button", class: "ghost", text: T.newChat, onclick: function () {
      save("token", null); save("outbox", []);
      state.token = null; memoryOutbox = []; state.lastId = 0; state.seen = {}; state.agentRead = 0;
      state.ended = false; state.rated = false; state.lastRead = 0; state.leaveId = null;
      log.innerHTML = ""; closeSheet(); compose.classList.remove("hidden"); banner.classList.add("hidden");
      if (ws) ws.close(); else connect();
    } });
  }

  // ----------------------------------------------------------------------------- receiving

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        state.welcomed = true;
        state.token = frame.token; save("token", frame.token);
        state.status = frame.status;
        state.emailAvailable = !!frame.email_available;
        subtitle.textContent = frame.receipt_number || "";
        if (!frame.resumed && !log.querySelector(".row[data-id]") && !log.querySelector(".greeting")) {
          var greet = el("div", { class: "row bot greeting" }, [el("div", { class: "bubble", text: frame.greeting })]);
          log.insertBefore(greet, log.firstChild);
          if (!memoryOutbox.length) {
            renderChips(greet, frame.topics.map(function (t) { return { value: t.code, label: t.name }; }), function (item) {
              queue({ type: "topic", code: item.value }, item.label);
            });
          }
        }
        if (!frame.hours.open) {
          banner.innerHTML = "";
          banner.appendChild(document.createTextNode(frame.hours.message || T.offline));
          banner.appendChild(el("br"));
          banner.appendChild(el("button", { type: "button", class: "ghost", text: T.leave, onclick: leaveMessageForm }));
          banner.classList.remove("hidden");
        } else {
          banner.classList.add("hidden");
        }
        flushOutbox();
        break;
      case "message":
        addMessage(frame);
        break;
      case "ack":
        settle(frame.client_id);
        if (frame.message) addMessage(frame.message);
        break;
      case "error":
        if (frame.client_id && frame.code !== "too_many_requests" && frame.code !== "server_error") {
          settle(frame.client_id);
          var failed = log.querySelector('[data-client-id="' + CSS.escape(frame.client_id) + '"] .meta');
          if (failed) failed.textContent = T.failed;
        }
        if (frame.code === "too_many_requests") setTimeout(flushOutbox, 3000);
        system(frame.message && LANG === "ko" ? frame.message : (frame.message_en || frame.message));
        break;
      case "typing":
        typingBar.classList.toggle("hidden", !frame.typing);
        clearTimeout(typingShownTimer);
        if (frame.typing) typingShownTimer = setTimeout(function () { typingBar.classList.add("hidden"); }, 8000);
        break;
      case "read":
        state.agentRead = Math.max(state.agentRead, frame.message_id || 0);
        refreshReadMarks();
        break;
      case "queue":
        queueBox.textContent = T.queueTitle + " · " + frame.text;
        queueBox.classList.toggle("hidden", frame.state === "assigned" || state.status !== "queued");
        break;
      case "status":
        state.status = frame.status;
        if (frame.receipt_number) subtitle.textContent = frame.receipt_number;
        if (frame.rated !== undefined) state.rated = frame.rated;
        if (frame.status !== "queued") queueBox.classList.add("hidden");
        endButton.classList.toggle("hidden", frame.ended || frame.status === "bot");
        typingBar.classList.add("hidden");
        if (frame.ended && !state.ended) {
          state.ended = true;
          clearChips();
          system(T.ended);
          endedView();
        }
        break;
      case "offline":
        system(frame.message || T.offline);
        leaveMessageForm();
        break;
      case "left_message":
        closeSheet();
        system(T.left + frame.receipt_number);
        break;
      case "rated":
        state.rated = true;
        openSheet([el("div", { class: "note", text: T.rated }), newChatButton()]);
        break;
      case "transcript":
        system(frame.sent ? T.emailSent : T.emailFailed);
        break;
      case "file":
        openFile(frame);
        break;
    }
  }

  function openFile(frame) {
    var bytes = atob(frame.data);
    var arr = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) arr[i] = bytes.charCodeAt(i);
    var url = URL.createObjectURL(new Blob([arr], { type: frame.content_type }));
    var a = el("a", { href: url, download: frame.filename });
    root.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 30000);
  }

  // --------------------------------------------------------------------------- connection

  function connect() {
    clearTimeout(reconnectTimer);
    state.welcomed = false;
    connBar.textContent = attempts ? T.reconnecting : T.connecting;
    connBar.classList.remove("hidden");
    try { ws = new WebSocket(WS_URL); } catch (e) { scheduleReconnect(); return; }
    ws.onopen = function () {
      attempts = 0;
      connBar.classList.add("hidden");
      ws.send(JSON.stringify({ type: "hello", token: state.token, after: state.lastId, language: LANG }));
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { send({ type: "ping" }); }, 25000);
    };
    ws.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = function () {
      clearInterval(pingTimer);
      ws = null;
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    attempts += 1;
    connBar.textContent = T.reconnecting;
    connBar.classList.remove("hidden");
    var delay = Math.min(15000, 500 * Math.pow(2, Math.min(attempts - 1, 5))) * (0.75 + Math.random() * 0.5);
    reconnectTimer = setTimeout(connect, delay);
  }
  window.addEventListener("online", function () { if (!ws) { attempts = 0; connect(); } });

  // Messages that never got an ack before a reload are shown again and resent after welcome.
  memoryOutbox.forEach(showPending);

  window.SangdamChat = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    sensitiveKinds: sensitiveKinds
  };
  if (inlineHost || state.token || memoryOutbox.length) {
    setOpen(!!inlineHost);
    if (!ws) connect();
  }
})();
