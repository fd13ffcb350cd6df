"""Run every benchmark and assemble ``BENCHMARKS.md`` (``make bench``).

Run: ``.venv/bin/python bench/run_all.py [--quick] [--only NAME ...] [--no-run]``.

* Runs each ``bench/bench_*.py`` in its own process (``--quick`` is passed on to the scripts that
  accept it), printing progress; each script writes ``bench/results/<name>.md``.
* The whole run is bounded: every script gets what is left of ``--budget`` seconds (default 600,
  300 with ``--quick``; the full run takes about 5 minutes on the 2-core dev box) and is killed
  with its child processes when it overruns.  A script that fails or times out is reported and
  its previous results file, if any, is kept (marked as not refreshed).
* Then ``BENCHMARKS.md`` at the repository root is rebuilt from every results file: a header
  describing the machine, a summary table of every target found in the results (measured value,
  met or not), and each results file as a section.

Targets are read from a ``## Targets`` table (``| target | measured | met |``) when a results file
has one; otherwise from the file's own tables with *target* and *met* columns, or from its
``target`` bullet lines.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
OUT = ROOT / "BENCHMARKS.md"

NOISE_NOTE = (
    "This is a shared 2-core VM and it is noisy: other work on the box moves absolute figures by 2x or more "
    "between runs.  Trust the **ratios** against a reference measured in the same process and the same run "
    "(ours vs simplefix, vs the baseline book, FIX vs the raw echo floor, TCP vs no sockets) and the CPU-time "
    "columns more than absolute rates; the absolute targets were set for a desktop-class core.")


# -- RUNNING --------------------------------------------------------------------------------------


def bench_scripts(only: list[str] | None) -> list[Path]:
    """Every bench/bench_*.py, optionally filtered by name (``codec`` or ``bench_codec``)."""
    scripts = sorted(BENCH.glob("bench_*.py"))
    if only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in only}
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    return scripts


def run_script(script: Path, quick: bool, timeout_s: float) -> tuple[str, float]:
    """Run one benchmark in its own process group; returns (status, seconds)."""
    args = [sys.executable, str(script)]
    if quick and "--quick" in script.read_text(encoding="utf-8"):
        args.append("--quick")
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=str(ROOT), start_new_session=True)
    try:
        rc = proc.wait(timeout=max(1.0, timeout_s))
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return f"timed out after {timeout_s:.0f} s", time.monotonic() - started
    except KeyboardInterrupt:
        _kill_group(proc)
        raise
    status = "ok" if rc == 0 else f"failed (exit {rc})"
    return status, time.monotonic() - started


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop the benchmark we started and its children (its own process group)."""
    for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


# -- MACHINE --------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "?"


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(ROOT), capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=str(ROOT), capture_output=True, text=True,
                               timeout=10)
        if out.returncode == 0:
            return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "?"


