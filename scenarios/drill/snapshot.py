"""The dashboard's view of a running drill: one JSON-able dict, built on the simulation thread.

Times are simulated seconds since the drill started; prices and P&L are converted to floats here
for display only (the simulation decides on integer ticks and exact decimals).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.clock import NS_PER_S

if TYPE_CHECKING:
    from scenarios.drill.live import Drill

LADDER_LEVELS = 5
_HIDDEN_LABELS = ("alertname", "severity", "lens")


def build_snapshot(drill: Drill) -> dict[str, Any]:
    """Everything the pager, trading, market, What Changed and drill panels show."""
    from scenarios.drill.live import utc

    run = drill.run_
    assert run is not None
    now = run.now()
    t = now - run.start_ns
    scenario = drill.scenario
    plan = drill.plan
    return {
        "scenario": {"name": scenario.name, "summary": scenario.summary, "seed": drill.seed,
                     "duration_s": plan.allowed_ns / NS_PER_S},
        "drill": {"briefing": plan.briefing, "allowed_s": plan.allowed_ns / NS_PER_S,
                  "hints": [{"id": hint.index, "t": at / NS_PER_S, "text": hint.text, "by": by}
                            for hint, at, by in drill.hints],
                  "hints_left": drill._hints_left(),
                  "mitigations": [m.describe() for m in plan.mitigations]},
        "clock": {"t": t / NS_PER_S, "utc": utc(now), "speed": drill.speed, "paused": drill.paused,
                  "ended": drill.ended, "remaining_s": max(0, run.end_ns - now) / NS_PER_S},
        "pages": _pages(drill, now),
        "firms": _firms(drill),
        "market": _market(drill, now),
        "changes": [_change(c, run.start_ns) for c in run.changes],
        "timeline": [{"t": (e.time_ns - run.start_ns) / NS_PER_S, "kind": e.kind, "text": e.text, "layer": e.layer,
                      "firm": e.firm} for e in sorted(run.record.timeline, key=lambda e: e.time_ns)],
        "actions": [{"id": a.id, "t": (a.t_ns or 0) / NS_PER_S, "trainee": a.trainee, "action": a.action,
                     "params": {k: str(v) for k, v in a.params.items()}, "ok": a.ok, "result": a.result,
                     "source": a.source} for a in drill.actions],
        "score": drill.score,
        "error": drill.error,
    }


def initial_snapshot(drill: Drill) -> dict[str, Any]:
    """The state before the world is built (the dashboard may connect first)."""
    plan = drill.plan
    return {
        "scenario": {"name": drill.scenario.name, "summary": drill.scenario.summary, "seed": drill.seed,
                     "duration_s": plan.allowed_ns / NS_PER_S},
        "drill": {"briefing": plan.briefing, "allowed_s": plan.allowed_ns / NS_PER_S, "hints": [],
                  "hints_left": len(plan.requested_hints), "mitigations": [m.describe() for m in plan.mitigations]},
        "clock": {"t": 0.0, "utc": "", "speed": drill.speed, "paused": False, "ended": False,
                  "remaining_s": plan.allowed_ns / NS_PER_S, "starting": True},
        "pages": [], "firms": [], "market": [], "changes": [], "timeline": [], "actions": [], "score": None,
        "error": None,
    }


def _pages(drill: Drill, now: int) -> list[dict[str, Any]]:
    run = drill.run_
    assert run is not None
    live = {alert.fingerprint for alert in run.router.alerts() if not alert.resolved_at(now)}
    out = []
    for page_id, notification in reversed(drill.pages()):
        alert = notification.firing[0] if notification.firing else notification.alerts[0]
        acked = drill.acks.get(page_id)
        firing = any(a.fingerprint in live for a in notification.alerts)
        out.append({
            "id": page_id, "name": alert.name, "symptom": alert.symptom, "severity": alert.severity,
            "lens": alert.lens, "labels": {k: v for k, v in alert.labels.items() if k not in _HIDDEN_LABELS},
            "causes": list(alert.causes), "changes": [c.describe(notification.time_ns) for c in alert.changes],
            "grouped": sorted({a.name for a in notification.alerts} - {alert.name}),
            "t": (notification.time_ns - run.start_ns) / NS_PER_S, "status": "firing" if firing else "resolved",
            "acked_by": acked[0] if acked else None, "acked_t": acked[1] / NS_PER_S if acked else None,
        })
    return out


def _firms(drill: Drill) -> list[dict[str, Any]]:
    run = drill.run_
    assert run is not None
    killed = run.world.venue.protections.killed_firms
    out = []
    for firm in drill.scenario.firms:
        engine = run.world.engines[firm.id]
        symbols = list(engine.instruments.symbols)
        why = engine.risk.why()
        rejects = len([r for r in run.record.refusals if r.firm == firm.id])
        limits = engine.risk.limits
        strategies = []
        for spec in drill.scenario.strategies:
            if spec.firm != firm.id:
                continue
            strategies.append({
                "name": spec.id, "kind": spec.kind, "symbol": spec.symbol,
                "state": str(engine.risk.state(spec.id)).upper(),
                "positions": {s: engine.position(s, spec.id) for s in symbols},
                "open_orders": engine.open_order_count(spec.id),
                "rejects": len([r for r in run.record.refusals if r.firm == firm.id and f"/{spec.id}:" in r.text]),
                "pnl": float(engine.realized_pnl(spec.id) + engine.unrealized_pnl(spec.id)),
            })
        out.append({
            "firm": firm.id, "engine_state": str(engine.risk.state()).upper(),
            "state_reason": why.text if why is not None else "",
            "kill_switch": firm.id in killed,
            "positions": {s: engine.position(s) for s in symbols},
            "pnl_realized": float(engine.realized_pnl()), "pnl_unrealized": float(engine.unrealized_pnl()),
            "open_orders": engine.open_order_count(), "unacked_orders": len(engine.unacked()),
            "orders_sent": len(run.record.sent_by_firm.get(firm.id, [])), "rejects": rejects,
            "limits": {name: "" if getattr(limits, name) is None else str(getattr(limits, name))
                       for name in limits.names()},
            "strategies": strategies,
        })
    return out


def _market(drill: Drill, now: int) -> list[dict[str, Any]]:
    run = drill.run_
    assert run is not None
    venue = run.world.venue
    out = []
    for symbol in venue.exchange.instruments.symbols:
        instrument = venue.exchange.instruments.get(symbol)

        def price(ticks: int | None, instrument=instrument) -> float | None:
            return None if ticks is None else float(instrument.to_decimal(ticks))

        seen = drill.feed.get(symbol)
        levels = venue.exchange.levels(symbol)
        bids = sorted(((p, q) for (side, p), q in levels.items() if side == 1), reverse=True)[:LADDER_LEVELS]
        asks = sorted((p, q) for (side, p), q in levels.items() if side == 2)[:LADDER_LEVELS]
        fair = run.market.fair(symbol) if run.market is not None else None
        out.append({
            "symbol": symbol, "phase": str(venue.phases.phase(symbol)),
            "fundamental": price(fair), "last": price(drill.last_trade.get(symbol)),
            "bid": price(seen[1]) if seen else None, "ask": price(seen[2]) if seen else None,
            "feed_age_s": (now - seen[0]) / NS_PER_S if seen else None,
            "ladder": {"bids": [[price(p), q] for p, q in bids], "asks": [[price(p), q] for p, q in asks]},
            "history": [[ts / NS_PER_S, price(f), price(last)] for ts, f, last in drill.history.get(symbol, ())],
        })
    return out


def _change(change: Any, start_ns: int) -> dict[str, Any]:
    return {"t": (change.time_ns - start_ns) / NS_PER_S, "actor": change.actor, "kind": change.kind,
            "what": change.what, "target": ", ".join(f"{k}={v}" for k, v in sorted(change.labels.items())),
            "old": "" if change.old is None else str(change.old), "new": "" if change.new is None else str(change.new),
            "labels": dict(change.labels), "reason": change.reason}
