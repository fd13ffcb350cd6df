"""Reports a person wants to read: console text (plain or rich), JSON, and JUnit XML for CI.

Per scenario: a verdict per expectation, the timeline of key events (fault injected, first bad
order, which layer caught it, halts, pages with their causes, what changed), and the damage
(positions, P&L, orders that reached the venue).  JUnit XML has one testcase per
(scenario, seed) with the seed, git revision and simulated duration as properties; ``failure``
means an expectation did not hold, ``error`` means the harness broke.

The console report has two renderings of the same content: :func:`format_outcome` (plain text,
stable byte for byte: tests, JUnit ``system-out``, pipes and logs read it) and
:func:`render_outcome` (rich: a verdict table with marks and colours, the timeline as a table, a
panel per page with its cause metadata, a damage panel).  :func:`use_rich` picks rich only on a
terminal, without ``NO_COLOR`` (https://no-color.org) and without ``--plain``.  rich is imported
only when rendering with it, so plain runs and sweep workers do not pay for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scenarios.expect import Verdict
from scenarios.runner import RunRecord

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


@dataclass
class Outcome:
    """A judged run (or a run that could not complete: ``error`` says why)."""

    name: str
    seed: int
    record: RunRecord | None
    verdicts: list[Verdict] = field(default_factory=list)
    error: str = ""
    source: str = ""

    @property
    def passed(self) -> bool:
        """True if the run completed and every expectation held."""
        return not self.error and all(v.passed for v in self.verdicts)


def _t(record: RunRecord, ns: int) -> str:
    delta = ns - record.start_ns
    minutes, rest = divmod(delta, 60_000_000_000)
    return f"{minutes:02d}:{rest / 1e9:06.3f}"


def damage(record: RunRecord) -> list[str]:
    """Lines describing positions, P&L and orders that reached the venue, per firm."""
    lines = []
    for name, engine in record.engines.items():
        symbols = sorted({h.symbol for h in engine.orders.values()})
        positions = ", ".join(f"{s} {engine.position(s):+,}" for s in symbols) or "flat"
        pnl = engine.realized_pnl() + engine.unrealized_pnl()
        arrived = sum(1 for a in record.arrivals if a.firm == name)
        refused = sum(1 for r in record.refusals if r.firm == name)
        lines.append(f"{name}: position {positions}; P&L {pnl:+,.2f}; {engine.sent:,} orders sent, "
                     f"{arrived:,} reached the venue, {refused:,} refused")
    return lines


def clock_note(record: RunRecord) -> str:
    """How the run met the clock, when not on the virtual clock: ``, over TCP on the wall clock x10 ...``."""
    if record.reproducible:
        return ""
    how = "over TCP" if record.transport == "tcp" else "in memory"
    return f", {how} on the wall clock x{record.speed:g} (timing is the machine's: not reproducible)"


def format_outcome(outcome: Outcome, *, timeline_limit: int = 25) -> str:
    """The console report of one scenario run."""
    status = "PASS" if outcome.passed else ("ERROR" if outcome.error else "FAIL")
    lines = [f"{status}  {outcome.name}  (seed {outcome.seed})"]
    record = outcome.record
    if record is not None:
        simulated = (record.end_ns - record.start_ns) / 1e9
        lines[0] += f"  {simulated:,.0f}s simulated in {record.wall_s:.2f}s{clock_note(record)}"
        if record.scenario.summary:
            lines.append(f"  {record.scenario.summary}")
    if outcome.error:
        lines.append(f"  error: {outcome.error}")
    for verdict in outcome.verdicts:
        mark = "ok  " if verdict.passed else "FAIL"
        lines.append(f"  [{mark}] {verdict.label}: {verdict.text}")
    if record is not None:
        if record.timeline:
            lines.append("  timeline:")
            shown = record.timeline[:timeline_limit]
            for entry in shown:
                lines.append(f"    {_t(record, entry.time_ns)}  {entry.text}")
            if len(record.timeline) > len(shown):
                lines.append(f"    ... {len(record.timeline) - len(shown)} more events in the journal")
        lines.append("  damage:")
        lines.extend(f"    {line}" for line in damage(record))
        lines.append(f"  journal hash {record.journal_hash}")
    return "\n".join(lines)


def use_rich(plain: bool = False, stream: TextIO | None = None) -> bool:
    """True when the console report should be rich: ``stream`` (stdout) is a terminal, no NO_COLOR, no --plain."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not plain and not os.environ.get("NO_COLOR") and isatty is not None and isatty()


