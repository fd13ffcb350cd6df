"""Run scenario files and judge them: one file, a directory, or the built-in library.

Progress while a suite runs: on a terminal with rich wanted (:func:`scenarios.report.use_rich`),
a rich bar on stderr (the running scenario, n/N, elapsed); otherwise :func:`console_progress`, a
line per finished scenario (rewritten in place on a terminal), which logs and CI read.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenarios.expect import judge
from scenarios.report import Outcome
from scenarios.runner import run_scenario
from scenarios.spec import ScenarioError, load_scenario

if TYPE_CHECKING:
    from rich.console import Console

LIBRARY = Path(__file__).resolve().parent / "library"


def library_files() -> list[Path]:
    """The built-in incident library, in name order."""
    return sorted(LIBRARY.glob("*.toml"))


def scenario_files(target: str | Path) -> list[Path]:
    """The scenario files of a path (a file, or every ``*.toml`` in a directory, sorted)."""
    path = Path(target)
    if path.is_dir():
        files = sorted(path.glob("*.toml"))
        if not files:
            raise ScenarioError(f"{path}: no *.toml scenario files in this directory")
        return files
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file or directory")
    return [path]


def run_file(path: str | Path, seed: int | None = None, **options: Any) -> Outcome:
    """Load, run and judge one scenario file; a harness failure becomes an ``error`` outcome.

    ``options`` go to :func:`~scenarios.runner.run_scenario` (``transport``, ``speed``).
    """
    scenario = load_scenario(path)
    used_seed = scenario.seed if seed is None else seed
    try:
        record = run_scenario(scenario, used_seed, **options)
    except Exception as exc:  # the harness broke: report it as an error, keep the suite going
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(scenario.name, used_seed, None,
                       error=f"{detail} (at {Path(where.filename).name}:{where.lineno})", source=str(path))
    if record.errors:
        return Outcome(scenario.name, used_seed, record, judge(record), error="; ".join(record.errors),
                       source=str(path))
    return Outcome(scenario.name, used_seed, record, judge(record), source=str(path))


def run_files(paths: list[Path], seed: int | None = None,
              progress: Callable[[int, int, str, float], None] | None = None, *,
              starting: Callable[[int, int, str], None] | None = None, **options: Any) -> list[Outcome]:
    """Run several files in order, calling ``starting`` before each (file stem) and ``progress`` after it."""
    outcomes = []
    started = time.perf_counter()
    for index, path in enumerate(paths, start=1):
        if starting is not None:
            starting(index, len(paths), Path(path).stem)
        outcomes.append(run_file(path, seed, **options))
        if progress is not None:
            progress(index, len(paths), outcomes[-1].name, time.perf_counter() - started)
    return outcomes


def console_progress(index: int, total: int, name: str, elapsed: float) -> None:
    """A one-line progress bar on stderr (rewritten in place on a terminal)."""
    width = 24
    filled = width * index // total
    eta = elapsed / index * (total - index)
    line = f"[{'#' * filled}{'.' * (width - filled)}] {index}/{total} {name}  {elapsed:.1f}s, ~{eta:.0f}s left"
    if sys.stderr.isatty():
        print("\r" + line.ljust(100), end="" if index < total else "\n", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)


class RichProgress:
    """A rich progress bar for a suite (on stderr): the running scenario, n/N and the elapsed time."""

    def __init__(self, total: int, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # Scenario names are data, not markup.  The finished bar stays: it shows how long the suite took.
        self.progress = Progress(TextColumn("{task.description}", markup=False, style="bold"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=console if console is not None else Console(stderr=True))
        self.task = self.progress.add_task("", total=total)

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def starting(self, index: int, total: int, name: str) -> None:
        """Show the scenario about to run."""
        self.progress.update(self.task, description=name)

    def __call__(self, index: int, total: int, name: str, elapsed: float) -> None:
        """Count a finished scenario (the ``progress`` callback of :func:`run_files`)."""
        self.progress.update(self.task, completed=index, description="suite" if index == total else name)


def run_suite(paths: list[Path], seed: int | None = None, *, styled: bool = False, **options: Any) -> list[Outcome]:
    """Run files with progress: a rich bar if ``styled`` and stderr is a terminal, else a line per scenario."""
    if len(paths) <= 1:
        return run_files(paths, seed, **options)
    if styled and sys.stderr.isatty():
        with RichProgress(len(paths)) as bar:
            return run_files(paths, seed, bar, starting=bar.starting, **options)
    return run_files(paths, seed, console_progress, **options)
