// Live console: one WebSocket per page; new inquiries and messages appear without a reload.
// Routing: the status selector in the bar, and offers that ring (a Web Audio beep, a badge and a
// banner with a countdown) at the one agent they are made to.
(function () {
  "use strict";
  const dot = document.getElementById("live-dot");
  const label = document.getElementById("live-label");
  const rows = document.getElementById("inbox-rows");
  const conversation = document.getElementById("conversation");
  const bar = document.getElementById("console-bar");
  const offers = document.getElementById("offers");
  const badge = document.getElementById("offer-badge");
  const statusForm = document.getElementById("status-form");
  const statusSelect = document.getElementById("agent-status");
  const statusDot = document.getElementById("status-dot");
  const me = bar ? Number(bar.dataset.agentId) : 0;
  const baseTitle = document.title;
  let retry = 1000;

  function setLive(on) {
    if (dot) dot.classList.toggle("on", on);
    if (label) label.textContent = on ? "실시간" : "다시 연결 중…";
  }

  async function refreshRows() {
    const query = rows.dataset.query ? "?" + rows.dataset.query : "";
    const res = await fetch("/console/inbox/rows" + query, { credentials: "same-origin" });
    if (res.redirected || res.status === 401 || res.url.includes("/console/login")) {
      window.location = "/console/login?expired=1";
      return;
    }
    if (res.status === 200) {
      const before = new Set([...rows.querySelectorAll("tr[data-id]")].map((r) => r.dataset.id));
      rows.innerHTML = await res.text();
      rows.querySelectorAll("tr[data-id]").forEach((r) => { if (!before.has(r.dataset.id)) r.classList.add("new"); });
      const total = document.getElementById("inbox-total");
      if (total) total.textContent = rows.querySelectorAll("tr[data-id]").length + "건";
    }
  }

  async function appendMessages() {
    const id = conversation.dataset.id;
    const res = await fetch(`/console/conversations/${id}/messages?after=${conversation.dataset.last || 0}`, { credentials: "same-origin" });
    if (res.status !== 200) return;
    const thread = document.getElementById("thread");
    const tmp = document.createElement("ol");
    tmp.innerHTML = await res.text();
    tmp.querySelectorAll("li[data-id]").forEach((li) => {
      if (!thread.querySelector(`li[data-id="${li.dataset.id}"]`)) {
        thread.appendChild(li);
        conversation.dataset.last = Math.max(Number(conversation.dataset.last || 0), Number(li.dataset.id));
      }
    });
  }

  let pending = null;
  function schedule(fn) { clearTimeout(pending); pending = setTimeout(fn, 150); }

  // --- the ring: a two-tone beep made with Web Audio (no sound file) ---------------------------
  let audio = null;
  function audioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) {
      try { audio = new Context(); } catch (e) { return null; }
    }
    if (audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }
  // Browsers start audio only after a gesture: any click or key on the console unlocks it.
  ["pointerdown", "keydown"].forEach((name) => document.addEventListener(name, audioContext, { once: true }));

  function beep() {
    window.__sangdamRings = (window.__sangdamRings || 0) + 1;
    const ctx = audioContext();
    if (!ctx) return;
    const t = ctx.currentTime;
    [[0, 880], [0.28, 660]].forEach(([offset, frequency]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, t + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, t + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + offset + 0.22);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(t + offset);
      osc.stop(t + offset + 0.24);
    });
  }

  // --- offers: banner, badge, countdown ---------------------------------------------------------
  const seen = new Set();
  let ringTimer = null;
  let tickTimer = null;

  function banners() { return offers ? [...offers.querySelectorAll(".offer-banner")] : []; }

  function startCountdowns() {
    const start = Date.now();
    banners().forEach((b) => { b.dataset.deadline = String(start + Number(b.dataset.remainingMs || 0)); });
    clearInterval(tickTimer);
    tickTimer = setInterval(tick, 250);
    tick();
  }

  function tick() {
    const list = banners();
    if (!list.length) { clearInterval(tickTimer); tickTimer = null; return; }
    list.forEach((b) => {
      const left = Math.max(0, Number(b.dataset.deadline) - Date.now());
      const seconds = b.querySelector(".offer-seconds");
      if (seconds) seconds.textContent = String(Math.ceil(left / 1000));
      if (left === 0 && !b.dataset.timedOut) {
        b.dataset.timedOut = "1";
        const button = b.querySelector(".offer-accept button");
        if (button) button.disabled = true;
        const countdown = b.querySelector(".offer-countdown");
        if (countdown) countdown.textContent = "시간 초과";
        setTimeout(refreshOffers, 1500); // the server hands it to the next agent
      }
    });
  }

  function showOffers() {
    const list = banners();
    const here = location.pathname + location.search;
    if (offers) offers.querySelectorAll("input[name=next]").forEach((input) => { input.value = here; });
    if (badge) {
      badge.textContent = String(list.length);
      badge.hidden = list.length === 0;
    }
    document.title = list.length ? `(${list.length}) 연결 요청 · ${baseTitle}` : baseTitle;
    const fresh = list.filter((b) => !seen.has(b.dataset.conversationId));
    list.forEach((b) => seen.add(b.dataset.conversationId));
    startCountdowns();
    if (fresh.length) beep();
    clearInterval(ringTimer);
    ringTimer = list.length ? setInterval(beep, 4000) : null;
  }

  async function refreshOffers() {
    if (!offers) return;
    const res = await fetch("/console/offers", { credentials: "same-origin" });
    if (res.redirected || res.status !== 200) return; // a lost session is the live connection's to report
    offers.innerHTML = await res.text();
    showOffers();
  }

  function concernsMe(data) {
    return [data.agent_id, data.by_agent_id, data.from_agent_id].some((id) => id === me);
  }

  // --- the agent's status -----------------------------------------------------------------------
  if (statusForm && statusSelect) {
    statusSelect.addEventListener("change", () => { audioContext(); statusForm.submit(); });
  }

  function showStatus(status) {
    if (statusSelect && statusSelect.value !== status) statusSelect.value = status;
    if (statusDot) statusDot.className = "status-dot st-" + status;
  }

  // --- the live connection ----------------------------------------------------------------------
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/ws");
    ws.onopen = () => { setLive(true); retry = 1000; };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (event.kind === "hello") {
        refreshOffers(); // anything offered while the page was loading or reconnecting
        return;
      }
      const data = event.data || {};
      if (event.kind.startsWith("routing.") && concernsMe(data)) refreshOffers();
      if (event.kind === "agent.status" && data.agent_id === me) showStatus(data.status);
      if (rows) schedule(refreshRows);
      if (conversation && data.conversation_id === Number(conversation.dataset.id) && event.kind === "message.created") {
        schedule(appendMessages);
      }
    };
    ws.onclose = (ev) => {
      setLive(false);
      if (ev.code === 4401) { window.location = "/console/login?expired=1"; return; }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
    setInterval(() => { if (ws.readyState === 1) ws.send("ping"); }, 25000);
  }
  if (banners().length) showOffers();
  connect();
})();
