"""Pre-trade risk: every check at, just below and just above its threshold; trading states;
automatic halts and the operator-only re-enable; recorded limit changes; and a property test that
no random stream of intents, fills, limit and state changes gets a violating order approved."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.risk import (
    Denial,
    LimitChange,
    OrderIntent,
    RiskCode,
    RiskEngine,
    RiskLimits,
    StateChange,
    TradingState,
    parse_rate,
)
from sim.instruments import Instrument, InstrumentError

T0 = 1_767_346_200_000_000_000   # 2026-01-02 09:30:00 UTC
S = 1_000_000_000                # one second in ns

PRB = Instrument.create("PRB", "0.01", "100.00", shares_outstanding=1_000_000, average_daily_volume=200_000)
JCOM = Instrument.create("JCOM", "1", "610000", currency="JPY", shares_outstanding=14_500)
ABC = Instrument.create("ABC", "0.05", "20.00", lot_size=100)


class Ctx:
    """A simple in-test RiskContext: positions, working orders, references and P&L set by hand."""

    def __init__(self, *instruments: Instrument) -> None:
        self.t = T0
        self.instruments = {i.symbol: i for i in (instruments or (PRB, JCOM, ABC))}
        self.positions: dict[tuple[str, str], int] = {}          # (symbol, strategy) -> signed qty
        self.orders: list[list] = []                              # [strategy, symbol, side, leaves]
        self.refs = {s: (i.reference_ticks, T0) for s, i in self.instruments.items()}
        self.pnl: dict[str, tuple[Decimal, Decimal]] = {}        # strategy -> (realized, unrealized)

    # the protocol
    def now_ns(self) -> int:
        return self.t

    def instrument(self, symbol: str) -> Instrument:
        try:
            return self.instruments[symbol]
        except KeyError:
            raise InstrumentError(f"unknown symbol {symbol!r}") from None

    def position(self, symbol: str, strategy: str | None = None) -> int:
        return sum(q for (sym, strat), q in self.positions.items()
                   if sym == symbol and (strategy is None or strat == strategy))

    def working_qty(self, symbol: str, side: int, strategy: str | None = None) -> int:
        return sum(o[3] for o in self.orders
                   if o[1] == symbol and o[2] == side and (strategy is None or o[0] == strategy))

    def open_order_count(self, strategy: str | None = None) -> int:
        return sum(1 for o in self.orders if strategy is None or o[0] == strategy)

    def reference_price(self, symbol: str) -> tuple[int, int] | None:
        return self.refs.get(symbol)

    def realized_pnl(self, strategy: str | None = None) -> Decimal:
        return sum((r for s, (r, _) in self.pnl.items() if strategy is None or s == strategy), Decimal(0))

    def unrealized_pnl(self, strategy: str | None = None) -> Decimal:
        return sum((u for s, (_, u) in self.pnl.items() if strategy is None or s == strategy), Decimal(0))

    def symbols(self):
        return {sym for sym, _ in self.positions} | {o[1] for o in self.orders}

    # helpers
    def hold(self, symbol: str, qty: int, strategy: str = "s1") -> None:
        self.positions[(symbol, strategy)] = self.positions.get((symbol, strategy), 0) + qty

    def work(self, symbol: str, side: int, qty: int, strategy: str = "s1") -> None:
        self.orders.append([strategy, symbol, side, qty])


def buy(qty: int = 1, price: int | None = 10_000, symbol: str = "PRB", strategy: str = "s1", **kw) -> OrderIntent:
    return OrderIntent(strategy, symbol, 1, qty, price, "limit" if price is not None else "market", **kw)


def sell(qty: int = 1, price: int | None = 10_000, symbol: str = "PRB", strategy: str = "s1", **kw) -> OrderIntent:
    return OrderIntent(strategy, symbol, 2, qty, price, "limit" if price is not None else "market", **kw)


def code(denial: Denial | None) -> str | None:
    return None if denial is None else denial.code


def send(engine: RiskEngine, ctx: Ctx, intent: OrderIntent) -> Denial | None:
    """Evaluate and, if approved, submit (counting it and leaving it working)."""
    denial = engine.evaluate(intent, ctx)
    if denial is None:
        engine.on_submitted(intent, ctx)
        ctx.work(intent.symbol, intent.side, intent.qty, intent.strategy)
    return denial


# -- WELL-FORMED INTENTS -----------------------------------------------------------------------------

@pytest.mark.parametrize("intent", [
    OrderIntent("s1", "PRB", 3, 1, 10_000, "limit"),
    OrderIntent("s1", "PRB", 1, 0, 10_000, "limit"),
    OrderIntent("s1", "PRB", 1, -5, 10_000, "limit"),
    OrderIntent("s1", "PRB", 1, 1, None, "limit"),
    OrderIntent("s1", "PRB", 1, 1, 0, "limit"),
    OrderIntent("s1", "PRB", 1, 1, 10_000, "stop"),
    OrderIntent("s1", "PRB", 1, 1, 10_000, "market"),
    OrderIntent("s1", "PRB", 1, 1, 10_000, "limit", time_in_force="gtc"),
])
def test_evaluate_when_intent_is_malformed_then_denies_invalid_intent(intent):
    assert code(RiskEngine(RiskLimits()).evaluate(intent, Ctx())) == RiskCode.INVALID_INTENT


def test_evaluate_when_instrument_unknown_then_denies_naming_the_symbol():
    denial = RiskEngine().evaluate(buy(symbol="NOPE"), Ctx())
    assert denial.code == "unknown_instrument" and "NOPE" in denial.text


def test_evaluate_when_qty_is_not_a_whole_number_of_lots_then_denies():
    engine = RiskEngine()
    assert engine.evaluate(buy(200, 400, symbol="ABC"), Ctx()) is None
    assert code(engine.evaluate(buy(250, 400, symbol="ABC"), Ctx())) == RiskCode.INVALID_LOT


def test_evaluate_with_no_limits_approves_a_sane_order():
    assert RiskEngine().evaluate(buy(100, 10_001), Ctx()) is None


# -- ORDER QUANTITY ----------------------------------------------------------------------------------

@pytest.mark.parametrize("qty, expected", [(9_999, None), (10_000, None), (10_001, "max_order_qty")])
def test_max_order_qty_at_below_and_above_the_limit(qty, expected):
    denial = RiskEngine(RiskLimits(max_order_qty=10_000)).evaluate(buy(qty), Ctx())
    assert code(denial) == expected


def test_max_order_qty_denial_names_the_numbers_like_an_incident_report():
    denial = RiskEngine(RiskLimits(max_order_qty=10_000)).evaluate(sell(610_000, 1, symbol="JCOM"), Ctx())
    assert denial.text == "order qty 610,000 exceeds max_order_qty 10,000"
    assert (denial.check, denial.strategy, denial.symbol) == ("order_qty", "s1", "JCOM")


@pytest.mark.parametrize("qty, expected", [(9_999, None), (10_000, None),
                                           (10_001, "max_order_pct_shares_outstanding")])
def test_max_order_pct_of_shares_outstanding_at_below_and_above_the_limit(qty, expected):
    engine = RiskEngine(RiskLimits(max_order_pct_shares_outstanding="1"))   # 1 % of 1,000,000
    assert code(engine.evaluate(buy(qty), Ctx())) == expected


def test_mizuho_order_of_42_times_the_float_is_denied_by_the_shares_outstanding_check():
    engine = RiskEngine(RiskLimits(max_order_pct_shares_outstanding="5"))
    denial = engine.evaluate(sell(610_000, 1, symbol="JCOM"), Ctx())
    assert denial.code == "max_order_pct_shares_outstanding"
    assert "4,206.9% of 14,500 shares outstanding" in denial.text


@pytest.mark.parametrize("qty, expected", [(4_999, None), (5_000, None), (5_001, "max_order_pct_adv")])
def test_max_order_pct_of_adv_at_below_and_above_a_fractional_percentage(qty, expected):
    engine = RiskEngine(RiskLimits(max_order_pct_adv="2.5"))   # 2.5 % of 200,000 = 5,000
    assert code(engine.evaluate(buy(qty), Ctx())) == expected


def test_percentage_checks_skip_an_instrument_whose_yardstick_is_unknown():
    engine = RiskEngine(RiskLimits(max_order_pct_adv="1", max_order_pct_shares_outstanding="1"))
    assert engine.evaluate(buy(10_000, 400, symbol="ABC"), Ctx()) is None   # ABC: both are 0


# -- ORDER NOTIONAL ----------------------------------------------------------------------------------

@pytest.mark.parametrize("qty, expected", [(999, None), (1_000, None), (1_001, "max_order_notional")])
def test_max_order_notional_at_below_and_above_the_limit(qty, expected):
    engine = RiskEngine(RiskLimits(max_order_notional="100000"))   # 1,000 x 100.00 = 100,000.00
    assert code(engine.evaluate(buy(qty, 10_000), Ctx())) == expected


def test_max_order_notional_is_exact_decimal_not_float():
    ctx = Ctx(Instrument.create("X", "0.1", "0.3"))
    engine = RiskEngine(RiskLimits(max_order_notional="0.3"))   # 0.1 * 3 == 0.3 exactly (float says 0.30000000000000004)
    assert engine.evaluate(OrderIntent("s1", "X", 1, 1, 3, "limit"), ctx) is None
    assert code(engine.evaluate(OrderIntent("s1", "X", 1, 1, 4, "limit"), ctx)) == "max_order_notional"


def test_a_sell_at_one_yen_is_valued_at_the_reference_not_at_its_limit_price():
    engine = RiskEngine(RiskLimits(max_order_notional="1000000000"))   # 1bn JPY
    denial = engine.evaluate(sell(610_000, 1, symbol="JCOM"), Ctx())
    assert denial.code == "max_order_notional"
    assert "order notional 372,100,000,000 JPY" in denial.text


def test_citi_notional_typed_as_quantity_is_denied_by_max_order_notional():
    engine = RiskEngine(RiskLimits(max_order_notional="50000000"))
    assert code(engine.evaluate(sell(58_000_000, 10_000), Ctx())) == "max_order_notional"


# -- PRICE COLLAR ------------------------------------------------------------------------------------

@pytest.mark.parametrize("price, expected", [
    (10_049, None), (10_050, None), (10_051, "price_collar_ticks"),
    (9_951, None), (9_950, None), (9_949, "price_collar_ticks"),
])
def test_price_collar_in_ticks_at_below_and_above_on_both_sides(price, expected):
    engine = RiskEngine(RiskLimits(price_collar_ticks=50))
    assert code(engine.evaluate(buy(1, price), Ctx())) == expected


@pytest.mark.parametrize("price, expected", [(10_100, None), (10_101, None), (10_102, "price_collar_bps")])
def test_price_collar_in_bps_at_below_and_above_with_an_inexact_band(price, expected):
    ctx = Ctx()
    ctx.refs["PRB"] = (10_001, T0)   # 100 bps of 10,001 ticks = 100.01 ticks
    engine = RiskEngine(RiskLimits(price_collar_bps=100))
    assert code(engine.evaluate(sell(1, price), ctx)) == expected


def test_price_collar_uses_the_independent_reference_not_the_instrument_file():
    ctx = Ctx()
    ctx.refs["PRB"] = (20_000, T0)
    engine = RiskEngine(RiskLimits(price_collar_ticks=10))
    assert engine.evaluate(buy(1, 20_005), ctx) is None
    denial = engine.evaluate(buy(1, 10_000), ctx)
    assert denial.text == ("price 100.00 (10,000 ticks) is 10,000 ticks from reference 200.00 (20,000 ticks), "
                           "beyond price_collar_ticks 10")


def test_mizuho_sell_at_one_yen_is_denied_by_the_collar():
    engine = RiskEngine(RiskLimits(price_collar_bps=1_000))
    assert code(engine.evaluate(sell(1, 1, symbol="JCOM"), Ctx())) == "price_collar_bps"


def test_price_collar_without_a_reference_denies():
    ctx = Ctx()
    del ctx.refs["PRB"]
    assert code(RiskEngine(RiskLimits(price_collar_ticks=50)).evaluate(buy(), ctx)) == "price_collar_no_reference"


def test_price_collar_denies_a_market_order_that_has_no_protection_price():
    engine = RiskEngine(RiskLimits(price_collar_ticks=50))
    assert code(engine.evaluate(buy(1, None), Ctx())) == "price_collar_unbounded"


# -- MARKET ORDERS -----------------------------------------------------------------------------------

def test_market_orders_banned_by_policy_are_denied_but_limit_orders_pass():
    engine = RiskEngine(RiskLimits(market_order_policy="ban"))
    assert code(engine.evaluate(buy(1, None), Ctx())) == "market_order_banned"
    assert engine.evaluate(buy(1, 10_000), Ctx()) is None


def test_protect_policy_without_a_protection_limit_denies_market_orders():
    engine = RiskEngine(RiskLimits(market_order_policy="protect"))
    assert code(engine.evaluate(buy(1, None), Ctx())) == "market_order_unprotected"


def test_protect_policy_without_a_reference_denies_market_orders():
    ctx = Ctx()
    del ctx.refs["PRB"]
    engine = RiskEngine(RiskLimits(market_order_policy="protect", market_protection_ticks=5))
    assert code(engine.evaluate(buy(1, None), ctx)) == "market_order_no_reference"


def test_protected_market_order_passes_and_gets_the_tighter_protection_price():
    engine = RiskEngine(RiskLimits(market_order_policy="protect", market_protection_ticks=50,
                                   market_protection_bps=20, price_collar_ticks=50))
    ctx = Ctx()
    assert engine.evaluate(buy(1, None), ctx) is None
    assert engine.protection_price(buy(1, None), ctx) == 10_020     # 20 bps of 10,000 < 50 ticks
    assert engine.protection_price(sell(1, None), ctx) == 9_980


@pytest.mark.parametrize("protection, expected", [(49, None), (50, None), (51, "price_collar_ticks")])
def test_protected_market_order_is_collared_at_its_protection_price(protection, expected):
    engine = RiskEngine(RiskLimits(market_order_policy="protect", market_protection_ticks=protection,
                                   price_collar_ticks=50))
    assert code(engine.evaluate(sell(1, None), Ctx())) == expected


# -- STALE REFERENCE ---------------------------------------------------------------------------------

@pytest.mark.parametrize("age, expected", [(S - 1, None), (S, None), (S + 1, "reference_stale")])
def test_stale_reference_guard_at_below_and_above_the_age_limit(age, expected):
    ctx = Ctx()
    ctx.t = T0 + age
    assert code(RiskEngine(RiskLimits(max_reference_age_ns=S)).evaluate(buy(), ctx)) == expected


def test_stale_reference_guard_denies_when_the_reference_is_missing():
    ctx = Ctx()
    del ctx.refs["PRB"]
    denial = RiskEngine(RiskLimits(max_reference_age_ns=S)).evaluate(buy(), ctx)
    assert denial.code == "reference_missing"


# -- POSITION ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("qty, expected", [(19, None), (20, None), (21, "max_position")])
def test_position_limit_counts_filled_and_same_side_working_qty(qty, expected):
    ctx = Ctx()
    ctx.hold("PRB", 50)
    ctx.work("PRB", 1, 30)
    ctx.work("PRB", 2, 500)   # the other side does not add to a buy's worst case
    assert code(RiskEngine(RiskLimits(max_position=100)).evaluate(buy(qty), ctx)) == expected


@pytest.mark.parametrize("qty, expected", [(149, None), (150, None), (151, "max_position")])
def test_position_limit_on_the_short_side_at_below_and_above(qty, expected):
    ctx = Ctx()
    ctx.hold("PRB", 50, "s2")   # other strategies count: the limit is firm-wide
    assert code(RiskEngine(RiskLimits(max_position=100)).evaluate(sell(qty), ctx)) == expected


def test_position_limit_lets_an_over_limit_position_shrink_but_not_grow():
    ctx = Ctx()
    ctx.hold("PRB", 150)
    engine = RiskEngine(RiskLimits(max_position=100))
    assert engine.evaluate(sell(10), ctx) is None
    assert code(engine.evaluate(buy(1), ctx)) == "max_position"
    assert code(engine.evaluate(sell(251), ctx)) == "max_position"   # flips to -101: beyond on the other side


# -- GROSS NOTIONAL ----------------------------------------------------------------------------------

@pytest.mark.parametrize("lots, expected", [(4, None), (5, None), (6, "max_gross_notional")])
def test_gross_notional_sums_exposure_across_symbols(lots, expected):
    ctx = Ctx()
    ctx.hold("PRB", 100)                      # 100 x 100.00 = 10,000
    ctx.work("PRB", 2, 50)                    # worst case stays |100| on the long side
    engine = RiskEngine(RiskLimits(max_gross_notional="20000"))
    assert code(engine.evaluate(buy(lots * 100, 400, symbol="ABC"), ctx)) == expected   # 500 x 20.00 = 10,000


def test_gross_notional_remembers_symbols_it_saw_even_if_the_context_cannot_list_them():
    class Blind(Ctx):
        symbols = None   # a context without symbols()
    ctx = Blind()
    engine = RiskEngine(RiskLimits(max_gross_notional="20000"))
    intent = buy(100)
    assert send(engine, ctx, intent) is None          # working 100 x 100.00
    assert engine.evaluate(buy(500, 400, symbol="ABC"), ctx) is None
    assert code(engine.evaluate(buy(600, 400, symbol="ABC"), ctx)) == "max_gross_notional"


# -- OPEN ORDERS -------------------------------------------------------------------------------------

@pytest.mark.parametrize("open_now, expected", [(1, None), (2, None), (3, "max_open_orders")])
def test_max_open_orders_at_below_and_above_the_limit(open_now, expected):
    ctx = Ctx()
    for _ in range(open_now):
        ctx.work("PRB", 1, 1, "s2")
    assert code(RiskEngine(RiskLimits(max_open_orders=3)).evaluate(buy(), ctx)) == expected


# -- ORDER RATE --------------------------------------------------------------------------------------

def test_order_rate_allows_n_in_the_window_denies_the_next_and_slides():
    engine = RiskEngine(RiskLimits(max_order_submit_rate="3/00:00:01"))
    ctx = Ctx()
    for k in range(3):                                   # below, then at the limit
        ctx.t = T0 + k
        assert send(engine, ctx, buy(1, 10_000 + k)) is None
    ctx.t = T0 + S - 1                                  # still within 1 s of the first
    denial = engine.evaluate(buy(1, 9_000), ctx)
    assert denial.code == "max_order_submit_rate"
    assert denial.text == ("3 orders sent in the last 1,000,000,000 ns; one more exceeds "
                           "max_order_submit_rate 3/00:00:01")
    ctx.t = T0 + S                                      # the first has aged out: age == window
    assert engine.evaluate(buy(1, 9_000), ctx) is None


def test_everbright_burst_of_market_orders_is_cut_to_the_rate_limit():
    engine = RiskEngine(RiskLimits(max_order_submit_rate="100/00:00:01", market_order_policy="protect",
                                   market_protection_ticks=10))
    ctx = Ctx()
    approved = 0
    for k in range(26_082 // 10):                       # a scaled-down 2-second burst
        ctx.t = T0 + k * (2 * S // 2_608)
        if send(engine, ctx, buy(1, None)) is None:
            approved += 1
    assert approved <= 200 + 1


# -- DUPLICATES --------------------------------------------------------------------------------------

def test_duplicate_order_inside_the_window_is_denied_and_outside_it_passes():
    engine = RiskEngine(RiskLimits(duplicate_window_ns=S))
    ctx = Ctx()
    assert send(engine, ctx, buy(5)) is None
    ctx.t = T0 + S - 1
    assert code(engine.evaluate(buy(5), ctx)) == "duplicate_order"
    assert engine.evaluate(buy(6), ctx) is None                 # a different qty
    assert engine.evaluate(buy(5, strategy="s2"), ctx) is None  # another strategy
    ctx.t = T0 + S
    assert engine.evaluate(buy(5), ctx) is None


def test_a_denied_order_does_not_count_as_sent_for_duplicates():
    engine = RiskEngine(RiskLimits(duplicate_window_ns=S, max_order_qty=10))
    ctx = Ctx()
    assert engine.evaluate(buy(5), ctx) is None   # evaluated but never submitted
    assert engine.evaluate(buy(5), ctx) is None


# -- TRADING STATES ----------------------------------------------------------------------------------

def test_engine_halt_denies_every_new_order_with_the_halt_reason():
    engine = RiskEngine()
    engine.set_state("halted", who="alice", reason_code="manual", text="fat finger on desk 3", time_ns=T0)
    denial = engine.evaluate(buy(), Ctx())
    assert denial.code == "trading_halted" and denial.cause == "manual"
    assert "engine is HALTED (manual by alice: fat finger on desk 3)" in denial.text


def test_halt_allows_a_flatten_that_reduces_the_position():
    engine = RiskEngine()
    ctx = Ctx()
    ctx.hold("PRB", 100)
    engine.set_state(TradingState.HALTED, who="alice")
    assert engine.evaluate(sell(100, 9_990, flatten=True), ctx) is None
    assert code(engine.evaluate(sell(100, 9_990), ctx)) == "trading_halted"


def test_halt_denies_a_flatten_that_would_flip_or_grow_the_position():
    engine = RiskEngine()
    ctx = Ctx()
    ctx.hold("PRB", 100)
    engine.set_state(TradingState.HALTED, who="alice")
    assert code(engine.evaluate(sell(101, flatten=True), ctx)) == "flatten_not_reducing"
    assert code(engine.evaluate(buy(1, flatten=True), ctx)) == "flatten_not_reducing"
    ctx.work("PRB", 2, 40)   # a working sell already covers part of it
    assert engine.evaluate(sell(60, flatten=True), ctx) is None
    assert code(engine.evaluate(sell(61, flatten=True), ctx)) == "flatten_not_reducing"


def test_a_flatten_flag_on_an_increasing_order_is_denied_even_when_active():
    ctx = Ctx()
    ctx.hold("PRB", 100)
    assert code(RiskEngine().evaluate(buy(1, flatten=True), ctx)) == "flatten_not_reducing"


def test_a_flatten_still_has_to_pass_the_fat_finger_checks():
    engine = RiskEngine(RiskLimits(price_collar_ticks=50))
    ctx = Ctx()
    ctx.hold("PRB", 100)
    engine.set_state(TradingState.HALTED, who="alice")
    assert code(engine.evaluate(sell(100, 1, flatten=True), ctx)) == "price_collar_ticks"


def test_strategy_halt_stops_only_that_strategy():
    engine = RiskEngine()
    engine.set_state(TradingState.HALTED, strategy="s1", who="alice")
    ctx = Ctx()
    assert code(engine.evaluate(buy(strategy="s1"), ctx)) == "trading_halted"
    assert engine.evaluate(buy(strategy="s2"), ctx) is None
    assert engine.state() is TradingState.ACTIVE
    assert engine.state("s1") is TradingState.HALTED


def test_effective_state_is_the_stricter_of_engine_and_strategy():
    engine = RiskEngine()
    engine.set_state(TradingState.REDUCING, who="alice")
    engine.set_state(TradingState.HALTED, strategy="s1", who="alice")
    assert engine.state("s1") is TradingState.HALTED
    assert engine.state("s2") is TradingState.REDUCING
    engine.set_state(TradingState.HALTED, who="alice")
    engine.set_state(TradingState.ACTIVE, strategy="s1", who="alice")
    assert engine.state("s1") is TradingState.HALTED


@pytest.mark.parametrize("intent, expected", [
    (sell(40), None),                       # reduces 100 long (with 60 already working)
    (sell(41), "trading_reducing"),         # would flip past flat once the working sell fills
    (buy(1), "trading_reducing"),           # grows it
])
def test_reducing_passes_only_orders_that_reduce_the_net_position_counting_working_orders(intent, expected):
    ctx = Ctx()
    ctx.hold("PRB", 100)
    ctx.work("PRB", 2, 60)
    engine = RiskEngine()
    engine.set_state(TradingState.REDUCING, who="alice", reason_code="risk_review")
    denial = engine.evaluate(intent, ctx)
    assert code(denial) == expected
    if denial is not None:
        assert denial.cause == "risk_review"


def test_reducing_when_flat_denies_both_sides():
    engine = RiskEngine()
    engine.set_state(TradingState.REDUCING, who="alice")
    assert code(engine.evaluate(buy(), Ctx())) == "trading_reducing"
    assert code(engine.evaluate(sell(), Ctx())) == "trading_reducing"


def test_strategy_reducing_uses_the_strategys_position_and_engine_reducing_the_firms():
    ctx = Ctx()
    ctx.hold("PRB", 100, "s1")
    ctx.hold("PRB", -100, "s2")              # the firm is flat
    engine = RiskEngine()
    engine.set_state(TradingState.REDUCING, strategy="s1", who="alice")
    assert engine.evaluate(sell(50, strategy="s1"), ctx) is None
    engine.set_state(TradingState.REDUCING, who="alice")
    assert code(engine.evaluate(sell(50, strategy="s1"), ctx)) == "trading_reducing"


def test_state_changes_are_recorded_with_scope_who_and_reason():
    seen = []
    engine = RiskEngine(clock=lambda: T0 + 7, on_change=seen.append)
    change = engine.set_state(TradingState.HALTED, strategy="s1", who="alice", reason_code="manual", text="why")
    assert change == StateChange(T0 + 7, "s1", TradingState.ACTIVE, TradingState.HALTED, "manual", "why", "alice")
    assert engine.changes == [change] == seen
    assert engine.why("s1") is change


# -- DISABLED LAYER ----------------------------------------------------------------------------------

def test_a_disabled_engine_passes_everything_a_check_would_deny():
    engine = RiskEngine(RiskLimits(max_order_qty=1, price_collar_ticks=1, market_order_policy="ban"), enabled=False)
    assert engine.evaluate(sell(610_000, 1, symbol="JCOM"), Ctx()) is None
    assert engine.evaluate(buy(10, None), Ctx()) is None


def test_a_disabled_engine_still_enforces_an_operator_halt():
    engine = RiskEngine(enabled=False)
    engine.set_state(TradingState.HALTED, who="alice")
    assert code(engine.evaluate(buy(), Ctx())) == "trading_halted"


def test_a_disabled_engine_never_halts_automatically():
    engine = RiskEngine(RiskLimits(max_fill_rate="1/00:00:01", max_daily_loss="10"), enabled=False)
    ctx = Ctx()
    ctx.pnl["s1"] = (Decimal("-1000"), Decimal(0))
    assert engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx) == []
    assert engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx) == []
    assert engine.evaluate(buy(), ctx) is None
    assert engine.check_loss(ctx) == [] and engine.state("s1") is TradingState.ACTIVE


def test_switching_the_layer_back_on_is_recorded_and_sees_the_real_recent_rate():
    engine = RiskEngine(RiskLimits(max_order_submit_rate="2/00:00:01"), enabled=False)
    ctx = Ctx()
    for _ in range(5):
        assert send(engine, ctx, buy()) is None
    change = engine.set_enabled(True, who="alice", reason="layer back on", time_ns=T0)
    assert (change.what, change.old, change.new, change.who) == ("enabled", False, True, "alice")
    assert code(engine.evaluate(buy(), ctx)) == "max_order_submit_rate"


# -- AUTOMATIC HALTS ---------------------------------------------------------------------------------

def test_repeated_execution_throttle_halts_the_strategy_above_n_fills_in_the_window():
    engine = RiskEngine(RiskLimits(max_fill_rate="3/00:00:01"))
    ctx = Ctx()
    for k in range(3):                                       # at the limit: no halt
        ctx.t = T0 + k
        assert engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx) == []
    ctx.t = T0 + S - 1
    [change] = engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx)   # above it
    assert (change.scope, change.new, change.who, change.reason_code) == (
        "s1", TradingState.HALTED, "auto", "repeated_execution_throttle")
    assert "4 fills within 1,000,000,000 ns exceed max_fill_rate 3/00:00:01" in change.text
    denial = engine.evaluate(buy(), ctx)
    assert denial.code == "trading_halted" and denial.cause == "repeated_execution_throttle"
    assert engine.evaluate(buy(strategy="s2"), ctx) is None
    assert engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx) == []   # already halted: no second change


def test_repeated_execution_throttle_counts_a_sliding_window():
    engine = RiskEngine(RiskLimits(max_fill_rate="3/00:00:01"))
    ctx = Ctx()
    for k in range(10):                                      # 3 per second exactly, forever
        ctx.t = T0 + k * (S // 3 + 1)
        assert engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx) == []


def test_only_an_operator_may_re_enable_after_a_throttle_halt():
    engine = RiskEngine(RiskLimits(max_fill_rate="1/00:00:01"))
    ctx = Ctx()
    engine.set_state(TradingState.REDUCING, strategy="s1", who="alice")
    engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx)
    engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx)
    assert engine.state("s1") is TradingState.HALTED
    for who in ("auto", "s1", "strategy:s9"):      # 'auto' is reserved: nobody may act as it
        with pytest.raises(PermissionError):
            engine.reset_throttle(who=who)
        with pytest.raises(PermissionError):
            engine.set_state(TradingState.ACTIVE, strategy="s1", who=who)
    change = engine.reset_throttle(who="alice")
    assert (change.scope, change.old, change.new, change.who, change.reason_code) == (
        "s1", TradingState.HALTED, TradingState.REDUCING, "alice", "throttle_reset")
    assert engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx) == []   # the window restarts after a reset


def test_reset_throttle_names_the_strategies_when_it_cannot_tell_which():
    engine = RiskEngine(RiskLimits(max_fill_rate="1/00:00:01"))
    ctx = Ctx()
    with pytest.raises(ValueError, match="none"):
        engine.reset_throttle(who="alice")
    for strategy in ("s1", "s2"):
        engine.on_fill(strategy, "PRB", 1, 1, 10_000, ctx)
        engine.on_fill(strategy, "PRB", 1, 1, 10_000, ctx)
    with pytest.raises(ValueError, match=r"\['s1', 's2'\]"):
        engine.reset_throttle(who="alice")
    assert engine.reset_throttle(who="alice", strategy="s2").scope == "s2"
    assert engine.state("s1") is TradingState.HALTED


@pytest.mark.parametrize("pnl, halts", [("-999.99", False), ("-1000", False), ("-1000.01", True)])
def test_daily_loss_limit_halts_the_engine_below_minus_the_limit(pnl, halts):
    engine = RiskEngine(RiskLimits(max_daily_loss="1000"))
    ctx = Ctx()
    ctx.pnl["s1"] = (Decimal("-500"), Decimal(0))
    ctx.pnl["s2"] = (Decimal(0), Decimal(pnl) + 500)     # realized + unrealized, over strategies
    denial = engine.evaluate(buy(), ctx)
    if not halts:
        assert denial is None and engine.state() is TradingState.ACTIVE
        return
    assert denial.code == "trading_halted" and denial.cause == "max_daily_loss"
    change = engine.why()
    assert (change.who, change.reason_code, change.new) == ("auto", "max_daily_loss", TradingState.HALTED)
    assert f"firm P&L {Decimal(pnl):,} is below -max_daily_loss -1,000" in change.text


def test_daily_loss_halt_still_lets_the_book_be_flattened():
    engine = RiskEngine(RiskLimits(max_daily_loss="1000"))
    ctx = Ctx()
    ctx.hold("PRB", 100)
    ctx.pnl["s1"] = (Decimal(0), Decimal("-2000"))
    assert engine.check_loss(ctx)[0].reason_code == "max_daily_loss"
    assert engine.evaluate(sell(100, 9_800, flatten=True), ctx) is None
    assert code(engine.evaluate(sell(100, 9_800), ctx)) == "trading_halted"


def test_a_fill_that_breaks_the_strategy_loss_limit_halts_that_strategy():
    engine = RiskEngine(RiskLimits(max_daily_loss_per_strategy="100"))
    ctx = Ctx()
    ctx.pnl["s1"] = (Decimal("-100.01"), Decimal(0))
    [change] = engine.on_fill("s1", "PRB", 1, 1, 10_000, ctx)
    assert (change.scope, change.reason_code) == ("s1", "max_daily_loss_per_strategy")
    assert engine.state() is TradingState.ACTIVE
    assert engine.evaluate(buy(strategy="s2"), ctx) is None


def test_an_operator_can_lift_a_loss_halt_but_it_returns_while_the_loss_stands():
    engine = RiskEngine(RiskLimits(max_daily_loss="1000"))
    ctx = Ctx()
    ctx.pnl["s1"] = (Decimal("-1500"), Decimal(0))
    engine.check_loss(ctx)
    engine.set_state(TradingState.ACTIVE, who="alice", text="looked at it")
    assert code(engine.evaluate(buy(), ctx)) == "trading_halted"           # re-halted at once
    engine.set_state(TradingState.ACTIVE, who="alice")
    engine.set_limit("max_daily_loss", "2000", who="alice", reason="approved by head of desk")
    assert engine.evaluate(buy(), ctx) is None


def test_a_strategy_may_lift_its_own_halt_but_not_an_operators():
    engine = RiskEngine()
    engine.evaluate(buy(strategy="s1"), Ctx())                                   # the engine now knows s1
    engine.set_state(TradingState.HALTED, strategy="s1", who="s1", reason_code="self_check")
    engine.set_state(TradingState.ACTIVE, strategy="s1", who="s1")
    engine.set_state(TradingState.HALTED, strategy="s1", who="alice")
    with pytest.raises(PermissionError, match="only an operator"):
        engine.set_state(TradingState.ACTIVE, strategy="s1", who="s1")
    assert engine.state("s1") is TradingState.HALTED


# -- LIMIT CHANGES -----------------------------------------------------------------------------------

def test_set_limit_records_who_old_new_and_takes_effect_at_once():
    engine = RiskEngine(RiskLimits(max_order_qty=100), clock=lambda: T0 + 5)
    assert engine.evaluate(buy(150), Ctx()).code == "max_order_qty"
    change = engine.set_limit("max_order_qty", 200, who="alice", reason="block trade")
    assert change == LimitChange(T0 + 5, "alice", "max_order_qty", 100, 200, "block trade")
    assert engine.changes[-1] is change
    assert engine.evaluate(buy(150), Ctx()) is None
    off = engine.set_limit("max_order_qty", None, who="bob")
    assert (off.old, off.new) == (200, None) and engine.limits.max_order_qty is None


def test_set_limit_normalises_decimals_and_refuses_floats_leaving_limits_unchanged():
    engine = RiskEngine(RiskLimits(max_order_notional="1000"))
    assert engine.set_limit("max_order_notional", "2500.50", who="alice").new == Decimal("2500.50")
    with pytest.raises(TypeError, match="never a float"):
        engine.set_limit("max_order_notional", 2500.5, who="alice")
    with pytest.raises(ValueError):
        engine.set_limit("max_order_qty", 0, who="alice")
    with pytest.raises(ValueError):
        engine.set_limit("max_order_submit_rate", "lots", who="alice")
    assert engine.limits.max_order_notional == Decimal("2500.50") and engine.limits.max_order_qty is None
    assert len(engine.changes) == 1


def test_set_limit_with_an_unknown_name_suggests_the_right_one():
    with pytest.raises(KeyError, match="did you mean 'max_order_qty'"):
        RiskEngine().set_limit("max_order_qtty", 5, who="alice")


def test_a_strategy_or_auto_may_not_change_firm_limits():
    engine = RiskEngine(RiskLimits(max_order_qty=10))
    engine.evaluate(buy(strategy="s1"), Ctx())
    for who in ("s1", "auto", "strategy:s1", ""):
        with pytest.raises((PermissionError, ValueError)):
            engine.set_limit("max_order_qty", 10_000, who=who)
    with pytest.raises(PermissionError):
        engine.set_enabled(False, who="s1")
    assert engine.limits.max_order_qty == 10 and engine.changes == []


def test_with_named_operators_only_they_may_act_even_before_a_strategy_is_seen():
    engine = RiskEngine(RiskLimits(max_order_qty=10), operators=["alice"])
    with pytest.raises(PermissionError):
        engine.set_limit("max_order_qty", 10_000, who="s7")      # a strategy the engine never saw
    engine.set_state(TradingState.HALTED, who="s7")               # anyone may tighten
    with pytest.raises(PermissionError):
        engine.set_state(TradingState.ACTIVE, who="bob")
    engine.set_state(TradingState.ACTIVE, who="alice")
    assert engine.set_limit("max_order_qty", 20, who="alice").new == 20


@pytest.mark.parametrize("kwargs", [
    {"max_order_qty": 0}, {"max_order_qty": 1.5}, {"max_order_qty": True}, {"max_position": -1},
    {"max_order_notional": 1e6}, {"max_order_notional": "0"}, {"max_daily_loss": "-5"},
    {"max_order_pct_adv": "NaN"}, {"max_order_submit_rate": "100/1s"}, {"max_fill_rate": "0/00:00:01"},
    {"market_order_policy": "allow"}, {"duplicate_window_ns": 0},
])
def test_risk_limits_refuse_bad_values(kwargs):
    with pytest.raises((TypeError, ValueError)):
        RiskLimits(**kwargs)


def test_parse_rate_reads_nautilus_style_rates_exactly():
    assert parse_rate("100/00:00:01").window_ns == S
    assert parse_rate("5/00:00:00.000000001").window_ns == 1
    assert parse_rate("2/01:00:00").window_ns == 3600 * S
    assert str(parse_rate("7/00:00:00.25")) == "7/00:00:00.25"


def test_a_check_that_raises_denies_instead_of_approving():
    class Broken(Ctx):
        def open_order_count(self, strategy=None):
            raise RuntimeError("order table locked")
    denial = RiskEngine(RiskLimits(max_open_orders=10)).evaluate(buy(), Broken())
    assert denial.code == "risk_check_error" and "order table locked" in denial.text


# -- PROPERTY: NO VIOLATING INTENT IS EVER APPROVED ----------------------------------------------------

STRATEGIES = ("s1", "s2")
SYMBOLS = ("PRB", "JCOM", "ABC")
OPERATOR = "ops"

LIMIT_VALUES = {
    "max_order_qty": [None, 1, 100, 150, 1_000],
    "max_order_pct_shares_outstanding": [None, "0.01", "1", "5"],
    "max_order_pct_adv": [None, "0.05", "2.5"],
    "max_order_notional": [None, "100", "10000", "1000000", "100000000"],
    "price_collar_ticks": [None, 0, 5, 50, 200],
    "price_collar_bps": [None, 0, 10, 100, 1_000],
    "market_order_policy": [None, "ban", "protect"],
    "market_protection_ticks": [None, 0, 3, 60],
    "market_protection_bps": [None, 5, 100],
    "max_reference_age_ns": [None, 0, S // 2, S],
    "max_position": [None, 0, 100, 150, 500],
    "max_gross_notional": [None, "5000", "50000", "500000000"],
    "max_open_orders": [None, 0, 2, 5],
    "max_order_submit_rate": [None, "1/00:00:01", "3/00:00:00.5", "5/00:00:02"],
    "duplicate_window_ns": [None, 1, S // 2, S],
    "max_fill_rate": [None, "1/00:00:01", "3/00:00:01"],
    "max_daily_loss": [None, "100", "1000"],
    "max_daily_loss_per_strategy": [None, "50", "500"],
}

QTYS = (1, 2, 5, 50, 100, 101, 150, 151, 200, 1_000, 1_001)   # the limits' values and one above
# price offsets from the instrument's reference: the collars' edges (ticks; 10/100/1,000 bps of PRB), fat fingers
OFFSETS = (3, 5, 6, -5, -6, 10, 11, -50, -51, 60, 61, 100, 101, -200, -201, 1_000, 1_001, "fat_finger_low", "double")
op_intent = st.tuples(st.just("intent"), st.sampled_from(STRATEGIES), st.sampled_from(SYMBOLS),
                      st.sampled_from((1, 2)), st.sampled_from(QTYS),
                      st.one_of(st.none(), st.integers(-250, 250), st.sampled_from(OFFSETS)),
                      st.sampled_from((False,) * 7 + (True,)))
op_fill = st.tuples(st.just("fill"), st.integers(0, 20), st.integers(1, 200))
op_cancel = st.tuples(st.just("cancel"), st.integers(0, 20))
op_time = st.tuples(st.just("time"), st.sampled_from((0, 1, S // 4, S // 2 - 1, S // 2, S - 1, S, 3 * S)))
op_limit = st.sampled_from(sorted(LIMIT_VALUES)).flatmap(
    lambda name: st.tuples(st.just("limit"), st.just(name), st.sampled_from(LIMIT_VALUES[name]),
                           st.sampled_from((OPERATOR, OPERATOR, "s1"))))
op_state = st.tuples(st.just("state"), st.sampled_from((None, "s1", "s2")),
                     st.sampled_from((TradingState.ACTIVE,) * 3 + (TradingState.REDUCING, TradingState.HALTED)),
                     st.sampled_from((OPERATOR, "s1", "s2", "auto")))
op_reset = st.tuples(st.just("reset"), st.sampled_from((OPERATOR, "s1")))
op_enable = st.tuples(st.just("enable"), st.booleans())
op_ref = st.tuples(st.just("ref"), st.sampled_from(SYMBOLS), st.integers(-300, 300),
                   st.sampled_from((0, S // 2, S // 2 + 1, S, S + 1, 2 * S)),
                   st.booleans())
op_pnl = st.tuples(st.just("pnl"), st.sampled_from(STRATEGIES),   # in cents: the loss limits' edges
                   st.one_of(st.integers(-200_000, 20_000),
                             st.sampled_from((-5_000, -5_001, -10_000, -10_001, -50_000, -50_001, -100_000, 0))))
INITIAL_LIMITS = st.lists(st.sampled_from(sorted(LIMIT_VALUES)), max_size=5, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({name: st.sampled_from(LIMIT_VALUES[name]) for name in names})
).map(lambda values: RiskLimits(**values))   # a few limits on from the start; the stream changes them
OPS = st.lists(st.one_of(op_intent, op_intent, op_intent, op_intent, op_intent, op_fill, op_fill, op_cancel, op_time, op_limit, op_limit,
                         op_state, op_reset, op_enable, op_ref, op_pnl), min_size=30, max_size=100)


def _reduces(side: int, qty: int, position: int, working: int) -> bool:
    if side == 1:
        return position < 0 and position + working + qty <= 0
    return position > 0 and position - working - qty >= 0


def _violations(intent: OrderIntent, ctx: Ctx, limits: RiskLimits, sent: list[tuple[int, tuple]]) -> list[str]:
    """An independent reading of every limit: which would this intent break if approved now?"""
    found = []
    inst = ctx.instruments[intent.symbol]
    ref = ctx.refs.get(intent.symbol)
    now = ctx.t
    price = intent.price
    if intent.ord_type == "market":
        price = None
        if ref is not None:
            bands = [b for b in (limits.market_protection_ticks,
                                 None if limits.market_protection_bps is None
                                 else ref[0] * limits.market_protection_bps // 10_000) if b is not None]
            if bands:
                price = ref[0] + min(bands) if intent.side == 1 else max(1, ref[0] - min(bands))
        if limits.market_order_policy == "ban":
            found.append("ban")
        if limits.market_order_policy == "protect" and price is None:
            found.append("unprotected")
    if limits.max_reference_age_ns is not None and (ref is None or now - ref[1] > limits.max_reference_age_ns):
        found.append("stale")
    if limits.max_order_qty is not None and intent.qty > limits.max_order_qty:
        found.append("qty")
    for pct, base in ((limits.max_order_pct_shares_outstanding, inst.shares_outstanding),
                      (limits.max_order_pct_adv, inst.average_daily_volume)):
        if pct is not None and base and Decimal(intent.qty) / base * 100 > pct:
            found.append("pct")
    mark = ref[0] if ref is not None else inst.reference_ticks
    worth = max(mark, price if price is not None else mark)
    if limits.max_order_notional is not None and intent.qty * worth * inst.tick_size > limits.max_order_notional:
        found.append("notional")
    if limits.price_collar_ticks is not None or limits.price_collar_bps is not None:
        if price is None or ref is None:
            found.append("collar")
        else:
            gap = abs(price - ref[0])
            if limits.price_collar_ticks is not None and gap > limits.price_collar_ticks:
                found.append("collar")
            if limits.price_collar_bps is not None and Decimal(gap) / ref[0] * 10_000 > limits.price_collar_bps:
                found.append("collar")
    sign = 1 if intent.side == 1 else -1
    pos, same = ctx.position(intent.symbol), ctx.working_qty(intent.symbol, intent.side)
    before = pos + sign * same
    after = before + sign * intent.qty
    toward_flat = abs(after) < abs(before) and after * before >= 0
    if limits.max_position is not None and abs(after) > limits.max_position and not toward_flat:
        found.append("position")
    if limits.max_gross_notional is not None:
        def gross(extra_buy: int, extra_sell: int) -> Decimal:
            total = Decimal(0)
            for symbol in ctx.symbols() | {intent.symbol}:
                i = ctx.instruments[symbol]
                p, b, s = ctx.position(symbol), ctx.working_qty(symbol, 1), ctx.working_qty(symbol, 2)
                r = ctx.refs.get(symbol)
                m = r[0] if r is not None else i.reference_ticks
                if symbol == intent.symbol:
                    b, s, m = b + extra_buy, s + extra_sell, worth
                total += max(abs(p + b), abs(p - s)) * m * i.tick_size
            return total
        g0 = gross(0, 0)
        g1 = gross(intent.qty, 0) if intent.side == 1 else gross(0, intent.qty)
        if g1 > limits.max_gross_notional and g1 > g0:
            found.append("gross")
    if limits.max_open_orders is not None and len(ctx.orders) >= limits.max_open_orders:
        found.append("open_orders")
    rate = limits.rate("max_order_submit_rate")
    if rate is not None and sum(1 for t, _ in sent if now - t < rate.window_ns) >= rate.count:
        found.append("rate")
    key = (intent.strategy, intent.symbol, intent.side, intent.qty, intent.price, intent.ord_type)
    if limits.duplicate_window_ns is not None and any(
            k == key and now - t < limits.duplicate_window_ns for t, k in sent):
        found.append("duplicate")
    return found


def _loss_breaches(intent: OrderIntent, ctx: Ctx, limits: RiskLimits) -> list[str | None]:
    """Scopes (None = engine) whose day's P&L is below their loss limit: evaluate must halt them."""
    scopes: list[str | None] = []
    if limits.max_daily_loss is not None and ctx.realized_pnl() + ctx.unrealized_pnl() < -limits.max_daily_loss:
        scopes.append(None)
    strategy_pnl = ctx.realized_pnl(intent.strategy) + ctx.unrealized_pnl(intent.strategy)
    if limits.max_daily_loss_per_strategy is not None and strategy_pnl < -limits.max_daily_loss_per_strategy:
        scopes.append(intent.strategy)
    return scopes


