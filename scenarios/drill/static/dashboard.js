// Trainee dashboard: pager, trading controls, market, what changed, journal and the drill panel.
import {
  $, $$, el, setText, setClass, syncList, emptyNote, replaceIfChanged,
  fmtT, fmtTms, fmtDur, fmtPrice, fmtQty, fmtSigned, fmtMoney, signClass,
  api, connect, renderHeader, renderConnection, showStatus, sendBusy,
  badge, renderPager, renderChanges, renderTimeline, renderActions, renderScore, renderHints, renderError,
  describeAction,
} from "./common.js";

const TRAINEE_KEY = "marketdrill.trainee";
const JOURNAL_MAX_LINES = 5000;
const CONFIRM_MS = 6000;
const FEED_STALE_S = 2;

let snap = null;

// ---------------------------------------------------------------------------------------------
// Trainee name
// ---------------------------------------------------------------------------------------------

function loadTrainee() {
  let name = null;
  try {
    name = localStorage.getItem(TRAINEE_KEY);
  } catch (_err) { /* storage may be disabled */ }
  $("#trainee").value = name && name.trim() ? name : "trainee";
}

function trainee() {
  return $("#trainee").value.trim() || "trainee";
}

$("#trainee").addEventListener("input", () => {
  try {
    localStorage.setItem(TRAINEE_KEY, $("#trainee").value.trim());
  } catch (_err) { /* ignore */ }
});

// ---------------------------------------------------------------------------------------------
// Sending actions
// ---------------------------------------------------------------------------------------------

function sendAction(params, button = null) {
  // a fresh snapshot never replaces a newer one that SSE already brought
  return sendBusy(api.action, {trainee: trainee(), ...params}, button,
    (fresh) => { if (!snap || !snap.clock || fresh.clock.t >= snap.clock.t) render(fresh); });
}

/**
 * An action button.  Dangerous ones ask for a second click: the first turns the button into
 * "Confirm …?" (class "confirming", data-confirm="pending") for a few seconds.
 */
function actionButton({action, firm = null, strategy = null, label, confirm = false, cls = "", title = ""}) {
  const button = el("button", {
    type: "button", class: `act-btn ${cls}`.trim(), title: title || null,
    dataset: {action, ...(firm !== null ? {firm} : {}), ...(strategy !== null ? {strategy} : {})},
  }, label);
  button.__label = label;
  button.addEventListener("click", () => {
    if (confirm && button.dataset.confirm !== "pending") {
      button.dataset.confirm = "pending";
      button.classList.add("confirming");
      button.textContent = `Confirm ${label.toLowerCase()}?`;
      clearTimeout(button.__confirmTimer);
      button.__confirmTimer = setTimeout(() => resetConfirm(button), CONFIRM_MS);
      return;
    }
    resetConfirm(button);
    const params = {action};
    if (firm !== null) params.firm = firm;
    if (strategy !== null) params.strategy = strategy;
    sendAction(params, button);
  });
  button.addEventListener("keydown", (event) => {
    if (event.key === "Escape") resetConfirm(button);
  });
  return button;
}

function resetConfirm(button) {
  clearTimeout(button.__confirmTimer);
  if (button.dataset.confirm === "pending") {
    delete button.dataset.confirm;
    button.classList.remove("confirming");
    button.textContent = button.__label;
  }
}

// ---------------------------------------------------------------------------------------------
// Pager
// ---------------------------------------------------------------------------------------------

function onAck(page, button) {
  button.textContent = "Acknowledging…";
  sendAction({action: "ack", page_id: page.id}, button).then((result) => {
    if (!button.isConnected) return;
    if (result.ok) button.disabled = true; // until the snapshot shows who acked it
    else button.textContent = "Acknowledge";
  });
}

function renderPagerPanel(pages) {
  renderPager($("#pager"), pages, {onAck});
  const firing = pages.filter((p) => p.status === "firing").length;
  const unacked = pages.filter((p) => !p.acked_by && p.status === "firing").length;
  setText($("#pager-count"), pages.length ? `${firing} firing · ${unacked} unacked · ${pages.length} total` : "");
  setClass($("#panel-pager"), "alarm", pages.some((p) => p.severity === "page" && p.status === "firing" && !p.acked_by));
}

