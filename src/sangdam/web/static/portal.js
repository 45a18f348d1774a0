// The inquiry form's FAQ suggestions (deflection). While the customer types the inquiry, up to three
// articles that may already answer it appear under the text ("혹시 이 답변을 찾으셨나요?"); one opens
// inline, and "해결됐어요" records that it answered the question. The first suggestions shown write a
// deflection row; its id goes into the form's hidden #deflection_id (and its token is sent back with
// later requests, so typing on refreshes that one row), so submitting anyway marks the row submitted.
(function () {
  "use strict";
  const body = document.getElementById("inquiry-body");
  const box = document.getElementById("kb-suggestions");
  const field = document.getElementById("deflection_id");
  if (!body || !box || !field) return;

  const DELAY_MS = 300;
  const MIN_HANGUL = 2;
  const STORE = "sangdam.kb.deflection";
  const en = document.documentElement.lang === "en";
  const T = en
    ? {
        title: "Is one of these what you are looking for?",
        resolved: "That solved it",
        more: "Open the full article",
        loading: "Loading…",
        failed: "Could not load the answer. Please try again.",
        hint: "Not answered? Just carry on and submit your inquiry.",
        thanks: "Glad it helped! You do not need to submit an inquiry.",
        thanksMore: "If you still need help, you can carry on with the form below.",
      }
    : {
        title: "혹시 이 답변을 찾으셨나요?",
        resolved: "해결됐어요",
        more: "자세히 보기",
        loading: "불러오는 중…",
        failed: "답변을 불러오지 못했습니다. 다시 시도해 주세요.",
        hint: "찾는 답이 없으면 그대로 문의를 접수해 주세요.",
        thanks: "도움이 되어 다행입니다. 문의를 접수하지 않으셔도 됩니다.",
        thanksMore: "더 궁금한 점이 있으면 아래 양식으로 이어서 남겨 주세요.",
      };

  if (!document.querySelector('link[href="/static/knowledge.css"]')) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/static/knowledge.css";
    document.head.appendChild(link);
  }

  let token = null;
  let resolved = false;
  let lastQuery = "";
  let timer = null;
  let busy = false;
  let again = false;

  // A page shown again after a refused submission keeps its deflection id: take its token back.
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
    if (saved && field.value && String(saved.id) === field.value) token = saved.token;
  } catch (e) {
    token = null;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "className") node.className = v;
      else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c));
    return node;
  }

  function hangul(text) {
    return (text.match(/[\uac00-\ud7a3]/g) || []).length;
  }

  // The server escapes everything and adds only <mark>; keep only that, whatever arrives.
  function marked(node, html) {
    const t = document.createElement("template");
    t.innerHTML = html;
    t.content.querySelectorAll("*").forEach((n) => {
      if (n.tagName !== "MARK") n.replaceWith(document.createTextNode(n.textContent));
    });
    node.replaceChildren(t.content);
    return node;
  }

  // Answers are the FAQ's small rich-text subset: paragraphs, lists, bold, safe links.
  const ALLOWED = new Set(["P", "BR", "UL", "OL", "LI", "STRONG", "A"]);
  function answer(node, html) {
    const t = document.createElement("template");
    t.innerHTML = html;
    t.content.querySelectorAll("*").forEach((n) => {
      if (!ALLOWED.has(n.tagName)) {
        n.replaceWith(document.createTextNode(n.textContent));
        return;
      }
      [...n.attributes].forEach((a) => {
        if (!(n.tagName === "A" && a.name === "href")) n.removeAttribute(a.name);
      });
      if (n.tagName === "A") {
        const href = n.getAttribute("href") || "";
        if (!/^(https?:\/\/|tel:|\/(?!\/))/i.test(href)) n.removeAttribute("href");
        n.setAttribute("target", "_blank");
        n.setAttribute("rel", "noopener noreferrer");
      }
    });
    node.replaceChildren(t.content);
  }

  function hide() {
    box.hidden = true;
    box.replaceChildren();
  }

  function remember(data) {
    if (!data.deflection_id) return;
    field.value = String(data.deflection_id);
    token = data.token;
    try {
      sessionStorage.setItem(STORE, JSON.stringify({ id: data.deflection_id, token: token }));
    } catch (e) {
      // private mode: the id still travels with the form
    }
  }

  async function open(item, hit) {
    const target = item.querySelector(".kb-body");
    if (target.dataset.loaded) return;
    target.dataset.loaded = "1";
    target.replaceChildren(T.loading);
    fetch(`/api/v1/kb/articles/${encodeURIComponent(hit.id)}/view`, { method: "POST" }).catch(() => {});
    try {
      const res = await fetch(`/api/v1/kb/articles/${encodeURIComponent(hit.id)}`, {
        headers: { Accept: "application/json" },
      });
      if (!res.ok) throw new Error(String(res.status));
      const article = await res.json();
      const text = el("div", { className: "kb-answer" });
      answer(text, article.answer_html);
      const button = el("button", { type: "button", className: "primary small kb-resolve" }, T.resolved);
      button.addEventListener("click", () => resolve(hit, button));
      const more = el("a", { href: `/faq/${encodeURIComponent(hit.id)}`, target: "_blank", rel: "noopener" }, T.more);
      target.replaceChildren(text, el("div", { className: "kb-actions" }, button, more));
    } catch (e) {
      delete target.dataset.loaded;
      target.replaceChildren(T.failed);
    }
  }

  async function resolve(hit, button) {
    if (!field.value || !token) return;
    button.disabled = true;
    try {
      const res = await fetch(`/api/v1/kb/deflections/${encodeURIComponent(field.value)}/resolved`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ article_id: hit.id, token: token }),
      });
      if (!res.ok) throw new Error(String(res.status));
    } catch (e) {
      button.disabled = false;
      return;
    }
    resolved = true;
    clearTimeout(timer);
    const link = el("a", { href: `/faq/${encodeURIComponent(hit.id)}`, target: "_blank", rel: "noopener" });
    marked(link, hit.question_html);
    box.replaceChildren(
      el("div", { className: "kb-thanks", id: "kb-thanks", role: "status" },
        el("strong", {}, T.thanks), el("br"), link, el("br"), el("span", { className: "small" }, T.thanksMore)),
    );
  }

  function show(hits) {
    if (box.querySelector("details[open]")) return; // the customer is reading one: leave it
    if (!hits.length) {
      hide();
      return;
    }
    const list = el("ol", { className: "kb-items" });
    hits.forEach((hit) => {
      const summary = el("summary", {},
        marked(el("span", { className: "kb-q" }), hit.question_html),
        marked(el("span", { className: "kb-snippet" }), hit.snippet_html));
      const details = el("details", {}, summary, el("div", { className: "kb-body" }));
      const item = el("li", { "data-id": hit.id }, details);
      details.addEventListener("toggle", () => {
        if (details.open) open(item, hit);
      });
      list.append(item);
    });
    box.replaceChildren(
      el("div", { className: "kb-suggest", id: "kb-suggest" },
        el("h2", {}, T.title), list, el("p", { className: "small" }, T.hint)),
    );
    box.hidden = false;
  }

  async function ask() {
    const q = body.value.trim().slice(0, 500);
    if (resolved || q === lastQuery) return;
    if (hangul(q) < MIN_HANGUL) {
      lastQuery = "";
      if (!box.querySelector("details[open]")) hide();
      return;
    }
    lastQuery = q;
    const params = new URLSearchParams({ q: q });
    if (field.value && token) {
      params.set("deflection_id", field.value);
      params.set("token", token);
    }
    let data;
    try {
      const res = await fetch("/api/v1/kb/suggest?" + params.toString(), { headers: { Accept: "application/json" } });
      if (!res.ok) return;
      data = await res.json();
    } catch (e) {
      return;
    }
    remember(data);
    show(data.hits || []);
  }

  // One request at a time, so a typing session never opens two deflection rows.
  async function suggest() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      await ask();
    } finally {
      busy = false;
      if (again) {
        again = false;
        suggest();
      }
    }
  }

  body.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, DELAY_MS);
  });
  if (body.value.trim()) suggest();
})();
