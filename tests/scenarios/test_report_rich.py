"""The rich console report: a real run rendered to a recording console, and when rich is used at all."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.console import Console

from scenarios.expect import Verdict, judge
from scenarios.report import Outcome, format_outcome, print_outcome, render_outcome, use_rich
from scenarios.runner import TimelineEntry, run_scenario
from scenarios.spec import load_scenario
from scenarios.suite import LIBRARY, RichProgress


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    """venue-halt from the library: three expectations, venue timeline entries and one VenueHalt page."""
    scenario = load_scenario(LIBRARY / "venue-halt.toml")
    record = run_scenario(scenario)
    return Outcome(scenario.name, scenario.seed, record, judge(record))


def _text(renderable, width: int = 120) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_rich_report_shows_every_verdict_with_its_mark(outcome):
    text = _text(render_outcome(outcome))
    assert text.startswith(f"PASS  venue-halt  (seed {outcome.seed})")
    assert outcome.record.scenario.summary in text
    for verdict in outcome.verdicts:
        assert verdict.label in text
    assert text.count("✓") == len(outcome.verdicts) and "✗" not in text
    assert "VenueHalt fired" in text and "no other pages" in text


def test_the_timeline_is_a_table_of_time_layer_and_text(outcome):
    text = _text(render_outcome(outcome))
    lines = text.splitlines()
    header = next(line for line in lines if "time" in line and "layer" in line and "text" in line)
    assert header.split() == ["time", "layer", "text"]
    halted = next(line for line in lines if "venue halted PRB: news pending" in line)
    assert halted.split()[:2] == ["01:00.001", "venue"]


def test_each_page_is_shown_with_its_symptom_labels_and_causes(outcome):
    [page] = outcome.record.pages()
    alert = page.alerts[0]
    text = _text(render_outcome(outcome))
    assert f"PAGE {alert.name} at 01:02.001" in text
    assert alert.symptom in text and "symbol=PRB" in text
    assert "causes:" in text and f"• {alert.causes[0]}" in text


def test_the_damage_panel_carries_positions_and_the_journal_hash(outcome):
    text = _text(render_outcome(outcome))
    assert "damage" in text and "FIRM: position flat; P&L +0.00" in text
    assert f"journal hash {outcome.record.journal_hash}" in text


def test_a_failed_expectation_gets_a_cross_and_the_status_fail(outcome):
    first = outcome.verdicts[0]
    failed = dataclasses.replace(outcome, verdicts=[Verdict(first.step, False, "never fired"), *outcome.verdicts[1:]])
    text = _text(render_outcome(failed))
    assert text.startswith("FAIL  venue-halt") and text.count("✗") == 1 and "never fired" in text


def test_text_from_a_run_is_never_read_as_markup(outcome):
    record = dataclasses.replace(outcome.record, timeline=[
        TimelineEntry(outcome.record.start_ns, "refused", "order refused: [price_collar] [bold]too far[/bold]", "engine")])
    text = _text(render_outcome(dataclasses.replace(outcome, record=record)))
    assert "[price_collar] [bold]too far[/bold]" in text


def test_the_timeline_is_cut_at_the_limit_with_the_rest_counted(outcome):
    text = _text(render_outcome(outcome, timeline_limit=2))
    assert f"... {len(outcome.record.timeline) - 2} more events in the journal" in text


def test_plain_printing_is_exactly_the_plain_report(outcome, capsys):
    print_outcome(outcome, styled=False)
    assert capsys.readouterr().out == format_outcome(outcome) + "\n\n"


def test_styled_printing_goes_to_the_given_console(outcome):
    console = Console(record=True, width=120, color_system=None)
    print_outcome(outcome, styled=True, console=console)
    assert "PAGE VenueHalt" in console.export_text()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rich_only_on_a_terminal_without_no_color_or_plain(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_rich(stream=_Tty())
    assert not use_rich(stream=io.StringIO())
    assert not use_rich(plain=True, stream=_Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_rich(stream=_Tty())
    monkeypatch.setenv("NO_COLOR", "")   # no-color.org: an empty value does not count
    assert use_rich(stream=_Tty())


def test_the_suite_bar_shows_the_scenario_count_and_ends_as_suite():
    console = Console(record=True, width=100, color_system=None, force_terminal=True)
    with RichProgress(2, console=console) as bar:
        bar.starting(1, 2, "cancel-storm")
        bar(1, 2, "cancel-storm", 0.5)
        bar.starting(2, 2, "venue-halt")
        bar(2, 2, "venue-halt", 1.0)
    text = console.export_text()
    assert "2/2" in text and "suite" in text
