"""Tests for sim.agents: determinism, arbitrageurs, liquidity providers, stress withdrawal, config."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.agents import (
    AgentsConfig,
    AgentsConfigError,
    FundamentalWalk,
    Market,
    agents_config_from_dict,
    attach_to_venue,
)
from sim.clock import VirtualClock, micros, millis, seconds
from sim.exchange import Exchange
from sim.instruments import Instrument, InstrumentTable
from sim.venue_events import BookChange, ExecReport, ExecType, OrdType, StatusChange

QUIET = {"noise_rate_per_s": 0, "lp_count": 0, "momentum_count": 0, "volatility_bps": 0.0}


def make_market(config: dict | None = None, *, symbols=(("PRB", "0.01", "100.00"),), record: bool = False,
                emit=None):
    """A Market on a fresh Exchange and VirtualClock; returns (market, exchange, clock, emitted)."""
    table = InstrumentTable([Instrument.create(*spec) for spec in symbols])
    clock = VirtualClock()
    exchange = Exchange(table, now_ns=clock.now_ns)
    emitted: list = []
    market = Market(agents_config_from_dict({"seed": 1, **(config or {})}), exchange, clock,
                    emit=emit if emit is not None else emitted.extend, record=record)
    return market, exchange, clock, emitted


def fix_order(market, exchange, *, side, qty, price, firm="A", cl_ord_id="1", ord_type=OrdType.LIMIT):
    """A FIX firm's order as the gateway would enter it, shown to the market through watch()."""
    events = exchange.new_order(firm=firm, owner=firm, cl_ord_id=cl_ord_id, symbol="PRB", side=side, qty=qty,
                                ord_type=ord_type, price=price)
    market.watch(events)
    return exchange._by_cl_ord_id[(firm, cl_ord_id)]


def lps(market):
    return [a for a in market.agents if a.kind == "lp"]


def quoted_qty(market):
    return sum(o.leaves_qty for lp in lps(market) for o in (lp.bid, lp.ask) if o is not None and not o.done)


# -- DETERMINISM ------------------------------------------------------------------------------------

def run_log(seed: int, secs: int = 5):
    market, _exchange, clock, _ = make_market({"seed": seed}, record=True,
                                              symbols=(("PRB", "0.01", "100.00"), ("ESZ6", "0.25", "5000.00")))
    market.start()
    clock.advance(seconds(secs))
    return market.log, market.digest()


def test_same_seed_gives_an_identical_order_log_and_digest():
    log1, digest1 = run_log(7)
    log2, digest2 = run_log(7)
    assert len(log1) > 300
    assert log1 == log2
    assert digest1 == digest2


def test_a_different_seed_gives_a_different_order_log():
    log1, digest1 = run_log(7)
    log2, digest2 = run_log(8)
    assert log1 != log2
    assert digest1 != digest2


def test_agents_use_neither_the_random_module_nor_wall_time():
    for path in (Path(__file__).resolve().parents[2] / "sim" / "agents").glob("*.py"):
        text = path.read_text()
        assert "import random" not in text and "from random" not in text, path
        assert "import time" not in text and "datetime" not in text, path


def test_every_agent_kind_sends_orders_in_a_default_market():
    market, _exchange, clock, _ = make_market()
    market.start()
    clock.advance(seconds(20))
    kinds = {key.split(".")[0] for key in market.counts}
    assert {"noise", "lp", "momentum"} <= kinds
    assert market.commands == sum(market.counts.values())


# -- ARBITRAGEURS -----------------------------------------------------------------------------------

def test_arbitrageur_takes_a_fat_finger_sell_from_another_firm_at_the_same_instant():
    market, exchange, clock, emitted = make_market(QUIET)
    market.start()
    t0 = clock.now_ns()
    order = fix_order(market, exchange, side=2, qty=100, price=1)
    clock.run_until(t0)
    assert order.done and order.cum_qty == 100
    fills = [e for e in emitted if type(e) is ExecReport and e.firm == "A" and e.exec_type is ExecType.TRADE]
    assert [(f.last_px, f.last_qty, f.transact_time_ns) for f in fills] == [(1, 100, t0)]
    assert market.state["PRB"].arb.position == 100


def test_arbitrageur_with_reaction_latency_takes_the_order_only_after_that_latency():
    market, exchange, clock, _ = make_market({**QUIET, "arb_latency_us": 500})
    market.start()
    order = fix_order(market, exchange, side=2, qty=10, price=9_000)
    clock.advance(micros(499))
    assert order.cum_qty == 0
    clock.advance(micros(1))
    assert order.done and order.cum_qty == 10