// ---------------------------------------------------------------------------------------------
// Trading
// ---------------------------------------------------------------------------------------------

function stateBadgeClass(state) {
  return `state state-${String(state || "").toUpperCase()}`;
}

function positionChips(positions) {
  const entries = Object.entries(positions || {});
  if (!entries.length) return [el("span", {class: "muted"}, "flat")];
  return entries.map(([sym, qty]) => el("span", {class: `pos-chip ${signClass(qty)}`},
    el("span", {class: "pos-sym"}, sym), " ", el("span", {class: "mono"}, fmtSigned(qty))));
}

function stat(label, cls = "") {
  const value = el("span", {class: `stat-v mono ${cls}`.trim()});
  const node = el("span", {class: "stat"}, el("span", {class: "stat-k"}, label), value);
  node.__value = value;
  return node;
}

function createFirm(firm) {
  const name = firm.firm;
  const node = el("article", {class: "firm", dataset: {firm: name}});
  const p = {
    state: el("span", {class: "engine-state badge"}),
    kill: el("span", {class: "kill-state badge"}),
    reason: el("span", {class: "state-reason"}),
    realized: stat("realized"),
    unrealized: stat("unrealized"),
    open: stat("open"),
    unacked: stat("unacked"),
    rejects: stat("rejects"),
    sent: stat("sent"),
    positions: el("span", {class: "positions"}),
    strategies: el("div", {class: "strategies"}),
    killBtn: actionButton({action: "kill_switch", firm: name, label: "Venue kill switch", confirm: true, cls: "danger",
      title: "Cancel every order of the firm at the venue and block new ones"}),
    releaseBtn: actionButton({action: "release_kill_switch", firm: name, label: "Release kill switch", cls: "",
      title: "Let the firm trade at the venue again"}),
  };
  node.__parts = p;
  node.append(
    el("div", {class: "firm-head"},
      el("h3", null, name), p.state, p.kill, p.reason),
    el("div", {class: "firm-stats"}, p.realized, p.unrealized, p.open, p.unacked, p.rejects, p.sent,
      el("span", {class: "stat"}, el("span", {class: "stat-k"}, "positions"), p.positions)),
    el("div", {class: "firm-actions"},
      el("span", {class: "lbl"}, "engine"),
      actionButton({action: "halt_engine", firm: name, label: "Halt engine", cls: "warn"}),
      actionButton({action: "resume_engine", firm: name, label: "Resume", cls: "good"}),
      actionButton({action: "reducing_engine", firm: name, label: "Reducing", cls: "caution"}),
      el("span", {class: "spacer"}),
      p.killBtn, p.releaseBtn),
    el("div", {class: "strategies-head strat-line"},
      el("span", {class: "strat-name"}, "strategy"), el("span", {class: "strat-state"}, "state"),
      el("span", {class: "strat-pos"}, "position"), el("span", {class: "strat-pnl"}, "P&L"),
      el("span", {class: "strat-num", title: "open orders"}, "open"),
      el("span", {class: "strat-num", title: "rejects"}, "rej")),
    p.strategies,
  );
  return node;
}

