// The agent's chat workspace (/console/chats): several chats side by side, live over /console/chat-ws.
// Customer typing and read receipts, the agent's own typing and reads, canned responses, files,
// transfer, escalation and close. The ring and the status selector come from console.js.
(function () {
  "use strict";
  const root = document.getElementById("chat-workspace");
  if (!root) return;
  const panels = document.getElementById("chat-panels");
  const offers = document.getElementById("chat-offers");
  const empty = document.getElementById("no-chats");
  const flash = document.getElementById("chat-flash");
  const loadCount = document.getElementById("chat-load-count");
  const liveDot = document.getElementById("chat-live-dot");
  const liveLabel = document.getElementById("chat-live-label");
  const only = Number(root.dataset.only || 0);
  const STATUS = {
    bot: "챗봇 응대", queued: "대기", assigned: "상담 중", waiting_customer: "고객 답변 대기",
    resolved: "답변 완료", closed: "종료",
  };
  const TYPING_IDLE_MS = 2500;
  const TYPING_MIN_GAP_MS = 1500;
  let ws = null;
  let retry = 1000;
  let held = new Set();

  // --- small helpers -------------------------------------------------------------------------
  function panelOf(id) { return document.getElementById("chat-" + id); }
  function allPanels() { return [...panels.querySelectorAll(".chat-panel")]; }
  function send(frame) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame)); }
  function say(text) {
    if (!flash || !text) return;
    flash.textContent = text;
    flash.hidden = false;
  }
  function showEmpty() { if (empty) empty.hidden = allPanels().length > 0; }
  function setLive(on) {
    if (liveDot) liveDot.classList.toggle("on", on);
    if (liveLabel) liveLabel.textContent = on ? "채팅 실시간" : "다시 연결 중…";
  }
  async function fetchText(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    if (res.redirected || res.status === 401) { window.location = "/console/login?expired=1"; return null; }
    return res.status === 200 ? res.text() : null;
  }
  function fragment(html) {
    const box = document.createElement("div");
    box.innerHTML = html;
    return box;
  }
  function scrollDown(panel) {
    const thread = panel.querySelector(".chat-thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
  }

  // --- messages, reads ---------------------------------------------------------------------------
  async function appendMessages(panel) {
    const id = panel.dataset.conversationId;
    const html = await fetchText(`/console/chats/${id}/messages?after=${panel.dataset.last || 0}`);
    if (html === null) return;
    const thread = panel.querySelector(".chat-thread");
    fragment(`<ol>${html}</ol>`).querySelectorAll("li[data-id]").forEach((li) => {
      if (thread.querySelector(`li[data-id="${li.dataset.id}"]`)) return;
      thread.appendChild(li);
      panel.dataset.last = String(Math.max(Number(panel.dataset.last || 0), Number(li.dataset.id)));
    });
    showRead(panel, Number(panel.dataset.customerRead || 0));
    scrollDown(panel);
    markRead(panel);
  }

  function markRead(panel) {
    if (document.visibilityState !== "visible" || panel.dataset.held !== "1") return;
    const last = Number(panel.dataset.last || 0);
    if (!last || Number(panel.dataset.sentRead || 0) >= last) return;
    panel.dataset.sentRead = String(last);
    send({ type: "read", conversation_id: Number(panel.dataset.conversationId), message_id: last });
  }

  function showRead(panel, upTo) {
    panel.dataset.customerRead = String(Math.max(Number(panel.dataset.customerRead || 0), upTo));
    const mark = Number(panel.dataset.customerRead);
    panel.querySelectorAll('li[data-sender="agent"]').forEach((li) => {
      const tag = li.querySelector(".read-mark");
      if (tag) tag.hidden = Number(li.dataset.id) > mark;
    });
  }

  function showTyping(panel, typing) {
    const line = panel.querySelector(".chat-typing");
    if (!line) return;
    clearTimeout(Number(panel.dataset.typingTimer || 0));
    line.hidden = !typing;
    if (typing) panel.dataset.typingTimer = String(setTimeout(() => { line.hidden = true; }, 6000));
  }

  function showStatus(panel, status) {
    const badge = panel.querySelector(".chat-status");
    if (badge) {
      badge.textContent = STATUS[status] || status;
      badge.className = "badge s-" + status + " chat-status";
    }
    if (status === "closed" || status === "resolved") endPanel(panel);
  }

  function endPanel(panel) {
    panel.classList.add("ended");
    panel.dataset.held = "0";
    const note = panel.querySelector(".chat-ended");
    if (note) note.hidden = false;
    panel.querySelectorAll(".chat-compose, .chat-actions").forEach((el) => el.remove());
    showTyping(panel, false);
  }

  // --- the set of chats: panels in, panels out ----------------------------------------------------
  async function addPanel(id) {
    if (panelOf(id)) return;
    const html = await fetchText(`/console/chats/${id}/panel`);
    if (html === null || panelOf(id)) return;
    const panel = fragment(html).querySelector(".chat-panel");
    if (!panel) return;
    panel.classList.add("fresh");
    panels.appendChild(panel);
    wire(panel);
    scrollDown(panel);
    markRead(panel);
    showEmpty();
  }

  async function refreshOffers() {
    const html = await fetchText("/console/chats/offers");
    if (html === null) return;
    offers.innerHTML = html;
    offers.querySelectorAll(".chat-offer").forEach((card) => {
      card.dataset.deadline = String(Date.now() + Number(card.dataset.remainingMs || 0));
      card.querySelectorAll("form").forEach(wireForm);
      const thread = card.querySelector(".chat-thread");
      if (thread) thread.scrollTop = thread.scrollHeight;
    });
  }

  function syncChats(data) {
    held = new Set(data.chats || []);
    if (loadCount) loadCount.textContent = String(held.size + (data.offers || []).length);
    (data.ended || []).forEach((id) => {
      const panel = panelOf(id);
      if (panel) showStatus(panel, "closed"); // ended, not handed on: stays until dismissed
    });
    if (!only) {
      held.forEach((id) => { if (!panelOf(id)) addPanel(id); });
      allPanels().forEach((panel) => {
        const id = Number(panel.dataset.conversationId);
        if (!held.has(id) && !panel.classList.contains("ended")) {
          panel.remove(); // transferred, escalated or back in the queue
        }
      });
    } else {
      const panel = panelOf(only);
      if (panel && panel.dataset.held === "1" && !held.has(only) && !panel.classList.contains("ended")) {
        window.location = "/console/chats";
      }
    }
    const shown = new Set([...offers.querySelectorAll(".chat-offer")].map((c) => Number(c.dataset.conversationId)));
    const wanted = new Set(data.offers || []);
    if (!only && (shown.size !== wanted.size || [...wanted].some((id) => !shown.has(id)))) refreshOffers();
    showEmpty();
  }

  // --- forms: one fetch each, JSON answers ----------------------------------------------------------
  async function submitForm(form) {
    const panel = form.closest(".chat-panel");
    const box = panel ? panel.querySelector(".chat-error") : null;
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const res = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (res.redirected || res.status === 401) { window.location = "/console/login?expired=1"; return null; }
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        const message = (body.error && body.error.message) || "요청을 처리하지 못했습니다. 다시 시도해 주세요.";
        if (box) { box.textContent = message; box.hidden = false; } else say(message);
        return null;
      }
      if (box) box.hidden = true;
      return body;
    } finally {
      if (button) button.disabled = false;
    }
  }

  function wireForm(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const panel = form.closest(".chat-panel");
      const offer = form.closest(".chat-offer");
      const result = await submitForm(form);
      if (!result) return;
      if (form.classList.contains("chat-compose")) {
        form.reset();
        stopTyping(panel);
        if (panel) appendMessages(panel);
        return;
      }
      say(result.message);
      if (form.classList.contains("chat-accept")) {
        if (offer) offer.remove();
        if (only && panel) { window.location.reload(); return; }
        await addPanel(result.conversation_id);
      } else if (form.classList.contains("chat-reject")) {
        if (offer) offer.remove();
        if (only) window.location = "/console/chats";
      } else if (panel) {
        panel.remove(); // transferred, escalated or closed: no longer this agent's
        if (only) window.location = "/console/chats?done=" + encodeURIComponent(result.message || "");
      }
      showEmpty();
    });
  }

  // --- typing: true once, then false after a pause or on send ---------------------------------------
  function typing(panel) {
    const now = Date.now();
    const last = Number(panel.dataset.typingAt || 0);
    // A frame when typing starts (at most one per TYPING_MIN_GAP_MS), repeated every 5 s while it lasts.
    if ((panel.dataset.typing !== "1" || now - last > 5000) && now - last >= TYPING_MIN_GAP_MS) {
      send({ type: "typing", conversation_id: Number(panel.dataset.conversationId), typing: true });
      panel.dataset.typing = "1";
      panel.dataset.typingAt = String(now);
    }
    clearTimeout(Number(panel.dataset.idleTimer || 0));
    panel.dataset.idleTimer = String(setTimeout(() => stopTyping(panel), TYPING_IDLE_MS));
  }

  function stopTyping(panel) {
    if (!panel) return;
    clearTimeout(Number(panel.dataset.idleTimer || 0));
    if (panel.dataset.typing === "1") {
      send({ type: "typing", conversation_id: Number(panel.dataset.conversationId), typing: false });
      panel.dataset.typing = "0";
    }
  }

  function wire(panel) {
    panel.querySelectorAll("form").forEach(wireForm);
    const compose = panel.querySelector(".chat-compose");
    const text = compose ? compose.querySelector("textarea") : null;
    if (text) {
      text.addEventListener("input", () => { if (text.value.trim()) typing(panel); else stopTyping(panel); });
      text.addEventListener("keydown", (event) => {
        // Enter sends; Shift+Enter is a new line; never while a Hangul syllable is being composed.
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
          event.preventDefault();
          compose.requestSubmit();
        }
      });
      text.addEventListener("focus", () => markRead(panel));
    }
    const canned = panel.querySelector(".chat-canned");
    if (canned && text) {
      canned.addEventListener("change", () => {
        if (!canned.value) return;
        const start = text.selectionStart ?? text.value.length;
        const end = text.selectionEnd ?? text.value.length;
        text.value = text.value.slice(0, start) + canned.value + text.value.slice(end);
        canned.value = "";
        text.focus();
        typing(panel);
      });
    }
    const dismiss = panel.querySelector(".chat-dismiss");
    if (dismiss) dismiss.addEventListener("click", () => { panel.remove(); showEmpty(); });
  }

  // --- offer countdowns -------------------------------------------------------------------------------
  function tick() {
    offers.querySelectorAll(".chat-offer").forEach((card) => {
      if (!card.dataset.deadline) card.dataset.deadline = String(Date.now() + Number(card.dataset.remainingMs || 0));
      const left = Math.max(0, Number(card.dataset.deadline) - Date.now());
      const seconds = card.querySelector(".chat-offer-seconds");
      if (seconds) seconds.textContent = String(Math.ceil(left / 1000));
      if (left === 0 && !card.dataset.timedOut) {
        card.dataset.timedOut = "1";
        const accept = card.querySelector(".chat-accept button");
        if (accept) accept.disabled = true;
        setTimeout(refreshOffers, 1500);
      }
    });
  }
  setInterval(tick, 250);

  // --- the socket ------------------------------------------------------------------------------------
  function onEvent(event) {
    const data = event.data || {};
    if (event.kind === "hello" || event.kind === "chats") {
      syncChats(data);
      if (event.kind === "hello") {
        if (only) send({ type: "watch", conversation_id: only });
        allPanels().forEach(appendMessages); // anything said while this page was away
      }
      return;
    }
    const panel = data.conversation_id ? panelOf(data.conversation_id) : null;
    if (!panel) return;
    if (event.kind === "message.created") appendMessages(panel);
    else if (event.kind === "chat.typing" && data.side === "customer") showTyping(panel, Boolean(data.typing));
    else if (event.kind === "chat.read" && data.side === "customer") showRead(panel, Number(data.message_id || 0));
    else if (event.kind === "chat.presence") {
      const away = panel.querySelector(".chat-away");
      if (away) away.hidden = Boolean(data.online) || Number(data.connections || 0) > 0;
    } else if (event.kind === "conversation.updated" && data.status) showStatus(panel, data.status);
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/chat-ws");
    ws.onopen = () => { setLive(true); retry = 1000; };
    ws.onmessage = (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      onEvent(event);
    };
    ws.onclose = (ev) => {
      setLive(false);
      if (ev.code === 4401) { window.location = "/console/login?expired=1"; return; }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }
  setInterval(() => send({ type: "ping" }), 25000);

  document.addEventListener("visibilitychange", () => allPanels().forEach(markRead));
  allPanels().forEach((panel) => { wire(panel); scrollDown(panel); });
  offers.querySelectorAll("form").forEach(wireForm);
  showEmpty();
  connect();
})();