def _state_gate(intent: OrderIntent, ctx: Ctx, states: dict, enabled: bool) -> list[str]:
    """The trading-state rules, read independently: ["state"] if the intent may not pass."""
    restricting = [scope for scope in (None, intent.strategy)
                   if scope in states and states[scope].new is not TradingState.ACTIVE]
    def reduces_in(scope):
        return _reduces(intent.side, intent.qty, ctx.position(intent.symbol, scope),
                        ctx.working_qty(intent.symbol, intent.side, scope))
    if any(states[scope].new is TradingState.HALTED for scope in restricting) and not intent.flatten:
        return ["state"]
    if intent.flatten and (enabled or restricting) and not reduces_in(intent.strategy):
        return ["state"]
    return ["state"] if any(not reduces_in(scope) for scope in restricting) else []


CODE_TAGS = {   # denial code -> the oracle's name for the limit it enforces
    "max_order_qty": "qty", "max_order_pct_shares_outstanding": "pct", "max_order_pct_adv": "pct",
    "max_order_notional": "notional", "price_collar_ticks": "collar", "price_collar_bps": "collar",
    "price_collar_no_reference": "collar", "price_collar_unbounded": "collar", "market_order_banned": "ban",
    "market_order_unprotected": "unprotected", "market_order_no_reference": "unprotected",
    "reference_stale": "stale", "reference_missing": "stale", "max_position": "position",
    "max_gross_notional": "gross", "max_open_orders": "open_orders", "max_order_submit_rate": "rate",
    "duplicate_order": "duplicate", "trading_halted": "state", "trading_reducing": "state",
    "flatten_not_reducing": "state",
}


