"""Scenario files: good ones load, bad ones are refused with file, line, field and expectation."""

from __future__ import annotations

import pytest

from scenarios.predicate import PredicateError, parse_predicate
from scenarios.spec import ScenarioError, load_scenario, parse_scenario
from scenarios.suite import library_files

BASE = """\
[scenario]
name = "t"
duration = "1m"

[[instrument]]
symbol = "PRB"
tick_size = "0.01"
reference_price = "100.00"

[[firm]]
id = "A"
"""


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="t.toml")
    return str(info.value)


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_every_library_scenario_loads(path):
    scenario = load_scenario(path)
    assert scenario.name and scenario.expects


def test_a_negative_quantity_names_the_line_and_the_field():
    message = _error(BASE + '\n[[inject]]\nat = "10s"\nkind = "fat_finger"\nfirm = "A"\nsymbol = "PRB"\n'
                            'side = "sell"\nqty = -5\nprice = "1"\n')
    assert message == "t.toml:19: [[inject]] #1 (fat_finger) qty must be a positive integer, got -5"


def test_an_unknown_inject_kind_suggests_the_closest():
    message = _error(BASE + '\n[[inject]]\nat = "10s"\nkind = "feed_freze"\nsymbol = "PRB"\n')
    assert "t.toml:15:" in message and "did you mean 'feed_freeze'" in message


def test_an_unknown_symbol_lists_the_instruments():
    message = _error(BASE + '\n[[inject]]\nat = "10s"\nkind = "feed_freeze"\nsymbol = "XYZ"\n')
    assert "unknown symbol 'XYZ' (instruments: PRB)" in message and "t.toml:16:" in message


def test_an_inject_after_the_end_is_refused():
    message = _error(BASE + '\n[[inject]]\nat = "2m"\nkind = "feed_freeze"\nsymbol = "PRB"\n')
    assert "after the end of the scenario" in message


def test_a_duration_must_be_a_duration_string():
    message = _error(BASE.replace('duration = "1m"', "duration = 60"))
    assert "t.toml:3:" in message and "duration string" in message


def test_an_unknown_risk_limit_is_refused_with_a_suggestion():
    message = _error(BASE + "[firm.risk]\nmax_order_qtty = 5\n")
    assert "t.toml:13:" in message and "did you mean 'max_order_qty'" in message


def test_a_float_risk_limit_is_refused():
    message = _error(BASE + "[firm.risk]\nmax_order_notional = 1e6\n")
    assert "write decimal limits as strings" in message


def test_a_toml_syntax_error_has_line_and_column():
    message = _error(BASE + "[[inject]\n")
    assert "TOML syntax error" in message and "line 12" in message


def test_a_bad_predicate_is_refused_at_load_time():
    message = _error(BASE + '\n[[expect]]\nkind = "no_order_reaches_venue"\nwhere = "qty >> 5"\n')
    assert "unknown operator '>>'" in message


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.toml")


def test_predicates_combine_and_before_or():
    p = parse_predicate("qty > 100 and side == buy or price < 1")
    assert p({"qty": 101, "side": "buy", "price": "5"})
    assert p({"qty": 1, "side": "sell", "price": "0.5"})
    assert not p({"qty": 101, "side": "sell", "price": "5"})
    with pytest.raises(PredicateError, match="unknown field 'size'"):
        parse_predicate("size > 5")
