"""A conformance kit for plug-in order engines: :func:`check_order_engine`.

After trio's ``check_two_way_stream``: a public check a team runs in its *own* test suite against
its *own* engine, to learn whether it honours the contract of :mod:`engines.protocol` before a
scenario depends on it::

    from engines.testing import check_order_engine
    from myfirm.engine import MyEngine

    def test_my_engine_conforms():
        check_order_engine(MyEngine)   # raises OrderEngineConformanceError naming what broke

``factory(name, instruments, *, now_ns, risk)`` builds one unconnected engine (see
:class:`engines.protocol.EngineFactory`; an engine class with that constructor is its own
factory).  Each named check then runs in a fresh :class:`~scenarios.world.World` on a fresh
:class:`~sim.clock.VirtualClock`: the real venue, the engine under test as firm ``FIRM`` and a
built-in :class:`~engines.order_engine.OrderEngine` as counterparty ``CPTY``, joined by the
in-memory FIX pipe, so the engine is judged by what it does on the wire and what it reports back,
not by how it is built.  The checks, in order (:data:`CHECKS`):

=================================  =========================================================================
check                              what must hold
=================================  =========================================================================
acks_and_fills                     pending new -> NEW (order id, unacked until the ack) -> PARTIALLY_FILLED
                                   -> FILLED; cum qty, leaves, average price, position, working qty,
                                   ``sent``, fill updates to subscribers, unrealised P&L
venue_rejects                      an unknown symbol and an off-tick price (the venue's grid differs from
                                   the firm's copy) come back REJECTED with the venue's Text, not open
cancel_and_replace                 replace changes qty and price at the venue; cancel and cancel_all end
                                   CANCELED with nothing left working; a done order cannot be cancelled;
                                   a cancel that loses the race to a fill ends FILLED (cancel_rejected)
halt_blocks_new_orders_not_cancels HALTED denies a new order (code ``trading_halted``, a reason, nothing sent)
                                   while a cancel still reaches the venue; resume lets orders through
flatten_while_halted               ``flatten`` closes the position through a halt
limits_at_thresholds               max_order_qty and max_position: exactly at the limit passes and reaches
                                   the venue, one above is denied with the limit's code and never sent
market_orders_protected            under ``market_order_policy = "protect"`` a market order leaves as an IOC
                                   limit at reference +/- protection, never naked
deterministic_fix_traffic          the same script on two fresh virtual clocks sends byte-identical FIX
=================================  =========================================================================

Design choices
--------------
* Every check runs (a broken engine usually breaks more than one thing, and the team wants the
  whole list); :class:`OrderEngineConformanceError` carries each :class:`CheckFailure`, and its
  ``check`` is the first failing one.  ``checks=`` runs a subset by name.
* Inside a check the first unmet expectation ends it: later steps would only report consequences.
  A check judges only its own behaviour (the cancel race checks the final state, not the fill
  booking), so one bug fails one check unless it honestly breaks two (no fills booked -> nothing
  to flatten).  A failure says the behaviour, what was expected and what was seen.
* An exception from the engine fails that check (named as such), never errors the kit; one raised
  inside a FIX callback surfaces in the loop's exception handler, so each trial collects it there
  and the next ``settle()`` reports it.
* The firm's instrument table deliberately differs from the venue's (``FINE`` has a 0.01 tick at
  the firm and 0.05 at the venue; ``GHOST`` is not listed at the venue): that is how the venue is
  made to reject without the engine's own checks being bypassed.
* :func:`connect_engine` is the wiring a plug-in engine needs inside a :class:`World` (whose
  ``add_engine`` builds the built-in engine only): a FIX initiator session, ``attach``, the pipe.
* Runs its own virtual-time event loops (``sim.clock.run_virtual``): call it from a plain
  synchronous test, not from inside a running loop.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engines.order_engine import OrderEngine, OrderHandle, OrderState, OrderUpdate
from engines.protocol import EngineFactory, OrderEngineProtocol
from engines.risk import RiskEngine, RiskLimits, TradingState
from scenarios.world import World
from sim.clock import VirtualClock, current_clock, run_virtual
from sim.fix.codec import FixMessage, decode
from sim.fix.session import Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.transport import memory_pipe
from sim.instruments import Instrument, InstrumentTable
from sim.venue_config import venue_config_from_dict

__all__ = ["check_order_engine", "connect_engine", "CHECKS", "ConformanceReport", "CheckFailure",
           "OrderEngineConformanceError"]

FIRM, CPTY, STRATEGY = "FIRM", "CPTY", "conformance"
BUY, SELL = 1, 2
_SETTLE_NS = 10_000_000   # 10 ms of virtual time: many round trips at the default 50 us link latency

_VENUE = {
    "venue": {"comp_id": "VENUE"},
    "instrument": [
        {"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"},
        {"symbol": "FINE", "tick_size": "0.05", "reference_price": "50.00"},
    ],
    "firm": [{"id": FIRM}, {"id": CPTY}],
}


def _firm_instruments() -> InstrumentTable:
    """The firm's own reference data: PRB as the venue has it, FINE on a stale finer grid, GHOST unlisted."""
    return InstrumentTable([Instrument.create("PRB", "0.01", "100.00"),
                            Instrument.create("FINE", "0.01", "50.00"),
                            Instrument.create("GHOST", "0.01", "10.00")])