def _states_from_log(changes) -> dict[str | None, StateChange]:
    """Rebuild each scope's current state from the recorded change events only."""
    states = {}
    for change in changes:
        if isinstance(change, StateChange):
            states[None if change.scope == "engine" else change.scope] = change
    return states


def run_stream(ops, *, limits: RiskLimits | None = None, enabled: bool = True) -> dict[str, int]:
    """Drive a RiskEngine with a stream of operations and assert the safety properties at each intent."""
    ctx = Ctx()
    engine = RiskEngine(limits or RiskLimits(), enabled=enabled, operators=(OPERATOR,))
    sent: list[tuple[int, tuple]] = []
    fills: dict[str, list[int]] = {}
    outcomes: dict[str, int] = {}
    for op in ops:
        kind = op[0]
        if kind == "intent":
            _, strategy, symbol, side, qty, offset, flatten = op
            inst = ctx.instruments[symbol]
            qty *= inst.lot_size
            price = {None: None, "fat_finger_low": 1, "double": 2 * inst.reference_ticks}.get(
                offset, inst.reference_ticks + offset if isinstance(offset, int) else None)
            price = None if price is None else max(1, price)
            intent = OrderIntent(strategy, symbol, side, qty, price, "market" if price is None else "limit",
                                 flatten=flatten)
            limits_before, enabled_before = engine.limits, engine.enabled
            violations = _violations(intent, ctx, limits_before, sent) if enabled_before else []
            breaches = _loss_breaches(intent, ctx, limits_before) if enabled_before else []
            denial = engine.evaluate(intent, ctx)
            states = _states_from_log(engine.changes)   # includes any halt evaluate itself just made
            for scope in breaches:                      # a broken loss limit halts at once, by "auto"
                assert states[scope].new is TradingState.HALTED
            expected = violations + _state_gate(intent, ctx, states, enabled_before)
            outcome = denial.code if denial else "approved"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            # the safety property: nothing that breaks an active limit or the state rules is approved ...
            assert denial is not None or expected == [], f"approved {intent} against {expected}: {limits_before}"
            for scope in (None, strategy):
                if denial is None and scope in states and states[scope].new is TradingState.HALTED:
                    assert intent.flatten, f"{intent} approved while {scope or 'engine'} HALTED"
            # ... and, so the checks cannot pass by denying everything, a denial names a real violation
            if denial is not None:
                assert denial.strategy == strategy and denial.symbol == symbol and denial.text
                assert CODE_TAGS[denial.code] in expected, f"{denial} but the oracle finds only {expected}"
                continue
            engine.on_submitted(intent, ctx)
            sent.append((ctx.t, (strategy, symbol, side, qty, price, intent.ord_type)))
            ctx.work(symbol, side, qty, strategy)
        elif kind == "fill" and ctx.orders:
            order = ctx.orders[op[1] % len(ctx.orders)]
            qty = min(order[3], op[2] * ctx.instruments[order[1]].lot_size)
            order[3] -= qty
            if order[3] == 0:
                ctx.orders.remove(order)
            ctx.hold(order[1], qty if order[2] == 1 else -qty, order[0])
            fills.setdefault(order[0], []).append(ctx.t)
            rate = engine.limits.rate("max_fill_rate")
            recent = 0 if rate is None else sum(1 for t in fills[order[0]] if ctx.t - t < rate.window_ns)
            for change in engine.on_fill(order[0], order[1], order[2], qty, 10_000, ctx):
                assert change.who == "auto" and change.new is TradingState.HALTED
                if change.reason_code == "repeated_execution_throttle":
                    assert engine.enabled and recent > rate.count
            if engine.enabled and rate is not None and recent > rate.count:   # the throttle must have tripped
                assert _states_from_log(engine.changes)[order[0]].new is TradingState.HALTED
        elif kind == "cancel" and ctx.orders:
            ctx.orders.pop(op[1] % len(ctx.orders))
        elif kind == "time":
            ctx.t += op[1]
        elif kind == "limit":
            _, name, value, who = op
            try:
                change = engine.set_limit(name, value, who=who)
            except PermissionError:
                assert who != OPERATOR
            else:
                assert who == OPERATOR and change.what == name and getattr(engine.limits, name) == change.new
        elif kind == "state":
            _, scope, state, who = op
            old = engine.why(scope)
            try:
                engine.set_state(state, strategy=scope, who=who)
            except PermissionError:
                assert who != OPERATOR
                if who != "auto":
                    assert old is not None and old.who != who and state.strictness < old.new.strictness
        elif kind == "reset":
            try:
                fills.pop(engine.reset_throttle(who=op[1]).scope, None)   # a reset restarts the count
            except PermissionError:
                assert op[1] != OPERATOR
            except ValueError:
                pass
        elif kind == "enable":
            engine.set_enabled(op[1], who=OPERATOR)
        elif kind == "ref":
            _, symbol, delta, age, present = op
            if present:
                ctx.refs[symbol] = (max(1, ctx.instruments[symbol].reference_ticks + delta), ctx.t - age)
            else:
                ctx.refs.pop(symbol, None)
        elif kind == "pnl":
            ctx.pnl[op[1]] = (Decimal(op[2]) / 100, Decimal(0))
    # every automatic change only ever tightened; every loosening was an operator's or self-inflicted
    previous: dict[str, StateChange] = {}
    for change in engine.changes:
        if isinstance(change, StateChange):
            if change.who == "auto":
                assert change.new is TradingState.HALTED
            if change.new.strictness < change.old.strictness:
                assert change.who == OPERATOR or change.who == previous[change.scope].who
            previous[change.scope] = change
    return outcomes


