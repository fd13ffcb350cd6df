"""Monitors: each rule fires at its threshold (not below), carries its causes, and resolves."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from engines.alert_config import default_config
from engines.alerts import Alert, AlertRouter
from engines.monitors import MonitorConfig, Monitors, S
from engines.order_engine import STP_CODE, Fill, OrderHandle, OrderUpdate
from engines.risk import RiskEngine, RiskLimits
from scenarios.world import World
from sim.clock import VirtualClock, current_clock, run_virtual
from sim.venue_config import venue_config_from_dict


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


# -- SELF-TRADE --

def _fill_of(strategy: str, side: int, price: int, t: int, qty: int = 5, cl_ord_id: str = "c1") -> OrderUpdate:
    handle = OrderHandle(cl_ord_id, strategy, "PRB", side, qty, price, "limit", "day")
    return OrderUpdate("fill", handle, t, Fill(cl_ord_id, strategy, "PRB", side, qty, price, f"e-{cl_ord_id}", t))


def test_a_buy_and_a_sell_fill_of_one_firm_at_one_price_and_qty_together_are_a_self_trade_ticket():
    monitors, engine, fired = _monitors(fill_too_good_ticks=None)
    engine.callback(_fill_of("MM1", 1, 10_000, 0, cl_ord_id="c2"))   # the aggressor's report comes first
    assert fired == []
    engine.callback(_fill_of("MM1", 2, 10_000, 0, cl_ord_id="c1"))
    [alert] = fired
    assert alert.name == "SelfTrade" and alert.severity == "ticket" and alert.lens == "trading"
    assert alert.symptom == "F/MM1 traded with itself on PRB (wash trade risk)"
    assert alert.labels["firm"] == "F" and alert.labels["strategy"] == "MM1" and alert.labels["symbol"] == "PRB"
    assert "bought and sold 5 PRB @ 100.00" in alert.causes[0] and "buy c2" in alert.causes[0]


def test_two_strategies_of_one_firm_trading_with_each_other_name_both():
    monitors, engine, fired = _monitors(fill_too_good_ticks=None)
    engine.callback(_fill_of("TAKER", 2, 10_000, 0, cl_ord_id="c9"))
    engine.callback(_fill_of("MM1", 1, 10_000, 0))
    [alert] = fired
    assert alert.symptom == "F/TAKER traded with F/MM1 on PRB (wash trade risk)"
    assert alert.labels["strategy"] == "TAKER"


def test_self_trade_pairs_fills_within_the_pair_window_and_not_one_ns_later():
    monitors, engine, fired = _monitors(fill_too_good_ticks=None, self_trade_pair_ns=1_000)
    engine.callback(_fill_of("MM1", 2, 10_000, 0))
    engine.callback(_fill_of("MM1", 1, 10_000, 1_001))
    assert fired == []
    engine.callback(_fill_of("MM1", 2, 10_000, 2_001))   # exactly the window after the unpaired buy
    assert [a.name for a in fired] == ["SelfTrade"]


def test_fills_at_another_price_or_size_or_on_the_same_side_are_not_a_self_trade():
    monitors, engine, fired = _monitors(fill_too_good_ticks=None)
    engine.callback(_fill_of("MM1", 1, 10_000, 0))
    engine.callback(_fill_of("MM1", 2, 10_001, 0))
    engine.callback(_fill_of("MM1", 2, 10_000, 0, qty=4))
    engine.callback(_fill_of("MM1", 1, 10_000, 0))
    assert fired == []


def test_self_trade_severity_is_configurable_and_none_switches_it_off():
    monitors, engine, fired = _monitors(fill_too_good_ticks=None, self_trade=None)
    engine.callback(_fill_of("MM1", 1, 10_000, 0))
    engine.callback(_fill_of("MM1", 2, 10_000, 0))
    assert fired == []
    monitors, engine, fired = _monitors(fill_too_good_ticks=None, self_trade="page")
    engine.callback(_fill_of("MM1", 1, 10_000, 0))
    engine.callback(_fill_of("MM1", 2, 10_000, 0))
    assert [a.severity for a in fired] == ["page"]
    with pytest.raises(ValueError, match="self_trade"):
        MonitorConfig(self_trade="urgent")


def test_the_venues_self_trade_prevention_acting_is_the_same_symptom_prevented():
    monitors, engine, fired = _monitors()
    handle = OrderHandle("c1", "MM1", "PRB", 1, 5, 10_000, "limit", "day")
    engine.callback(OrderUpdate("canceled", handle, 1 * S, None, "", "Cancelled by user"))
    assert fired == []
    engine.callback(OrderUpdate("restated", handle, 2 * S, None, STP_CODE, "Reduced by self-trade prevention"))
    [alert] = fired
    assert alert.name == "SelfTrade" and alert.reason == "self_trade_prevented"
    assert alert.symptom == ("F/MM1 would have traded with itself on PRB: the venue's self-trade prevention "
                             "reduced its order (wash trade risk)")
    assert "Reduced by self-trade prevention" in alert.causes[0]


def test_a_self_trade_resolves_after_a_quiet_period():
    monitors, engine, fired = _monitors(fill_too_good_ticks=None, quiet_resolve_ns=60 * S)
    engine.callback(_fill_of("MM1", 1, 10_000, 0))
    engine.callback(_fill_of("MM1", 2, 10_000, 0))
    monitors.tick(60 * S)
    assert [a.ends_at_ns for a in fired] == [None, 60 * S]


# -- WARNINGS OVERRIDDEN --

def _override(t: int, symbol: str = "PRB", code: str = "price_collar_ticks") -> OrderUpdate:
    handle = OrderHandle("c1", "MM1", symbol, 1, 5, 10_000, "limit", "day")
    return OrderUpdate("warning_overridden", handle, t, None, code, "[price_collar] too far; overridden by ops")


def test_overridden_warnings_raise_a_ticket_at_n_in_the_window_and_not_at_n_minus_one():
    monitors, engine, fired = _monitors(warnings_overridden=(5, 60 * S))
    for i in range(4):
        engine.callback(_override(i * S))
    assert fired == []
    engine.callback(_override(4 * S, code="max_order_qty"))
    [alert] = fired
    assert alert.name == "WarningsOverridden" and alert.severity == "ticket" and alert.lens == "trading"
    assert alert.symptom == "MM1 overrode 5 risk warnings in 60s on PRB"
    assert alert.labels["strategy"] == "MM1" and alert.labels["symbol"] == "PRB"
    assert alert.causes[0] == "overridden: max_order_qty x1, price_collar_ticks x4"
    assert "overridden by ops" in alert.causes[1]


def test_overrides_older_than_the_window_do_not_count():
    monitors, engine, fired = _monitors(warnings_overridden=(3, 10 * S))
    engine.callback(_override(0))
    engine.callback(_override(5 * S))
    engine.callback(_override(10 * S))   # the first is exactly a window old: out
    assert fired == []
    engine.callback(_override(11 * S))
    assert [a.name for a in fired] == ["WarningsOverridden"]


def test_overrides_page_at_the_configured_threshold_as_well_as_the_ticket():
    monitors, engine, fired = _monitors(warnings_overridden=(2, 60 * S), warnings_overridden_page=4)
    for i in range(3):
        engine.callback(_override(i * S))
    assert [a.severity for a in fired] == ["ticket"]
    engine.callback(_override(3 * S))
    assert [a.severity for a in fired] == ["ticket", "page"]
    engine.callback(_override(4 * S))
    assert len(fired) == 2   # both keep firing, neither repeats


def test_overrides_on_several_symbols_count_together_and_carry_no_symbol_label():
    monitors, engine, fired = _monitors(warnings_overridden=(2, 60 * S))
    engine.callback(_override(0, "PRB"))
    engine.callback(_override(1 * S, "XYZ"))
    [alert] = fired
    assert "symbol" not in alert.labels and alert.symptom.endswith("on PRB, XYZ")


def test_overridden_warnings_switch_off_with_none():
    monitors, engine, fired = _monitors(warnings_overridden=None)
    for i in range(10):
        engine.callback(_override(i))
    assert fired == []


# -- ROUTING OF THE NEW RULES (default policy) --

def test_a_page_on_the_symbol_does_not_mute_a_self_trade_ticket_but_mutes_other_tickets():
    clock = SimpleNamespace(now=0)
    router = AlertRouter(default_config(), now_ns=lambda: clock.now)
    labels = {"venue": "V", "symbol": "PRB", "firm": "F", "strategy": "MM1"}
    page = Alert.create("FillTooGood", "page", "fills too good", starts_at_ns=0, labels=labels)
    wash = Alert.create("SelfTrade", "ticket", "wash", starts_at_ns=0, labels=labels)
    overrides = Alert.create("WarningsOverridden", "ticket", "overrides", starts_at_ns=0, labels=labels)
    for alert in (page, wash, overrides):
        router.receive(alert)
    assert router.muted_by(wash, 0) == ()
    assert router.muted_by(overrides, 0)[0].startswith("inhibited by")


def test_an_overrides_page_mutes_the_same_strategys_overrides_ticket():
    clock = SimpleNamespace(now=0)
    router = AlertRouter(default_config(), now_ns=lambda: clock.now)

    def overrides(severity: str, strategy: str, symbol: str) -> Alert:
        return Alert.create("WarningsOverridden", severity, "overrides", starts_at_ns=0,
                            labels={"venue": "V", "firm": "F", "strategy": strategy, "symbol": symbol})

    router.receive(overrides("page", "MM1", "PRB"))
    mine, theirs = overrides("ticket", "MM1", "PRB"), overrides("ticket", "MM2", "XYZ")
    router.receive(mine)
    router.receive(theirs)
    assert router.muted_by(mine, 0)[0].startswith("inhibited by") and router.muted_by(theirs, 0) == ()


def test_self_trade_tickets_of_two_firms_are_two_tickets():
    clock = SimpleNamespace(now=0)
    router = AlertRouter(default_config(), now_ns=lambda: clock.now)
    for firm in ("F", "G"):
        router.receive(Alert.create("SelfTrade", "ticket", "wash", starts_at_ns=0,
                                    labels={"venue": "V", "firm": firm, "strategy": "MM1", "symbol": "PRB"}))
    clock.now = 30 * S
    router.tick(clock.now)
    assert [(n.receiver, [a.labels["firm"] for a in n.alerts]) for n in router.notifications] == [
        ("tickets", ["F"]), ("tickets", ["G"])]


# -- END TO END: the real engine, the venue and FIX in virtual time --

_VENUE = {"venue": {"comp_id": "VENUE"},
          "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
          "firm": [{"id": "A"}, {"id": "B"}]}


def _world(body, limits: RiskLimits | None = None, **config):
    async def main():
        now = current_clock().now_ns
        world = World(venue_config_from_dict(_VENUE), now_ns=now)
        a = world.add_engine("A", "A", risk=RiskEngine(limits or RiskLimits(), clock=now))
        await world.logged_on()
        a.set_reference("PRB", 10_000)
        fired: list[Alert] = []
        monitors = Monitors(MonitorConfig(**config), emit=fired.append, venue="VENUE")
        monitors.watch(a)
        return await body(world, a, fired)

    return run_virtual(main(), clock=VirtualClock())


def test_a_firm_crossing_its_own_resting_order_without_stp_raises_self_trade():
    async def body(world, a, fired):
        a.submit("MM1", "PRB", 2, 5, 10_000)
        await asyncio.sleep(0.01)
        a.submit("HEDGE", "PRB", 1, 5, 10_001)
        await asyncio.sleep(0.01)
        return a.position("PRB"), fired

    position, fired = _world(body)
    assert position == 0
    [alert] = [a for a in fired if a.name == "SelfTrade"]
    assert alert.symptom == "A/HEDGE traded with A/MM1 on PRB (wash trade risk)"


def test_a_venue_report_of_an_stp_cancel_reaches_the_monitor_as_self_trade_prevented():
    async def body(world, a, fired):
        resting = a.submit("MM1", "PRB", 2, 5, 10_000)
        await asyncio.sleep(0.01)
        # What a venue with self-trade prevention sends for the resting order it cancelled.
        world.venue_session("A").send(b"8", [
            (6, 0), (11, resting.cl_ord_id), (14, 0), (17, "STP1"), (37, resting.order_id), (38, 5), (39, "4"),
            (40, "2"), (44, "100.00"), (54, 2), (55, "PRB"), (58, "Cancelled by self-trade prevention"),
            (150, "4"), (151, 0)])
        await asyncio.sleep(0.01)
        return resting, fired

    resting, fired = _world(body)
    assert resting.state == "canceled" and resting.updates[-1].code == STP_CODE
    [alert] = fired
    assert alert.name == "SelfTrade" and alert.reason == "self_trade_prevented"


def test_an_stp_decrement_restates_the_order_quantity_at_the_engine():
    async def body(world, a, fired):
        resting = a.submit("MM1", "PRB", 2, 5, 10_000)
        await asyncio.sleep(0.01)
        world.venue_session("A").send(b"8", [
            (6, 0), (11, resting.cl_ord_id), (14, 0), (17, "STP2"), (37, resting.order_id), (38, 3), (39, "0"),
            (40, "2"), (44, "100.00"), (54, 2), (55, "PRB"), (58, "Quantity reduced by self-trade prevention"),
            (150, "D"), (151, 3)])
        await asyncio.sleep(0.01)
        return resting, fired

    resting, fired = _world(body)
    assert resting.qty == 3 and resting.leaves_qty == 3 and resting.updates[-1].kind == "restated"
    assert [a.name for a in fired] == ["SelfTrade"]


def test_overriding_a_soft_collar_sends_the_order_and_the_monitor_counts_the_overrides():
    limits = RiskLimits(price_collar_ticks=10, soft_checks=["price_collar"])

    async def body(world, a, fired):
        refused = a.submit("MM1", "PRB", 1, 1, 10_050)
        overridden = [a.submit("MM1", "PRB", 1, 1, 10_050 + i, override="ops:alice") for i in range(3)]
        await asyncio.sleep(0.01)
        return refused, overridden, fired

    refused, overridden, fired = _world(body, limits, warnings_overridden=(3, 60 * S))
    assert refused.state == "denied" and "explicit override" in refused.updates[-1].text
    assert all(h.state == "new" for h in overridden)
    kinds = [u.kind for u in overridden[0].updates]
    assert kinds[:2] == ["warning_overridden", "sent"]
    assert overridden[0].updates[0].code == "price_collar_ticks"
    assert "overridden by ops:alice" in overridden[0].updates[0].text
    [alert] = fired
    assert alert.symptom == "MM1 overrode 3 risk warnings in 60s on PRB"


def test_a_replace_takes_an_override_too():
    limits = RiskLimits(price_collar_ticks=10, soft_checks=["price_collar"])

    async def body(world, a, fired):
        order = a.submit("MM1", "PRB", 1, 1, 10_000)
        await asyncio.sleep(0.01)
        refused = a.replace(order, price=10_050)
        await asyncio.sleep(0.01)
        sent = a.replace(order, price=10_050, override="ops:alice")
        await asyncio.sleep(0.01)
        return order, refused, sent

    order, refused, sent = _world(body, limits)
    assert (refused, sent) == (False, True)
    kinds = [u.kind for u in order.updates]
    assert "replace_denied" in kinds
    at = kinds.index("warning_overridden")
    assert kinds[at + 1] == "replace_sent" and "overridden by ops:alice" in order.updates[at].text
    assert order.price == 10_050


def test_only_checks_named_soft_take_an_override_and_never_the_trading_state():
    with pytest.raises(ValueError, match="cannot be soft"):
        RiskLimits(soft_checks=["trading_state"])
    assert RiskLimits(soft_checks=["price_collar", "order_qty", "price_collar"]).soft_checks == (
        "order_qty", "price_collar")

    async def body(world, a, fired):
        hard = a.submit("MM1", "PRB", 1, 20, 10_000, override="ops:alice")   # max_order_qty is not soft
        a.halt(reason="operator halt")
        halted = a.submit("MM1", "PRB", 1, 1, 10_000, override="ops:alice")
        return hard, halted

    hard, halted = _world(body, RiskLimits(max_order_qty=10, price_collar_ticks=10, soft_checks=["price_collar"]))
    assert hard.reject_code == "max_order_qty" and halted.reject_code == "trading_halted"


def _order(cl_ord_id: str, strategy: str, symbol: str) -> OrderHandle:
    return OrderHandle(cl_ord_id, strategy, symbol, 1, 5, 10_000, "limit", "day")


def test_strategies_and_symbols_whose_first_order_comes_after_many_ticks_are_still_watched():
    monitors, engine, fired = _monitors()
    halted: set[str] = set()
    engine.risk = SimpleNamespace(state=lambda scope=None: "halted" if scope in halted else "active",
                                  limits=SimpleNamespace(max_position=100), why=lambda scope=None: None)
    positions = {"PRB": 0, "XYZ": 90}
    engine.position = lambda symbol: positions[symbol]
    engine.orders["c1"] = _order("c1", "MM1", "PRB")
    for t in range(3):
        monitors.tick(t * S)
    assert fired == []
    halted.add("MM2")
    engine.orders["c2"] = engine.orders["c3"] = _order("c2", "MM2", "XYZ")  # a later order, and its cancel
    monitors.tick(3 * S)
    assert sorted(a.name for a in fired) == ["PositionNearLimit", "TradingHalted"]
    halt = next(a for a in fired if a.name == "TradingHalted")
    assert halt.labels["strategy"] == "MM2" and halt.labels["symbol"] == "XYZ"  # its one symbol groups it


def test_an_engine_whose_orders_were_replaced_by_fewer_is_read_again_from_the_start():
    monitors, engine, fired = _monitors()
    engine.risk = SimpleNamespace(state=lambda scope=None: "halted" if scope == "B" else "active",
                                  limits=SimpleNamespace(max_position=None), why=lambda scope=None: None)
    engine.orders.update({"c1": _order("c1", "A", "PRB"), "c2": _order("c2", "A", "PRB")})
    monitors.tick(0)
    engine.orders = {"d1": _order("d1", "B", "XYZ")}  # not the engine's own contract, but read correctly
    monitors.tick(S)
    [alert] = fired
    assert alert.labels["strategy"] == "B" and alert.labels["symbol"] == "XYZ"
