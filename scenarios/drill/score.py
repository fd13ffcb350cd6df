"""Scoring a drill against the counterfactual: the same seed, the same length, nobody acting.

* **time to acknowledge**: from the first page to the first acknowledgement of any page;
* **time to mitigation**: from the first page to the first action that stops the damage: one of
  the scenario's ``[drill] expected_mitigation`` entries, or, when it names none, the first
  halt / REDUCING / cancel-all / flatten / kill switch aimed at a firm or strategy a page named;
* **damage**: P&L (realized + unrealized, all firms), the largest absolute position and the orders
  that reached the venue, side by side with the counterfactual run on the virtual clock, and what
  the trainee saved ("damage avoided");
* **harmful actions**: interventions aimed at a firm or strategy that neither a page nor the
  expected mitigation implicates (halting a healthy engine);
* **hints used**: hints released on request (scheduled hints are free).

Everything here is computed from the simulation's own record, so a replay of the recorded actions
gives the same score, to the digit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from scenarios.drill.actions import INTERVENTIONS, Action
from scenarios.runner import RunRecord, ScenarioRun
from sim.clock import NS_PER_S, VirtualClock, run_virtual

if TYPE_CHECKING:
    from scenarios.drill.live import Drill


def run_counterfactual(drill: Drill, length_ns: int) -> RunRecord:
    """The same scenario and seed for the same length with no trainee action."""

    async def main() -> RunRecord:
        run = ScenarioRun(drill.scenario, drill.seed, latency_ns=drill.latency_ns)
        await run.start()
        run.end_ns = run.start_ns + length_ns
        await run.run()
        return run.finish()

    record = run_virtual(main(), clock=VirtualClock())
    assert record is not None
    return record


def damage(record: RunRecord) -> dict[str, Any]:
    """P&L, largest absolute position and orders at the venue, over every firm of the run."""
    pnl = sum((engine.realized_pnl() + engine.unrealized_pnl() for engine in record.engines.values()), Decimal(0))
    return {"pnl": float(pnl), "pnl_exact": str(pnl), "max_position": max(record.max_position.values(), default=0),
            "orders_sent": len(record.arrivals)}


def score_drill(drill: Drill) -> dict[str, Any]:
    """The drill's score (see the module docstring); runs the counterfactual."""
    record = drill.record
    run = drill.run_
    assert record is not None and run is not None
    start = run.start_ns  # when trading starts: inject and action times count from here
    length = record.end_ns - start
    counterfactual = drill.counterfactual = run_counterfactual(drill, length)
    pages = [(page_id, n) for page_id, n in drill.pages()]
    first_page = (pages[0][1].time_ns - start) if pages else None
    faults = sorted(record.inject_times.values())
    first_fault = faults[0] - start if faults else None
    ack_times = sorted(at for _, at in drill.acks.values())
    trainee = [a for a in drill.actions if a.source == "trainee" and a.ok]
    implicated = _implicated(drill, [n for _, n in pages])
    harmful = [a for a in trainee if a.action in INTERVENTIONS and not _aimed_at(a, implicated)]
    mitigation = _mitigation(drill, trainee, harmful, first_page)
    mine, theirs = damage(record), damage(counterfactual)
    avoided = {"pnl": float(Decimal(mine["pnl_exact"]) - Decimal(theirs["pnl_exact"])),
               "orders": theirs["orders_sent"] - mine["orders_sent"],
               "position": theirs["max_position"] - mine["max_position"]}
    hints_used = len([1 for _, _, by in drill.hints if by != "schedule"])
    since = first_page if first_page is not None else first_fault if first_fault is not None else 0
    score = {
        "first_page_s": _s(first_page), "first_fault_s": _s(first_fault),
        "time_to_ack_s": _s(ack_times[0] - first_page) if ack_times and first_page is not None else None,
        "time_to_mitigation_s": _s((mitigation.t_ns or 0) - since) if mitigation is not None else None,
        "mitigation": mitigation.describe() if mitigation is not None else None,
        "damage": mine, "counterfactual": theirs, "damage_avoided": avoided,
        "harmful_actions": [f"{a.describe()} at T+{_s(a.t_ns or 0):.1f}s" for a in harmful],
        "hints_used": hints_used, "pages": len(pages), "actions": len(trainee),
    }
    score["verdict"] = _verdict(score)
    return score


def _implicated(drill: Drill, pages: list[Any]) -> tuple[set[str], set[str]]:
    """Firms and strategies that a page or the expected mitigation points at."""
    firms, strategies = set(), set()
    owner = {s.id: s.firm for s in drill.scenario.strategies}
    for mitigation in drill.plan.mitigations:
        if mitigation.firm:
            firms.add(mitigation.firm)
        if mitigation.strategy:
            strategies.add(mitigation.strategy)
    for notification in pages:
        for alert in notification.alerts:
            if alert.labels.get("firm"):
                firms.add(alert.labels["firm"])
            strategy = alert.labels.get("strategy")
            if strategy:
                strategies.add(strategy)
                if strategy in owner:
                    firms.add(owner[strategy])
    return firms, strategies


def _aimed_at(action: Action, implicated: tuple[set[str], set[str]]) -> bool:
    firms, strategies = implicated
    firm, strategy = action.params.get("firm"), action.params.get("strategy")
    if firm not in firms:
        return False
    return not strategy or not strategies or strategy in strategies


def _mitigation(drill: Drill, actions: list[Action], harmful: list[Action], first_page: int | None) -> Action | None:
    if drill.plan.mitigations:
        return next((a for a in actions if any(m.matches(a.action, a.params) for m in drill.plan.mitigations)), None)
    after = first_page or 0
    return next((a for a in actions if a.action in INTERVENTIONS and a not in harmful and (a.t_ns or 0) >= after),
                None)


def _s(ns: int | None) -> float | None:
    return None if ns is None else round(ns / NS_PER_S, 3)


def _verdict(score: dict[str, Any]) -> str:
    avoided = score["damage_avoided"]
    if score["mitigation"] is None:
        text = "not mitigated in the time allowed"
    else:
        text = f"mitigated {score['time_to_mitigation_s']:.1f} s after the first page ({score['mitigation']})"
    text += f"; damage avoided: P&L {avoided['pnl']:+,.2f}, {avoided['orders']:+,} orders at the venue"
    if score["harmful_actions"]:
        text += f"; {len(score['harmful_actions'])} harmful action(s)"
    if score["hints_used"]:
        text += f"; {score['hints_used']} hint(s) used"
    return text
