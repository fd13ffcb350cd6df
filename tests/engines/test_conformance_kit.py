"""The conformance kit judges engines right: good ones pass, each broken one fails on its own check.

Every broken engine below is the reference :class:`MinimalEngine` with exactly one behaviour
broken, the way real engines break (a fill path that drops executions, a "halt" that only cancels,
an off-by-one limit, random ClOrdIDs...).  The kit must name the check that owns that behaviour,
first; where one bug honestly breaks two behaviours (no fills booked -> nothing to flatten) the
test says so.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from engines.order_engine import OrderEngine, OrderState
from engines.testing import CHECKS, ConformanceReport, OrderEngineConformanceError, check_order_engine


def _load_example():
    """examples/ is not a package: load the module from its file, as a reader would run it."""
    path = Path(__file__).resolve().parents[2] / "examples" / "minimal_engine.py"
    spec = importlib.util.spec_from_file_location("examples_minimal_engine", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


MinimalEngine = _load_example().MinimalEngine


# -- BROKEN ENGINES: each breaks one behaviour --------------------------------------------------------


class IgnoresFills(MinimalEngine):
    """Drops executions on the floor: handles never fill, positions never move."""

    def _on_report(self, msg):
        if msg.get(150) in (b"F", b"1", b"2"):
            return
        super()._on_report(msg)


class IgnoresVenueRejects(MinimalEngine):
    """Never books a rejected ExecutionReport: the order looks pending forever."""

    def _on_report(self, msg):
        if msg.get(150) == b"8":
            return
        super()._on_report(msg)


class ForgetsReplacedClOrdIDs(MinimalEngine):
    """Sends a replace under a new ClOrdID but does not index it: the confirmation is not recognised."""

    def replace(self, handle, *, qty=None, price=None):
        sent = super().replace(handle, qty=qty, price=price)
        if sent:
            del self.orders[handle.cl_ord_ids[-1]]
        return sent


class HaltOnlyCancels(MinimalEngine):
    """Takes "halt" to mean "cancel everything" and leaves the trading state ACTIVE."""

    def halt(self, *, strategy=None, who="operator", reason="manual halt"):
        self.cancel_all(strategy=strategy)


class BlocksCancelsWhenHalted(MinimalEngine):
    """Refuses cancels during a halt, trapping orders at the venue."""

    def cancel(self, handle):
        if self.risk.state(handle.strategy).value == "halted":
            return False
        return super().cancel(handle)


class FlattenWithoutFlag(MinimalEngine):
    """Sends flatten as an ordinary order, so the halt it should pass through denies it."""

    def submit(self, strategy, symbol, side, qty, price=None, *, ord_type="limit", time_in_force="day",
               flatten=False):
        return super().submit(strategy, symbol, side, qty, price, ord_type=ord_type, time_in_force=time_in_force)


class OffByOneMaxOrderQty(MinimalEngine):
    """Adds its own max-qty check with >= where > was meant: an order exactly at the limit is denied."""

    def _must_send(self, intent):
        limit = self.risk.limits.max_order_qty
        if limit is not None and intent.qty >= limit:
            from engines.risk import Denial
            return Denial("engine", "max_order_qty", f"qty {intent.qty} >= {limit}", intent.strategy, intent.symbol)
        return super()._must_send(intent)


class NakedMarketOrders(MinimalEngine):
    """Never applies the protection price: market orders leave naked (Everbright, the flash crash)."""

    def __init__(self, name, instruments, *, now_ns, risk):
        super().__init__(name, instruments, now_ns=now_ns, risk=risk)
        risk.protection_price = lambda intent, ctx: None  # as if the engine never asked for it


class RandomClOrdIDs(MinimalEngine):
    """ClOrdIDs from os.urandom: unique, but no two runs send the same bytes."""

    def _next_id(self):
        return f"{self.name}-{os.urandom(4).hex()}"


class RaisesOnFills(MinimalEngine):
    """Blows up inside the FIX callback when a fill arrives."""

    def _on_report(self, msg):
        if msg.get(150) in (b"F", b"1", b"2"):
            raise RuntimeError("position service unavailable")
        super()._on_report(msg)


BROKEN = [
    (IgnoresFills, ["acks_and_fills", "flatten_while_halted"]),   # no fills booked -> no position to flatten
    (IgnoresVenueRejects, ["venue_rejects"]),
    (ForgetsReplacedClOrdIDs, ["cancel_and_replace"]),
    (HaltOnlyCancels, ["halt_blocks_new_orders_not_cancels"]),
    (BlocksCancelsWhenHalted, ["halt_blocks_new_orders_not_cancels"]),
    (FlattenWithoutFlag, ["flatten_while_halted"]),
    (OffByOneMaxOrderQty, ["limits_at_thresholds"]),
    (NakedMarketOrders, ["market_orders_protected"]),
    (RandomClOrdIDs, ["deterministic_fix_traffic"]),
]


# -- GOOD ENGINES PASS -----------------------------------------------------------------------------


def test_the_built_in_order_engine_passes_every_check():
    report = check_order_engine(OrderEngine)
    assert isinstance(report, ConformanceReport)
    assert report.passed == CHECKS
    assert f"passes {len(CHECKS)} conformance checks" in str(report)


def test_the_minimal_example_engine_passes_every_check():
    assert check_order_engine(MinimalEngine).passed == CHECKS


def test_a_factory_function_works_as_well_as_a_class():
    def factory(name, instruments, *, now_ns, risk):
        return MinimalEngine(name, instruments, now_ns=now_ns, risk=risk)

    assert check_order_engine(factory).engine.endswith("factory")


# -- BROKEN ENGINES FAIL ON THE RIGHT CHECK -----------------------------------------------------------


@pytest.mark.parametrize(("engine", "failing"), BROKEN, ids=[cls.__name__ for cls, _ in BROKEN])
def test_a_broken_engine_fails_on_the_check_that_owns_the_broken_behaviour(engine, failing):
    with pytest.raises(OrderEngineConformanceError) as caught:
        check_order_engine(engine)
    error = caught.value
    assert error.check == failing[0]
    assert [f.check for f in error.failures] == failing
    assert set(error.passed) == set(CHECKS) - set(failing)
    assert f"[{failing[0]}]" in str(error) and "expected" in str(error) and "saw" in str(error)


def test_an_off_by_one_limit_is_reported_at_the_exact_threshold_with_what_was_seen():
    with pytest.raises(OrderEngineConformanceError) as caught:
        check_order_engine(OffByOneMaxOrderQty, checks=["limits_at_thresholds"])
    failure = caught.value.failures[0]
    assert "exactly at max_order_qty" in failure.behaviour
    assert failure.expected == "sent" and "state=denied" in failure.seen


def test_nondeterministic_clordids_are_reported_with_the_first_differing_frames():
    with pytest.raises(OrderEngineConformanceError) as caught:
        check_order_engine(RandomClOrdIDs, checks=["deterministic_fix_traffic"])
    failure = caught.value.failures[0]
    assert "differ at FIX frame" in failure.behaviour
    assert "35=D" in failure.expected and "35=D" in failure.seen and failure.expected != failure.seen


def test_a_halt_that_only_cancels_is_caught_at_the_first_new_order_it_lets_through():
    with pytest.raises(OrderEngineConformanceError) as caught:
        check_order_engine(HaltOnlyCancels, checks=["halt_blocks_new_orders_not_cancels"])
    failure = caught.value.failures[0]
    assert failure.behaviour == "a new order while HALTED is denied by the engine"
    assert f"state={OrderState.PENDING_NEW}" in failure.seen


def test_an_engine_that_raises_fails_the_check_and_names_the_exception():
    with pytest.raises(OrderEngineConformanceError) as caught:
        check_order_engine(RaisesOnFills, checks=["acks_and_fills"])
    failure = caught.value.failures[0]
    assert failure.check == "acks_and_fills"
    assert failure.behaviour == "the engine raised while handling a message from the venue"
    assert "RuntimeError: position service unavailable" in failure.seen and "_on_report" in failure.seen


class ForgetsToAttach(MinimalEngine):
    """Keeps the session but never becomes its application: no report ever reaches it."""

    def attach(self, session):
        self.session = session


def test_an_engine_that_does_not_become_its_sessions_application_fails_every_check_naming_the_wiring():
    with pytest.raises(OrderEngineConformanceError) as caught:
        check_order_engine(ForgetsToAttach)
    assert [f.check for f in caught.value.failures] == list(CHECKS)
    assert all("attach(session)" in f.behaviour for f in caught.value.failures)


# -- THE KIT'S OWN API ---------------------------------------------------------------------------------


def test_checks_picks_a_subset_and_runs_them_in_the_kits_order():
    report = check_order_engine(MinimalEngine, checks=["deterministic_fix_traffic", "venue_rejects"])
    assert report.passed == ("venue_rejects", "deterministic_fix_traffic")


def test_an_unknown_check_name_is_refused_with_the_list_of_checks():
    with pytest.raises(ValueError, match="acks_and_fills"):
        check_order_engine(MinimalEngine, checks=["acks_and_fils"])


def test_calling_the_kit_inside_a_running_loop_says_to_call_it_from_sync_code():
    async def inside():
        check_order_engine(MinimalEngine)

    with pytest.raises(RuntimeError, match="synchronous"):
        asyncio.run(inside())
