"""Sweeps: one scenario run thousands of times over a grid of parameter values and seeds.

``marketdrill sweep mizuho.toml --param inject.1.qty=1000,10000,100000 --seeds 50`` asks "for
which fat-finger sizes does a defence still catch it, how fast, and what does it cost when none
does?".  Each run is one (parameter combination, seed); every run is deterministic, so a row of
the results can be reproduced from its parameters and seed alone.  Parameters and the variants
they make are :mod:`scenarios.sweep_params`; plots and the HTML page are :mod:`scenarios.sweep_plots`.

Design, and why:

* **Seeds are crossed with the grid, not nested in it**: every parameter value faces the same N
  markets (``SeedSequence(root).spawn(N)``, one int seed per child; common random numbers), so a
  difference between two values is the parameter's doing, not the luck of the draw.  ``spawn(N)``
  is prefix-stable, so ``--seeds 100`` after ``--seeds 50`` reuses the first 50 runs.  The root
  defaults to the scenario's own seed.
* **Execution** is a stdlib process pool sized to the machine (``--workers 0`` runs in this
  process, for debugging and profiling), or, with ``--cluster ADDR``, an existing Dask distributed
  cluster (imported only then: an optional extra; workers need marketdrill installed).  Runs
  travel in chunks so sub-second runs do not drown in IPC.  A run that raises becomes an error
  row.  A worker process that dies breaks the whole pool and fails every chunk in flight, with no
  word of which run killed it, so those runs are re-run one at a time in fresh processes: the
  culprit becomes an error row and the others complete.
* **Results are append-only**: ``runs.jsonl`` gets one line per finished run, flushed as each
  chunk finishes; ``results.csv`` (one tidy row per run, in grid order, no wall-clock columns so
  it is byte-identical across machines and backends) is rebuilt from it.  Re-running the same
  command on the same ``--out`` skips finished runs, so an interrupted sweep resumes where it
  stopped; ``sweep.json`` refuses to mix runs of a different scenario text or root seed.
* Times in the results are seconds from the fault (the first injection that happened), so
  "time to first alert" and "time to first halt or refusal" read as how long the fault lived.

Exit status of :func:`sweep_main`: 0 the sweep finished (failing expectations are data, not
errors), 1 some run errored, 2 bad arguments or scenario, 130 interrupted (run again to resume).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.risk import TradingState
from scenarios.expect import Verdict, judge
from scenarios.runner import RunRecord, run_scenario
from scenarios.spec import ScenarioError, parse_scenario
from scenarios.sweep_params import (
    Param,
    SweepError,
    build_variant,
    check_params,
    parse_param,
    value_label,
    variant_text,
)

__all__ = ["Param", "RunSpec", "Sweep", "SweepError", "SweepResult", "plan_sweep", "run_sweep", "sweep_main"]


# -- the plan ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run: a parameter combination and a seed."""

    index: int
    params: tuple[tuple[str, Any], ...]
    seed_index: int
    seed: int

    @property
    def key(self) -> str:
        """Identity in runs.jsonl: the parameter values and the seed (not the position in the grid)."""
        return ";".join(f"{p}={value_label(v)}" for p, v in self.params) + f"|seed={self.seed}"


@dataclass
class Sweep:
    """A checked sweep: the scenario, its parameter grid and the seeds."""

    text: str
    source: str
    name: str
    params: list[Param]
    seeds: list[int]
    root_seed: int
    firms: tuple[str, ...] = ()

    def runs(self) -> list[RunSpec]:
        """Every (combination, seed), combinations in grid order (last parameter fastest)."""
        combos: list[tuple[tuple[str, Any], ...]] = [()]
        for param in self.params:
            combos = [c + ((param.path, v),) for c in combos for v in param.values]
        return [RunSpec(i * len(self.seeds) + j, combo, j, seed)
                for i, combo in enumerate(combos) for j, seed in enumerate(self.seeds)]

    def fingerprint(self) -> str:
        """What a resumed sweep must share with the first attempt: scenario text and root seed."""
        return hashlib.sha256(f"{self.root_seed}\n{self.text}".encode()).hexdigest()[:16]


