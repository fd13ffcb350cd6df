"""Trading phases: the transition table, order handling per phase, halts, pauses and the daily schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.clock import VirtualClock, seconds
from sim.exchange import Exchange
from sim.instruments import Instrument, InstrumentTable
from sim.phases import TRANSITIONS, OrderPolicy, Phase, PhaseConfig, PhaseError, Phases
from sim.protections import Protections, ProtectionsConfig
from sim.venue_config import VenueConfigError, load_venue_config, venue_config_from_dict
from sim.venue_events import ExecReport, ExecType, OrdType, StatusChange, TimeInForce

ROOT = Path(__file__).resolve().parents[2]


class Rig:
    """An exchange with phases and protections on a virtual clock; emitted events are collected."""

    def __init__(self, phases: dict | None = None, protections: dict | None = None) -> None:
        self.clock = VirtualClock()  # 2026-01-02 09:30:00 UTC
        self.exchange = Exchange(InstrumentTable([Instrument.create("PRB", "0.01", "100.00")]),
                                 now_ns=self.clock.now_ns)
        self.phases = Phases(self.exchange, PhaseConfig.from_table(phases or {}), now_ns=self.clock.now_ns,
                             schedule=lambda delay, fn: self.clock.call_later(delay, fn))
        self.emitted: list = []
        self.phases.emit = self.emitted.extend
        self.protections = Protections(ProtectionsConfig.from_table(protections or {}), self.phases,
                                       now_ns=self.clock.now_ns)
        self.exchange.guard = self.protections
        self._n = 0

    def order(self, firm: str, side: int, qty: int, price: int | None, tif=TimeInForce.DAY) -> list:
        self._n += 1
        return self.exchange.new_order(firm=firm, owner=firm, cl_ord_id=f"{firm}{self._n}", symbol="PRB",
                                       side=side, qty=qty, ord_type=OrdType.LIMIT if price else OrdType.MARKET,
                                       price=price, time_in_force=tif if price else None)


def _statuses(events: list) -> list[tuple[str, str]]:
    return [(e.phase, e.reason) for e in events if isinstance(e, StatusChange)]


def test_without_a_phases_table_every_instrument_is_continuous_and_no_timer_is_armed():
    rig = Rig()
    rig.phases.start()
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS
    assert rig.clock.pending_timers() == 0


def test_the_probe_config_stays_continuously_open_with_every_control_off():
    config = load_venue_config(ROOT / "examples" / "venue-probe.toml")
    assert config.phase_config == PhaseConfig()
    assert config.protection_config == ProtectionsConfig()


def test_every_phase_has_a_row_in_the_transition_table_and_continuous_is_reached_only_by_auction():
    assert set(TRANSITIONS) == set(Phase)
    assert [p for p, targets in TRANSITIONS.items() if Phase.CONTINUOUS in targets] == [Phase.AUCTION]


def test_an_illegal_transition_raises_and_leaves_the_phase_unchanged():
    rig = Rig()
    with pytest.raises(PhaseError, match="continuous to pre_open"):
        rig.phases.transition("PRB", Phase.PRE_OPEN, "test", "")
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS


def test_a_halt_emits_a_status_change_with_reason_and_text_and_rejects_new_orders():
    rig = Rig()
    events = rig.phases.halt("PRB", "regulatory_halt", "PRB halted: news pending")
    assert events[0] == StatusChange("PRB", "halted", "regulatory_halt", "PRB halted: news pending")
    report = rig.order("A", 1, 5, 9990)[0]
    assert report.exec_type == ExecType.REJECTED
    assert (report.reject.code, report.reject.fix_reason) == ("instrument_halted", 2)
    assert "halted" in report.reject.text


def test_cancels_are_accepted_while_halted():
    rig = Rig()
    rig.order("A", 1, 5, 9990)
    rig.phases.halt("PRB")
    events = rig.exchange.cancel(firm="A", owner="A", cl_ord_id="c", orig_cl_ord_id="A1")
    assert [e.exec_type for e in events] == [ExecType.CANCELED]


def test_halted_with_hold_keeps_new_orders_for_the_reopening_auction():
    rig = Rig(phases={"halted_orders": "hold"})
    rig.phases.halt("PRB")
    assert rig.phases.policy("PRB") == OrderPolicy.COLLECT
    rig.order("A", 1, 5, 10010)
    assert rig.order("B", 2, 5, 9990)[0].exec_type == ExecType.NEW  # no trade during the halt
    events = rig.phases.resume("PRB")
    assert _statuses(events) == [("auction", "resume"), ("continuous", "resume_done")]
    trades = [e for e in events if isinstance(e, ExecReport) and e.exec_type == ExecType.TRADE]
    assert [(e.firm, e.last_px) for e in trades] == [("A", 10000), ("B", 10000)]  # nearest the reference


def test_a_pause_reopens_by_auction_exactly_when_its_duration_ends():
    rig = Rig()
    rig.phases.pause("PRB", seconds(5), "stop_logic", "paused")
    rig.clock.advance(seconds(5) - 1)
    assert rig.phases.phase("PRB") == Phase.PAUSED and rig.emitted == []
    rig.clock.advance(1)
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS
    assert _statuses(rig.emitted) == [("auction", "stop_logic_reopen"), ("continuous", "stop_logic_reopen_done")]


def test_a_halt_during_a_pause_cancels_the_scheduled_reopening():
    rig = Rig()
    rig.phases.pause("PRB", seconds(5), "stop_logic", "paused")
    rig.phases.halt("PRB")
    rig.clock.advance(seconds(60))
    assert rig.phases.phase("PRB") == Phase.HALTED and rig.emitted == []


def test_the_daily_schedule_runs_pre_open_opening_auction_closing_call_and_close():
    rig = Rig(phases={"always_open": False, "pre_open": "09:31:00", "open": "09:35:00",
                      "closing": "15:50:00", "close": "16:00:00"})
    rig.phases.start()
    assert rig.phases.phase("PRB") == Phase.CLOSED  # the clock starts at 09:30:00
    assert rig.order("A", 1, 5, 10010)[0].reject.code == "instrument_closed"
    rig.clock.advance(seconds(60))
    assert rig.phases.phase("PRB") == Phase.PRE_OPEN
    rig.order("A", 1, 5, 10010)
    assert rig.order("B", 2, 3, 9990)[0].exec_type == ExecType.NEW  # collected, not matched
    rig.clock.advance(seconds(240))
    assert rig.phases.phase("PRB") == Phase.CONTINUOUS
    assert rig.phases.reference["PRB"] == 10000
    assert rig.exchange.levels("PRB") == {(1, 10010): 2}
    rig.clock.advance(seconds(6 * 3600 + 15 * 60))
    assert rig.phases.phase("PRB") == Phase.CLOSING
    rig.order("C", 2, 2, 10010)
    rig.clock.advance(seconds(600))
    assert rig.phases.phase("PRB") == Phase.CLOSED
    assert _statuses(rig.emitted) == [
        ("pre_open", "pre_open"), ("auction", "opening_auction"), ("continuous", "opening_auction_done"),
        ("closing", "closing_call"), ("auction", "closing_auction"), ("closed", "closing_auction_done")]
    assert rig.exchange.levels("PRB") == {}  # the closing auction matched the last 2


def test_bands_are_doubled_in_the_open_window_and_normal_after_it():
    rig = Rig(phases={"always_open": False, "pre_open": "09:00:00", "open": "09:30:00", "close": "16:00:00"},
              protections={"price_bands": "reject", "open_window_s": 900})
    instrument = rig.exchange.instruments.get("PRB")
    assert rig.protections.band("PRB", instrument) == (9500, 10500)  # "reject" mode never doubles
    rig.protections.config = ProtectionsConfig.from_table({"price_bands": "luld", "open_window_s": 900})
    assert rig.protections.band("PRB", instrument) == (9000, 11000)
    rig.clock.advance(seconds(900) - 1)
    assert rig.protections.band("PRB", instrument) == (9000, 11000)
    rig.clock.advance(1)
    assert rig.protections.band("PRB", instrument) == (9500, 10500)


@pytest.mark.parametrize("table, message", [
    ({"always_open": "yes"}, "always_open must be true or false"),
    ({"always_open": False, "open": "09:30:00", "close": "16:00:00"}, "pre_open is required"),
    ({"pre_open": "09:00", "open": "9:30", "close": "16:00"}, "open must look like"),
    ({"pre_open": "09:00", "open": "08:30", "close": "16:00"}, "open (08:30) must be after pre_open"),
    ({"halted_orders": "queue"}, "halted_orders must be"),
    ({"opening": "09:30"}, "unknown key 'opening'"),
    ({"always_open": True, "open": "09:30"}, "given with always_open = true"),
])
def test_a_bad_phases_table_is_refused_naming_the_key_and_the_reason(table, message):
    with pytest.raises(PhaseError) as info:
        PhaseConfig.from_table(table)
    assert message in str(info.value)


def test_the_venue_config_error_names_the_file_the_table_and_the_key():
    data = {"instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
            "firm": [{"id": "A"}], "phases": {"paused_orders": "later"}}
    with pytest.raises(VenueConfigError, match=r"^venue.toml: \[phases\] paused_orders must be"):
        venue_config_from_dict(data, source="venue.toml")
