"""The [drill] table: briefing, hints, expected mitigation, allowed time; mistakes name the line."""

from pathlib import Path

import pytest

from scenarios.drill.plan import drill_plan
from scenarios.spec import ScenarioError, load_scenario, parse_scenario

HERE = Path(__file__).parent
SCENARIO = HERE / "stale_drill.toml"


def _with_drill(table: str):
    text = SCENARIO.read_text(encoding="utf-8")
    text = text[:text.index("[drill]")] + table
    return parse_scenario(text, source="x.toml")


def test_plan_reads_hints_and_mitigations():
    plan = drill_plan(load_scenario(SCENARIO))
    assert plan.briefing.startswith("You are on call")
    assert plan.allowed_ns == 50 * 10**9
    assert [h.at_ns for h in plan.timed_hints] == [30 * 10**9]
    assert [h.text for h in plan.requested_hints] == ["Which strategy is filled far away from the market?",
                                                      "Halt MM1."]
    assert [m.describe() for m in plan.mitigations] == ["halt_strategy MMFIRM/MM1", "halt_engine MMFIRM",
                                                        "kill_switch MMFIRM"]
    assert plan.mitigations[0].matches("halt_strategy", {"firm": "MMFIRM", "strategy": "MM1"})
    assert not plan.mitigations[0].matches("halt_strategy", {"firm": "HEDGECO", "strategy": "TW1"})


def test_a_scenario_without_drill_table_is_a_drill_too():
    scenario = _with_drill("")
    plan = drill_plan(scenario)
    assert (plan.briefing, plan.hints, plan.mitigations, plan.allowed_ns) == ("", (), (), scenario.duration_ns)


@pytest.mark.parametrize("table, message", [
    ('[drill]\nbriefng = "x"\n', "unknown field 'briefng'"),
    ('[drill]\nallowed_time = "soon"\n', "allowed_time must be a duration"),
    ('[drill]\nhints = [{ at = "5m", text = "late" }]\n', "hint #1: at must be a duration within the scenario"),
    ('[drill]\nhints = [{ txt = "x" }]\n', "hint #1 needs text"),
    ('[drill]\nexpected_mitigation = [{ action = "panic" }]\n', "expected_mitigation #1: action must be one of"),
    ('[drill]\nexpected_mitigation = [{ action = "halt_engine", firm = "NOPE" }]\n', "unknown firm 'NOPE'"),
    ('[drill]\nexpected_mitigation = [{ action = "halt_strategy", strategy = "XX" }]\n', "unknown strategy 'XX'"),
])
def test_mistakes_name_the_file_line_and_field(table, message):
    with pytest.raises(ScenarioError) as caught:
        drill_plan(_with_drill(table))
    text = str(caught.value)
    assert text.startswith("x.toml:") and "[drill]" in text and message in text
    line = int(text.split(":")[1])
    assert "[drill]" in _with_drill(table).text.splitlines()[line - 1] or line > 60