def spawn_seeds(root: int, count: int) -> list[int]:
    """``count`` run seeds from ``SeedSequence(root).spawn(count)`` (prefix-stable as count grows)."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(root).spawn(count)]


def plan_sweep(scenario_path: str | Path, params: list[str], seeds: int, root_seed: int | None = None) -> Sweep:
    """Load a scenario and check every ``--param`` up front (SweepError/ScenarioError name the problem)."""
    path = Path(scenario_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc.strerror or exc}") from None
    base = parse_scenario(text, source=str(path))
    if seeds < 1:
        raise SweepError(f"--seeds must be at least 1, got {seeds}")
    checked = [parse_param(spec, text) for spec in params]
    paths = [p.path for p in checked]
    if len(set(paths)) != len(paths):
        raise SweepError(f"--param given twice for the same path: {sorted({p for p in paths if paths.count(p) > 1})}")
    check_params(text, str(path), checked)
    root = base.seed if root_seed is None else root_seed
    return Sweep(text, str(path), base.name, checked, spawn_seeds(root, seeds), root, tuple(f.id for f in base.firms))


# -- one run (in a worker) -----------------------------------------------------------------------


def run_chunk(text: str, source: str, runs: list[RunSpec]) -> list[dict[str, Any]]:
    """Run a chunk of runs of one scenario; each run's failure becomes its error row."""
    return [run_one(text, source, run) for run in runs]


def run_one(text: str, source: str, run: RunSpec) -> dict[str, Any]:
    """Build, run, judge and measure one run; an exception becomes the row's ``error``."""
    started = time.perf_counter()
    try:
        scenario = build_variant(text, list(run.params), source)
        record = run_scenario(scenario, run.seed)
        verdicts = judge(record)
    except (Exception, SystemExit) as exc:  # the run broke: record it, keep the sweep going
        return error_row(run, _describe(exc), time.perf_counter() - started)
    row = {"key": run.key, "seed": run.seed, "passed": not record.errors and all(v.passed for v in verdicts),
           "error": "; ".join(record.errors)}
    row.update(measure(record, verdicts))
    row["wall_s"] = round(time.perf_counter() - started, 4)
    return row


def error_row(run: RunSpec, error: str, wall_s: float = 0.0) -> dict[str, Any]:
    """The row of a run that could not complete."""
    return {"key": run.key, "seed": run.seed, "passed": False, "error": error, "wall_s": round(wall_s, 4)}