# -- RESULTS ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """One check that did not hold: which, the behaviour that broke, what was expected and seen."""

    check: str
    behaviour: str
    expected: str
    seen: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.behaviour}: expected {self.expected}; saw {self.seen}"


class OrderEngineConformanceError(AssertionError):
    """An engine broke one or more checks; ``check`` is the first, ``failures`` all of them."""

    def __init__(self, engine: str, failures: list[CheckFailure], passed: tuple[str, ...]) -> None:
        self.engine = engine
        self.failures = failures
        self.passed = passed
        self.check = failures[0].check
        lines = [f"order engine {engine} fails {len(failures)} conformance check(s): "
                 f"{', '.join(f.check for f in failures)}"]
        lines += [f"  {failure}" for failure in failures]
        if passed:
            lines.append(f"  passed: {', '.join(passed)}")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """What :func:`check_order_engine` returns when every check held."""

    engine: str
    passed: tuple[str, ...]

    def __str__(self) -> str:
        return f"order engine {self.engine} passes {len(self.passed)} conformance checks: {', '.join(self.passed)}"


class _WiringError(TypeError):
    """``attach`` did not make the engine its session's application."""


class _Unmet(Exception):
    """An expectation inside a check that did not hold (becomes a CheckFailure)."""

    def __init__(self, behaviour: str, expected: object, seen: object) -> None:
        super().__init__(behaviour)
        self.behaviour, self.expected, self.seen = behaviour, str(expected), str(seen)


def _expect(ok: bool, behaviour: str, expected: object, seen: object) -> None:
    if not ok:
        raise _Unmet(behaviour, expected, seen)


# -- WIRING ----------------------------------------------------------------------------------------


def connect_engine(world: World, factory: EngineFactory, name: str, *, risk: RiskEngine | None = None,
                   instruments: InstrumentTable | None = None, comp_id: str | None = None,
                   heartbeat_s: int = 30) -> OrderEngineProtocol:
    """Build an engine with ``factory`` and connect it to ``world``'s venue as CompID ``comp_id`` (= name).

    What :meth:`World.add_engine` does for the built-in engine, for any engine: the engine joins
    ``world.engines`` and ``world.drivers``, so ``world.logged_on()`` and ``world.disconnect()`` see it.
    """
    comp_id = comp_id or name
    begin = world.config.begin_strings[0]
    if instruments is None:
        # The firm's own copy of the reference data, as World.add_engine gives the built-in engine.
        instruments = InstrumentTable(list(world.config.instruments))
    engine = factory(name, instruments, now_ns=world.now_ns,
                     risk=risk if risk is not None else RiskEngine(enabled=False))
    sid = SessionID(begin, comp_id, world.config.comp_id)
    session = Session(SessionConfig(sid, initiator=True, heartbeat_s=heartbeat_s, reset_on_logon=True),
                      now_ns=world.now_ns)
    engine.attach(session)
    if session.app is not engine:
        raise _WiringError(f"{type(engine).__name__}.attach(session) must make the engine the session's "
                        f"application (session.app = self)")
    world.drivers[name] = memory_pipe(session, world.venue_session(comp_id, begin), now_ns=world.now_ns,
                                      latency_ns=world.latency_ns)
    world.engines[name] = engine  # type: ignore[assignment]
    return engine


