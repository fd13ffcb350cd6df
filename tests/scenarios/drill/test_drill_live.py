"""Every trainee action and game-master command, applied to a real drill run, and the score.

One drill run (on the virtual clock, actions replayed at fixed instants) carries every action, so
the assertions below read one record; the counterfactual is the same seed with nobody acting.
"""

from pathlib import Path

import pytest

from scenarios.drill.actions import Action
from scenarios.drill.live import Drill, replay_drill
from scenarios.spec import load_scenario

SCENARIO = load_scenario(Path(__file__).parent / "stale_drill.toml")
S = 10**9

PLAN = [  # (seconds, action, params, source)
    (16, "note", {"text": "feed for ESZ6 looks stale"}, "trainee"),
    (21, "ack", {"page_id": "p1"}, "trainee"),
    (22, "silence", {"alert": "StaleMarketData", "minutes": "5", "reason": "known: feed frozen"}, "trainee"),
    (23, "set_limit", {"firm": "MMFIRM", "limit": "max_order_qty", "value": "10"}, "trainee"),
    (24, "hint", {}, "trainee"),
    (25, "halt_strategy", {"firm": "MMFIRM", "strategy": "MM1"}, "trainee"),
    (26, "cancel_all", {"firm": "MMFIRM", "strategy": "MM1"}, "trainee"),
    (27, "flatten", {"firm": "MMFIRM", "strategy": "MM1"}, "trainee"),
    (28, "reducing_engine", {"firm": "MMFIRM"}, "trainee"),
    (29, "halt_engine", {"firm": "HEDGECO"}, "trainee"),
    (30, "resume_engine", {"firm": "HEDGECO"}, "trainee"),
    (31, "reducing_strategy", {"firm": "HEDGECO", "strategy": "TW1"}, "trainee"),
    (32, "resume_strategy", {"firm": "HEDGECO", "strategy": "TW1"}, "trainee"),
    (33, "kill_switch", {"firm": "MMFIRM"}, "trainee"),
    (34, "release_kill_switch", {"firm": "MMFIRM"}, "trainee"),
    (35, "inject", {"toml": 'kind = "feed_delay"\nsymbol = "NQZ6"\ndelay = "2s"', "kind": "feed_delay"}, "gm"),
    (36, "halt_engine", {"firm": "NOPE"}, "trainee"),  # refused when applied: recorded, not raised
    (45, "end", {}, "gm"),
]


def _actions() -> list[Action]:
    return [Action(i + 1, "game master" if source == "gm" else "alice", name, dict(params), source, t * S)
            for i, (t, name, params, source) in enumerate(PLAN)]


@pytest.fixture(scope="module")
def drill() -> Drill:
    return replay_drill(SCENARIO, SCENARIO.seed, _actions())


def _changes(drill: Drill, actor: str) -> list[str]:
    return [c.what for c in drill.run_.changes if c.actor == actor]


def test_every_action_is_applied_at_its_instant_and_recorded(drill):
    results = {a.action: (a.ok, a.result) for a in drill.actions}
    assert all(ok for name, (ok, _) in results.items() if name != "halt_engine"), results
    assert [a.t_ns for a in drill.actions] == [t * S for t, *_ in PLAN]
    refused = [a for a in drill.actions if not a.ok]
    assert [(a.params["firm"], "NOPE" in a.result) for a in refused] == [("NOPE", True)]
    journal = list(drill.record.journal.of_kind("drill.action"))
    assert [e.data["action"] for e in journal] == [name for _, name, _, _ in PLAN]
    assert all(e.time_ns == drill.run_.start_ns + e.data["t_ns"] for e in journal)


def test_operator_actions_go_through_the_engines_and_the_venue(drill):
    engines = drill.run_.world.engines
    mm, hedge = engines["MMFIRM"], engines["HEDGECO"]
    assert str(mm.risk.state("MM1")) == "halted"
    assert str(mm.risk.state()) == "reducing"
    assert str(hedge.risk.state()) == "active" and str(hedge.risk.state("TW1")) == "active"
    assert mm.risk.limits.max_order_qty == 10
    flatten = next(a for a in drill.actions if a.action == "flatten")
    assert flatten.result.startswith("flatten sent for MMFIRM/MM1 (position was")
    what = " | ".join(_changes(drill, "trainee:alice"))
    for expected in ("halt_strategy MMFIRM", "cancel_all MMFIRM", "flatten MMFIRM", "kill_switch MMFIRM",
                     "release_kill_switch MMFIRM", "note: feed for ESZ6 looks stale", "max_order_qty"):
        assert expected in what, (expected, what)
    assert "MMFIRM" not in drill.run_.world.venue.protections.killed_firms  # released again
    silences = drill.run_.router.silences()
    assert [(s.created_by, s.comment) for s in silences] == [("trainee:alice", "known: feed frozen")]
    assert drill.acks == {"p1": ("alice", 21 * S)}


def test_game_master_injection_end_and_hints(drill):
    injects = [e.data["kind"] for e in drill.record.journal.of_kind("inject")]
    assert injects[-1] == "feed_delay"
    assert drill.record.end_ns - drill.run_.start_ns == 45 * S  # ended by the game master
    assert [(h.text, t, by) for h, t, by in drill.hints] == [
        ("Which strategy is filled far away from the market?", 24 * S, "trainee:alice"),
        ("Look at the age of the ESZ6 feed.", 30 * S, "schedule")]


def test_score_against_the_counterfactual(drill):
    score = drill.score
    assert score["first_page_s"] == pytest.approx(20.1, abs=0.5)
    assert score["time_to_ack_s"] == pytest.approx(21 - score["first_page_s"], abs=1e-6)
    assert score["mitigation"] == "alice: halt_strategy MMFIRM/MM1"
    assert score["time_to_mitigation_s"] == pytest.approx(25 - score["first_page_s"], abs=1e-6)
    # halting HEDGECO or restricting TW1, which no page named and the drill does not expect, is harmful;
    # resuming them is not an intervention
    assert [h.split(" at ")[0] for h in score["harmful_actions"]] == [
        "alice: halt_engine HEDGECO", "alice: reducing_strategy HEDGECO/TW1"]
    assert score["hints_used"] == 1
    counterfactual = score["counterfactual"]
    assert counterfactual["orders_sent"] > score["damage"]["orders_sent"]  # halting MM1 stopped its orders
    assert score["damage_avoided"]["orders"] == counterfactual["orders_sent"] - score["damage"]["orders_sent"]
    assert drill.counterfactual.end_ns - drill.counterfactual.start_ns >= 45 * S
    assert "mitigated" in score["verdict"] and "harmful" in score["verdict"]


def test_replaying_the_recorded_actions_gives_the_same_run_and_score(drill):
    recorded = [Action.from_payload(a.to_payload()) for a in drill.actions]
    again = replay_drill(SCENARIO, SCENARIO.seed, recorded)
    assert again.record.journal_hash == drill.record.journal_hash
    assert again.score == drill.score


def test_with_nobody_acting_the_drill_is_its_own_counterfactual():
    quiet = replay_drill(SCENARIO, SCENARIO.seed, [])
    assert quiet.score["damage"] == quiet.score["counterfactual"]
    assert quiet.score["mitigation"] is None and "not mitigated" in quiet.score["verdict"]