# Hypothesis spends ~50 ms generating one 30-100 op stream (the engine needs < 2 ms to run it), so
# the shrinking property runs a few hundred examples and a seeded test runs thousands more streams.

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INITIAL_LIMITS, OPS)
def test_no_random_stream_gets_an_order_that_breaks_an_active_limit_approved(limits, ops):
    run_stream(ops, limits=limits)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INITIAL_LIMITS, OPS)
def test_a_disabled_engine_still_approves_nothing_but_reducing_flattens_while_halted(limits, ops):
    run_stream(ops, limits=limits, enabled=False)


@pytest.mark.parametrize("seed", range(4))
def test_thousands_of_seeded_streams_approve_nothing_that_breaks_a_limit_and_exercise_every_check(seed):
    rng = random.Random(seed)
    totals: dict[str, int] = {}
    for _ in range(750):
        names = rng.sample(sorted(LIMIT_VALUES), rng.randint(0, 5))
        limits = RiskLimits(**{name: rng.choice(LIMIT_VALUES[name]) for name in names})
        ops = [_random_op(rng) for _ in range(rng.randint(30, 100))]
        for name, count in run_stream(ops, limits=limits, enabled=rng.random() < 0.9).items():
            totals[name] = totals.get(name, 0) + count
    assert totals.get("approved", 0) > 2_000
    assert len([name for name in totals if name != "approved"]) >= 18, totals


