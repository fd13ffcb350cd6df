"""An external order engine over FIX in a scenario: QuickFIX, started by the runner, trades on the venue."""

from pathlib import Path

import pytest

from scenarios.expect import judge
from scenarios.runner import run_scenario
from scenarios.spec import ScenarioError, parse_scenario
from scenarios.suite import run_file

pytest.importorskip("quickfix", reason="the quickfix binding is not installed (pip install -e '.[interop]')")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "scenario-external-engine.toml"


def _short(text: str) -> str:
    """The shipped example, shorter: 12 s, orders 0.5 s apart."""
    return text.replace('duration = "40s"', 'duration = "12s"').replace("--every 2", "--every 0.5") \
        .replace("examples/external_engine_quickfix.py", str(ROOT / "examples" / "external_engine_quickfix.py"))


@pytest.mark.interop
def test_quickfix_as_an_external_engine_is_stopped_by_the_venue():
    scenario = parse_scenario(_short(EXAMPLE.read_text(encoding="utf-8")), source=str(EXAMPLE))
    record = run_scenario(scenario, transport="tcp")
    assert record.errors == []
    verdicts = judge(record)
    assert all(v.passed for v in verdicts), [v.text for v in verdicts if not v.passed]
    observed = record.engines["EXTFIRM"]
    assert observed.sent == 2 and observed.rejected == 1  # the normal order was taken, the fat finger refused
    refused = [r for r in record.refusals if r.firm == "EXTFIRM"]
    assert refused and "610,000" in refused[0].text and refused[0].layer == "venue"


def test_an_external_engine_needs_tcp_and_the_wall_clock(tmp_path):
    path = tmp_path / "ext.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"))
    outcome = run_file(path)  # memory transport: refused with the reason, nothing started
    assert not outcome.passed and "--transport tcp" in outcome.error
    with pytest.raises(ValueError, match="run it at --speed 1"):
        run_scenario(parse_scenario(path.read_text()), transport="tcp", speed=5)


@pytest.mark.parametrize("change, message", [
    (('engine = "fix"\n', 'engine = "fix"\n'), None),
    (('engine = "fix"\n', 'engine = "quickfix"\n'), 'engine must be "python:module:Class" (your class) or "fix"'),
    (('engine = "fix"\n', ''), "command (text) starts an external engine and needs engine = \"fix\""),
])
def test_firm_engine_and_command_are_checked(change, message):
    text = EXAMPLE.read_text(encoding="utf-8").replace(*change)
    if message is None:
        assert parse_scenario(text).firms[0].command.startswith("{python}")
        return
    with pytest.raises(ScenarioError, match=None) as caught:
        parse_scenario(text, source="ext.toml")
    assert message in str(caught.value) and str(caught.value).startswith("ext.toml:")


def test_an_external_firm_runs_no_strategies():
    text = EXAMPLE.read_text(encoding="utf-8") + (
        '\n[[strategy]]\nid = "MM"\nfirm = "EXTFIRM"\nkind = "market_maker"\nsymbol = "JCOM"\n')
    with pytest.raises(ScenarioError, match="EXTFIRM's engine is external"):
        parse_scenario(text, source="ext.toml")


def test_the_command_names_a_missing_program_clearly(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("command = ")
    end = text.index("\n", start)
    text = text[:start] + 'command = "/nonexistent/engine --port {port}"' + text[end:]
    path = tmp_path / "ext.toml"
    path.write_text(text)
    outcome = run_file(path, transport="tcp")
    assert not outcome.passed and "cannot start '/nonexistent/engine'" in outcome.error
