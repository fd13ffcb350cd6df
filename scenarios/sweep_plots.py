"""What a sweep means, for a person: a console summary, plots, and one HTML page.

The console summary is a pass rate per parameter value (every other parameter pooled), with how
fast the fault was stopped and what got through.  The plots answer the three questions a sweep
is run for: *where does the defence stop working* (pass rate vs each parameter, with a 95%
Wilson interval because 10 seeds per point is little evidence), *how long does a fault live*
(distributions of time to first halt/refusal and to first alert, per value of the first
parameter), and *what does it cost when nothing stops it* (orders that reached the venue, P&L and
largest position per firm vs each parameter).  With two or more parameters a heatmap shows the
pass rate over the first two.

matplotlib is an optional extra (``pip install 'marketdrill[sweep]'``): without it the sweep still
writes results.csv, the summary and report.html (tables only) and says how to get the plots.
The Agg backend is forced so plotting works on headless CI machines and in worker-less shells.
report.html embeds the PNGs (base64) so it can be attached to a CI run as one file.
"""

from __future__ import annotations

import base64
import html
import math
import statistics
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from scenarios.sweep import Param, SweepResult


def _groups(result: SweepResult, param: Param) -> list[tuple[str, list[dict[str, Any]]]]:
    """Rows per value of ``param``, in the order the values were given."""
    return [(label, [r for r in result.rows if r.get(param.path) == label]) for label in param.labels]


def varying(result: SweepResult) -> list[Param]:
    """The parameters with more than one value (a single value is a fixed override, not an axis)."""
    return [p for p in result.sweep.params if len(p.values) > 1]


def fixed(result: SweepResult) -> str:
    """The single-value overrides, as ``path=value, ...``."""
    return ", ".join(f"{p.path}={p.labels[0]}" for p in result.sweep.params if len(p.values) == 1)


def _numbers(rows: Iterable[dict[str, Any]], column: str) -> list[float]:
    return [float(r[column]) for r in rows if r.get(column) not in (None, "")]


def _firm_total(row: dict[str, Any], prefix: str, firms: tuple[str, ...]) -> int:
    return sum(int(row.get(f"{prefix}_{f}") or 0) for f in firms)


def _worst_pnl(rows: list[dict[str, Any]], firms: tuple[str, ...]) -> Decimal | None:
    values = [Decimal(r[f"pnl_{f}"]) for r in rows for f in firms if r.get(f"pnl_{f}") not in (None, "")]
    return min(values) if values else None


def summary_rows(result: SweepResult) -> list[dict[str, Any]]:
    """One summary line per (parameter, value): runs, pass rate, errors, stop time, damage."""
    firms = result.sweep.firms
    groups = [(p.path, label, rows) for p in varying(result) for label, rows in _groups(result, p) if rows]
    if not groups:
        groups = [("(all runs)", "", result.rows)]
    out = []
    for path, label, rows in groups:
        stops = _numbers(rows, "first_stop_s")
        done = [r for r in rows if not r["error"]]
        out.append({
            "param": path, "value": label, "runs": len(rows), "passed": sum(1 for r in rows if r["passed"]),
            "errors": len(rows) - len(done),
            "stop_median_s": statistics.median(stops) if stops else None,
            "never_stopped": sum(1 for r in done if r.get("first_stop_s") in (None, "")),
            "venue_orders_median": statistics.median(_firm_total(r, "venue_orders", firms) for r in done) if done else None,
            "worst_pnl": _worst_pnl(done, firms),
        })
    return out


_HEAD = ("param", "value", "runs", "pass rate", "errors", "stop (median s)", "never stopped",
         "venue orders (median)", "worst P&L")


def _cells(line: dict[str, Any]) -> list[str]:
    rate = f"{100 * line['passed'] / line['runs']:.0f}%" if line["runs"] else "-"
    stop = f"{line['stop_median_s']:.3f}" if line["stop_median_s"] is not None else "-"
    orders = f"{line['venue_orders_median']:g}" if line["venue_orders_median"] is not None else "-"
    pnl = f"{line['worst_pnl']:,.2f}" if line["worst_pnl"] is not None else "-"
    return [line["param"], line["value"], str(line["runs"]), rate, str(line["errors"]), stop,
            str(line["never_stopped"]), orders, pnl]