_STATUS_STYLE = {"PASS": "bold green", "FAIL": "bold red", "ERROR": "bold magenta"}
_LAYER_STYLE = {"page": "bold red", "refused": "yellow", "venue": "cyan", "engine": "yellow", "strategy": "yellow",
                "inject": "magenta"}


def render_outcome(outcome: Outcome, *, timeline_limit: int = 25) -> RenderableType:
    """The console report of one scenario run as rich renderables: the content of :func:`format_outcome`."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    # Every string from a run goes in as Text, never as markup: "[price_collar] ..." is data.
    status = "PASS" if outcome.passed else ("ERROR" if outcome.error else "FAIL")
    header = Text.assemble((status, _STATUS_STYLE[status]), "  ", (outcome.name, "bold"),
                           (f"  (seed {outcome.seed})", "dim"))
    parts: list[Any] = [header]
    record = outcome.record
    if record is not None:
        simulated = (record.end_ns - record.start_ns) / 1e9
        header.append(f"  {simulated:,.0f}s simulated in {record.wall_s:.2f}s{clock_note(record)}", style="dim")
        if record.scenario.summary:
            parts.append(Text(f"  {record.scenario.summary}", style="italic"))
    if outcome.error:
        parts.append(Text(f"  error: {outcome.error}", style="bold red"))
    if outcome.verdicts:
        verdicts = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), expand=False)
        verdicts.add_column("", no_wrap=True)
        verdicts.add_column("expectation", style="bold", no_wrap=True)
        verdicts.add_column("verdict")
        for verdict in outcome.verdicts:
            mark = Text("✓", style="bold green") if verdict.passed else Text("✗", style="bold red")
            verdicts.add_row(mark, Text(verdict.label), Text(verdict.text, style="" if verdict.passed else "red"))
        parts.append(verdicts)
    if record is not None:
        if record.timeline:
            shown = record.timeline[:timeline_limit]
            hidden = len(record.timeline) - len(shown)
            timeline = Table(title="timeline", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                             show_edge=False, padding=(0, 1),
                             caption=f"... {hidden} more events in the journal" if hidden else None,
                             caption_justify="left")
            timeline.add_column("time", style="dim", no_wrap=True)
            timeline.add_column("layer", no_wrap=True)
            timeline.add_column("text")
            for entry in shown:
                layer = entry.layer or entry.kind
                style = _LAYER_STYLE.get(entry.kind, _LAYER_STYLE.get(layer, ""))
                timeline.add_row(_t(record, entry.time_ns), Text(layer, style=style),
                                 Text(entry.text, style="bold" if entry.kind == "page" else ""))
            parts.append(timeline)
        for page in record.pages():
            parts.append(_page_panel(record, page))
        damage_lines = Text("\n").join(Text(line) for line in damage(record))
        parts.append(Panel(damage_lines, title="damage", title_align="left", box=box.ROUNDED, expand=False,
                           subtitle=f"journal hash {record.journal_hash}", subtitle_align="right"))
    return Group(*parts)


def _page_panel(record: RunRecord, page: Any) -> Any:
    """One page as a panel: the symptom, its labels, causes, what changed and what it grouped."""
    from rich import box
    from rich.panel import Panel
    from rich.text import Text

    alert = page.firing[0] if page.firing else page.alerts[0]
    body = Text()
    body.append(alert.symptom, style="bold")
    where = ", ".join(f"{k}={alert.labels[k]}" for k in ("firm", "strategy", "symbol", "venue") if k in alert.labels)
    if where:
        body.append(f"\n{where}", style="dim")
    for title, items in (("causes", list(alert.causes)),
                         ("what changed", [c.describe(page.time_ns) for c in alert.changes]),
                         ("grouped with", sorted({a.name for a in page.alerts} - {alert.name}))):
        if items:
            body.append(f"\n{title}:", style="bold")
            for item in items:
                body.append(f"\n  • {item}")
    return Panel(body, title=f"PAGE {alert.name} at {_t(record, page.time_ns)}", title_align="left",
                 border_style="red", box=box.ROUNDED, expand=False)


def print_outcome(outcome: Outcome, *, styled: bool = False, timeline_limit: int = 25,
                  console: Console | None = None) -> None:
    """Print one run's report and a blank line: rich if ``styled``, else exactly :func:`format_outcome`."""
    if not styled:
        print(format_outcome(outcome, timeline_limit=timeline_limit))
        print()
        return
    if console is None:
        from rich.console import Console

        console = Console()
    console.print(render_outcome(outcome, timeline_limit=timeline_limit))
    console.print()


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """A JSON-able dict of one run."""
    record = outcome.record
    data: dict[str, Any] = {"scenario": outcome.name, "seed": outcome.seed, "passed": outcome.passed,
                            "error": outcome.error or None, "source": outcome.source,
                            "expectations": [{"step": v.label, "passed": v.passed, "text": v.text}
                                             for v in outcome.verdicts]}
    if record is not None:
        data.update({
            "journal_hash": record.journal_hash,
            "simulated_ns": record.end_ns - record.start_ns,
            "wall_s": round(record.wall_s, 3),
            "transport": record.transport,
            "clock": "virtual" if record.reproducible else f"wall x{record.speed:g}",
            "timeline": [{"t_ns": e.time_ns - record.start_ns, "kind": e.kind, "text": e.text, "layer": e.layer,
                          "firm": e.firm} for e in record.timeline],
            "pages": [{"t_ns": n.time_ns - record.start_ns, "alerts": [a.name for a in n.alerts],
                       "symptom": n.alerts[0].symptom if n.alerts else "",
                       "causes": list(n.alerts[0].causes) if n.alerts else []} for n in record.pages()],
            "damage": damage(record),
            "orders_reached_venue": len(record.arrivals),
        })
    return data