@dataclass
class _Trial:
    """One check's world: the engine under test, the counterparty, and what the venue saw."""

    world: World
    engine: Any
    cpty: OrderEngine
    updates: list[OrderUpdate] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    async def settle(self) -> None:
        """Let every message in flight arrive and be answered; fail if a callback raised meanwhile."""
        # Virtual time costs nothing, so wait generously: 40 one-way latencies covers every exchange here.
        await asyncio.sleep(max(_SETTLE_NS, 40 * self.world.latency_ns) / 1e9)
        if self.errors:
            raise _Unmet("the engine raised while handling a message from the venue", "no exception",
                         _where(self.errors[0]))
        # The session catches an application's exception (answers it with BusinessMessageReject and
        # logs it, so the counterparty does not resend it forever): find it in the session's log.
        session = getattr(self.engine, "session", None)
        events = getattr(getattr(session, "log", None), "events", [])
        failures = [e for e in events if e.startswith("Application error")]
        if failures:
            raise _Unmet("the engine raised while handling a message from the venue", "no exception",
                         failures[0])

    def received(self, msg_type: bytes = b"D") -> list[FixMessage]:
        """Application messages of one type the venue received from the engine under test."""
        return [m for m in map(decode, self.world.venue_session(FIRM).log.incoming) if m.msg_type() == msg_type]

    def venue_text(self, cl_ord_id: str) -> str | None:
        """The Text(58) of the venue's rejected ExecutionReport for ``cl_ord_id``, if it sent one."""
        for msg in map(decode, self.world.venue_session(FIRM).log.outgoing):
            if msg.msg_type() == b"8" and msg.get(150) == b"8" and msg.get(11) == cl_ord_id.encode():
                return (msg.get(58) or b"").decode("latin-1")
        return None

    def traffic(self) -> list[bytes]:
        """Every frame between the venue and the engine under test, both ways, in the venue's order."""
        log = self.world.venue_session(FIRM).log
        return list(log.incoming) + list(log.outgoing)


def _run_trial(factory: EngineFactory, body: Callable[[_Trial], Awaitable[Any]], limits: RiskLimits | None,
               latency_ns: int) -> Any:
    """Run ``body`` in a fresh world on a fresh virtual clock; returns what it returns."""
    async def main() -> Any:
        now = current_clock().now_ns
        world = World(venue_config_from_dict(_VENUE, source="<conformance venue>"), now_ns=now,
                      latency_ns=latency_ns)
        cpty = world.add_engine(CPTY, CPTY)
        try:
            engine = connect_engine(world, factory, FIRM, risk=RiskEngine(limits or RiskLimits(), clock=now),
                                    instruments=_firm_instruments())
        except _WiringError as exc:
            raise _Unmet("attach(session) wires the engine to its FIX session", "session.app is the engine",
                         str(exc)) from None
        try:
            await world.logged_on(timeout_s=5.0)
        except TimeoutError:
            raise _Unmet("logon", "the engine's session to log on to the venue within 5 s",
                         "no logon (is the engine the session's application, and does it accept the Logon?)") from None
        trial = _Trial(world, engine, cpty)
        # An exception in a FIX callback surfaces in the loop's handler, not in the check: collect it
        # there (instead of a log line per redelivery) and let the next settle() report it.
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: trial.errors.append(context.get("exception") or RuntimeError(context["message"])))
        engine.subscribe(trial.updates.append)
        for each in (engine, cpty):
            for instrument in each.instruments:
                each.set_reference(instrument.symbol, instrument.reference_ticks)
        return await body(trial)

    return run_virtual(main(), clock=VirtualClock())