function updateFirm(node, firm) {
  const p = node.__parts;
  const state = String(firm.engine_state || "").toUpperCase();
  setText(p.state, state || "?");
  p.state.className = `engine-state badge ${stateBadgeClass(state)}`;
  node.dataset.engineState = state;
  setText(p.kill, firm.kill_switch ? "KILL SWITCH ON" : "kill switch off");
  p.kill.className = `kill-state badge ${firm.kill_switch ? "kill-on" : "kill-off"}`;
  node.dataset.killSwitch = firm.kill_switch ? "on" : "off";
  setText(p.reason, firm.state_reason || "");
  p.reason.title = firm.state_reason || "";
  setText(p.realized.__value, fmtMoney(firm.pnl_realized));
  p.realized.__value.className = `stat-v mono ${signClass(firm.pnl_realized)}`;
  setText(p.unrealized.__value, fmtMoney(firm.pnl_unrealized));
  p.unrealized.__value.className = `stat-v mono ${signClass(firm.pnl_unrealized)}`;
  setText(p.open.__value, fmtQty(firm.open_orders));
  setText(p.unacked.__value, fmtQty(firm.unacked_orders));
  setClass(p.unacked.__value, "neg", firm.unacked_orders > 0);
  setText(p.rejects.__value, fmtQty(firm.rejects));
  setClass(p.rejects.__value, "neg", firm.rejects > 0);
  p.sent.hidden = firm.orders_sent === undefined;
  setText(p.sent.__value, fmtQty(firm.orders_sent));
  p.sent.title = "orders sent to the venue since the start";
  replaceIfChanged(p.positions, JSON.stringify(firm.positions || {}), () => positionChips(firm.positions));
  p.killBtn.hidden = !!firm.kill_switch;
  p.releaseBtn.hidden = !firm.kill_switch;
  if (firm.kill_switch) resetConfirm(p.killBtn);

  syncList(p.strategies, firm.strategies || [], (s) => s.name, (s) => createStrategy(firm.firm, s), updateStrategy);
  emptyNote(p.strategies, !(firm.strategies || []).length, "no strategies");
}

function createStrategy(firmName, strategy) {
  const name = strategy.name;
  const row = el("div", {class: "strategy", dataset: {firm: firmName, strategy: name}});
  const p = {
    state: el("span", {class: "badge"}),
    positions: el("span", {class: "strat-pos positions"}),
    pnl: el("span", {class: "strat-pnl mono"}),
    open: el("span", {class: "strat-num mono"}),
    rejects: el("span", {class: "strat-num mono"}),
  };
  row.__parts = p;
  row.append(
    el("div", {class: "strat-line"},
      el("span", {class: "strat-name", title: [name, strategy.kind, strategy.symbol].filter(Boolean).join(" · ")}, name),
      el("span", {class: "strat-state"}, p.state),
      p.positions, p.pnl, p.open, p.rejects),
    el("div", {class: "strat-actions"},
      actionButton({action: "halt_strategy", firm: firmName, strategy: name, label: "Halt", cls: "warn small"}),
      actionButton({action: "resume_strategy", firm: firmName, strategy: name, label: "Resume", cls: "good small"}),
      actionButton({action: "reducing_strategy", firm: firmName, strategy: name, label: "Reducing", cls: "caution small"}),
      actionButton({action: "cancel_all", firm: firmName, strategy: name, label: "Cancel all", cls: "small"}),
      actionButton({action: "flatten", firm: firmName, strategy: name, label: "Flatten", confirm: true, cls: "danger small",
        title: "Send orders that bring the strategy's positions to zero"})),
  );
  return row;
}

function updateStrategy(tr, s) {
  const p = tr.__parts;
  const state = String(s.state || "").toUpperCase();
  setText(p.state, state || "?");
  p.state.className = `badge ${stateBadgeClass(state)}`;
  tr.dataset.state = state;
  replaceIfChanged(p.positions, JSON.stringify(s.positions || {}), () => positionChips(s.positions));
  setText(p.pnl, Number.isFinite(s.pnl) ? fmtMoney(s.pnl) : "—");
  p.pnl.className = `strat-pnl mono ${signClass(s.pnl)}`;
  setText(p.open, fmtQty(s.open_orders));
  setText(p.rejects, fmtQty(s.rejects));
  setClass(p.rejects, "neg", s.rejects > 0);
}

// ---------------------------------------------------------------------------------------------
// Controls: risk limit, silence, note
// ---------------------------------------------------------------------------------------------

function syncOptions(select, values, labelOf = (v) => v) {
  const sig = JSON.stringify(values.map((v) => [v, labelOf(v)]));
  if (select.__sig === sig) return;
  select.__sig = sig;
  const keep = select.value;
  select.replaceChildren(...values.map((v) => el("option", {value: v}, labelOf(v))));
  if (values.includes(keep)) select.value = keep;
}

