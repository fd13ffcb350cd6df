// Game-master page: run control, hints, fault injection; pager and timeline read only.
import {
  $, el, setText, replaceIfChanged, badge, fmtT, fmtMoney, fmtPrice, fmtSigned, api, connect, renderHeader, renderConnection, showStatus, sendBusy,
  renderPager, renderChanges, renderTimeline, renderActions, renderScore, renderHints, renderError,
} from "./common.js";

const CONFIRM_MS = 6000;
let snap = null;

function sendGm(body, button = null) {
  return sendBusy(api.gm, body, button, render);
}

// ---------------------------------------------------------------------------------------------
// Run control
// ---------------------------------------------------------------------------------------------

$("#gm-pause").addEventListener("click", (e) => sendGm({command: "pause"}, e.currentTarget));
$("#gm-resume").addEventListener("click", (e) => sendGm({command: "resume"}, e.currentTarget));

const endButton = $("#gm-end");
endButton.__label = endButton.textContent;
endButton.addEventListener("click", () => {
  if (endButton.dataset.confirm !== "pending") {
    endButton.dataset.confirm = "pending";
    endButton.classList.add("confirming");
    endButton.textContent = "Confirm end drill?";
    clearTimeout(endButton.__timer);
    endButton.__timer = setTimeout(resetEnd, CONFIRM_MS);
    return;
  }
  resetEnd();
  sendGm({command: "end"}, endButton);
});
function resetEnd() {
  clearTimeout(endButton.__timer);
  delete endButton.dataset.confirm;
  endButton.classList.remove("confirming");
  endButton.textContent = endButton.__label;
}

$("#speed-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const speed = Number($("#gm-speed").value);
  if (!Number.isFinite(speed) || speed <= 0) {
    showStatus("✗ speed: give a positive number", "error");
    return;
  }
  sendGm({command: "speed", speed}, event.currentTarget.querySelector("button"));
});

$("#gm-hint").addEventListener("click", (e) => sendGm({command: "hint"}, e.currentTarget));

// ---------------------------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------------------------

function defaults() {
  const firm = snap && snap.firms && snap.firms[0];
  const market = snap && snap.market && snap.market[0];
  const strategy = firm && firm.strategies && firm.strategies[0];
  const price = market && Number.isFinite(market.last) ? market.last : market && Number.isFinite(market.fundamental) ? market.fundamental : 100;
  return {
    firm: firm ? firm.firm : "FIRM",
    symbol: market ? market.symbol : "ESZ6",
    strategy: strategy ? strategy.name : "mm1",
    limit: firm && firm.limits && Object.keys(firm.limits)[0] ? Object.keys(firm.limits)[0] : "max_order_qty",
    price: Number(price).toFixed(2),
  };
}

function template(kind) {
  const d = defaults();
  const q = (v) => JSON.stringify(String(v));
  switch (kind) {
    case "feed_freeze": return `symbol = ${q(d.symbol)}\nduration = "30s"`;
    case "feed_delay": return `symbol = ${q(d.symbol)}\ndelay = "2s"\nduration = "30s"`;
    case "feed_gap": return `symbol = ${q(d.symbol)}\ndrop_every = 3\nduration = "30s"`;
    case "feed_corrupt": return `symbol = ${q(d.symbol)}\nticks = 40\nduration = "30s"`;
    case "feed_crossed": return `symbol = ${q(d.symbol)}\nticks = 8\nduration = "30s"`;
    case "session_drop": return `firm = ${q(d.firm)}\nreconnect_after = "10s"`;
    case "runaway_switch": return `strategy = ${q(d.strategy)}\non = true`;
    case "fat_finger": return `firm = ${q(d.firm)}\nstrategy = ${q(d.strategy)}\nsymbol = ${q(d.symbol)}\nside = "buy"\nqty = 5000\nprice = ${q(d.price)}`;
    case "limit_change": return `firm = ${q(d.firm)}\nlimit = ${q(d.limit)}\nvalue = 1000000`;
    case "tick_size_change": return `symbol = ${q(d.symbol)}\ntick_size = "0.50"\nannounced = "10s"`;
    case "venue_halt": return `symbol = ${q(d.symbol)}\nreason = "volatility halt"\nduration = "30s"`;
    case "fundamental_shift": return `symbol = ${q(d.symbol)}\nticks = -40`;
    case "config_change": return `firm = ${q(d.firm)}\nwhat = "quote width"\nold = "2 ticks"\nnew = "1 tick"`;
    case "latency_spike": return `firm = ${q(d.firm)}\nlatency = "500ms"\nduration = "30s"`;
    default: return "";
  }
}

const kindSelect = $("#inject-kind");
const fields = $("#inject-fields");
let lastTemplate = "";

function applyTemplate(force = false) {
  const text = template(kindSelect.value);
  if (force || !fields.value.trim() || fields.value === lastTemplate) {
    fields.value = text;
    lastTemplate = text;
  }
}

kindSelect.addEventListener("change", () => applyTemplate());

