"""What each trainee action and game-master command does to the running world.

Operator actions go through the scenario's ``operator_action`` injection (the engine's halt,
resume, REDUCING, cancel-all and flatten, the venue's kill switch), so a drill and a scripted
scenario change the world the same way, with the trainee's name as the actor in What Changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engines.alerts import Matcher
from scenarios.drill.actions import Action, ActionError, limit_value
from scenarios.spec import Step

if TYPE_CHECKING:
    from scenarios.drill.live import Drill

_OPERATOR = {"halt_engine": "halt_engine", "resume_engine": "resume_engine", "reducing_engine": "reducing",
             "halt_strategy": "halt_strategy", "resume_strategy": "resume_strategy",
             "reducing_strategy": "reducing", "cancel_all": "cancel_all", "flatten": "flatten",
             "kill_switch": "kill_switch", "release_kill_switch": "release_kill_switch"}


def actor(action: Action) -> str:
    """The name What Changed shows for a trainee (``trainee:alice``) or the game master."""
    return "game-master" if action.source == "gm" else f"trainee:{action.trainee}"


def apply_action(drill: Drill, action: Action) -> str:
    """Apply one action to the running drill; returns a sentence saying what happened."""
    run = drill.run_
    assert run is not None
    t = action.t_ns or 0
    name, p = action.action, action.params
    if name in _OPERATOR:
        fields = {"action": _OPERATOR[name], "firm": p["firm"], "who": actor(action)}
        if p.get("strategy"):
            fields["strategy"] = p["strategy"]
            fields["symbol"] = next(s.symbol for s in drill.scenario.strategies if s.id == p["strategy"])
        before = run.world.engines[p["firm"]].open_order_count(p.get("strategy"))
        run.injector.apply_or_raise(Step(-1, "operator_action", fields))
        target = f"{p['firm']}/{p['strategy']}" if p.get("strategy") else p["firm"]
        if name == "cancel_all":
            return f"cancel sent for {before} open order(s) of {target}"
        if name == "flatten":
            position = run.world.engines[p["firm"]].position(fields["symbol"], p["strategy"])
            return f"flatten sent for {target} (position was {position:+,} {fields['symbol']})"
        return f"{name.replace('_', ' ')} {target}"
    if name == "ack":
        page_id = p["page_id"]
        if page_id in drill.acks:
            who, at = drill.acks[page_id]
            raise ActionError(f"page {page_id} was already acknowledged by {who}")
        drill.acks[page_id] = (action.trainee, t)
        return f"page {page_id} acknowledged"
    if name == "silence":
        minutes = p["minutes"]
        duration_ns = int(float(minutes) * 60 * 10**9)
        silence = run.router.add_silence([Matcher("alertname", "=", p["alert"])], created_by=actor(action),
                                         comment=p["reason"], duration_ns=duration_ns)
        return f"{silence.id}: {p['alert']} silenced for {minutes} min"
    if name == "set_limit":
        engine = run.world.engines[p["firm"]]
        value = limit_value(p["limit"], p["value"])
        change = engine.risk.set_limit(p["limit"], value, who=actor(action), reason="drill: trainee changed a limit")
        return f"{p['firm']} {p['limit']}: {change.old} -> {change.new}"
    if name == "note":
        run.changes.record("operator", actor(action), f"note: {p['text']}")
        return "note recorded"
    if name == "hint":
        hint = drill.release_next_hint(t, actor(action))
        return f"hint #{hint.index + 1} released"
    if name == "end":
        drill.end(t)
        return "drill ended by the game master"
    if name == "inject":
        step = drill.inject(action)
        return f"injected {step.kind}"
    raise ActionError(f"unknown action {name!r}")
