"""Every scenario of the incident library passes: the regression suite of the defences themselves."""

from __future__ import annotations

import pytest

from scenarios.report import format_outcome
from scenarios.suite import library_files, run_file

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_library_scenario_passes(path):
    outcome = run_file(path)
    assert outcome.passed, format_outcome(outcome)