def write_json(outcomes: list[Outcome], path: str | Path) -> None:
    """Write every outcome as one JSON document."""
    Path(path).write_text(json.dumps({"runs": [outcome_json(o) for o in outcomes]}, indent=2) + "\n",
                          encoding="utf-8")


def git_revision() -> str:
    """The current git revision (or "unknown" outside a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def write_junit(outcomes: list[Outcome], path: str | Path, suite_name: str = "marketdrill") -> None:
    """JUnit XML: one testcase per (scenario, seed)."""
    revision = git_revision()
    failures = sum(1 for o in outcomes if not o.passed and not o.error)
    errors = sum(1 for o in outcomes if o.error)
    total_time = sum(o.record.wall_s for o in outcomes if o.record is not None)
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(outcomes)), failures=str(failures),
                       errors=str(errors), time=f"{total_time:.3f}")
    for outcome in outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{outcome.name}",
                             name=f"{outcome.name}[seed={outcome.seed}]",
                             time=f"{outcome.record.wall_s:.3f}" if outcome.record else "0")
        props = ET.SubElement(case, "properties")
        simulated = (outcome.record.end_ns - outcome.record.start_ns) if outcome.record else 0
        for key, value in (("seed", outcome.seed), ("git_revision", revision), ("simulated_ns", simulated),
                           ("journal_hash", outcome.record.journal_hash if outcome.record else "")):
            ET.SubElement(props, "property", name=key, value=str(value))
        if outcome.error:
            ET.SubElement(case, "error", message=outcome.error).text = outcome.error
        else:
            failed = [v for v in outcome.verdicts if not v.passed]
            if failed:
                ET.SubElement(case, "failure", message=failed[0].text).text = "\n".join(
                    f"{v.label}: {v.text}" for v in failed)
        ET.SubElement(case, "system-out").text = format_outcome(outcome)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