function renderControls(s) {
  const firms = s.firms || [];
  const firmSelect = $("#limit-firm");
  syncOptions(firmSelect, firms.map((f) => f.firm));
  const firm = firms.find((f) => f.firm === firmSelect.value) || firms[0];
  const limits = (firm && firm.limits) || {};
  const limitSelect = $("#limit-name");
  syncOptions(limitSelect, Object.keys(limits), (name) => `${name} = ${limitText(limits[name])}`);
  updateLimitHint();

  const names = [...new Set((s.pages || []).map((p) => p.name))].sort();
  const list = $("#alert-names");
  replaceIfChanged(list, JSON.stringify(names), () => names.map((n) => el("option", {value: n})));
}

function limitText(value) {
  return value === null || value === undefined || value === "" ? "off" : String(value);
}

function updateLimitHint() {
  const firm = ((snap && snap.firms) || []).find((f) => f.firm === $("#limit-firm").value);
  const name = $("#limit-name").value;
  const shown = limitText(firm && firm.limits ? firm.limits[name] : undefined);
  $("#limit-value").placeholder = "new value";
  $("#limit-value").title = name ? `${name} is ${shown} now` : "";
}

$("#limit-firm").addEventListener("change", () => snap && renderControls(snap));
$("#limit-name").addEventListener("change", updateLimitHint);

$("#limit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const body = {action: "set_limit", firm: $("#limit-firm").value, limit: $("#limit-name").value,
    value: $("#limit-value").value.trim()};
  if (!body.firm || !body.limit) {
    showStatus("✗ set limit: choose a firm and a limit", "error");
    return;
  }
  const result = await sendAction(body, form.querySelector("button"));
  if (result.ok) $("#limit-value").value = "";
});

$("#silence-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const minutes = Number($("#silence-minutes").value);
  const body = {action: "silence", alert: $("#silence-alert").value.trim(),
    minutes: Number.isFinite(minutes) && minutes > 0 ? minutes : 30, reason: $("#silence-reason").value.trim()};
  const result = await sendAction(body, form.querySelector("button"));
  if (result.ok) $("#silence-reason").value = "";
});

$("#note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const text = $("#note-text").value.trim();
  if (!text) return;
  const result = await sendAction({action: "note", text}, form.querySelector("button"));
  if (result.ok) $("#note-text").value = "";
});

$("#hint-button").addEventListener("click", (event) => sendAction({action: "hint"}, event.currentTarget));

// ---------------------------------------------------------------------------------------------
// Market
// ---------------------------------------------------------------------------------------------

function createSymbol(m) {
  const node = el("article", {class: "symbol", dataset: {symbol: m.symbol}});
  const quote = (label, cls) => {
    const value = el("span", {class: `q-v mono ${cls}`});
    const box = el("span", {class: "q"}, el("span", {class: "q-k"}, label), value);
    box.__value = value;
    return box;
  };
  const p = {
    phase: el("span", {class: "badge phase"}),
    feed: el("span", {class: "feed-age mono"}),
    bid: quote("bid", "bid"),
    ask: quote("ask", "ask"),
    last: quote("last", "last"),
    fundamental: quote("fair", "fair"),
    chart: el("div", {class: "chart"}),
    ladder: el("tbody"),
  };
  node.__parts = p;
  node.append(
    el("div", {class: "sym-head"}, el("h3", null, m.symbol), p.phase, el("span", {class: "spacer"}), p.feed),
    el("div", {class: "quotes"}, p.bid, p.ask, p.last, p.fundamental),
    el("div", {class: "sym-body"},
      p.chart,
      el("table", {class: "ladder mono"},
        el("thead", null, el("tr", null, el("th", null, "bid qty"), el("th", null, "price"), el("th", null, "ask qty"))),
        p.ladder)),
  );
  return node;
}