def test_arbitrageur_takes_a_bid_far_above_the_fundamental():
    market, exchange, clock, _ = make_market(QUIET)
    market.start()
    order = fix_order(market, exchange, side=1, qty=7, price=20_000)
    clock.advance(0)
    assert order.cum_qty == 7
    assert market.state["PRB"].arb.position == -7


def test_arbitrageur_leaves_an_order_at_the_threshold_alone():
    market, exchange, clock, _ = make_market(QUIET)
    market.start()
    threshold = market.state["PRB"].arb.threshold()
    assert threshold == 50  # 50 bps of 10,000 ticks
    at_edge = fix_order(market, exchange, side=2, qty=10, price=10_000 - threshold, cl_ord_id="1")
    fair = fix_order(market, exchange, side=1, qty=10, price=9_940, cl_ord_id="2")
    clock.advance(seconds(2))
    assert at_edge.cum_qty == 0 and not at_edge.done
    assert fair.cum_qty == 0 and not fair.done
    assert market.counts == {}


def test_arbitrageur_takes_one_tick_beyond_the_threshold():
    market, exchange, clock, _ = make_market(QUIET)
    market.start()
    order = fix_order(market, exchange, side=2, qty=10, price=10_000 - 51)
    clock.advance(0)
    assert order.done and order.cum_qty == 10


def test_arbitrageur_stops_adding_at_its_maximum_position():
    market, exchange, clock, _ = make_market({**QUIET, "arb_max_position": 30, "arb_max_qty": 20})
    market.start()
    order = fix_order(market, exchange, side=2, qty=100, price=1)
    clock.advance(seconds(1))
    assert order.cum_qty == 30
    assert market.state["PRB"].arb.position == 30
    assert market.counts == {"arb.N": 2}


def test_arbitrageur_reacts_when_the_fundamental_jumps_away_from_a_resting_order():
    market, exchange, clock, _ = make_market(QUIET)
    market.start()
    order = fix_order(market, exchange, side=2, qty=10, price=10_000)
    clock.advance(millis(10))
    assert order.cum_qty == 0
    market.shift_fundamental("PRB", 200)
    clock.advance(0)
    assert order.cum_qty == 10


def test_a_fat_finger_into_a_live_market_is_punished_by_lps_and_arbitrageurs():
    market, exchange, clock, _ = make_market({"arb_max_position": 1_000_000})
    market.start()
    clock.advance(seconds(5))
    order = fix_order(market, exchange, side=2, qty=5_000, price=1)
    clock.advance(0)
    assert order.done and order.cum_qty == 5_000
    assert order.notional < 5_000 * 10_000  # sold well below the fundamental
    assert market.state["PRB"].arb.position > 0


# -- LIQUIDITY PROVIDERS AND STRESS -----------------------------------------------------------------

