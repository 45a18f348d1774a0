// Live console: one WebSocket per page; new inquiries and messages appear without a reload.
(function () {
  "use strict";
  const dot = document.getElementById("live-dot");
  const label = document.getElementById("live-label");
  const rows = document.getElementById("inbox-rows");
  const conversation = document.getElementById("conversation");
  let retry = 1000;

  function setLive(on) {
    if (dot) dot.classList.toggle("on", on);
    if (label) label.textContent = on ? "실시간" : "다시 연결 중…";
  }

  async function refreshRows() {
    const query = rows.dataset.query ? "?" + rows.dataset.query : "";
    const res = await fetch("/console/inbox/rows" + query, { credentials: "same-origin" });
    if (res.status === 200) {
      const before = new Set([...rows.querySelectorAll("tr[data-id]")].map((r) => r.dataset.id));
      rows.innerHTML = await res.text();
      rows.querySelectorAll("tr[data-id]").forEach((r) => { if (!before.has(r.dataset.id)) r.classList.add("new"); });
      const total = document.getElementById("inbox-total");
      if (total) total.textContent = rows.querySelectorAll("tr[data-id]").length + "건";
    } else if (res.redirected || res.status === 401) {
      window.location = "/console/login?expired=1";
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

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/ws");
    ws.onopen = () => { setLive(true); retry = 1000; };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (event.kind === "hello") return;
      if (rows) schedule(refreshRows);
      if (conversation && event.data.conversation_id === Number(conversation.dataset.id) && event.kind === "message.created") {
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
  connect();
})();