function updateSymbol(node, m) {
  const p = node.__parts;
  const phase = String(m.phase || "unknown").toLowerCase();
  setText(p.phase, phase);
  p.phase.className = `badge phase phase-${phase.replace(/[^a-z0-9_-]/g, "")}`;
  node.dataset.phase = phase;
  const age = m.feed_age_s;
  setText(p.feed, age === null || age === undefined ? "feed —" : `feed ${age < 10 ? age.toFixed(1) : Math.round(age)} s`);
  const stale = Number.isFinite(age) && age > FEED_STALE_S;
  setClass(p.feed, "stale", stale);
  setClass(p.feed, "unknown", !Number.isFinite(age));
  node.dataset.feedStale = stale ? "true" : "false";
  p.feed.title = "age of the newest market-data update the engines have seen";
  setText(p.bid.__value, fmtPrice(m.bid));
  setText(p.ask.__value, fmtPrice(m.ask));
  setText(p.last.__value, fmtPrice(m.last));
  setText(p.fundamental.__value, fmtPrice(m.fundamental));
  setClass(p.bid.__value, "crossed", Number.isFinite(m.bid) && Number.isFinite(m.ask) && m.bid >= m.ask);
  renderLadder(p.ladder, m.ladder || {});
  drawChart(p.chart, m, snap);
}

function renderLadder(tbody, ladder) {
  const asks = [...(ladder.asks || [])].sort((a, b) => a[0] - b[0]).slice(0, 5).reverse();
  const bids = [...(ladder.bids || [])].sort((a, b) => b[0] - a[0]).slice(0, 5);
  const sig = JSON.stringify([asks, bids]);
  if (tbody.__sig === sig) return;
  tbody.__sig = sig;
  const maxQty = Math.max(1, ...asks.map((l) => l[1]), ...bids.map((l) => l[1]));
  const bar = (qty, side) => el("div", {class: `qbar ${side}`},
    el("span", {class: "fill", style: `width:${Math.max(2, (100 * qty) / maxQty).toFixed(1)}%`}),
    el("span", {class: "qty"}, fmtQty(qty)));
  const rows = [];
  for (let i = 0; i < 5 - asks.length; i++) rows.push(el("tr", {class: "lvl ask empty-lvl"}, el("td"), el("td", {class: "px"}, "·"), el("td")));
  for (const [price, qty] of asks) rows.push(el("tr", {class: "lvl ask"}, el("td"), el("td", {class: "px"}, fmtPrice(price)), el("td", null, bar(qty, "ask"))));
  for (const [price, qty] of bids) rows.push(el("tr", {class: "lvl bid"}, el("td", null, bar(qty, "bid")), el("td", {class: "px"}, fmtPrice(price)), el("td")));
  for (let i = 0; i < 5 - bids.length; i++) rows.push(el("tr", {class: "lvl bid empty-lvl"}, el("td"), el("td", {class: "px"}, "·"), el("td")));
  if (asks.length && bids.length) rows[4].classList.add("touch-top");
  tbody.replaceChildren(...rows);
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return node;
}

function axisPrice(v, range) {
  const decimals = range >= 50 ? 0 : range >= 0.5 ? 2 : 4;
  return v.toLocaleString("en-US", {minimumFractionDigits: decimals, maximumFractionDigits: decimals});
}

