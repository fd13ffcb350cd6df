"""The same scenarios over real TCP on 127.0.0.1 (and on the wall clock in memory): same verdicts."""

from pathlib import Path

import pytest

from scenarios.cli import main
from scenarios.expect import judge
from scenarios.runner import run_scenario
from scenarios.spec import load_scenario, parse_scenario
from scenarios.suite import run_file

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios" / "library"


# Over TCP the wall clock counts: at a high speed a busy machine's scheduling delays become many
# simulated seconds (an order unacknowledged "for 2 s" after 80 ms), so the speeds stay moderate.
SPEEDS = {"session-drop": 6, "mizuho-2005": 20}


@pytest.fixture(scope="module")
def tcp_records():
    return {name: run_scenario(load_scenario(LIBRARY / f"{name}.toml"), transport="tcp", speed=speed)
            for name, speed in SPEEDS.items()}


@pytest.mark.parametrize("name", sorted(SPEEDS))
def test_library_scenarios_pass_over_tcp(tcp_records, name):
    record = tcp_records[name]
    assert record.errors == []
    assert (record.transport, record.speed, record.reproducible) == ("tcp", SPEEDS[name], False)
    assert record.world.port is not None and record.world.acceptor is None  # listened, then closed
    start = next(record.journal.of_kind("run.start"))
    assert start.data["transport"] == "tcp"
    verdicts = judge(record)
    assert verdicts and all(v.passed for v in verdicts), [v.text for v in verdicts if not v.passed]


def test_a_session_drop_over_tcp_really_drops_the_connection(tcp_records):
    record = tcp_records["session-drop"]
    texts = [e.text for e in record.timeline]
    assert any("session dropped" in t for t in texts) and any("reconnecting" in t for t in texts)
    assert any(a.name == "SessionDown" for a in record.alerts_fired)


SHORT = """
[scenario]
name = "short"
seed = 1
duration = "3s"
clock = "real"

[[instrument]]
symbol = "PRB"
tick_size = "0.01"
reference_price = "100.00"

[[firm]]
id = "A"

[[inject]]
at = "1s"
kind = "latency_spike"
firm = "A"
latency = "5ms"
"""


def test_clock_real_runs_in_memory_on_the_wall_clock():
    scenario = parse_scenario(SHORT.replace('[[inject]]\nat = "1s"\nkind = "latency_spike"\nfirm = "A"\n'
                                            'latency = "5ms"\n', ""))
    record = run_scenario(scenario, speed=10)
    assert (record.transport, record.reproducible) == ("memory", False)
    assert 0.2 < record.wall_s < 5  # 3 simulated seconds at 10x, plus set-up


def test_a_latency_spike_over_tcp_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text(SHORT.replace('clock = "real"\n', ""))
    outcome = run_file(path, transport="tcp", speed=10)
    assert not outcome.passed
    assert "latency_spike changes the in-memory link's latency" in outcome.error
    assert "--transport memory" in outcome.error


def test_speed_on_the_virtual_clock_is_refused(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["run", str(LIBRARY / "mizuho-2005.toml"), "--speed", "10"])
    assert "--speed applies to --transport tcp" in str(caught.value)
    with pytest.raises(ValueError, match="speed applies to runs on the wall clock"):
        run_scenario(load_scenario(LIBRARY / "mizuho-2005.toml"), speed=10)