def test_liquidity_providers_keep_a_two_sided_market_in_calm_conditions():
    market, exchange, clock, _ = make_market(symbols=(("PRB", "0.01", "100.00"), ("ESZ6", "0.25", "5000.00")))
    market.start()
    clock.advance(seconds(2))
    samples = two_sided = 0
    spreads = []
    for _ in range(300):
        clock.advance(millis(100))
        for symbol in ("PRB", "ESZ6"):
            bid, ask = exchange.books[symbol].best_bid(), exchange.books[symbol].best_ask()
            samples += 1
            if bid is not None and ask is not None:
                two_sided += 1
                spreads.append((ask.price - bid.price) / market.fair(symbol) * 1e4)
    assert two_sided == samples
    spreads.sort()
    assert spreads[len(spreads) // 2] <= 10  # median spread in bps
    assert sum(lp.withdrawals for lp in lps(market)) == 0
    assert all(lp.quoting() for lp in lps(market))


def test_liquidity_provider_skews_quotes_against_its_inventory():
    no_stress = {"lp_widen_per_stress": 0.0, "lp_shrink_per_stress": 0.0, "lp_pull_stress_min": 1e9,
                 "lp_pull_stress_max": 1e9}  # the skew moves the mid, which would read as stress
    market, exchange, clock, _ = make_market({**QUIET, **no_stress, "lp_count": 1, "lp_market_weight": 0.0,
                                              "lp_skew_bps_per_lot": 1.0, "arb_enabled": False})
    market.start()
    clock.advance(seconds(1))
    lp = lps(market)[0]
    flat = (lp.bid.price, lp.ask.price)
    assert flat == (10_000 - 3, 10_000 + 3)
    fix_order(market, exchange, side=2, qty=10, price=1, ord_type=OrdType.LIMIT)  # hits the LP's bid
    assert lp.position == 10
    clock.advance(seconds(1))
    assert (lp.bid.price, lp.ask.price) == (flat[0] - 10, flat[1] - 10)  # 10 lots x 1 bp: cheaper, to sell


def crash(market, exchange, clock, *, lots: int, orders: int):
    """A FIX firm selling ``lots`` at market every 100 ms, ``orders`` times."""
    for i in range(orders):
        fix_order(market, exchange, side=2, qty=lots, price=None, firm="SELLER", cl_ord_id=str(i),
                  ord_type=OrdType.MARKET)
        clock.advance(millis(100))


def test_withdrawal_under_stress_thins_the_book_and_liquidity_returns_when_calm():
    market, exchange, clock, _ = make_market({"seed": 3, "lp_count": 6, "arb_max_position": 200})
    market.start()
    clock.advance(seconds(10))
    calm_qty = quoted_qty(market)
    assert calm_qty >= 6 * 2 * 20 * 0.8
    crash(market, exchange, clock, lots=300, orders=30)
    stressed = market.stress("PRB")
    pulled = sum(lp.pulled for lp in lps(market))
    assert stressed > 4
    assert pulled >= 3
    assert quoted_qty(market) < calm_qty / 4
    clock.advance(seconds(60))
    assert market.stress("PRB") < 2
    assert not any(lp.pulled for lp in lps(market))
    assert quoted_qty(market) >= calm_qty * 0.8


def test_lps_withdraw_progressively_not_all_at_once():
    market, _exchange, _clock, _ = make_market({"lp_count": 5})
    thresholds = [lp.pull_at for lp in lps(market)]
    assert thresholds == sorted(thresholds) and thresholds[0] == 4.0 and thresholds[-1] == 8.0


def test_feedback_loop_produces_a_flash_crash_shape_that_recovers():
    market, exchange, clock, _ = make_market({"seed": 3, "lp_count": 6, "arb_max_position": 200,
                                              "noise_market_order_share": 0.5})
    market.start()
    clock.advance(seconds(10))
    lows = []
    for i in range(30):
        fix_order(market, exchange, side=2, qty=300, price=None, firm="SELLER", cl_ord_id=str(i),
                  ord_type=OrdType.MARKET)
        clock.advance(millis(100))
        lows.append(min(market.state["PRB"].trades))
    clock.advance(seconds(60))
    low = min(lows)
    assert low < 10_000 * 0.99                          # a crash of more than 1 %
    assert abs(market.state["PRB"].last_trade - market.fair("PRB")) < 20   # and back near value


# -- EVENT ROUTING ----------------------------------------------------------------------------------

def test_agents_reports_stay_inside_but_counterparty_reports_and_book_changes_are_emitted():
    market, exchange, clock, emitted = make_market({**QUIET, "noise_rate_per_s": 50, "noise_marketable_share": 1.0,
                                                    "noise_cancel_share": 0.0, "arb_enabled": False})
    fix_order(market, exchange, side=2, qty=10_000, price=10_001, firm="A")
    market.start()
    clock.advance(seconds(2))
    reports = [e for e in emitted if type(e) is ExecReport]
    assert reports and all(r.firm == "A" for r in reports)
    assert any(r.exec_type is ExecType.TRADE for r in reports)
    assert any(type(e) is BookChange and e.trades for e in emitted)


def test_watch_ignores_what_the_market_emitted_itself():
    plain, _exchange, clock, _ = make_market()
    plain.start()
    clock.advance(seconds(5))
    holder = {}
    looped, _exchange, clock, _ = make_market(emit=lambda events: holder["m"].watch(events))
    holder["m"] = looped
    looped.start()
    clock.advance(seconds(5))
    assert looped.digest() == plain.digest()
    assert [(a.owner, a.position, a.fills) for a in looped.agents] == \
        [(a.owner, a.position, a.fills) for a in plain.agents]
    assert sum(a.fills for a in plain.agents) > 0


def test_a_lp_filled_by_a_fix_firm_learns_it_through_watch():
    market, exchange, clock, _ = make_market({**QUIET, "lp_count": 1, "arb_enabled": False})
    market.start()
    clock.advance(seconds(1))
    lp = lps(market)[0]
    fix_order(market, exchange, side=1, qty=4, price=lp.ask.price)
    assert lp.position == -4


def test_agents_pause_while_the_symbol_is_halted_and_resume_after():
    market, _exchange, clock, _ = make_market()
    market.start()
    clock.advance(seconds(1))
    market.watch([StatusChange("PRB", "halted", "luld", "limit state")])
    before = market.commands
    clock.advance(seconds(2))
    assert market.commands == before
    market.watch([StatusChange("PRB", "continuous", "", "resumed")])
    clock.advance(seconds(2))
    assert market.commands > before


def test_stop_cancels_every_resting_agent_order_and_all_timers():
    market, exchange, clock, _ = make_market()
    market.start()
    clock.advance(seconds(3))
    assert any(exchange.open_orders.get(firm) for firm in market.firms)
    market.stop()
    assert not any(exchange.open_orders.get(firm) for firm in market.firms)
    before = market.commands
    clock.advance(seconds(3))
    assert market.commands == before
    assert clock.pending_timers() == 0


def test_a_disabled_market_sends_nothing():
    market, _exchange, clock, _ = make_market({"enabled": False})
    market.start()
    clock.advance(seconds(3))
    assert market.commands == 0 and not market.running


def test_attach_to_venue_wires_emit_and_watch_so_arbitrageurs_see_fix_orders():
    from sim.venue import Venue
    from sim.venue_config import venue_config_from_dict

    config = venue_config_from_dict({
        "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
        "firm": [{"id": "A"}], "agents": {"seed": 2, **QUIET}})
    clock = VirtualClock()
    venue = Venue(config, now_ns=clock.now_ns)
    market = attach_to_venue(venue, clock)
    assert market is not None and market.running
    venue.gateway.dispatch(venue.exchange.new_order(firm="A", owner="A", cl_ord_id="x", symbol="PRB", side=2,
                                                    qty=50, ord_type=OrdType.LIMIT, price=5))
    clock.advance(0)
    assert market.state["PRB"].arb.position == 50
    assert attach_to_venue(venue, clock, {"enabled": False}) is None


# -- FUNDAMENTAL --------------------------------------------------------------------------------------

@pytest.mark.parametrize("vol_bps", [2.0, 30.0])
def test_fundamental_walk_has_zero_mean_and_the_configured_variance(vol_bps):
    start = {f"S{i}": 10_000 for i in range(8)}
    walk = FundamentalWalk(start, volatility_bps=vol_bps, step_ms=100, rng=np.random.default_rng(5))
    steps = 5_000
    paths = np.array([list(walk.step().values()) for _ in range(steps)])
    moves = np.diff(np.vstack([list(start.values()), paths]), axis=0).ravel()
    sigma = vol_bps * 1e-4 * 10_000 * math.sqrt(0.1)
    expected_var = sigma ** 2 + (1 / 12 if sigma >= 1 else 0)
    assert abs(moves.mean()) < 4 * sigma / math.sqrt(moves.size)
    assert abs(moves.var() / expected_var - 1) < 0.05
    assert moves.dtype.kind == "i"


def test_fundamental_walk_never_goes_below_one_tick_and_zero_volatility_stays_put():
    walk = FundamentalWalk({"A": 3, "B": 100}, volatility_bps=50_000.0, step_ms=1000, rng=np.random.default_rng(1))
    flat = FundamentalWalk({"A": 100}, volatility_bps=0.0, step_ms=100, rng=np.random.default_rng(1))
    for _ in range(2_000):
        assert min(walk.step().values()) >= 1
        assert flat.step()["A"] == 100
    assert walk.shift("A", -1_000_000) == 1


# -- CONFIG -------------------------------------------------------------------------------------------

def test_config_defaults_load_from_an_empty_agents_table():
    config = agents_config_from_dict({})
    assert config == AgentsConfig()
    assert config.enabled and config.lp.count == 4 and config.arb.threshold_bps == 50.0


def test_config_flat_keys_and_sub_tables_mean_the_same():
    flat = agents_config_from_dict({"noise_rate_per_s": 5, "lp_count": 2, "arb_threshold_bps": 25})
    nested = agents_config_from_dict({"noise": {"rate_per_s": 5}, "lp": {"count": 2}, "arb": {"threshold_bps": 25}})
    assert flat == nested
    assert flat.noise.rate_per_s == 5.0 and isinstance(flat.noise.rate_per_s, float)


def test_config_loads_from_the_agents_table_of_a_venue_toml(tmp_path):
    from sim.venue_config import load_venue_config

    path = tmp_path / "venue.toml"
    path.write_text('[[instrument]]\nsymbol = "PRB"\ntick_size = "0.01"\nreference_price = "100.00"\n'
                    '[[firm]]\nid = "A"\n[agents]\nseed = 9\nlp_size = 50\nvolatility_bps = 4.5\n')
    config = agents_config_from_dict(load_venue_config(path).agents, source=str(path))
    assert (config.seed, config.lp.size, config.fundamental.volatility_bps) == (9, 50, 4.5)


@pytest.mark.parametrize("table, message", [
    ({"lp_cuont": 2}, "unknown key 'lp_cuont' (did you mean 'lp_count'?)"),
    ({"noise_rate_per_s": -1}, "noise_rate_per_s must be >= 0, got -1"),
    ({"lp_size": 0}, "lp_size must be > 0, got 0"),
    ({"lp_count": 2.5}, "lp_count must be an integer, got 2.5"),
    ({"lp_count": True}, "lp_count must be an integer, got True"),
    ({"arb_threshold_bps": "50"}, "arb_threshold_bps must be a number, got '50'"),
    ({"volatility_bps": float("nan")}, "volatility_bps must be finite"),
    ({"noise_marketable_share": 1.5}, "noise_marketable_share must be <= 1, got 1.5"),
    ({"noise_marketable_share": 0.8, "noise_cancel_share": 0.5}, "noise_marketable_share + noise_cancel_share"),
    ({"lp_pull_stress_min": 9.0, "lp_pull_stress_max": 5.0}, "lp_pull_stress_max (5.0) must be >="),
    ({"stress_horizon_ms": 50}, "stress_horizon_ms (50) must be >= stress_sample_ms (100)"),
    ({"seed": -3}, "seed must be a non-negative integer, got -3"),
    ({"seed": "x"}, "seed must be an integer, got 'x'"),
    ({"enabled": 1}, "enabled must be a bool, got 1"),
    ({"arb_enabled": "yes"}, "arb_enabled must be true or false, got 'yes'"),
    ({"momentum_lookback": 1}, "momentum_lookback must be >= 2, got 1"),
    ({"lp": {"count": 1}, "lp_count": 2}, "lp_count is given twice"),
])
def test_config_error_names_the_key_and_the_reason(table, message):
    with pytest.raises(AgentsConfigError) as info:
        agents_config_from_dict(table, source="venue.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("venue.toml: [agents]")


def test_market_refuses_a_symbol_the_venue_does_not_list():
    with pytest.raises(AgentsConfigError, match="'NOPE' is not listed"):
        make_market({"symbols": ["NOPE"]})


# -- MOMENTUM -----------------------------------------------------------------------------------------

def test_momentum_follower_buys_after_rising_trade_prints():
    market, exchange, clock, _ = make_market({**QUIET, "momentum_count": 1, "momentum_rate_per_s": 100.0,
                                              "momentum_lookback": 3, "arb_enabled": False})
    market.start()
    fix_order(market, exchange, side=2, qty=100, price=10_020, firm="MAKER", cl_ord_id="ask")
    for i, price in enumerate((10_000, 10_002, 10_004, 10_006)):  # +6 over 3 trades back: above 5 bps
        fix_order(market, exchange, side=2, qty=1, price=price, firm="S", cl_ord_id=f"s{i}")
        fix_order(market, exchange, side=1, qty=1, price=price, firm="B", cl_ord_id=f"b{i}")
    assert list(market.state["PRB"].trades) == [10_000, 10_002, 10_004, 10_006]
    clock.advance(seconds(1))
    follower = next(a for a in market.agents if a.kind == "momentum")
    assert 0 < follower.position <= market.config.momentum.max_position


def test_momentum_follower_does_nothing_while_prints_are_flat():
    market, exchange, clock, _ = make_market({**QUIET, "momentum_count": 1, "momentum_rate_per_s": 100.0,
                                              "momentum_lookback": 3, "arb_enabled": False})
    market.start()
    fix_order(market, exchange, side=2, qty=100, price=10_020, firm="MAKER", cl_ord_id="ask")
    for i in range(4):
        fix_order(market, exchange, side=2, qty=1, price=10_000, firm="S", cl_ord_id=f"s{i}")
        fix_order(market, exchange, side=1, qty=1, price=10_000, firm="B", cl_ord_id=f"b{i}")
    clock.advance(seconds(1))
    assert market.commands == 0


def test_digest_is_the_same_in_a_fresh_process_with_another_hash_seed():
    import os
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, 'tests/sim'); from test_agents import run_log; "
            "print(run_log(7, secs=2)[1])")
    root = Path(__file__).resolve().parents[2]
    digests = {subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert len(digests) == 1 and digests == {run_log(7, secs=2)[1]}