def header(quick: bool, runs: list[tuple[str, str, float]], total_s: float) -> list[str]:
    """The top of BENCHMARKS.md: machine, Python, date, command, noise note, what ran."""
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run_all.py` from the committed results files in `bench/results/`; do not edit by hand.",
        "",
        "| | |",
        "|---|---|",
        f"| machine | {platform.uname().machine} (`uname -m`), {os.cpu_count()} CPUs (`nproc`), {_cpu_model()}, "
        f"{_ram()} RAM, {platform.system()} {platform.release()} |",
        f"| python | {platform.python_implementation()} {platform.python_version()} |",
        f"| date | {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M UTC} |",
        f"| command | `make bench` (= `.venv/bin/python bench/run_all.py{' --quick' if quick else ''}`) |",
        f"| revision | {_git_revision()} |",
        f"| load average at the end | {load} |",
        "",
        f"> {NOISE_NOTE}",
        "",
    ]
    if runs:
        lines += ["| benchmark | status | seconds |", "|---|---|---:|"]
        lines += [f"| {name} | {status} | {secs:.0f} |" for name, status, secs in runs]
        lines += ["", f"Total {total_s:.0f} s{' (quick run: rougher figures)' if quick else ''}.", ""]
    return lines


# -- TARGETS --------------------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """(heading above, header cells, rows) of every markdown table."""
    out = []
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|?\s*$", lines[i + 1]):
            head = _cells(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.append((heading, head, rows))
            continue
        i += 1
    return out


def _met(cell: str) -> str:
    plain = cell.replace("*", "").strip().lower()
    if plain in ("met", "yes", "ok", "pass", "true"):
        return "met"
    if plain in ("not met", "no", "fail", "false"):
        return "**not met**"
    return cell or "?"


def targets_of(name: str, text: str) -> list[tuple[str, str, str]]:
    """(target, measured, met) rows found in one results file."""
    tables = _tables(text)
    for heading, head, rows in tables:
        if heading.lower() == "targets" and [h.lower() for h in head[:3]] == ["target", "measured", "met"]:
            return [(r[0], r[1], _met(r[2])) for r in rows if len(r) >= 3]
    out: list[tuple[str, str, str]] = []
    for _, head, rows in tables:
        lower = [h.lower() for h in head]
        t_col = next((i for i, h in enumerate(lower) if h.startswith("target")), None)
        m_col = next((i for i, h in enumerate(lower) if h.startswith("met")), None)
        if t_col is None or m_col is None:
            continue
        v_col = next((i for i, h in enumerate(lower) if "ours" in h), t_col - 1)
        for r in rows:
            if len(r) <= max(t_col, m_col, v_col) or not r[t_col]:
                continue
            unit = head[v_col]
            out.append((f"{r[0]}: {unit} {r[t_col]}", r[v_col], _met(r[m_col])))
    for line in text.splitlines():
        if not line.startswith("- ") or "target" not in line.lower() or out:
            continue
        m = re.search(r"target[s]?:?\s*(>=|<=)\s*([0-9][0-9,.]*\s*[kKM]?)\s*([^.]*)", line, re.I)
        if not m:
            continue
        met = "**not met**" if re.search(r"not met", line, re.I) else ("met" if re.search(r"\bmet\b", line, re.I)
                                                                         else "?")
        measured = re.findall(r"([0-9][0-9,]*(?:\.[0-9]+)?/s)", line)
        out.append((f"{m.group(1)} {m.group(2).strip()} {m.group(3).strip()}".strip(),
                    measured[-1] if measured else "see section", met))
    return out


# -- ASSEMBLY -------------------------------------------------------------------------------------


def _demote(text: str) -> str:
    """Headings one level down so each results file nests under its own section."""
    return "\n".join(("#" + line) if line.startswith("#") else line for line in text.splitlines())


def _first_heading(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def assemble(quick: bool, runs: list[tuple[str, str, float]], refreshed: set[str], total_s: float) -> str:
    """The text of BENCHMARKS.md from every bench/results/*.md."""
    files = sorted(RESULTS.glob("*.md"))
    lines = header(quick, runs, total_s)
    summary = ["## Summary of targets", "", "| benchmark | target | measured | met |", "|---|---|---|---|"]
    sections: list[str] = []
    for path in files:
        name = path.stem
        text = path.read_text(encoding="utf-8")
        title = _first_heading(text, name)
        for target, measured, met in targets_of(name, text) or [("(none: a reference measurement)", "see section", "-")]:
            summary.append(f"| [{name}](#{_anchor(title)}) | {target} | {measured} | {met} |")
        note = "" if not runs or name in refreshed else \
            "\n\n*(not refreshed by this run: figures from the results file's own date)*"
        body = _demote(text.strip())
        sections += [body + note, "", f"Source: `bench/results/{path.name}`.", ""]
    met = sum(1 for row in summary[4:] if row.endswith("| met |"))
    total = sum(1 for row in summary[4:] if not row.endswith("| - |"))
    lines += summary + ["", f"{met} of {total} targets met.", ""] + sections
    return "\n".join(lines).rstrip() + "\n"


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).strip().replace(" ", "-")


def main() -> int:
    """Run the benchmarks (unless --no-run) and write BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every benchmark that has it")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (codec, fix_tcp, ...)")
    ap.add_argument("--no-run", action="store_true", help="only rebuild BENCHMARKS.md from the results files")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for all benchmarks together (default 600, 300 with --quick)")
    args = ap.parse_args()
    budget = args.budget if args.budget is not None else (300.0 if args.quick else 600.0)
    runs: list[tuple[str, str, float]] = []
    refreshed: set[str] = set()
    started = time.monotonic()
    if not args.no_run:
        scripts = bench_scripts(args.only)
        for index, script in enumerate(scripts, start=1):
            left = budget - (time.monotonic() - started)
            name = script.stem.removeprefix("bench_")
            if left < 5:
                print(f"[{index}/{len(scripts)}] {script.name}: skipped, time budget spent", flush=True)
                runs.append((name, "skipped (time budget spent)", 0.0))
                continue
            print(f"[{index}/{len(scripts)}] {script.name}{' --quick' if args.quick else ''} "
                  f"(at most {left:.0f} s) ...", flush=True)
            status, secs = run_script(script, args.quick, left)
            print(f"[{index}/{len(scripts)}] {script.name}: {status} in {secs:.0f} s", flush=True)
            runs.append((name, status, secs))
            if status == "ok":
                refreshed.add(name)
    total_s = time.monotonic() - started
    OUT.write_text(assemble(args.quick, runs, refreshed, total_s), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({total_s:.0f} s)", flush=True)
    return 0 if all(status == "ok" for _, status, _ in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