/** Fundamental vs last trade over `history`, with markers for pages and trainee actions. */
function drawChart(box, m, s) {
  const history = (m.history || []).filter((h) => Array.isArray(h) && Number.isFinite(h[0]));
  const width = Math.max(220, Math.floor(box.clientWidth || 320));
  const height = 100;
  const pad = {l: 4, r: 46, t: 10, b: 14};
  const nowT = s && s.clock ? s.clock.t : null;
  const pages = (s && s.pages) || [];
  const actions = s ? traineeActions(s).filter((a) => a.ok || a.result) : [];
  const sig = JSON.stringify([width, history.length, history[history.length - 1], nowT === null ? null : Math.floor(nowT),
    pages.map((p) => [p.id, p.t, p.severity]), actions.map((a) => [a.id, a.t])]);
  if (box.__sig === sig) return;
  box.__sig = sig;

  if (history.length < 2) {
    box.replaceChildren(el("div", {class: "chart-empty"}, "waiting for price history…"));
    return;
  }
  const t0 = history[0][0];
  const t1 = Math.max(history[history.length - 1][0], Number.isFinite(nowT) ? nowT : -Infinity, t0 + 1);
  const values = [];
  for (const [, f, l] of history) {
    if (Number.isFinite(f)) values.push(f);
    if (Number.isFinite(l)) values.push(l);
  }
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const span = hi - lo;
  lo -= span * 0.08;
  hi += span * 0.08;
  const labels = [0, 1, 2, 3].map((i) => axisPrice(lo + ((hi - lo) * i) / 3, hi - lo));
  pad.r = 8 + 6.2 * Math.max(...labels.map((label) => label.length));
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * iw;
  const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * ih;

  const path = (index, step) => {
    let d = "";
    let pen = false;
    let prev = null;
    for (const h of history) {
      const v = h[index];
      if (!Number.isFinite(v)) { pen = false; continue; }
      const px = x(h[0]).toFixed(1);
      const py = y(v).toFixed(1);
      if (!pen) d += `M${px},${py}`;
      else if (step) d += `H${px}V${py}`;
      else d += `L${px},${py}`;
      pen = true;
      prev = v;
    }
    return {d, prev};
  };

  const root = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, class: "price-chart", role: "img",
    "aria-label": `${m.symbol} fundamental vs last trade`});
  // grid + y labels
  for (let i = 0; i <= 3; i++) {
    const v = lo + ((hi - lo) * i) / 3;
    const gy = y(v);
    root.appendChild(svg("line", {x1: pad.l, x2: pad.l + iw, y1: gy, y2: gy, class: "grid"}));
    root.appendChild(svg("text", {x: pad.l + iw + 4, y: gy + 3, class: "axis"}, labels[i]));
  }
  root.appendChild(svg("text", {x: pad.l, y: height - 3, class: "axis"}, fmtT(t0)));
  root.appendChild(svg("text", {x: pad.l + iw, y: height - 3, class: "axis", "text-anchor": "end"}, fmtT(t1)));

  // page markers: a vertical line and a flag at the top
  for (const page of pages) {
    if (!(page.t >= t0 && page.t <= t1)) continue;
    const px = x(page.t);
    const g = svg("g", {class: `mark-page sev-${page.severity}`},
      svg("title", {}, `${fmtT(page.t)} page: ${page.name} — ${page.symptom || ""}`),
      svg("line", {x1: px, x2: px, y1: pad.t, y2: pad.t + ih}),
      svg("path", {d: `M${px - 4},${pad.t - 8}L${px + 4},${pad.t - 8}L${px},${pad.t - 1}Z`}));
    root.appendChild(g);
  }
  const f = path(1, false);
  const l = path(2, true);
  root.appendChild(svg("path", {d: f.d, class: "line-fair"}));
  root.appendChild(svg("path", {d: l.d, class: "line-last"}));
  // trainee actions: dots on the bottom axis
  for (const a of actions) {
    if (!(a.t >= t0 && a.t <= t1)) continue;
    const px = x(a.t);
    root.appendChild(svg("g", {class: `mark-action ${a.ok ? "ok" : "failed"}`},
      svg("title", {}, `${fmtT(a.t)} ${a.trainee}: ${describeAction(a)}${a.ok ? "" : ` (failed: ${a.result || ""})`}`),
      svg("line", {x1: px, x2: px, y1: pad.t + ih - 6, y2: pad.t + ih}),
      svg("circle", {cx: px, cy: pad.t + ih - 7, r: 3.2})));
  }
  // now marker
  if (Number.isFinite(nowT) && nowT > t0 && nowT <= t1) {
    root.appendChild(svg("line", {x1: x(nowT), x2: x(nowT), y1: pad.t, y2: pad.t + ih, class: "now"}));
  }
  const legend = el("div", {class: "chart-legend"},
    el("span", {class: "lg lg-fair"}, "fundamental"), el("span", {class: "lg lg-last"}, "last trade"),
    el("span", {class: "lg lg-page"}, "page"), el("span", {class: "lg lg-action"}, "action"));
  box.replaceChildren(root, legend);
}

function renderMarket(market) {
  const box = $("#market");
  syncList(box, market, (m) => m.symbol, createSymbol, updateSymbol);
  emptyNote(box, !market.length, "No market data yet.");
}