def _random_op(rng: random.Random) -> tuple:
    """One operation of the same shapes and edge values as OPS, from a seeded generator."""
    kind = rng.choice(("intent",) * 5 + ("fill", "fill", "cancel", "time", "limit", "limit", "state", "reset",
                                         "enable", "ref", "pnl"))
    if kind == "intent":
        offset = rng.choice((None, rng.randint(-250, 250), rng.choice(OFFSETS)))
        return ("intent", rng.choice(STRATEGIES), rng.choice(SYMBOLS), rng.choice((1, 2)), rng.choice(QTYS),
                offset, rng.random() < 0.125)
    if kind == "fill":
        return ("fill", rng.randint(0, 20), rng.randint(1, 200))
    if kind == "cancel":
        return ("cancel", rng.randint(0, 20))
    if kind == "time":
        return ("time", rng.choice((0, 1, S // 4, S // 2 - 1, S // 2, S - 1, S, 3 * S)))
    if kind == "limit":
        name = rng.choice(sorted(LIMIT_VALUES))
        return ("limit", name, rng.choice(LIMIT_VALUES[name]), rng.choice((OPERATOR, OPERATOR, "s1")))
    if kind == "state":
        return ("state", rng.choice((None, "s1", "s2")),
                rng.choice((TradingState.ACTIVE,) * 3 + (TradingState.REDUCING, TradingState.HALTED)),
                rng.choice((OPERATOR, "s1", "s2", "auto")))
    if kind == "reset":
        return ("reset", rng.choice((OPERATOR, "s1")))
    if kind == "enable":
        return ("enable", rng.random() < 0.7)
    if kind == "ref":
        return ("ref", rng.choice(SYMBOLS), rng.randint(-300, 300),
                rng.choice((0, S // 2, S // 2 + 1, S, S + 1, 2 * S)), rng.random() < 0.9)
    return ("pnl", rng.choice(STRATEGIES),
            rng.choice((rng.randint(-200_000, 20_000), rng.choice((-5_000, -5_001, -10_000, -10_001, -50_000)))))