def _describe(exc: BaseException) -> str:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\n", " ")
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{detail} (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else detail


def measure(record: RunRecord, verdicts: list[Verdict]) -> dict[str, Any]:
    """The numbers a sweep compares: verdicts, time to detect and to stop, pages, damage per firm.

    Times are seconds from the fault (the first injection that happened; the run start if none),
    so a distribution over seeds and parameters reads as "how long did the fault live".
    """
    onset = min(record.inject_times.values(), default=record.start_ns)
    out: dict[str, Any] = {f"expect{v.step.index + 1}_{v.step.kind}": "pass" if v.passed else "fail"
                           for v in verdicts}
    alerts = sorted((a.starts_at_ns, a.name) for a in record.alerts_fired if a.starts_at_ns >= onset)
    stops = [(r.time_ns, r.layer) for r in record.refusals] + [(h.time_ns, "venue") for h in record.halts]
    for engine in record.engines.values():
        stops += [(c.time_ns, "engine") for c in engine.risk.changes
                  if getattr(c, "scope", None) is not None and c.new == TradingState.HALTED]
    stops = sorted(s for s in stops if s[0] >= onset)
    out.update({
        "fault_s": round((onset - record.start_ns) / 1e9, 6),
        "first_alert_s": round((alerts[0][0] - onset) / 1e9, 6) if alerts else None,
        "first_alert": alerts[0][1] if alerts else "",
        "first_stop_s": round((stops[0][0] - onset) / 1e9, 6) if stops else None,
        "first_stop_layer": stops[0][1] if stops else "",
        "pages": len(record.pages()),
    })
    for firm in record.scenario.firms:
        engine = record.engines[firm.id]
        out[f"pnl_{firm.id}"] = format(engine.realized_pnl() + engine.unrealized_pnl(), "f")
        out[f"max_pos_{firm.id}"] = max((v for (f, _), v in record.max_position.items() if f == firm.id), default=0)
        out[f"venue_orders_{firm.id}"] = sum(1 for a in record.arrivals if a.firm == firm.id)
    out["journal_hash"] = record.journal_hash
    return out


# -- executing -----------------------------------------------------------------------------------

Chunk = list[RunSpec]
Done = tuple[Chunk, list[dict[str, Any]]]


def _ignore_sigint() -> None:
    # Ctrl-C is the parent's to handle (it records what finished); workers just finish their chunk.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_process(sweep: Sweep, chunks: list[Chunk]) -> Iterator[Done]:
    for chunk in chunks:
        yield chunk, run_chunk(sweep.text, sweep.source, chunk)


def _local(sweep: Sweep, chunks: list[Chunk], workers: int) -> Iterator[Done]:
    """A process pool; a dead worker's chunks are re-run alone so only the culprit is an error."""
    pending = list(reversed(chunks))
    suspects: list[RunSpec] = []
    while pending:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
        in_flight: dict[Any, Chunk] = {}
        try:
            while pending or in_flight:
                while pending and len(in_flight) < workers * 2:  # a small queue keeps resume loss small
                    chunk = pending.pop()
                    in_flight[pool.submit(run_chunk, sweep.text, sweep.source, chunk)] = chunk
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = in_flight.pop(future)
                    try:
                        rows = future.result()
                    except BrokenProcessPool:
                        suspects.extend(chunk)
                        continue
                    except Exception as exc:  # e.g. a result that does not pickle: this chunk's runs errored
                        rows = [error_row(run, f"worker failed: {_describe(exc)}") for run in chunk]
                    yield chunk, rows
                if suspects:
                    for chunk in in_flight.values():
                        suspects.extend(chunk)
                    in_flight.clear()
                    break
        finally:
            pool.shutdown(wait=not in_flight, cancel_futures=True)
        for run in sorted(suspects, key=lambda r: r.index):
            yield [run], [_isolated(sweep, run)]
        suspects.clear()


def _isolated(sweep: Sweep, run: RunSpec) -> dict[str, Any]:
    """Run one suspect alone in a fresh process: if that process dies too, it was this run."""
    with ProcessPoolExecutor(max_workers=1, initializer=_ignore_sigint) as pool:
        try:
            return pool.submit(run_chunk, sweep.text, sweep.source, [run]).result()[0]
        except BrokenProcessPool:
            return error_row(run, "worker process died while running this run (crash, os._exit or out of memory)")


def _dask(sweep: Sweep, chunks: list[Chunk], client: Any) -> Iterator[Done]:
    """Chunks as tasks on a Dask cluster; a task that fails (KilledWorker included) is error rows."""
    from dask.distributed import as_completed

    futures = {client.submit(run_chunk, sweep.text, sweep.source, chunk, pure=False): chunk for chunk in chunks}
    try:
        for future in as_completed(list(futures)):
            chunk = futures[future]
            try:
                yield chunk, future.result()
            except Exception as exc:  # the cluster lost the task: its runs are errors, the sweep goes on
                yield chunk, [error_row(run, f"cluster task failed: {_describe(exc)}") for run in chunk]
    finally:
        client.cancel(list(futures))


def connect(address: str, timeout: str = "15s") -> Any:
    """A Dask ``Client`` for ``address`` (the optional ``cluster`` extra), or a clear SweepError."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise SweepError("--cluster needs Dask distributed, which is not installed: "
                         "pip install 'marketdrill[cluster]' (or 'dask[distributed]')") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise SweepError(f"--cluster {address}: cannot reach the Dask scheduler: {exc}") from None


def chunked(runs: list[RunSpec], workers: int, size: int | None = None) -> list[Chunk]:
    """Chunks of runs: about 8 per worker for balance, at most 16 runs so a resume loses little."""
    if not size:  # None or 0: automatic
        size = max(1, min(16, len(runs) // (max(workers, 1) * 8)))
    return [runs[i:i + size] for i in range(0, len(runs), size)]


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# -- the results directory -----------------------------------------------------------------------


@dataclass
class SweepResult:
    """What a sweep produced: rows in grid order, and what this call did."""

    sweep: Sweep
    out: Path
    rows: list[dict[str, Any]]
    ran: int = 0
    skipped: int = 0
    interrupted: bool = False
    wall_s: float = 0.0
    files: list[Path] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Rows whose run could not complete."""
        return sum(1 for r in self.rows if r["error"])


Progress = Callable[[int, int, int, float], None]


def run_sweep(sweep: Sweep, out: str | Path, *, workers: int | None = None, cluster: Any = None,
              chunk: int | None = None, retry_errors: bool = False, progress: Progress | None = None) -> SweepResult:
    """Run every unfinished run of ``sweep`` into ``out`` (resuming), then write results.csv."""
    client = connect(cluster) if isinstance(cluster, str) else cluster  # fail before touching --out
    started = time.perf_counter()
    errors = 0
    try:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        _check_manifest(sweep, out)
        journal = out / "runs.jsonl"
        finished = load_runs(journal)
        plan = sweep.runs()
        todo = [r for r in plan if r.key not in finished or (retry_errors and finished[r.key]["error"])]
        result = SweepResult(sweep, out, [], skipped=len(plan) - len(todo))
        if client is not None:
            lanes = max(1, sum(client.nthreads().values()))
            stream = _dask(sweep, chunked(todo, lanes, chunk), client)
        else:
            workers = default_workers() if workers is None else workers
            chunks = chunked(todo, workers, chunk)
            stream = _local(sweep, chunks, workers) if workers > 0 else _in_process(sweep, chunks)
        with journal.open("a", encoding="utf-8") as sink:
            try:
                for _, rows in stream:
                    for row in rows:
                        sink.write(json.dumps(row, sort_keys=True) + "\n")
                        finished[row["key"]] = row
                        errors += bool(row["error"])
                    sink.flush()
                    result.ran += len(rows)
                    if progress is not None:
                        progress(result.ran, len(todo), errors, time.perf_counter() - started)
            except KeyboardInterrupt:
                result.interrupted = True
            finally:
                stream.close()
    finally:
        if isinstance(cluster, str) and client is not None:
            client.close()
    result.wall_s = time.perf_counter() - started
    result.rows = table_rows(sweep, plan, finished)
    result.files.append(write_csv(result.rows, out / "results.csv"))
    return result


def _check_manifest(sweep: Sweep, out: Path) -> None:
    manifest = out / "sweep.json"
    meta = {"scenario": sweep.name, "source": sweep.source, "fingerprint": sweep.fingerprint(),
            "root_seed": sweep.root_seed, "params": {p.path: list(p.labels) for p in sweep.params},
            "seeds": len(sweep.seeds)}
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("fingerprint") != meta["fingerprint"]:
            raise SweepError(f"{out} holds a sweep of a different scenario text or root seed "
                             f"({old.get('scenario')!r}, root seed {old.get('root_seed')}); "
                             f"choose another --out or remove it")
    manifest.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load_runs(path: Path) -> dict[str, dict[str, Any]]:
    """Finished runs by key; a torn last line (killed mid-write) is dropped and the file repaired."""
    if not path.exists():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    good: list[str] = []
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        try:
            row = json.loads(line)
            rows[row["key"]] = row
            good.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    if len(good) != len(text.splitlines()) or (text and not text.endswith("\n")):
        path.write_text("".join(g + "\n" for g in good), encoding="utf-8")
    return rows


def table_rows(sweep: Sweep, plan: list[RunSpec], finished: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Tidy rows in grid order: run, the parameters, seed, then what the run measured."""
    rows = []
    for run in plan:
        done = finished.get(run.key)
        if done is None:
            continue
        row: dict[str, Any] = {"run": run.index + 1}
        row.update({path: value_label(value) for path, value in run.params})
        row["seed_index"] = run.seed_index + 1
        row.update(_ordered(done, sweep.firms))
        rows.append(row)
    return rows


_METRICS = ("fault_s", "first_alert_s", "first_alert", "first_stop_s", "first_stop_layer", "pages")


def _ordered(done: dict[str, Any], firms: tuple[str, ...]) -> dict[str, Any]:
    """A run's measurements in reading order (rows from this session and from runs.jsonl agree)."""
    expects = sorted((k for k in done if k.startswith("expect")), key=lambda k: int(k[6:].split("_")[0]))
    damage = [f"{what}_{firm}" for what in ("pnl", "max_pos", "venue_orders") for firm in firms]
    order = ["seed", "passed", "error", *expects, *_METRICS, *damage, "journal_hash"]
    out = {k: done[k] for k in order if k in done}
    out.update({k: v for k, v in sorted(done.items()) if k not in out and k not in ("key", "wall_s")})
    return out


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """results.csv: the union of columns in first-seen order; true/false and empty for missing."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
    return path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value_label(value)


# -- command line --------------------------------------------------------------------------------


class _Bar:
    """A progress bar with rate and ETA on stderr (one line per ~5% when not a terminal)."""

    def __init__(self, skipped: int) -> None:
        self.skipped, self.last, self.tty = skipped, -1.0, sys.stderr.isatty()

    def __call__(self, done: int, total: int, errors: int, elapsed: float) -> None:
        now = time.perf_counter()
        step = max(1, total // 20)
        if done < total and (now - self.last < 0.2 if self.tty else done % step):
            return
        self.last = now
        width = 24
        filled = width * done // max(total, 1)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate else 0.0
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs"
                + (f" (+{self.skipped} already done)" if self.skipped else "")
                + (f", {errors} errors" if errors else "") + f"  {rate:.1f} runs/s, ~{eta:.0f}s left")
        end = "" if self.tty and done < total else "\n"
        print(("\r" + line.ljust(100)) if self.tty else line, end=end, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``marketdrill sweep``."""
    parser = argparse.ArgumentParser(
        prog="marketdrill sweep",
        description="Run a scenario over a grid of parameter values x seeds; write results.csv, plots and "
                    "report.html.  Re-running the same command resumes an interrupted sweep.")
    parser.add_argument("scenario", help="the scenario .toml file")
    parser.add_argument("--param", action="append", default=[], metavar="PATH=VALUES",
                        help="a field and its values, e.g. inject.1.qty=1000,10000 or "
                             "firm.MIZUHO.risk.max_order_qty=range(100,1000,100) or "
                             "agents.arb_latency_us=logspace(1,4,4); repeat to cross several")
    parser.add_argument("--seeds", type=_count, default=10, help="seeds per parameter combination (default 10)")
    parser.add_argument("--root-seed", type=int, default=None, help="root of SeedSequence (default: the scenario's)")
    parser.add_argument("--workers", type=_count, default=None,
                        help="local worker processes (default: every CPU; 0 = run in this process)")
    parser.add_argument("--cluster", metavar="ADDR", help="run on a Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--out", metavar="DIR", help="output directory (default: sweep-<scenario name>)")
    parser.add_argument("--chunk", type=_count, default=None, help="runs per task (default or 0: automatic)")
    parser.add_argument("--retry-errors", action="store_true", help="on resume, re-run runs that errored")
    parser.add_argument("--no-plots", action="store_true", help="write results.csv and the summary only")
    parser.add_argument("--show", type=int, metavar="RUN",
                        help="print run RUN's scenario variant (TOML) and seed instead of sweeping: "
                             "`marketdrill run` on it with that --seed reproduces the row and its journal hash")
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _show(sweep: Sweep, number: int) -> int:
    runs = sweep.runs()
    if not 1 <= number <= len(runs):
        raise SweepError(f"--show {number}: this sweep has runs 1 to {len(runs)}")
    run = runs[number - 1]
    # the note goes to stderr: a byte in the TOML would change the journal hash it reproduces
    print(f"run {number}: {run.key.replace('|', ' ')}; reproduce with: marketdrill run VARIANT.toml --seed {run.seed}",
          file=sys.stderr)
    print(variant_text(sweep.text, list(run.params)), end="")
    return 0


def sweep_main(argv: list[str]) -> int:
    """``marketdrill sweep``: plan, run (resuming), summarise, plot; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        sweep = plan_sweep(args.scenario, args.param, args.seeds, args.root_seed)
        if args.show is not None:
            return _show(sweep, args.show)
        out = Path(args.out or f"sweep-{sweep.name}")
        total = len(sweep.runs())
        where = f"Dask cluster {args.cluster}" if args.cluster else (
            "this process" if args.workers == 0 else f"{args.workers or default_workers()} local processes")
        print(f"marketdrill sweep: {sweep.name}: {total} runs ({total // len(sweep.seeds)} combinations x "
              f"{len(sweep.seeds)} seeds, root seed {sweep.root_seed}) on {where} -> {out}", file=sys.stderr)
        finished = load_runs(out / "runs.jsonl")
        already = sum(1 for r in sweep.runs() if r.key in finished and not (args.retry_errors and finished[r.key]["error"]))
        result = run_sweep(sweep, out, workers=args.workers, cluster=args.cluster, chunk=args.chunk,
                           retry_errors=args.retry_errors, progress=_Bar(already))
    except (SweepError, ScenarioError) as exc:
        print(f"marketdrill sweep: {exc}", file=sys.stderr)
        return 2
    from scenarios.sweep_plots import format_summary, write_report

    print(format_summary(result))
    if not args.no_plots:
        files, note = write_report(result, command="marketdrill sweep " + " ".join(argv))
        result.files.extend(files)
        if note:
            print(f"marketdrill sweep: {note}", file=sys.stderr)
    print("written: " + ", ".join(str(f) for f in result.files))
    if result.interrupted:
        print(f"marketdrill sweep: interrupted after {result.ran} runs; run the same command again to resume",
              file=sys.stderr)
        return 130
    return 1 if result.errors else 0
