"""Monitors: each rule fires at its threshold (not below), carries its causes, and resolves."""

from __future__ import annotations

from types import SimpleNamespace

from engines.monitors import MonitorConfig, Monitors, S
from engines.order_engine import Fill, OrderHandle, OrderUpdate


class FakeEngine:
    """The slice of an OrderEngine the monitors read, with a settable reference price."""

    def __init__(self, reference: int) -> None:
        self.name = "F"
        self._reference = reference
        self.orders: dict = {}
        self.instruments = SimpleNamespace(get=lambda symbol: SimpleNamespace(to_price=lambda t: f"{t / 100:.2f}"))
        self.risk = SimpleNamespace(state=lambda scope=None: "active", limits=SimpleNamespace(max_position=None),
                                    why=lambda scope=None: None)
        self._unacked: list = []

    def subscribe(self, callback) -> None:
        self.callback = callback

    def reference_price(self, symbol):
        return (self._reference, 0)

    def unacked(self, older_than_ns=0):
        return self._unacked

    def position(self, symbol):
        return 0


def _monitors(**config):
    fired = []
    monitors = Monitors(MonitorConfig(**config), emit=fired.append, venue="V")
    engine = FakeEngine(10_000)
    monitors.watch(engine)
    return monitors, engine, fired


def _fill(side: int, price: int, t: int = 0) -> OrderUpdate:
    handle = OrderHandle("c1", "MM1", "PRB", side, 5, price, "limit", "day")
    return OrderUpdate("fill", handle, t, Fill("c1", "MM1", "PRB", side, 5, price, "e1", t))


def test_fill_too_good_fires_at_the_threshold_and_not_one_tick_below():
    monitors, engine, fired = _monitors(fill_too_good_ticks=4, fill_too_good_bps=15)
    threshold = max(4, 10_000 * 15 // 10_000)  # 15 ticks at a fair value of 10,000 ticks
    engine.callback(_fill(1, 10_000 + threshold - 1))  # bought 14 ticks above fair: not yet
    assert fired == []
    engine.callback(_fill(1, 10_000 + threshold))
    [alert] = fired
    assert alert.name == "FillTooGood" and alert.severity == "page"
    assert "through fair value" in alert.causes[0] and "-15 ticks" in alert.symptom


def test_a_fill_far_on_our_side_of_fair_value_is_too_good_to_be_true():
    monitors, engine, fired = _monitors()
    engine.callback(_fill(2, 10_500))  # sold 500 ticks above fair
    assert fired and "too good to be true" in fired[0].causes[0]


def test_fill_too_good_resolves_after_a_quiet_period():
    monitors, engine, fired = _monitors(quiet_resolve_ns=60 * S)
    engine.callback(_fill(1, 10_100, t=0))
    monitors.tick(59 * S)
    assert len(fired) == 1
    monitors.tick(60 * S)
    assert len(fired) == 2 and fired[1].ends_at_ns == 60 * S


def test_stale_market_data_is_a_ticket_with_the_last_update_as_cause_and_resolves_on_the_next():
    monitors, engine, fired = _monitors(stale_feed_ns=5 * S)
    monitors.on_market_data("PRB", 1 * S, 9_999, 10_001)
    monitors.tick(1 * S + 5 * S - 1)
    assert fired == []
    monitors.tick(6 * S)
    [alert] = fired
    assert alert.name == "StaleMarketData" and alert.severity == "ticket" and alert.lens == "technical"
    assert "stale since" in alert.causes[0]
    monitors.on_market_data("PRB", 7 * S, 9_999, 10_001)
    assert fired[-1].ends_at_ns == 7 * S


def test_a_crossed_feed_raises_crossed_market_and_clears_when_uncrossed():
    monitors, engine, fired = _monitors()
    monitors.on_market_data("PRB", 1 * S, 10_002, 10_001)
    monitors.tick(1 * S)
    assert [a.name for a in fired] == ["CrossedMarket"]
    monitors.on_market_data("PRB", 2 * S, 10_000, 10_001)
    assert fired[-1].ends_at_ns == 2 * S


def test_unacked_orders_page_once_while_they_last():
    monitors, engine, fired = _monitors(unacked_ns=2 * S)
    engine._unacked = [SimpleNamespace(sent_ns=0)]
    monitors.tick(3 * S)
    monitors.tick(4 * S)
    assert [a.name for a in fired] == ["UnackedOrders"]
    engine._unacked = []
    monitors.tick(5 * S)
    assert fired[-1].ends_at_ns == 5 * S


def test_a_reject_storm_says_the_strategy_cannot_trade_with_the_last_refusal_as_cause():
    monitors, engine, fired = _monitors(reject_storm=(3, 10 * S))
    handle = OrderHandle("c1", "MM1", "PRB", 1, 5, 10_000, "limit", "day")
    for t in range(3):
        engine.callback(OrderUpdate("denied", handle, t * S, None, "price_collar", "too far"))
    [alert] = fired
    assert alert.name == "StrategyCannotTrade" and "price_collar" in alert.causes[0]


def test_a_venue_halt_pages_and_resolves_when_continuous_again():
    monitors, engine, fired = _monitors()
    monitors.on_venue_status("PRB", "halted", "news pending", 1 * S)
    monitors.on_venue_status("PRB", "continuous", "re-opened", 9 * S)
    assert [a.name for a in fired] == ["VenueHalt", "VenueHalt"] and fired[1].ends_at_ns == 9 * S


def test_a_dropped_order_entry_session_is_a_ticket_after_the_grace_period_and_resolves_on_logon():
    monitors, engine, fired = _monitors(session_down_grace_ns=1 * S)
    engine.session = SimpleNamespace(logged_on=True)
    monitors.tick(1 * S)
    engine.session.logged_on = False
    monitors.tick(2 * S)
    monitors.tick(3 * S - 1)
    assert fired == []
    monitors.tick(3 * S)
    [alert] = fired
    assert alert.name == "SessionDown" and alert.severity == "ticket" and alert.lens == "technical"
    engine.session.logged_on = True
    monitors.tick(4 * S)
    assert fired[-1].ends_at_ns == 4 * S