$("#inject-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const kind = kindSelect.value;
  const text = fields.value.trim();
  let body;
  if (text.startsWith("{")) {
    let obj;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      showStatus(`✗ inject: the fields are not valid JSON (${err.message})`, "error");
      return;
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
      showStatus("✗ inject: the JSON must be an object of fields", "error");
      return;
    }
    body = {command: "inject", inject: {kind, ...obj}};
  } else {
    const hasKind = /^\s*kind\s*=/m.test(text);
    body = {command: "inject", toml: hasKind ? text : `kind = ${JSON.stringify(kind)}${text ? "\n" + text : ""}`};
  }
  sendGm(body, event.currentTarget.querySelector("button[type=submit]"));
});

// ---------------------------------------------------------------------------------------------
// Render
// ---------------------------------------------------------------------------------------------

function render(s) {
  if (!s || typeof s !== "object") return;
  const first = !snap;
  snap = s;
  const sections = [
    () => renderHeader(s),
    () => renderError(s),
    () => {
      const pages = s.pages || [];
      renderPager($("#pager"), pages, {readonly: true});
      const firing = pages.filter((p) => p.status === "firing").length;
      const unacked = pages.filter((p) => !p.acked_by && p.status === "firing").length;
      setText($("#pager-count"), pages.length ? `${firing} firing · ${unacked} unacked · ${pages.length} total` : "");
    },
    () => {
      const drill = s.drill || {};
      renderHints($("#hints"), drill);
      setText($("#hints-left"), Number.isFinite(drill.hints_left) ? `${(drill.hints || []).length} released · ${drill.hints_left} left` : "");
      $("#gm-hint").disabled = drill.hints_left === 0;
      setText($("#briefing-box"), drill.briefing ? `Briefing: ${drill.briefing}` : "");
      const mitigations = drill.mitigations || [];
      setText($("#mitigations-box"), mitigations.length ? `Expected mitigation: ${mitigations.join("; or ")}` : "");
    },
    () => {
      const clock = s.clock || {};
      $("#gm-pause").disabled = !!clock.paused || !!clock.ended;
      $("#gm-resume").disabled = !clock.paused || !!clock.ended;
      endButton.disabled = !!clock.ended;
      const speedInput = $("#gm-speed");
      if (document.activeElement !== speedInput && Number.isFinite(clock.speed)) speedInput.value = String(clock.speed);
    },
    () => {
      renderActions($("#actions"), s.actions || []);
      renderScore($("#score"), s.score);
      const firms = (s.firms || []).map((f) => `${f.firm} ${f.engine_state}${f.kill_switch ? " KILL" : ""} ${fmtMoney((f.pnl_realized || 0) + (f.pnl_unrealized || 0))}`);
      setText($("#firms-summary"), firms.join(" · "));
    },
    () => renderWorld(s),
    () => {
      const [shown, total] = renderChanges($("#changes"), s.changes || [], $("#change-filter").value);
      setText($("#changes-count"), shown === total ? `${total} changes` : `${shown} of ${total} changes`);
      renderTimeline($("#timeline"), s.timeline || []);
    },
  ];
  for (const section of sections) {
    try {
      section();
    } catch (err) {
      console.error("gm: render failed", err);
    }
  }
  if (first) applyTemplate(true);
}

/** One line per firm and per symbol: what the trainee is looking at, in brief. */
function renderWorld(s) {
  const firms = s.firms || [];
  const market = s.market || [];
  const sig = JSON.stringify([firms.map((f) => [f.firm, f.engine_state, f.kill_switch, f.positions, f.pnl_realized, f.pnl_unrealized,
    f.open_orders, f.rejects, (f.strategies || []).map((st) => [st.name, st.state])]),
  market.map((m) => [m.symbol, m.phase, m.last, m.fundamental, m.feed_age_s === null ? null : Math.round(m.feed_age_s * 10)])]);
  replaceIfChanged($("#world"), sig, () => [
    ...firms.map((f) => el("li", {dataset: {firm: f.firm}},
      el("strong", null, f.firm),
      badge(f.engine_state, `state state-${String(f.engine_state).toUpperCase()}`),
      f.kill_switch ? badge("kill switch", "kill-on") : null,
      el("span", {class: "mono"}, `P&L ${fmtMoney((f.pnl_realized || 0) + (f.pnl_unrealized || 0))}`),
      el("span", {class: "mono"}, Object.entries(f.positions || {}).map(([k, v]) => `${k} ${fmtSigned(v)}`).join("  ") || "flat"),
      el("span", {class: "muted"}, (f.strategies || []).map((st) => `${st.name}:${String(st.state).toLowerCase()}`).join(" ")))),
    ...market.map((m) => el("li", {dataset: {symbol: m.symbol}},
      el("strong", null, m.symbol),
      badge(m.phase, `phase phase-${String(m.phase).toLowerCase()}`),
      el("span", {class: "mono"}, `last ${fmtPrice(m.last)}`),
      el("span", {class: "mono"}, `fair ${fmtPrice(m.fundamental)}`),
      el("span", {class: `mono ${Number.isFinite(m.feed_age_s) && m.feed_age_s > 2 ? "stale-text" : "muted"}`},
        Number.isFinite(m.feed_age_s) ? `feed ${m.feed_age_s.toFixed(1)} s` : "feed —"))),
  ]);
}

$("#change-filter").addEventListener("input", () => snap && render(snap));

applyTemplate(true);
connect({onState: render, onConnection: renderConnection});

window.drill = {get snapshot() { return snap; }, render, fmtT};
