// The chat page of `qa serve`: asks /api/ask and shows each quote with the question's words
// and the answer span marked. Article text only ever reaches the page through textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const conversation = { previous: null, history: [] };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function token() { return sessionStorage.getItem("qa-token") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, options.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (response.status === 401) $("token-row").classList.remove("hidden");
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

// Offsets in the JSON count code points (Python); JavaScript strings count UTF-16 units.
function units(text, codePoints) { return Array.from(text).slice(0, codePoints).join("").length; }

// matched_terms are Snowball stems: a word matches when it starts with the stem (y -> i kept).
function matchesStem(word, stems) {
  const w = word.toLowerCase().replace(/['’]s$/u, "");
  return stems.some((s) => w === s || (s.length >= 3 && w.startsWith(s)) ||
    (s.length >= 3 && s.endsWith("i") && w.startsWith(s.slice(0, -1) + "y")));
}

// A quote's text as nodes: question words in <mark class=term>, the answer span in <mark class=answer>.
function markedQuote(quote) {
  const text = quote.text;
  const kind = new Array(text.length).fill("");
  const stems = quote.matched_terms || [];
  for (const m of text.matchAll(/[\p{L}\p{N}_][\p{L}\p{N}\p{M}_]*(?:['’][\p{L}\p{N}_]+)?/gu)) {
    if (matchesStem(m[0], stems)) kind.fill("term", m.index, m.index + m[0].length);
  }
  if (quote.answer_start != null && quote.answer_end != null) {
    kind.fill("answer", units(text, quote.answer_start - quote.start), units(text, quote.answer_end - quote.start));
  }
  const nodes = [];
  let from = 0;
  for (let i = 1; i <= text.length; i++) {
    if (i === text.length || kind[i] !== kind[from]) {
      const piece = text.slice(from, i);
      nodes.push(kind[from] ? el("mark", { class: kind[from], text: piece }) : document.createTextNode(piece));
      from = i;
    }
  }
  return nodes;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (_) { return null; }
}

function citation(article, line, copies) {
  const parts = [article.title || "(untitled)", article.date || "undated"];
  if (article.source) parts.push(article.source);
  const cite = el("div", { class: "cite" }, "— " + parts.join(" · "));
  if (article.path) cite.append(" · ", el("code", { text: line ? `${article.path}:${line}` : article.path }));
  const href = article.url && safeUrl(article.url);
  if (href) cite.append(" · ", el("a", { href, target: "_blank", rel: "noopener noreferrer", text: article.url }));
  else if (article.url) cite.append(" · ", article.url);
  if (copies && copies.length) {
    cite.append(" · also published by " + copies.map((c) => `${c.source || c.url || c.path || c.id} (${c.date || "undated"})`).join(", "));
  }
  return cite;
}

async function openParagraph(quote, box, button) {
  if (box.firstChild) { box.replaceChildren(); button.textContent = "open"; return; }
  button.disabled = true;
  try {
    const article = await api("/api/articles/" + encodeURIComponent(quote.article.id));
    const paragraph = article.paragraphs.find((p) => p.start <= quote.start && quote.start < p.end) ||
      { start: quote.start, end: quote.end, line: quote.line };
    const chars = Array.from(article.text);
    const piece = (a, b) => chars.slice(a, b).join("");
    const from = Math.max(paragraph.start, quote.start), to = Math.min(paragraph.end, quote.end);
    box.replaceChildren(el("div", { class: "paragraph" },
      piece(paragraph.start, from), el("mark", { text: piece(from, to) }), piece(to, paragraph.end)),
      citation(article, paragraph.line, article.copies));
    button.textContent = "close";
  } catch (error) {
    box.replaceChildren(el("p", { class: "note error", text: "error: " + error.message }));
  } finally { button.disabled = false; }
}

function quoteItem(quote, answered) {
  const box = el("div");
  const open = el("button", { type: "button", title: "The whole paragraph around this quote", text: "open" });
  open.addEventListener("click", () => openParagraph(quote, box, open));
  return el("li", { class: "quote" + (answered ? "" : " weak"), "data-rank": String(quote.rank) },
    el("blockquote", {}, "“", ...markedQuote(quote), "”"),
    citation(quote.article, quote.line, quote.copies),
    el("div", { class: "actions" }, open), box);
}

function filters() {
  const body = { k: Math.max(1, Math.min(50, parseInt($("k").value, 10) || 3)) };
  if ($("since").value) body.since = $("since").value;
  if ($("until").value) body.until = $("until").value;
  if ($("source").value.trim()) body.source = $("source").value.trim();
  return body;
}

async function ask(question) {
  question = question.trim();
  if (!question) return;
  $("empty").classList.add("hidden");
  const settings = filters();
  const turn = el("li", { class: "turn" }, el("p", { class: "asked", text: question }));
  const status = el("p", { class: "note muted", text: "Searching the archive…" });
  turn.append(status);
  $("log").append(turn);
  turn.scrollIntoView({ block: "end" });
  conversation.history.push(question);
  history.replaceState(null, "", "?q=" + encodeURIComponent(question));
  const body = Object.assign({ q: question }, settings);
  if (conversation.previous) body.after = conversation.previous;
  try {
    const answer = await api("/api/ask", { method: "POST", body: JSON.stringify(body) });
    status.remove();
    showAnswer(turn, answer, body);
    conversation.previous = answer.understood_as || question;
  } catch (error) {
    status.className = "note error";
    status.textContent = "error: " + error.message;
  }
}

function showAnswer(turn, answer, body) {
  if (answer.understood_as) turn.append(el("p", { class: "note muted", text: "Understood as: " + answer.understood_as }));
  if (answer.time_scope) {
    const scope = answer.time_scope;
    turn.append(el("p", { class: "note muted", text: `Favouring news from ${scope.start || "…"} to ${scope.end || "…"} (${scope.reason})` }));
  }
  if (!answer.quotes.length) {
    turn.append(el("p", { class: "note", text: "Nothing in the archive matches this question." }));
    return;
  }
  if (!answer.answered) turn.append(el("p", { class: "note", text: "The archive does not seem to answer this. Closest passages:" }));
  const list = el("ol", { class: "quotes" });
  for (const quote of answer.quotes) list.append(quoteItem(quote, answer.answered));
  const more = el("button", { type: "button", class: "more", title: "More quotes for this question", text: "more" });
  more.addEventListener("click", async () => {
    more.disabled = true;
    const shown = list.children.length;
    const wider = Object.assign({}, body, { q: answer.understood_as || answer.question, k: Math.min(50, shown + body.k) });
    delete wider.after;
    try {
      const next = await api("/api/ask", { method: "POST", body: JSON.stringify(wider) });
      const fresh = next.quotes.filter((q) => q.rank > shown);
      for (const quote of fresh) list.append(quoteItem(quote, next.answered));
      if (!fresh.length || wider.k >= 50) { more.textContent = "no more quotes"; return; }
    } catch (error) {
      more.textContent = "error: " + error.message;
      return;
    }
    more.disabled = false;
  });
  turn.append(list, more);
}

async function showInfo() {
  try {
    const info = await api("/api/info");
    $("about").textContent = `${info.articles} articles, ${info.first_date || "?"} to ${info.last_date || "?"}. ` +
      "Answers are sentences quoted verbatim, with their sources.";
  } catch (_) { /* the question box still works; errors show there */ }
}

document.addEventListener("DOMContentLoaded", () => {
  const box = $("q");
  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = box.value;
    box.value = "";
    ask(question);
  });
  $("token").addEventListener("change", () => {
    sessionStorage.setItem("qa-token", $("token").value);
    $("token-row").classList.add("hidden");
    showInfo();
  });
  $("new").addEventListener("click", () => {
    conversation.previous = null;
    $("log").replaceChildren();
    $("empty").classList.remove("hidden");
    history.replaceState(null, "", "/");
    box.focus();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "ArrowUp" && !box.value && conversation.history.length) {
      box.value = conversation.history[conversation.history.length - 1];
      event.preventDefault();
    } else if (event.key === "Escape") {
      box.blur();
    }
  });
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing) { event.preventDefault(); box.focus(); }
  });
  showInfo();
  const asked = new URLSearchParams(location.search).get("q");
  if (asked) ask(asked);
});
