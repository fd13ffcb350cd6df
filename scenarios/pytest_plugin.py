"""A pytest plugin: ``pytest --marketdrill DIR`` runs every scenario file in DIR as a test item.

A trading team adds its scenario directory to CI and gets one test per scenario (failures show
the expectations that did not hold, with their evidence, and the run's timeline).  Installed with
the package (entry point ``pytest11``); it does nothing unless ``--marketdrill`` is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--marketdrill DIR`` and ``--marketdrill-seed N``."""
    group = parser.getgroup("marketdrill")
    group.addoption("--marketdrill", action="append", default=[], metavar="DIR",
                    help="run the scenario files (*.toml) in DIR as tests (may be given more than once)")
    group.addoption("--marketdrill-seed", type=int, default=None, metavar="N",
                    help="override every scenario's seed")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Append one item per scenario file named by ``--marketdrill``."""
    from scenarios.suite import scenario_files

    for target in config.getoption("marketdrill"):
        for path in scenario_files(target):
            items.append(ScenarioItem.from_parent(session, name=f"scenario[{path.stem}]", path=Path(path)))


class ScenarioFailed(Exception):
    """An expectation did not hold (or the harness broke)."""


class ScenarioItem(pytest.Item):
    """One scenario file as a pytest test."""

    def __init__(self, *, path: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scenario_path = path

    def runtest(self) -> None:
        """Run and judge the scenario; fail with the report if anything did not hold."""
        from scenarios.report import format_outcome
        from scenarios.suite import run_file

        outcome = run_file(self.scenario_path, self.config.getoption("marketdrill_seed"))
        if not outcome.passed:
            raise ScenarioFailed(format_outcome(outcome))

    def repr_failure(self, excinfo, style=None):  # noqa: ANN001 - pytest's signature
        """Show the scenario report instead of a traceback."""
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        """Where the test comes from, for pytest's report."""
        return self.scenario_path, None, f"scenario {self.scenario_path.name}"
