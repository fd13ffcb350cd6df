"""A firm can run a plug-in order engine (engine = "python:module:Class") in a scenario."""

from __future__ import annotations

import pytest

from scenarios.spec import ScenarioError, parse_scenario
from scenarios.suite import LIBRARY, run_file


def test_the_mizuho_scenario_runs_with_the_minimal_example_engine(tmp_path):
    text = (LIBRARY / "mizuho-2005.toml").read_text().replace(
        'id = "MIZUHO"', 'id = "MIZUHO"\nengine = "python:examples.minimal_engine:MinimalEngine"', 1)
    path = tmp_path / "plugin.toml"
    path.write_text(text)
    outcome = run_file(path)
    assert outcome.passed, [v.text for v in outcome.verdicts] + [outcome.error]
    assert type(outcome.record.engines["MIZUHO"]).__name__ == "MinimalEngine"


def test_an_engine_that_is_not_a_python_path_is_refused():
    text = (LIBRARY / "mizuho-2005.toml").read_text().replace('id = "MIZUHO"', 'id = "MIZUHO"\nengine = "fix:host"', 1)
    with pytest.raises(ScenarioError, match='engine must be "python:module:Class"'):
        parse_scenario(text, source="t.toml")
