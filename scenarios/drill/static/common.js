// Shared rendering and plumbing for the drill pages (trainee dashboard and game master).
// Plain ES2020 module, no dependencies: the pages are served offline from the Python package.

// ---------------------------------------------------------------------------------------------
// Small DOM helpers
// ---------------------------------------------------------------------------------------------

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** el("div", {class: "x", dataset: {firm: "MM"}, onclick: fn}, "text", childNode, [more]) */
export function el(tag, attrs = null, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
  }
  appendChildren(node, children);
  return node;
}

function appendChildren(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(node, child);
    else node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Set textContent only when it changed (keeps the DOM quiet on every 0.5 s snapshot). */
export function setText(node, text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (node && node.textContent !== value) node.textContent = value;
}

export function setClass(node, cls, on) {
  if (node) node.classList.toggle(cls, !!on);
}

/** Replace the children of `node` by `children` only when the signature changed. */
export function replaceIfChanged(node, signature, build) {
  if (node.__sig === signature) return false;
  node.__sig = signature;
  node.replaceChildren(...[].concat(build()).filter(Boolean));
  return true;
}

/**
 * Keyed list reconciliation: one DOM node per item, created once, updated in place, removed
 * when its item goes.  Nodes are kept in the order of `items`.  Buttons inside a node survive
 * snapshot updates (so an inline "Confirm?" state or keyboard focus is not lost).
 */
export function syncList(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of Array.from(container.children)) {
    if (child.__key !== undefined) existing.set(child.__key, child);
  }
  let cursor = container.firstElementChild;
  // Skip non-keyed leading children (e.g. an "empty" placeholder is managed separately).
  const seen = new Set();
  for (const item of items) {
    const key = String(keyOf(item));
    if (seen.has(key)) continue;
    seen.add(key);
    let node = existing.get(key);
    if (!node) {
      node = create(item);
      node.__key = key;
    }
    update(node, item);
    while (cursor && cursor.__key === undefined) cursor = cursor.nextElementSibling;
    if (node !== cursor) container.insertBefore(node, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [key, node] of existing) {
    if (!seen.has(key)) node.remove();
  }
}

/** A placeholder line shown when a list is empty. */
export function emptyNote(container, isEmpty, text) {
  let note = container.querySelector(":scope > .empty");
  if (isEmpty && !note) {
    const tag = container.tagName;
    note = tag === "UL" || tag === "OL" ? el("li", {class: "empty"}, text)
      : tag === "TBODY" ? el("tr", {class: "empty"}, el("td", {colspan: 99}, text))
      : el("div", {class: "empty"}, text);
    container.appendChild(note);
  } else if (!isEmpty && note) {
    note.remove();
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

const pad2 = (n) => String(n).padStart(2, "0");

/** 151.2 -> "T+00:02:31" (simulated seconds since the drill start). */
export function fmtT(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return "T+--:--:--";
  const sign = t < 0 ? "-" : "+";
  const s = Math.floor(Math.abs(t));
  return `T${sign}${pad2(Math.floor(s / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`;
}

/** Journal timestamps keep the milliseconds: "T+00:02:31.250". */
export function fmtTms(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return fmtT(t);
  const ms = Math.floor((Math.abs(t) % 1) * 1000);
  return `${fmtT(t)}.${String(ms).padStart(3, "0")}`;
}

/** A duration in seconds: "4:05", "1:02:03", "42.0 s" when short and precise is asked. */
export function fmtDur(s, {precise = false} = {}) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "—";
  if (precise && Math.abs(s) < 60) return `${s.toFixed(1)} s`;
  if (precise && Math.abs(s) < 3600) return `${s < 0 ? "-" : ""}${Math.floor(Math.abs(s) / 60)}m ${pad2(Math.floor(Math.abs(s) % 60))}s`;
  const neg = s < 0;
  const total = Math.floor(Math.abs(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const body = h ? `${h}:${pad2(m)}:${pad2(total % 60)}` : `${m}:${pad2(total % 60)}`;
  return neg ? `-${body}` : body;
}

export function fmtPrice(p) {
  if (p === null || p === undefined || !Number.isFinite(Number(p))) return "—";
  const n = Number(p);
  const decimals = Math.abs(n) >= 1000 ? 2 : Math.abs(n) >= 1 ? 2 : 4;
  return n.toLocaleString("en-US", {minimumFractionDigits: decimals, maximumFractionDigits: Math.max(decimals, 4)});
}

export function fmtQty(q) {
  if (q === null || q === undefined || !Number.isFinite(Number(q))) return "—";
  return Number(q).toLocaleString("en-US");
}

export function fmtSigned(q) {
  if (q === null || q === undefined || !Number.isFinite(Number(q))) return "—";
  const n = Number(q);
  return (n > 0 ? "+" : "") + n.toLocaleString("en-US");
}

export function fmtMoney(v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return "—";
  const n = Number(v);
  const body = Math.abs(n).toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  return (n < 0 ? "−" : n > 0 ? "+" : "") + body;
}

export function signClass(v) {
  const n = Number(v);
  return !Number.isFinite(n) || n === 0 ? "flat" : n > 0 ? "pos" : "neg";
}

// ---------------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------------

async function requestJSON(url, options = {}) {
  let response;
  try {
    response = await fetch(url, {cache: "no-store", ...options});
  } catch (err) {
    return {ok: false, error: `cannot reach the drill server (${err.message || err})`};
  }
  let body = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_err) {
    body = null;
  }
  if (body && typeof body === "object" && !Array.isArray(body)) {
    if (!response.ok && body.ok === undefined) body.ok = false;
    if (!response.ok && !body.error) body.error = `HTTP ${response.status} ${response.statusText}`;
    return body;
  }
  if (!response.ok) {
    return {ok: false, error: text.trim().slice(0, 300) || `HTTP ${response.status} ${response.statusText}`};
  }
  return {ok: false, error: "the server answered something that is not JSON"};
}

export const api = {
  state: () => requestJSON("/api/state"),
  action: (body) => requestJSON("/api/action", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  }),
  gm: (body) => requestJSON("/api/gm", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  }),
};

/**
 * Load the snapshot once, then follow /api/events.  EventSource reconnects by itself after a
 * dropped connection; when the browser gives up (readyState CLOSED, e.g. the server answered
 * an error) we open a new one after a pause.  handlers: onState(snapshot), onJournal(lines),
 * onEnd(snapshot), onConnection(bool).
 */
export function connect(handlers) {
  const {onState = () => {}, onJournal = () => {}, onEnd = () => {}, onConnection = () => {}} = handlers;
  let source = null;
  let retryTimer = null;
  let gotState = false;

  const parse = (event) => {
    try {
      return JSON.parse(event.data);
    } catch (err) {
      console.warn("drill: bad SSE payload", event.type, err);
      return null;
    }
  };

  async function initialLoad(attempt = 0) {
    const snap = await api.state();
    if (snap && snap.clock) {
      if (!gotState) onState(snap);
      return;
    }
    if (!gotState) setTimeout(() => initialLoad(attempt + 1), Math.min(5000, 500 * 2 ** attempt));
  }

  function open() {
    clearTimeout(retryTimer);
    if (source) source.close();
    source = new EventSource("/api/events");
    source.onopen = () => onConnection(true);
    source.onerror = () => {
      onConnection(false);
      if (source.readyState === EventSource.CLOSED) {
        retryTimer = setTimeout(open, 3000);
      }
    };
    source.addEventListener("state", (event) => {
      const snap = parse(event);
      if (snap) {
        gotState = true;
        onConnection(true);
        onState(snap);
      }
    });
    source.addEventListener("journal", (event) => {
      const lines = parse(event);
      if (Array.isArray(lines)) onJournal(lines);
      else if (lines && typeof lines === "object") onJournal([lines]);
    });
    source.addEventListener("end", (event) => {
      // The drill is over and the server closes the stream: stop reconnecting.
      const snap = parse(event);
      source.close();
      clearTimeout(retryTimer);
      onConnection("ended");
      if (snap) {
        gotState = true;
        onState(snap);
        onEnd(snap);
      }
    });
  }

  initialLoad();
  open();
  return {close: () => { clearTimeout(retryTimer); if (source) source.close(); }};
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

/** Update the shared header (ids: scenario-name, clock, remaining, speed, run-badge). */
export function renderHeader(snap) {
  const scenario = snap.scenario || {};
  const clock = snap.clock || {};
  const name = $("#scenario-name");
  if (name) setText(name, scenario.name || "drill");
  // The summary tells what goes wrong: only the game master's page has a place for it.
  const summary = $("#scenario-summary");
  if (summary) {
    setText(summary, scenario.summary || "");
    summary.title = scenario.summary || "";
  }
  setText($("#clock"), fmtT(clock.t));
  const clockNode = $("#clock");
  if (clockNode && clock.utc) clockNode.title = `simulated UTC ${clock.utc}`;
  setText($("#remaining"), clock.ended ? "0:00" : fmtDur(clock.remaining_s));
  setText($("#speed"), Number.isFinite(clock.speed) ? `×${Number(clock.speed).toFixed(clock.speed < 10 ? 1 : 0)}` : "—");
  const badge = $("#run-badge");
  if (badge) {
    const state = clock.ended ? "ended" : clock.paused ? "paused" : clock.starting ? "starting" : "running";
    setText(badge, state === "running" ? "LIVE" : state.toUpperCase());
    badge.dataset.state = state;
    badge.className = `badge run-${state}`;
  }
  document.title = `${clock.ended ? "■ " : clock.paused ? "❚❚ " : ""}${fmtT(clock.t)} · ${scenario.name || "drill"}`;
  document.body.classList.toggle("ended", !!clock.ended);
  document.body.classList.toggle("paused", !!clock.paused && !clock.ended);
}

/** up: true (connected), false (disconnected) or "ended" (the drill is over: the stream is closed). */
export function renderConnection(up) {
  const node = $("#conn");
  if (!node) return;
  const state = up === "ended" ? "ended" : up ? "connected" : "disconnected";
  node.dataset.state = state;
  setText(node, state === "ended" ? "drill over" : state);
  node.className = `conn conn-${state === "ended" ? "ended" : up ? "up" : "down"}`;
}

/** The drill's own error (the simulation failed): a banner under the header. */
export function renderError(snap) {
  const node = $("#drill-error");
  if (!node) return;
  const error = snap && snap.error;
  node.hidden = !error;
  setText(node, error ? `The drill hit an error: ${error}` : "");
}

// ---------------------------------------------------------------------------------------------
// Status line (#action-status)
// ---------------------------------------------------------------------------------------------

let statusTimer = null;

/** kind: "ok" | "error" | "pending".  The text stays until the next action; it only dims. */
export function showStatus(text, kind = "ok") {
  const node = $("#action-status");
  if (!node) return;
  node.textContent = text;
  node.title = text;
  node.dataset.state = kind;
  node.className = `status-${kind}`;
  clearTimeout(statusTimer);
  if (kind !== "pending") statusTimer = setTimeout(() => node.classList.add("dim"), 8000);
}

/** Describe an action/GM request for the status line. */
export function describeRequest(body) {
  const verb = body.action || body.command || "request";
  const bits = [body.firm, body.strategy].filter(Boolean).join("/");
  const extra = body.page_id ? ` ${body.page_id}` : body.limit ? ` ${body.limit}=${body.value}` : body.alert ? ` ${body.alert}` : "";
  return `${verb.replace(/_/g, " ")}${bits ? " " + bits : ""}${extra}`;
}

/** Send a request, reflect it in #action-status, return the server's answer. */
export async function sendWithStatus(send, body) {
  const what = describeRequest(body);
  showStatus(`${what}…`, "pending");
  const result = await send(body);
  if (result && result.ok) {
    const when = Number.isFinite(result.t) ? ` at ${fmtT(result.t)}` : "";
    const said = typeof result.result === "string" ? result.result.trim() : "";
    const outcome = result.queued ? "queued" : said && said !== "ok" && said !== (body.action || body.command) ? `ok, ${said}` : "ok";
    showStatus(`✓ ${what}: ${outcome}${result.id !== undefined ? ` (#${result.id})` : ""}${when}`, "ok");
  } else {
    showStatus(`✗ ${what}: ${(result && result.error) || "failed"}`, "error");
  }
  return result || {ok: false, error: "no answer"};
}

let refreshTimer = null;

/**
 * Send a request as sendWithStatus does, with the button busy meanwhile; after a success, fetch
 * the snapshot at once (handed to onFresh) instead of waiting for the next SSE push.
 */
export async function sendBusy(send, body, button, onFresh) {
  if (button) {
    button.disabled = true;
    button.classList.add("busy");
  }
  try {
    const result = await sendWithStatus(send, body);
    if (result.ok) {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(async () => {
        const fresh = await api.state();
        if (fresh && fresh.clock) onFresh(fresh);
      }, 120);
    }
    return result;
  } finally {
    if (button) {
      button.disabled = false;
      button.classList.remove("busy");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Badges and chips
// ---------------------------------------------------------------------------------------------

export function badge(text, cls = "") {
  return el("span", {class: `badge ${cls}`.trim()}, text);
}

/** "k=v, k=v" sorted by key: how the server writes a change's target from its labels. */
export function labelText(labels) {
  return Object.keys(labels || {}).sort().map((k) => `${k}=${labels[k]}`).join(", ");
}

export function labelChips(labels, skip = []) {
  return Object.entries(labels || {})
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => el("span", {class: "chip", title: `${k}=${v}`}, el("span", {class: "chip-k"}, k), "=", el("span", {class: "chip-v"}, v)));
}

// ---------------------------------------------------------------------------------------------
// Pager
// ---------------------------------------------------------------------------------------------

/**
 * Render pages newest first into `ul`: each page is <li class="page" data-page-id="ID">; an
 * unacknowledged page carries <button class="ack"> unless `readonly`.  onAck(page, button)
 * is called on click.
 */
export function renderPager(ul, pages, {readonly = false, onAck = null} = {}) {
  const sorted = [...(pages || [])].sort((a, b) => (b.t - a.t) || String(b.id).localeCompare(String(a.id)));
  const initial = !ul.__rendered;
  ul.__rendered = true;
  syncList(ul, sorted, (p) => p.id, (p) => {
    const li = createPage(p, readonly, onAck);
    li.__freshUntil = initial ? 0 : Date.now() + 4000;
    return li;
  }, updatePage);
  emptyNote(ul, sorted.length === 0, "No pages yet. Quiet is good.");
}

function createPage(page, readonly, onAck) {
  const li = el("li", {class: "page", dataset: {pageId: page.id}});
  li.__parts = {
    head: el("div", {class: "page-head"}),
    symptom: el("div", {class: "page-symptom"}),
    chips: el("div", {class: "chips"}),
    detail: el("div", {class: "page-detail"}),
    foot: el("div", {class: "page-foot"}),
  };
  li.__readonly = readonly;
  li.__onAck = onAck;
  li.append(...Object.values(li.__parts));
  return li;
}

function updatePage(li, page) {
  const parts = li.__parts;
  li.dataset.status = page.status;
  li.dataset.severity = page.severity;
  li.dataset.acked = page.acked_by ? "true" : "false";
  const fresh = li.__freshUntil > Date.now() ? " fresh" : "";
  li.className = `page sev-${page.severity} ${page.status}${page.acked_by ? " acked" : ""}${fresh}`;

  replaceIfChanged(parts.head, JSON.stringify([page.severity, page.lens, page.name, page.status, page.t]), () => [
    el("div", {class: "page-meta"},
      badge(page.severity, `sev sev-${page.severity}`),
      page.lens ? badge(page.lens, `lens lens-${page.lens}`) : null,
      el("span", {class: `page-status st-${page.status}`}, page.status),
      el("span", {class: "page-time mono"}, fmtT(page.t))),
    el("div", {class: "page-name"}, page.name),
  ]);
  setText(parts.symptom, page.symptom);
  replaceIfChanged(parts.chips, JSON.stringify(page.labels || {}), () => labelChips(page.labels, ["alertname", "severity", "lens"]));
  replaceIfChanged(parts.detail, JSON.stringify([page.causes, page.changes, page.grouped]), () => {
    const blocks = [];
    if (page.causes && page.causes.length) {
      blocks.push(el("div", {class: "page-block causes"}, el("span", {class: "block-h"}, "Causes"),
        el("ul", null, page.causes.map((c) => el("li", null, c)))));
    }
    if (page.changes && page.changes.length) {
      blocks.push(el("div", {class: "page-block changes"}, el("span", {class: "block-h"}, "What changed"),
        el("ul", null, page.changes.map((c) => el("li", null, c)))));
    }
    if (page.grouped && page.grouped.length) {
      blocks.push(el("div", {class: "page-block grouped"}, el("span", {class: "block-h"}, `Grouped (${page.grouped.length})`),
        el("ul", {class: "inline"}, page.grouped.map((g) => el("li", null, g)))));
    }
    return blocks;
  });

  const footSig = JSON.stringify([page.acked_by, page.acked_t, li.__readonly]);
  if (parts.foot.__sig !== footSig) {
    parts.foot.__sig = footSig;
    if (page.acked_by) {
      parts.foot.replaceChildren(el("span", {class: "acked-by"}, `acked by ${page.acked_by} at ${fmtT(page.acked_t)}`));
    } else if (li.__readonly) {
      parts.foot.replaceChildren(el("span", {class: "unacked"}, "not acknowledged"));
    } else {
      const button = el("button", {type: "button", class: "ack", dataset: {action: "ack", pageId: page.id}}, "Acknowledge");
      button.addEventListener("click", () => li.__onAck && li.__onAck(page, button));
      parts.foot.replaceChildren(button);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What changed + timeline
// ---------------------------------------------------------------------------------------------

/** Parse a filter like "firm=MM symbol=ESZ6 deploy" into label terms and free-text terms. */
export function parseFilter(text) {
  const terms = {labels: [], words: []};
  for (const token of String(text || "").trim().split(/\s+/).filter(Boolean)) {
    const m = token.match(/^([^=!]+)(!?=)(.*)$/);
    if (m) terms.labels.push({key: m[1], neg: m[2] === "!=", value: m[3]});
    else terms.words.push(token.toLowerCase());
  }
  return terms;
}

export function changeMatches(change, terms) {
  const labels = change.labels || {};
  for (const {key, neg, value} of terms.labels) {
    const have = labels[key] ?? change[key];
    const hit = have !== undefined && String(have) === value;
    if (neg ? hit : !hit) return false;
  }
  if (terms.words.length) {
    const hay = [change.actor, change.kind, change.what, change.target, change.old, change.new,
      ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
    if (!terms.words.every((w) => hay.includes(w))) return false;
  }
  return true;
}

/** The server writes a change's target as its labels ("k=v, k=v"): then chips say it better. */
function sameAsLabels(change) {
  return Object.keys(change.labels || {}).length > 0 && change.target === labelText(change.labels);
}

/** Changes newest first into a <tbody>; returns [shown, total]. */
export function renderChanges(tbody, changes, filterText = "") {
  const terms = parseFilter(filterText);
  const all = changes || [];
  const indexed = all.map((c, i) => ({...c, __i: i}));
  const shown = indexed.filter((c) => changeMatches(c, terms)).sort((a, b) => (b.t - a.t) || (b.__i - a.__i));
  const sig = JSON.stringify([filterText, all.length, all.length ? all[all.length - 1] : null]);
  if (tbody.__sig !== sig) {
    tbody.__sig = sig;
    tbody.replaceChildren(...shown.map((c) => el("tr", {class: `change kind-${c.kind}`, dataset: {kind: c.kind}},
      el("td", {class: "mono nowrap"}, fmtT(c.t)),
      el("td", {class: "actor"}, c.actor),
      el("td", null, el("div", {class: "what"}, badge(c.kind, "kind"), " ", c.what),
        c.reason ? el("div", {class: "reason"}, c.reason) : null,
        sameAsLabels(c) ? null : el("div", {class: "chips"}, labelChips(c.labels))),
      el("td", {class: "target"}, sameAsLabels(c) ? el("div", {class: "chips"}, labelChips(c.labels)) : c.target),
      el("td", {class: "oldnew"}, c.old || c.new ? [el("span", {class: "old"}, c.old || "∅"), " → ", el("span", {class: "new"}, c.new || "∅")] : "")),
    ));
    if (!shown.length) {
      tbody.appendChild(el("tr", {class: "empty"}, el("td", {colspan: 5}, all.length ? "No change matches the filter." : "No changes recorded yet.")));
    }
  }
  return [shown.length, all.length];
}

/** Timeline newest first into a <ul>. */
export function renderTimeline(ul, timeline) {
  const items = (timeline || []).map((e, i) => ({...e, __i: i})).sort((a, b) => (b.t - a.t) || (b.__i - a.__i));
  const sig = JSON.stringify([items.length, items.length ? items[0] : null]);
  if (ul.__sig === sig) return;
  ul.__sig = sig;
  ul.replaceChildren(...items.map((e) => el("li", {class: `tl kind-${e.kind} ${timelineTone(e)}`, dataset: {kind: e.kind}},
    el("span", {class: "mono tl-t"}, fmtT(e.t)),
    badge(e.kind, "kind"),
    e.layer ? el("span", {class: "tl-layer"}, e.layer) : null,
    el("span", {class: "tl-text"}, e.text),
    e.firm ? el("span", {class: "tl-firm"}, e.firm) : null,
  )));
  if (!items.length) ul.appendChild(el("li", {class: "empty"}, "Nothing on the timeline yet."));
}

const TIMELINE_TONES = {
  inject: "tone-bad", fault: "tone-bad", page: "tone-bad", alert: "tone-bad",
  refused: "tone-warn", reject: "tone-warn", halt: "tone-warn", venue: "tone-warn",
  operator: "tone-op", trainee: "tone-op", ack: "tone-op", hint: "tone-op",
  change: "tone-info", deploy: "tone-info", config: "tone-info",
};

function timelineTone(entry) {
  const kind = String(entry.kind || "").toLowerCase();
  if (TIMELINE_TONES[kind]) return TIMELINE_TONES[kind];
  const text = `${kind} ${entry.text}`.toLowerCase();
  if (/fault|runaway/.test(text)) return "tone-bad";
  if (/halt|stale|reject|refus/.test(text)) return "tone-warn";
  return "";
}

// ---------------------------------------------------------------------------------------------
// Trainee actions (as the server recorded them)
// ---------------------------------------------------------------------------------------------

export function describeAction(a) {
  const p = a.params || {};
  const target = [p.firm, p.strategy].filter(Boolean).join("/");
  let detail = "";
  if (a.action === "ack") detail = p.page_id;
  else if (a.action === "set_limit") detail = `${p.limit} = ${p.value}`;
  else if (a.action === "silence") detail = `${p.alert} for ${p.minutes} min`;
  else if (a.action === "note") detail = `“${p.text}”`;
  else if (a.action === "inject") detail = p.kind || "";
  else if (a.action === "speed") detail = `×${p.speed}`;
  return [a.action.replace(/_/g, " "), target, detail].filter(Boolean).join(" ");
}

/** Accepted but not applied yet: the server applies actions at the next tick of simulated time. */
export function actionPending(a) {
  return !a.ok && !a.result;
}

export function renderActions(ul, actions) {
  const items = [...(actions || [])].sort((a, b) => (b.t - a.t) || (b.id - a.id));
  syncList(ul, items, (a) => a.id, () => el("li", {class: "act"}), (li, a) => {
    const sig = JSON.stringify(a);
    if (li.__sig === sig) return;
    li.__sig = sig;
    const pending = actionPending(a);
    li.className = `act ${pending ? "pending" : a.ok ? "ok" : "failed"}${a.source === "gm" ? " gm" : ""}`;
    li.dataset.action = a.action;
    li.dataset.source = a.source || "trainee";
    const detail = !pending && a.result && a.result !== "ok" ? a.result : "";
    li.replaceChildren(
      el("span", {class: "mono act-t"}, pending ? "queued" : fmtT(a.t)),
      el("span", {class: "act-who"}, a.source === "gm" ? "GM" : a.trainee),
      el("span", {class: "act-what", title: describeAction(a)}, describeAction(a)),
      el("span", {class: "act-mark"}, pending ? "…" : a.ok ? "✓" : "✗"),
      detail ? el("span", {class: "act-result", title: detail}, detail) : null,
    );
  });
  emptyNote(ul, items.length === 0, "No actions yet.");
}

// ---------------------------------------------------------------------------------------------
// Score card
// ---------------------------------------------------------------------------------------------

/** The score card: verdict, mitigation and ack times, damage vs the counterfactual, harm, hints. */
export function renderScore(node, score, {debrief = true} = {}) {
  const sig = JSON.stringify(score);
  if (node.__sig === sig) return;
  node.__sig = sig;
  node.hidden = !score;
  if (!score) {
    node.replaceChildren();
    return;
  }
  const dmg = score.damage || {};
  const cf = score.counterfactual || {};
  const avoided = score.damage_avoided || {};
  const harmful = score.harmful_actions || [];
  const none = (v) => v === null || v === undefined;
  const mitigated = !none(score.time_to_mitigation_s) || !none(score.mitigation);
  const tone = !mitigated ? "bad" : harmful.length ? "warn" : "good";
  node.dataset.tone = tone;
  const row = (label, value, cls = "") => el("div", {class: `score-row ${cls}`}, el("dt", null, label), el("dd", null, value));
  const facts = [
    none(score.first_fault_s) ? null : `first fault ${fmtT(score.first_fault_s)}`,
    none(score.first_page_s) ? null : `first page ${fmtT(score.first_page_s)}`,
    none(score.pages) ? null : `${score.pages} page${score.pages === 1 ? "" : "s"}`,
    none(score.actions) ? null : `${score.actions} action${score.actions === 1 ? "" : "s"}`,
  ].filter(Boolean);
  node.replaceChildren(
    el("div", {class: "score-head"},
      el("span", {class: "score-title"}, "Drill result"),
      el("span", {class: `badge tone-${tone}`}, !mitigated ? "not mitigated" : harmful.length ? "mitigated, with harm" : "mitigated")),
    score.verdict ? el("p", {class: `verdict verdict-${tone}`, "data-verdict": score.verdict}, score.verdict) : null,
    el("dl", {class: "score-grid"},
      row("Mitigation", none(score.time_to_mitigation_s) ? "none"
        : [fmtDur(score.time_to_mitigation_s, {precise: true}), score.mitigation ? el("span", {class: "score-note"}, score.mitigation) : null],
      none(score.time_to_mitigation_s) ? "bad" : ""),
      row("Time to ack", none(score.time_to_ack_s) ? "never acked" : fmtDur(score.time_to_ack_s, {precise: true}),
        none(score.time_to_ack_s) ? "bad" : ""),
      row("Hints used", String(score.hints_used ?? 0)),
    ),
    el("table", {class: "score-table"},
      el("thead", null, el("tr", null, el("th", null, ""), el("th", null, "P&L"), el("th", null, "max position"), el("th", null, "orders sent"))),
      el("tbody", null,
        el("tr", null, el("th", null, "with you"), el("td", {class: signClass(dmg.pnl)}, fmtMoney(dmg.pnl)), el("td", null, fmtQty(dmg.max_position)), el("td", null, fmtQty(dmg.orders_sent))),
        el("tr", null, el("th", null, "nobody acting"), el("td", {class: signClass(cf.pnl)}, fmtMoney(cf.pnl)), el("td", null, fmtQty(cf.max_position)), el("td", null, fmtQty(cf.orders_sent))),
        el("tr", {class: "avoided"}, el("th", null, "damage avoided"), el("td", {class: signClass(avoided.pnl)}, fmtMoney(avoided.pnl)),
          el("td", null, none(avoided.position) ? "" : fmtQty(avoided.position)), el("td", null, fmtQty(avoided.orders))),
      ),
    ),
    el("div", {class: `harmful ${harmful.length ? "bad" : "good"}`},
      el("span", {class: "block-h"}, `Harmful actions (${harmful.length})`),
      harmful.length ? el("ul", null, harmful.map((h) => el("li", null, h))) : el("span", null, " none")),
    facts.length || debrief ? el("div", {class: "score-foot"},
      el("span", null, facts.join(" · ")),
      debrief ? el("a", {href: "/api/debrief", target: "_blank", rel: "noopener", id: "debrief-link"}, "Open the debrief ↗") : null) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Hints
// ---------------------------------------------------------------------------------------------

export function renderHints(ul, drill) {
  const hints = (drill && drill.hints) || [];
  syncList(ul, hints, (h) => h.id, (h) => el("li", {class: "hint", dataset: {hintId: h.id}, title: h.by ? `released by ${h.by}` : null},
    el("span", {class: "mono"}, fmtT(h.t)), el("span", {class: "hint-text"}, h.text)), () => {});
  emptyNote(ul, hints.length === 0, "No hints released.");
}
