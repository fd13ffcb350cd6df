"""Trainee actions and game-master commands are checked when they arrive, naming what is wrong."""

from pathlib import Path

import pytest

from scenarios.drill.actions import ActionError, check_action, check_gm, inject_toml, parse_inject
from scenarios.spec import load_scenario

SCENARIO = load_scenario(Path(__file__).parent / "stale_drill.toml")


def check(**body):
    return check_action(body, SCENARIO, {"p1"})


def test_a_good_action_comes_back_normalised():
    assert check(trainee=" alice ", action="halt_strategy", firm="MMFIRM", strategy="MM1") == (
        "alice", "halt_strategy", {"firm": "MMFIRM", "strategy": "MM1"})
    assert check(trainee="bob", action="silence", alert="FillTooGood", minutes=5, reason="known")[2] == {
        "alert": "FillTooGood", "minutes": "5", "reason": "known"}
    assert check(trainee="bob", action="hint") == ("bob", "hint", {})


@pytest.mark.parametrize("body, message", [
    ({"action": "panic"}, "action must be one of"),
    ({"action": "halt_engine"}, "halt_engine needs 'firm'"),
    ({"action": "halt_engine", "firm": "NOPE"}, "firm: unknown firm 'NOPE' (firms: HEDGECO, MMFIRM)"),
    ({"action": "halt_strategy", "firm": "MMFIRM", "strategy": "XX"}, "strategy: unknown strategy 'XX'"),
    ({"action": "halt_strategy", "firm": "MMFIRM", "strategy": "TW1"}, "TW1 belongs to firm HEDGECO, not MMFIRM"),
    ({"action": "ack", "page_id": "p9"}, "page_id: no page 'p9' has fired"),
    ({"action": "silence", "alert": "X", "minutes": "-1", "reason": "r"}, "minutes must be a number of minutes"),
    ({"action": "silence", "alert": "X", "minutes": "ten", "reason": "r"}, "minutes must be a number of minutes"),
    ({"action": "set_limit", "firm": "MMFIRM", "limit": "max_qty", "value": "5"}, "limit: unknown risk limit"),
    ({"action": "note", "text": "x" * 501}, "text is 501 characters; at most 500"),
    ({"action": "note", "text": "ok", "trainee": ""}, "trainee must be a name"),
    ({"action": "note", "text": "ok", "trainee": "<script>"}, "trainee must be a name"),
])
def test_bad_actions_are_refused_with_the_field(body, message):
    with pytest.raises(ActionError, match=None) as caught:
        check_action({"trainee": "alice", **body}, SCENARIO, {"p1"})
    assert message in str(caught.value)


def test_not_an_object():
    with pytest.raises(ActionError, match="JSON object"):
        check_action(["halt"], SCENARIO, set())


def test_game_master_commands():
    assert check_gm({"command": "pause"}) == ("pause", {})
    assert check_gm({"command": "speed", "speed": "4"}) == ("speed", {"speed": 4.0})
    with pytest.raises(ActionError, match="speed must be a number between"):
        check_gm({"command": "speed", "speed": 0})
    with pytest.raises(ActionError, match="command must be one of"):
        check_gm({"command": "reboot"})
    with pytest.raises(ActionError, match="inject needs either toml"):
        check_gm({"command": "inject"})


def test_an_injection_is_checked_like_a_scenario_file():
    lines = inject_toml({"inject": {"kind": "feed_delay", "symbol": "NQZ6", "delay": "2s", "duration": "10s"}})
    step = parse_inject(SCENARIO, lines)
    assert (step.kind, step.fields["symbol"], step.fields["delay"]) == ("feed_delay", "NQZ6", 2 * 10**9)
    with pytest.raises(ActionError, match="unknown symbol 'XXX'"):
        parse_inject(SCENARIO, 'kind = "feed_freeze"\nsymbol = "XXX"')
    with pytest.raises(ActionError, match="kind must be one of"):
        parse_inject(SCENARIO, 'kind = "meteor"')
    with pytest.raises(ActionError, match="without a \\[\\[inject\\]\\] header"):
        inject_toml({"toml": "[[inject]]\nkind = 'feed_freeze'"})
    with pytest.raises(ActionError, match="must not contain quotes"):
        inject_toml({"inject": {"kind": "feed_freeze", "symbol": 'ES"Z6'}})


def test_a_limit_value_is_checked_when_it_arrives():
    assert check(trainee="a", action="set_limit", firm="MMFIRM", limit="max_order_qty", value="10")[2]["value"] == "10"
    assert check(trainee="a", action="set_limit", firm="MMFIRM", limit="max_order_qty", value="off")[2]["value"] == "off"
    with pytest.raises(ActionError, match="value: max_position must be an integer"):
        check(trainee="a", action="set_limit", firm="MMFIRM", limit="max_position", value="abc")