// ---------------------------------------------------------------------------------------------
// What changed
// ---------------------------------------------------------------------------------------------

function renderChangesPanel(s) {
  const [shown, total] = renderChanges($("#changes"), s.changes || [], $("#change-filter").value);
  setText($("#changes-count"), shown === total ? `${total}` : `${shown} of ${total}`);
  renderTimeline($("#timeline"), s.timeline || []);
}

$("#change-filter").addEventListener("input", () => snap && renderChangesPanel(snap));

// ---------------------------------------------------------------------------------------------
// Journal
// ---------------------------------------------------------------------------------------------

// Lines live in chunks (li.jchunk > ol > li.jl) of JOURNAL_CHUNK lines so that adding and
// trimming lines re-lays out one chunk, not 5,000 lines.
let journalMaxSeq = -Infinity;
let journalTotal = 0;   // lines received since the page loaded
let journalInDom = 0;   // lines in the DOM (at most JOURNAL_MAX_LINES)
let journalShown = 0;   // of those, lines matching the search
let journalStick = true; // follow new lines while the view is at the bottom
const JOURNAL_CHUNK = 200;

function journalQuery() {
  return $("#journal-search").value.trim().toLowerCase();
}

// Only the reader's own scrolling decides whether to follow: scroll events that come from new
// lines, trimming (scroll anchoring) or our own scrollTop writes must not unstick the view.
let journalUserScroll = 0;
{
  const scroller = $("#journal-scroll");
  const touched = () => { journalUserScroll = Date.now() + 800; };
  for (const type of ["wheel", "touchstart", "touchmove", "pointerdown", "keydown"]) {
    scroller.addEventListener(type, touched, {passive: true});
  }
  scroller.addEventListener("pointermove", (event) => { if (event.buttons) touched(); }, {passive: true});
  scroller.addEventListener("scroll", () => {
    if (Date.now() > journalUserScroll) return;
    journalStick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
  }, {passive: true});
}

function journalLine(line, query) {
  const kind = String(line.kind || "");
  const stamp = fmtTms(line.t);
  const family = kind.split(".")[0].replace(/[^A-Za-z0-9_-]/g, "_");
  const li = el("li", {class: `jl kind-${kind.replace(/[^A-Za-z0-9_-]/g, "_")} kfam-${family}`, dataset: {seq: line.seq}},
    el("span", {class: "jl-t"}, stamp),
    el("span", {class: "jl-kind", title: kind}, kind),
    el("span", {class: "jl-text"}, line.text));
  li.__hay = `${stamp} ${kind} ${line.text}`.toLowerCase();
  if (query && !li.__hay.includes(query)) li.hidden = true;
  else journalShown += 1;
  return li;
}

function appendJournal(lines) {
  const list = $("#journal");
  const fresh = (lines || []).filter((l) => l && Number.isFinite(l.seq) && l.seq > journalMaxSeq).sort((a, b) => a.seq - b.seq);
  if (!fresh.length) return;
  journalTotal += fresh.length;
  journalMaxSeq = fresh[fresh.length - 1].seq;
  const query = journalQuery();
  // Only the newest lines ever reach the DOM: a big backlog on (re)connect is cut first.
  let chunk = list.lastElementChild && list.lastElementChild.__lines;
  for (const line of fresh.slice(-JOURNAL_MAX_LINES)) {
    if (!chunk || chunk.childElementCount >= JOURNAL_CHUNK) {
      chunk = el("ol");
      const holder = el("li", {class: "jchunk"}, chunk);
      holder.__lines = chunk;
      list.appendChild(holder);
    }
    chunk.appendChild(journalLine(line, query));
    journalInDom += 1;
  }
  // Trim the oldest lines: whole chunks where possible.
  while (journalInDom > JOURNAL_MAX_LINES && list.firstElementChild) {
    const first = list.firstElementChild.__lines;
    const excess = journalInDom - JOURNAL_MAX_LINES;
    if (first.childElementCount <= excess) {
      for (const li of first.children) if (!li.hidden) journalShown -= 1;
      journalInDom -= first.childElementCount;
      list.firstElementChild.remove();
    } else {
      for (let i = 0; i < excess; i++) {
        if (!first.firstElementChild.hidden) journalShown -= 1;
        first.firstElementChild.remove();
      }
      journalInDom -= excess;
    }
  }
  $("#journal-empty").hidden = true;
  updateJournalCount();
  if (journalStick) scrollJournalToEnd();
}