def _where(exc: BaseException) -> str:
    """``Type: message (at file:line in function)`` of the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"


def _describe(handle: OrderHandle) -> str:
    return (f"{handle.cl_ord_id} state={handle.state} qty={handle.qty} price={handle.price} cum={handle.cum_qty} "
            f"code={handle.reject_code!r} text={handle.reject_text!r}")


# -- THE CHECKS --------------------------------------------------------------------------------------


async def _acks_and_fills(t: _Trial) -> None:
    e, cp = t.engine, t.cpty
    buy = e.submit(STRATEGY, "PRB", BUY, 10, 10_000)
    _expect(buy.state is OrderState.PENDING_NEW, "a sent order is pending new until the venue acks",
            OrderState.PENDING_NEW, _describe(buy))
    _expect(e.unacked() == [buy], "unacked() lists a sent order until its ack arrives", [buy.cl_ord_id],
            [h.cl_ord_id for h in e.unacked()])
    _expect(e.sent == 1, "sent counts orders sent to the venue", 1, e.sent)
    await t.settle()
    _expect(buy.state is OrderState.NEW and bool(buy.order_id), "the venue's ack makes the order NEW with its OrderID",
            "state new and an order_id", _describe(buy) + f" order_id={buy.order_id!r}")
    _expect(e.unacked() == [] and buy.acked, "an acked order is no longer unacked", "unacked() == []",
            [h.cl_ord_id for h in e.unacked()])
    _expect(e.open_order_count() == 1 and e.working_qty("PRB", BUY) == 10,
            "a resting order counts as open and working", "1 open order, 10 working on the buy side",
            f"{e.open_order_count()} open, {e.working_qty('PRB', BUY)} working")

    cp.submit("cp", "PRB", SELL, 4, 9_990)
    await t.settle()
    _expect(buy.state is OrderState.PARTIALLY_FILLED and buy.cum_qty == 4 and buy.leaves_qty == 6,
            "a partial fill is booked on the handle", "partially_filled cum 4 leaves 6", _describe(buy))
    _expect(buy.avg_px_ticks == 10_000, "the fill price is the resting order's price", 10_000, buy.avg_px_ticks)
    _expect(e.position("PRB") == 4 and e.working_qty("PRB", BUY) == 6,
            "a partial fill moves the position and the working quantity", "position 4, working 6",
            f"position {e.position('PRB')}, working {e.working_qty('PRB', BUY)}")

    cp.submit("cp", "PRB", SELL, 6, 10_000)
    await t.settle()
    _expect(buy.state is OrderState.FILLED and buy.cum_qty == 10 and buy.done,
            "the last fill makes the order FILLED and done", "filled cum 10", _describe(buy))
    _expect(e.open_order_count() == 0 and e.working_qty("PRB", BUY) == 0,
            "a filled order is no longer open", "0 open, 0 working",
            f"{e.open_order_count()} open, {e.working_qty('PRB', BUY)} working")

    cp.submit("cp", "PRB", SELL, 2, 10_010)
    cp.submit("cp", "PRB", SELL, 3, 10_020)
    await t.settle()
    sweep = e.submit(STRATEGY, "PRB", BUY, 5, 10_020)
    await t.settle()
    _expect(sweep.state is OrderState.FILLED and sweep.cum_qty == 5,
            "an aggressive order filled at two prices is FILLED", "filled cum 5", _describe(sweep))
    _expect(sweep.avg_px_ticks == Decimal("10016"), "the average price weighs each fill by its quantity",
            "(2 x 10010 + 3 x 10020) / 5 = 10016", sweep.avg_px_ticks)
    _expect(e.position("PRB") == 15 and e.position("PRB", STRATEGY) == 15,
            "position() sums fills firm-wide and per strategy", 15,
            f"{e.position('PRB')} firm-wide, {e.position('PRB', STRATEGY)} for the strategy")
    fills = [u.fill.qty for u in t.updates if u.kind == "fill" and u.fill is not None]
    _expect(fills == [4, 6, 2, 3], "subscribers get one 'fill' update (with its Fill) per execution",
            [4, 6, 2, 3], fills)
    kinds = {u.kind for u in t.updates}
    _expect({"sent", "ack"} <= kinds, "subscribers get 'sent' and 'ack' updates", "sent and ack among the kinds",
            sorted(kinds))
    _expect(e.sent == 2, "sent counts orders sent to the venue", 2, e.sent)
    e.set_reference("PRB", 10_020)
    # Compared to a millionth of the currency: an average cost of 150080/15 ticks has no exact
    # Decimal, so an engine keeping average cost (as engines.positions does) is off in the 25th digit.
    unrealized = e.unrealized_pnl()
    _expect(e.realized_pnl() == 0 and abs(unrealized - Decimal("2.20")) < Decimal("0.000001"),
            "P&L marks the position to the reference price", "realized 0, unrealized 2.20 (220 ticks of 0.01)",
            f"realized {e.realized_pnl()}, unrealized {unrealized}")


async def _venue_rejects(t: _Trial) -> None:
    e = t.engine
    ghost = e.submit(STRATEGY, "GHOST", BUY, 5, 1_000)
    off_tick = e.submit(STRATEGY, "FINE", BUY, 5, 5_001)   # 50.01: on the firm's 0.01 grid, off the venue's 0.05
    for handle, what in ((ghost, "a symbol the venue does not list"), (off_tick, "a price off the venue's tick grid")):
        _expect(handle.state is not OrderState.DENIED, f"an order for {what} is the venue's to reject",
                "sent to the venue", _describe(handle))
    await t.settle()
    for handle, what in ((ghost, "an unknown symbol"), (off_tick, "an off-tick price")):
        said = t.venue_text(handle.cl_ord_id)
        _expect(said is not None, f"the venue rejects {what}", "a rejected ExecutionReport from the venue",
                "none (did the order reach the venue under its ClOrdID?)")
        _expect(handle.state is OrderState.REJECTED and handle.done, f"a venue reject of {what} is surfaced",
                "state rejected", _describe(handle))
        _expect(handle.reject_text == said, f"the venue's reason for rejecting {what} is kept on the handle",
                repr(said), repr(handle.reject_text))
        rejected = [u for u in t.updates if u.handle is handle and u.kind == "rejected"]
        _expect(len(rejected) == 1 and rejected[0].text == said,
                f"subscribers get a 'rejected' update with the venue's reason for {what}",
                f"one update with text {said!r}", [(u.kind, u.text) for u in rejected])
    _expect(e.open_order_count() == 0 and e.unacked() == [], "rejected orders are not open",
            "0 open, none unacked", f"{e.open_order_count()} open, {len(e.unacked())} unacked")


async def _cancel_and_replace(t: _Trial) -> None:
    e, book = t.engine, t.world.venue.exchange.books["PRB"]
    a = e.submit(STRATEGY, "PRB", BUY, 5, 9_990)
    b = e.submit(STRATEGY, "PRB", BUY, 3, 9_980)
    c = e.submit(STRATEGY, "PRB", SELL, 2, 10_050)
    await t.settle()
    _expect(all(h.state is OrderState.NEW for h in (a, b, c)), "three resting orders are acked",
            "all new", [_describe(h) for h in (a, b, c)])
    _expect(e.replace(a, qty=8, price=9_995) is True, "replace of an open limit order is sent", True, False)
    await t.settle()
    best = book.best_bid()
    _expect((a.state, a.qty, a.price) == (OrderState.NEW, 8, 9_995),
            "the venue's replace confirmation updates the handle", "new, qty 8, price 9995", _describe(a))
    _expect(best is not None and best.price == 9_995, "the replaced order rests at its new price at the venue",
            "best bid 9995", best.price if best is not None else "no bid")
    _expect(e.working_qty("PRB", BUY) == 11, "working quantity follows the replace", "8 + 3 = 11",
            e.working_qty("PRB", BUY))
    _expect(e.cancel(b) is True, "cancel of an open order is sent", True, False)
    await t.settle()
    _expect(b.state is OrderState.CANCELED and b.done, "the venue's cancel confirmation ends the order",
            "canceled", _describe(b))
    sent = e.cancel_all()
    _expect(sent == 2, "cancel_all sends one cancel per open order", 2, sent)
    await t.settle()
    _expect(a.state is OrderState.CANCELED and c.state is OrderState.CANCELED,
            "cancel_all cancels orders under their latest ClOrdID (after a replace too)", "both canceled",
            [_describe(a), _describe(c)])
    _expect(e.open_order_count() == 0 and e.working_qty("PRB", BUY) == 0 and e.working_qty("PRB", SELL) == 0,
            "nothing is left open or working after cancel_all", "0 open, 0 working",
            f"{e.open_order_count()} open, {e.working_qty('PRB', BUY)}/{e.working_qty('PRB', SELL)} working")
    _expect(book.best_bid() is None and book.best_ask() is None, "the venue's book is empty after cancel_all",
            "no bid, no ask", f"bid {book.best_bid()}, ask {book.best_ask()}")
    _expect(e.cancel(b) is False, "cancel of a done order sends nothing", False, True)

    # A cancel that loses the race to a fill: the venue fills first, then rejects the cancel.
    d = e.submit(STRATEGY, "PRB", BUY, 2, 9_990)
    await t.settle()
    t.cpty.submit("cp", "PRB", SELL, 2, 9_990)
    _expect(e.cancel(d) is True, "cancel of an open order is sent", True, False)
    await t.settle()
    # Only the state is judged here: booking the fill itself is acks_and_fills' business.
    _expect(d.state is OrderState.FILLED and d.done,
            "a cancel rejected as too late leaves the order as the venue says: FILLED", "filled", _describe(d))
    kinds = [u.kind for u in t.updates if u.handle is d]
    _expect("cancel_rejected" in kinds, "subscribers get a 'cancel_rejected' update when the venue refuses a cancel",
            "a cancel_rejected update", kinds)
    _expect(e.open_order_count() == 0, "the filled order is not open", 0, e.open_order_count())


async def _halt(t: _Trial) -> None:
    e = t.engine
    resting = e.submit(STRATEGY, "PRB", BUY, 5, 9_990)
    await t.settle()
    _expect(resting.state is OrderState.NEW, "an order rests before the halt", "new", _describe(resting))
    sent_before = len(t.received(b"D"))
    e.halt(reason="conformance: operator halt")
    denied = e.submit(STRATEGY, "PRB", BUY, 1, 9_980)
    _expect(denied.state is OrderState.DENIED, "a new order while HALTED is denied by the engine",
            "state denied", _describe(denied))
    _expect(denied.reject_code == "trading_halted" and bool(denied.reject_text),
            "the denial says why (strategies wait for resume on code trading_halted)",
            "code 'trading_halted' and a text", f"code {denied.reject_code!r}, text {denied.reject_text!r}")
    _expect(e.risk.state() is TradingState.HALTED, "risk.state() reports the halt (strategies poll it)",
            TradingState.HALTED, e.risk.state())
    why = e.risk.why()
    _expect(why is not None and "conformance: operator halt" in why.text, "risk.why() carries the halt's reason",
            "'conformance: operator halt'", why.text if why is not None else None)
    _expect(e.cancel(resting) is True, "a cancel while HALTED is sent", True, False)
    await t.settle()
    _expect(resting.state is OrderState.CANCELED, "a cancel while HALTED reaches the venue and ends the order",
            "canceled", _describe(resting))
    _expect(len(t.received(b"D")) == sent_before, "nothing new reaches the venue while HALTED",
            f"{sent_before} NewOrderSingles", len(t.received(b"D")))
    e.resume()
    again = e.submit(STRATEGY, "PRB", BUY, 1, 9_980)
    await t.settle()
    _expect(again.state is OrderState.NEW, "after resume() new orders reach the venue again", "new",
            _describe(again))


async def _flatten_while_halted(t: _Trial) -> None:
    e, cp = t.engine, t.cpty
    cp.submit("cp", "PRB", SELL, 5, 10_000)
    cp.submit("cp", "PRB", BUY, 10, 9_995)
    await t.settle()
    e.submit(STRATEGY, "PRB", BUY, 5, 10_000)
    await t.settle()
    _expect(e.position("PRB", STRATEGY) == 5, "a position to flatten is built", 5, e.position("PRB", STRATEGY))
    e.halt(reason="conformance: halt then flatten")
    flat = e.flatten(STRATEGY, "PRB", protect_ticks=20)
    _expect(flat is not None and flat.state is not OrderState.DENIED, "flatten passes a halt",
            "a sell order sent", _describe(flat) if flat is not None else None)
    assert flat is not None
    _expect((flat.side, flat.qty) == (SELL, 5), "flatten closes exactly the position", "sell 5",
            f"side {flat.side} qty {flat.qty}")
    await t.settle()
    _expect(flat.state is OrderState.FILLED and e.position("PRB", STRATEGY) == 0,
            "the flatten order trades and the position is flat", "filled, position 0",
            f"{_describe(flat)}, position {e.position('PRB', STRATEGY)}")
    _expect(e.flatten(STRATEGY, "PRB", protect_ticks=20) is None, "flatten of a flat position sends nothing",
            None, "an order")


_LIMITS = RiskLimits(max_order_qty=10, max_position=15)


async def _limits_at_thresholds(t: _Trial) -> None:
    e = t.engine
    at_qty = e.submit(STRATEGY, "PRB", BUY, 10, 9_990)
    _expect(at_qty.state is not OrderState.DENIED, "an order exactly at max_order_qty (10) passes",
            "sent", _describe(at_qty))
    over_qty = e.submit(STRATEGY, "PRB", BUY, 11, 9_990)
    _expect(over_qty.state is OrderState.DENIED and over_qty.reject_code == "max_order_qty",
            "an order one above max_order_qty (11 > 10) is denied", "denied with code 'max_order_qty'",
            _describe(over_qty))
    at_pos = e.submit(STRATEGY, "PRB", BUY, 5, 9_985)
    _expect(at_pos.state is not OrderState.DENIED,
            "an order taking position + working exactly to max_position (10 + 5 = 15) passes",
            "sent", _describe(at_pos))
    over_pos = e.submit(STRATEGY, "PRB", BUY, 1, 9_980)
    _expect(over_pos.state is OrderState.DENIED and over_pos.reject_code == "max_position",
            "an order one above max_position (15 + 1 > 15, counting working orders) is denied",
            "denied with code 'max_position'", _describe(over_pos))
    await t.settle()
    _expect(at_qty.state is OrderState.NEW and at_pos.state is OrderState.NEW,
            "orders at the limits reach the venue and are acked", "both new",
            [_describe(at_qty), _describe(at_pos)])
    venue_qtys = sorted(int(m.get(38) or b"0") for m in t.received(b"D"))
    _expect(venue_qtys == [5, 10], "denied orders never reach the venue", "NewOrderSingles of qty 5 and 10",
            venue_qtys)


_PROTECT = RiskLimits(market_order_policy="protect", market_protection_ticks=10)


async def _market_orders_protected(t: _Trial) -> None:
    e, cp = t.engine, t.cpty
    cp.submit("cp", "PRB", SELL, 3, 10_005)
    cp.submit("cp", "PRB", SELL, 3, 10_050)   # beyond the protection: must not be reached
    await t.settle()
    buy = e.submit(STRATEGY, "PRB", BUY, 6, None, ord_type="market")
    _expect(buy.state is not OrderState.DENIED, "a market order under a protection policy is sent",
            "sent", _describe(buy))
    await t.settle()
    sent = t.received(b"D")
    wire = [(m.get(40), m.get(44), m.get(59)) for m in sent]
    _expect(wire == [(b"2", b"100.10", b"3")],
            "a market order leaves as an IOC limit at reference + market_protection_ticks (never naked)",
            "OrdType 2, Price 100.10, TimeInForce 3", wire)
    # The venue's book is the witness (booking fills is acks_and_fills' business).
    ask = t.world.venue.exchange.books["PRB"].best_ask()
    _expect(ask is not None and (ask.price, ask.qty) == (10_050, 3) and buy.done,
            "the protected order trades only within its protection and the rest does not rest",
            "the 100.05 offer taken, the 100.50 offer untouched, the order done",
            f"best ask {None if ask is None else (ask.price, ask.qty)}, {_describe(buy)}")


async def _scripted_session(t: _Trial) -> list[bytes]:
    """A bit of everything: rests, fills, a replace, cancels, a venue reject, a halt and a flatten."""
    e, cp = t.engine, t.cpty
    cp.submit("cp", "PRB", SELL, 4, 10_005)
    resting = e.submit(STRATEGY, "PRB", BUY, 6, 9_990)
    e.submit(STRATEGY, "PRB", BUY, 4, 10_005)
    e.submit(STRATEGY, "GHOST", SELL, 1, 1_000)
    await t.settle()
    e.replace(resting, qty=7, price=9_995)
    await t.settle()
    cp.submit("cp", "PRB", BUY, 10, 9_980)
    e.halt(reason="script")
    e.cancel_all()
    e.flatten(STRATEGY, "PRB", protect_ticks=30)
    await t.settle()
    return t.traffic()


CHECKS: tuple[str, ...] = ("acks_and_fills", "venue_rejects", "cancel_and_replace",
                           "halt_blocks_new_orders_not_cancels", "flatten_while_halted", "limits_at_thresholds",
                           "market_orders_protected", "deterministic_fix_traffic")
_BODIES: dict[str, tuple[Callable[[_Trial], Awaitable[Any]], RiskLimits | None]] = {
    "acks_and_fills": (_acks_and_fills, None),
    "venue_rejects": (_venue_rejects, None),
    "cancel_and_replace": (_cancel_and_replace, None),
    "halt_blocks_new_orders_not_cancels": (_halt, None),
    "flatten_while_halted": (_flatten_while_halted, None),
    "limits_at_thresholds": (_limits_at_thresholds, _LIMITS),
    "market_orders_protected": (_market_orders_protected, _PROTECT),
}


def _deterministic(factory: EngineFactory, latency_ns: int) -> None:
    first = _run_trial(factory, _scripted_session, None, latency_ns)
    second = _run_trial(factory, _scripted_session, None, latency_ns)
    if first == second:
        return
    index = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), min(len(first), len(second)))

    def show(frames: list[bytes]) -> str:
        return frames[index].replace(b"\x01", b"|").decode("latin-1") if index < len(frames) else "<no frame>"

    raise _Unmet(f"two runs on fresh virtual clocks differ at FIX frame {index} (of {len(first)} / {len(second)})",
                 show(first), show(second))


# -- THE KIT -------------------------------------------------------------------------------------


def check_order_engine(factory: EngineFactory, *, checks: Iterable[str] | None = None,
                       latency_ns: int = 50_000) -> ConformanceReport:
    """Run the conformance checks on engines built by ``factory``; raise OrderEngineConformanceError on any failure.

    ``factory(name, instruments, *, now_ns, risk)`` builds one unconnected engine (an engine class
    with that constructor will do).  ``checks`` picks a subset of :data:`CHECKS` by name.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("check_order_engine runs its own virtual-time loops: call it from synchronous code")
    selected = tuple(CHECKS if checks is None else checks)
    unknown = [name for name in selected if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown conformance check(s) {unknown}; the checks are: {', '.join(CHECKS)}")
    label = getattr(factory, "__qualname__", None) or type(factory).__name__
    passed: list[str] = []
    failures: list[CheckFailure] = []
    for name in CHECKS:
        if name not in selected:
            continue
        try:
            if name == "deterministic_fix_traffic":
                _deterministic(factory, latency_ns)
            else:
                body, limits = _BODIES[name]
                _run_trial(factory, body, limits, latency_ns)
        except _Unmet as unmet:
            failures.append(CheckFailure(name, unmet.behaviour, unmet.expected, unmet.seen))
        except Exception as exc:  # the engine raised: that is this check's failure, not the kit's error
            failures.append(CheckFailure(name, "the engine raised during the check", "no exception", _where(exc)))
        else:
            passed.append(name)
    if failures:
        raise OrderEngineConformanceError(label, failures, tuple(passed))
    return ConformanceReport(label, tuple(passed))
