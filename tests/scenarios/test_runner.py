"""The runner: deterministic journals, the library's fault scenarios caught by the right layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scenarios.runner import run_scenario
from scenarios.spec import load_scenario
from scenarios.suite import LIBRARY, run_file

ROOT = Path(__file__).resolve().parents[2]
MIZUHO = LIBRARY / "mizuho-2005.toml"


def test_the_same_seed_gives_the_same_journal_hash_twice_in_one_process():
    scenario = load_scenario(MIZUHO)
    assert run_scenario(scenario, 11).journal_hash == run_scenario(scenario, 11).journal_hash


def test_a_different_seed_gives_a_different_journal():
    scenario = load_scenario(MIZUHO)
    assert run_scenario(scenario, 11).journal_hash != run_scenario(scenario, 12).journal_hash


def test_the_same_seed_gives_the_same_hash_in_another_process():
    code = ("from scenarios.runner import run_scenario; from scenarios.spec import load_scenario; "
            f"print(run_scenario(load_scenario({str(MIZUHO)!r}), 11).journal_hash)")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                           env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == run_scenario(load_scenario(MIZUHO), 11).journal_hash


def test_mizuho_is_caught_by_the_engine_and_nothing_reaches_the_venue():
    outcome = run_file(MIZUHO)
    assert outcome.passed, [v.text for v in outcome.verdicts] + [outcome.error]


def test_order_replace_and_cancel_injections_follow_one_order_by_ref():
    from scenarios.spec import parse_scenario

    text = """
[scenario]
name = "refs"
duration = "5s"
[[instrument]]
symbol = "PRB"
tick_size = "0.01"
reference_price = "100.00"
[[firm]]
id = "A"
[[inject]]
at = "1s"
kind = "order"
firm = "A"
symbol = "PRB"
side = "buy"
qty = 10
price = "99.50"
ref = "X1"
[[inject]]
at = "2s"
kind = "replace"
firm = "A"
ref = "X1"
qty = 20
price = "99.60"
[[inject]]
at = "3s"
kind = "cancel"
firm = "A"
ref = "X1"
"""
    record = run_scenario(parse_scenario(text))
    [handle] = list({id(h): h for h in record.engines["A"].orders.values()}.values())
    assert str(handle.state) == "canceled" and handle.qty == 20 and handle.price == 9_960
    assert not record.errors