let journalScrollFrame = 0;
function scrollJournalToEnd() {
  if (journalScrollFrame) return;
  journalScrollFrame = requestAnimationFrame(() => {
    journalScrollFrame = 0;
    const scroller = $("#journal-scroll");
    scroller.scrollTop = scroller.scrollHeight;
    journalStick = true;
  });
}

function updateJournalCount() {
  if (journalQuery()) setText($("#journal-count"), `${journalShown} of ${journalInDom}`);
  else setText($("#journal-count"), journalInDom < journalTotal ? `last ${journalInDom} of ${journalTotal}` : `${journalInDom}`);
}

// A line shows on one row; a click unfolds it (and folds it again).
$("#journal").addEventListener("click", (event) => {
  const li = event.target.closest("li.jl");
  if (li && !window.getSelection().toString()) li.classList.toggle("open");
});

let searchTimer = null;
$("#journal-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const query = journalQuery();
    journalShown = 0;
    for (const li of $$("#journal li.jl")) {
      const hide = !!query && !li.__hay.includes(query);
      if (li.hidden !== hide) li.hidden = hide;
      if (!hide) journalShown += 1;
    }
    updateJournalCount();
    scrollJournalToEnd();
  }, 120);
});

// ---------------------------------------------------------------------------------------------
// Drill panel
// ---------------------------------------------------------------------------------------------

/** The trainee sees the trainees' actions, not the game master's (an injected fault is a spoiler). */
function traineeActions(s) {
  return (s.actions || []).filter((a) => (a.source || "trainee") !== "gm");
}

function renderDrill(s) {
  const drill = s.drill || {};
  setText($("#briefing"), drill.briefing || "");
  setText($("#drill-allowed"), Number.isFinite(drill.allowed_s) ? `allowed ${fmtDur(drill.allowed_s)}` : "");
  renderHints($("#hints"), drill);
  const left = drill.hints_left;
  setText($("#hints-left"), Number.isFinite(left) ? `${(drill.hints || []).length} released · ${left} left` : "");
  const button = $("#hint-button");
  const noneLeft = left === 0;
  if (!button.classList.contains("busy")) button.disabled = noneLeft;
  button.title = noneLeft ? "no hints left" : "release the next hint (counts against the score)";
  renderActions($("#actions"), traineeActions(s));
  const scoreNode = $("#score");
  const hadScore = !scoreNode.hidden;
  renderScore(scoreNode, s.score);
  if (s.score && !hadScore) {
    $("#panel-drill .panel-body").scrollTop = 0;
    $("#panel-drill").classList.add("has-score");
  }
}

// ---------------------------------------------------------------------------------------------
// Render + wiring
// ---------------------------------------------------------------------------------------------

function render(s) {
  if (!s || typeof s !== "object") return;
  snap = s;
  const sections = [
    () => renderHeader(s),
    () => renderError(s),
    () => renderPagerPanel(s.pages || []),
    () => {
      const firms = s.firms || [];
      syncList($("#firms"), firms, (f) => f.firm, createFirm, updateFirm);
      emptyNote($("#firms"), !firms.length, "No firms.");
    },
    () => renderControls(s),
    () => renderMarket(s.market || []),
    () => renderChangesPanel(s),
    () => renderDrill(s),
  ];
  for (const section of sections) {
    try {
      section();
    } catch (err) {
      console.error("drill: render failed", err);
    }
  }
}

loadTrainee();
connect({
  onState: render,
  onJournal: appendJournal,
  onEnd: () => $("#panel-drill").scrollIntoView({block: "nearest"}),
  onConnection: renderConnection,
});

// Redraw charts when the layout width changes.
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => snap && renderMarket(snap.market || []), 150);
});

// Exposed for debugging and browser tests.
window.drill = {get snapshot() { return snap; }, render, appendJournal};