def format_summary(result: SweepResult) -> str:
    """The console summary: totals, then pass rate per parameter value."""
    rows = result.rows
    passed = sum(1 for r in rows if r["passed"])
    errors = result.errors
    lines = [f"{result.sweep.name}: {len(rows)} runs ({passed} passed, {len(rows) - passed - errors} failed, "
             f"{errors} errors); {result.ran} run now in {result.wall_s:.1f}s"
             + (f" ({result.ran / result.wall_s:.1f} runs/s)" if result.wall_s > 0 and result.ran else "")
             + (f", {result.skipped} already done" if result.skipped else "")
             + (" -- INTERRUPTED" if result.interrupted else "")]
    if fixed(result):
        lines.append(f"  fixed: {fixed(result)}")
    table = [list(_HEAD)] + [_cells(line) for line in summary_rows(result)]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEAD))]
    for row in table:
        lines.append("  " + "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
    failing = [r for r in rows if r["error"]][:3]
    for row in failing:
        lines.append(f"  error in run {row['run']} (seed {row['seed']}): {row['error']}")
    return "\n".join(lines)


# -- plots ---------------------------------------------------------------------------------------


def wilson(passed: int, runs: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a pass rate (honest at 0%, 100% and small n).

    >>> [round(x, 3) for x in wilson(10, 10)]
    [0.722, 1.0]
    """
    if runs == 0:
        return 0.0, 1.0
    p = passed / runs
    centre = (p + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / (1 + z * z / runs)
    return max(0.0, centre - half), min(1.0, centre + half)


def _axis(ax: Any, param: Param) -> tuple[list[Any], bool]:  # (x positions, joined by lines?)
    """x positions for a parameter's values: the numbers themselves, or categories."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in param.values)
    if not numeric:
        ax.set_xticks(range(len(param.values)), param.labels, rotation=30 if len(param.values) > 4 else 0)
        return list(range(len(param.values))), False
    xs = [float(v) for v in param.values]
    if min(xs) > 0 and max(xs) / min(xs) >= 100:  # logspace/logrange grids read best on a log axis
        ax.set_xscale("log")
    return xs, True


def _pass_rate(plt: Any, result: SweepResult, path: Path) -> Path:
    params = varying(result)
    fig, axes = plt.subplots(1, len(params), figsize=(5.5 * len(params), 4), squeeze=False)
    for ax, param in zip(axes[0], params, strict=True):
        xs, numeric = _axis(ax, param)
        groups = _groups(result, param)
        rates = [sum(r["passed"] for r in rows) / len(rows) if rows else math.nan for _, rows in groups]
        intervals = [wilson(sum(r["passed"] for r in rows), len(rows)) for _, rows in groups]
        low = [max(0.0, r - lo) if not math.isnan(r) else 0 for r, (lo, _) in zip(rates, intervals, strict=True)]
        high = [max(0.0, hi - r) if not math.isnan(r) else 0 for r, (_, hi) in zip(rates, intervals, strict=True)]
        ax.errorbar(xs, [100 * r for r in rates], yerr=[[100 * v for v in low], [100 * v for v in high]],
                    marker="o", capsize=4, linestyle="-" if numeric else "none", label="passed (95% interval)")
        errors = [sum(1 for r in rows if r["error"]) / len(rows) if rows else 0 for _, rows in groups]
        if any(errors):
            ax.plot(xs, [100 * e for e in errors], "x--" if numeric else "x", color="tab:red", label="errored")
        ax.set_ylim(-5, 105)
        ax.set_xlabel(param.path)
        ax.set_ylabel("runs passing every expectation (%)")
        ax.set_title(f"Pass rate vs {param.path}")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    return _save(plt, fig, path)


def _times(plt: Any, result: SweepResult, path: Path) -> Path:
    """Cumulative share of runs in which the fault was stopped (alerted) within t: where the curve
    levels off below 100% is the share where it never was, which a histogram would hide."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axis = varying(result)[:1]
    first = axis[0] if axis and len(axis[0].values) <= 8 else None
    series = [(f"{first.path}={label}", rows) for label, rows in _groups(result, first)] if first else [
        ("all runs", result.rows)]
    for ax, column, what, state in ((axes[0], "first_stop_s", "first halt or refusal", "stopped"),
                                    (axes[1], "first_alert_s", "first alert", "alerted")):
        top = max(_numbers(result.rows, column), default=0.0)
        right = top * 1.1 if top > 0 else 1.0
        for label, rows in series:
            done = [r for r in rows if not r["error"]]
            data = sorted(_numbers(done, column))
            if not done:
                continue
            xs = [0.0] + [x for x in data for _ in (0, 1)] + [right]
            ys = [0.0] + [100 * k / len(done) for i in range(len(data)) for k in (i, i + 1)] + [
                100 * len(data) / len(done)]
            ax.plot(xs, ys, linewidth=1.8, label=f"{label} ({len(done) - len(data)} of {len(done)} never)")
        ax.set_xlim(-0.02 * right, right)
        ax.set_ylim(-3, 103)
        ax.set_xlabel(f"seconds from the fault to the {what}")
        ax.set_ylabel(f"runs {state} by then (%)")
        ax.set_title(f"Time to {what}")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    return _save(plt, fig, path)


def _damage(plt: Any, result: SweepResult, path: Path) -> Path:
    params, firms = varying(result), result.sweep.firms
    measures = (("venue_orders", "orders that reached the venue"), ("pnl", "P&L"), ("max_pos", "largest |position|"))
    done = [r for r in result.rows if not r["error"]]
    hurt = [f for f in firms if any(float(r.get(f"{m}_{f}") or 0) for r in done for m, _ in measures)]
    fig, axes = plt.subplots(len(measures), len(params), figsize=(5.5 * len(params), 3.2 * len(measures)),
                             squeeze=False)
    for col, param in enumerate(params):
        for row_index, (measure, what) in enumerate(measures):
            ax = axes[row_index][col]
            xs, numeric = _axis(ax, param)
            for firm in hurt or firms[:1]:
                medians, lows, highs = [], [], []
                for _, rows in _groups(result, param):
                    values = _numbers((r for r in rows if not r["error"]), f"{measure}_{firm}") or [math.nan]
                    medians.append(statistics.median(values))
                    lows.append(min(values))
                    highs.append(max(values))
                label = firm if hurt else "every firm: none"
                if numeric:
                    ax.plot(xs, medians, "o-", label=label)
                    ax.fill_between(xs, lows, highs, alpha=0.15)
                else:  # categories: no line between them, min-max as error bars
                    ax.errorbar(xs, medians, yerr=[[m - lo for m, lo in zip(medians, lows, strict=True)],
                                                   [hi - m for m, hi in zip(medians, highs, strict=True)]],
                                marker="o", linestyle="none", capsize=4, label=label)
            ax.set_title(f"{what} vs {param.path}", fontsize="medium")
            ax.set_xlabel(param.path)
            ax.set_ylabel(f"{what} (median, min-max)")
            ax.grid(alpha=0.3)
            ax.legend(loc="best", fontsize="small")
    return _save(plt, fig, path)


def _heatmap(plt: Any, result: SweepResult, path: Path) -> Path:
    a, b = varying(result)[:2]
    grid = []
    for label_a in a.labels:
        line = []
        for label_b in b.labels:
            rows = [r for r in result.rows if r.get(a.path) == label_a and r.get(b.path) == label_b]
            line.append(100 * sum(r["passed"] for r in rows) / len(rows) if rows else math.nan)
        grid.append(line)
    fig, ax = plt.subplots(figsize=(1.2 * len(b.labels) + 3, 0.6 * len(a.labels) + 2))
    image = ax.imshow(grid, vmin=0, vmax=100, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(b.labels)), b.labels, rotation=30 if len(b.labels) > 4 else 0)
    ax.set_yticks(range(len(a.labels)), a.labels)
    ax.set_xlabel(b.path)
    ax.set_ylabel(a.path)
    for i, line in enumerate(grid):
        for j, value in enumerate(line):
            if not math.isnan(value):
                ax.text(j, i, f"{value:.0f}%", ha="center", va="center", fontsize="small")
    fig.colorbar(image, ax=ax, label="pass rate (%)")
    ax.set_title("Pass rate")
    return _save(plt, fig, path)


def write_plots(result: SweepResult) -> list[Path]:
    """The PNGs (ImportError if matplotlib is not installed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, files = result.out, []
    axes = varying(result)
    if result.rows and axes:
        files.append(_pass_rate(plt, result, out / "pass_rate.png"))
    if result.rows:
        files.append(_times(plt, result, out / "time_to_stop.png"))
    if result.rows and axes and result.sweep.firms:
        files.append(_damage(plt, result, out / "damage.png"))
    if result.rows and len(axes) >= 2:
        files.append(_heatmap(plt, result, out / "pass_rate_heatmap.png"))
    return files


_CAPTIONS = {
    "pass_rate.png": "Pass rate (every expectation held) against each parameter, the others pooled; bars are "
                     "95% Wilson intervals.",
    "pass_rate_heatmap.png": "Pass rate over the first two parameters.",
    "time_to_stop.png": "How long the fault lived: share of runs with a halt or refusal (left) and an alert "
                        "(right) within t seconds of the first injection; a curve that levels off below 100% "
                        "means that share never saw one.",
    "damage.png": "What got through: orders that reached the venue, P&L and largest position per firm "
                  "(median line, min-max band).",
}


def write_report(result: SweepResult, command: str = "") -> tuple[list[Path], str]:
    """Write the PNGs and report.html; returns the files and a note (why plots are missing, if they are)."""
    note = ""
    try:
        images = write_plots(result)
    except ImportError:
        images = []
        note = ("plots skipped: matplotlib is not installed (pip install 'marketdrill[sweep]'); "
                "report.html has the tables only")
    page = result.out / "report.html"
    page.write_text(_html(result, images, command, note), encoding="utf-8")
    return images + [page], note


def _html(result: SweepResult, images: list[Path], command: str, note: str) -> str:
    sweep, esc = result.sweep, html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in _HEAD)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _cells(line)) + "</tr>"
                   for line in summary_rows(result))
    figures = "".join(
        f'<figure><img alt="{esc(p.name)}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"<figcaption>{esc(_CAPTIONS.get(p.name, p.name))}</figcaption></figure>" for p in images)
    errors = [r for r in result.rows if r["error"]]
    error_list = ("<h2>Errors</h2><ul>" + "".join(f"<li>run {r['run']} (seed {r['seed']}): {esc(r['error'])}</li>"
                                                  for r in errors[:20]) + "</ul>") if errors else ""
    params = "".join(f"<li><code>{esc(p.path)}</code> = {esc(', '.join(p.labels))}</li>" for p in sweep.params)
    passed = sum(1 for r in result.rows if r["passed"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep: {esc(sweep.name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}
td:nth-child(-n+2),th{{text-align:left}}img{{max-width:100%}}figure{{margin:1.5em 0}}
figcaption{{color:#555}}.note{{color:#a60}}</style></head><body>
<h1>Sweep: {esc(sweep.name)}</h1>
<p>{len(result.rows)} runs: {passed} passed, {len(result.rows) - passed - len(errors)} failed, {len(errors)} errors.
{len(sweep.seeds)} seeds per combination from <code>SeedSequence({sweep.root_seed}).spawn({len(sweep.seeds)})</code>.
Scenario <code>{esc(sweep.source)}</code>.</p>
<ul>{params}</ul>
{f'<p><code>{esc(command)}</code></p>' if command else ''}
{f'<p class="note">{esc(note)}</p>' if note else ''}
<h2>Pass rate per parameter value</h2>
<table><tr>{head}</tr>{body}</table>
{figures}
{error_list}
<p>Every run: <a href="results.csv">results.csv</a>, one row per run.  To replay run N:
<code>marketdrill sweep ... --show N &gt; variant.toml</code>, then <code>marketdrill run variant.toml --seed SEED</code>
(same journal hash as the sweep's row).</p>
</body></html>
"""


def _save(plt: Any, fig: Any, path: Path) -> Path:
    """Lay out, write as PNG and free one figure (every plot ends this way)."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
