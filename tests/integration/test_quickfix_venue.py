"""Interop: a real QuickFIX initiator trades on our venue and validates everything we send.

QuickFIX (the C++ engine through its Python binding, :mod:`tests.integration.quickfix_peer`) logs
on to a :class:`~sim.venue.Venue` served by our :class:`FixAcceptor` on 127.0.0.1, subscribes to
market data, rests orders, crosses another firm's orders (that firm is a raw FIX client), replaces
and cancels, asks for the trading session status, and lives through an exchange halt and resume.
QuickFIX runs with ``UseDataDictionary=Y`` and the FIX42.xml/FIX44.xml the quickfix package ships,
so every ExecutionReport, snapshot, incremental refresh, SecurityStatus and TradingSessionStatus
we send is checked by an independent implementation: a message it finds invalid is answered with
a session Reject (35=3) and never reaches ``fromApp``, and its event log says why.  The test
fails on any Reject in either direction or any complaint in QuickFIX's event log.

QuickFIX runs on its own threads; the venue on the test's asyncio loop.  Every wait polls with a
deadline; QuickFIX is always stopped (after our side dropped the connection, see the notes in
quickfix_peer.py about QuickFIX 1.16's stop races).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest

fix = pytest.importorskip(
    "quickfix",
    reason="QuickFIX interop tests need the quickfix binding: pip install -e '.[interop]' (or `make setup`)")

from sim.fix.codec import decode  # noqa: E402
from sim.fix.session import MemoryLog  # noqa: E402
from sim.fix.transport import FixAcceptor  # noqa: E402
from sim.venue import Venue  # noqa: E402
from sim.venue_config import venue_config_from_dict  # noqa: E402
from tests.integration.quickfix_peer import QF_COMP_ID, QuickFixPeer, Record, spec_xml  # noqa: E402
from tests.integration.rawfix import RawFixClient  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.slow]

_ids = itertools.count(1)
T = "20260102-09:30:00"


def _transact_time() -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime()) + ".000"


def qf_message(begin: str, msg_type: str, fields: list[tuple[int, str]],
               groups: list[tuple[int, int, list[list[tuple[int, str]]]]] = ()) -> fix.Message:
    """A QuickFIX message: header, body fields, then repeating groups (count tag, delimiter, entries)."""
    message = fix.Message()
    header = message.getHeader()
    header.setField(fix.BeginString(begin))
    header.setField(fix.MsgType(msg_type))
    for tag, value in fields:
        message.setField(tag, value)
    for count_tag, delimiter, entries in groups:
        for entry in entries:
            group = fix.Group(count_tag, delimiter)
            for tag, value in entry:
                group.setField(tag, value)
            message.addGroup(group)
    return message


class VenueWithQuickFix:
    """Our venue on a free port, a QuickFIX initiator as firm QF, a raw client as firm B."""

    def __init__(self, tmp_path, begin: str) -> None:
        self.begin = begin
        self.venue_id = f"VQ{next(_ids)}"  # unique: QuickFIX keeps a process-wide session registry
        config = venue_config_from_dict({
            "venue": {"comp_id": self.venue_id, "begin_strings": [begin]},
            "instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100.00"}],
            "firm": [{"id": QF_COMP_ID}, {"id": "B"}]})
        loop = asyncio.get_running_loop()
        self.venue = Venue(config, now_ns=time.time_ns, keep_logs=True,
                           schedule=lambda delay_ns, fn: loop.call_later(delay_ns / 1e9, fn))
        self.acceptor = FixAcceptor(self.venue.sessions, now_ns=time.time_ns)
        self.tmp_path = tmp_path
        self.qf: QuickFixPeer | None = None
        self.b = RawFixClient("B", self.venue_id, begin)

    async def start(self) -> None:
        port = await self.acceptor.start("127.0.0.1", 0)
        self.qf = QuickFixPeer(self.tmp_path, role="initiator", begin_string=self.begin,
                               our_comp_id=self.venue_id, port=port, heartbeat_s=30)
        self.qf.start()
        await self.eventually(lambda: self.qf.logged_on() and self.qf.app.count("logon") > 0, 10, "QuickFIX logon")
        await self.b.connect(port)
        await self.b.logon()

    async def stop(self) -> None:
        await self.b.close()
        if self.qf is not None and self.qf.started:
            if self.qf.logged_on():
                self.qf.logout("done")
                deadline = time.monotonic() + 3
                while self.qf.logged_on() and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
        await self.acceptor.stop()
        if self.qf is not None:
            deadline = time.monotonic() + 3
            while self.qf.logged_on() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            stopping = self.qf.begin_stop()
            await asyncio.to_thread(stopping.wait, 15)

    # -- QuickFIX side -----------------------------------------------------------------------------

    def qf_send(self, msg_type: str, fields: list[tuple[int, str]], groups=()) -> None:
        assert self.qf is not None and self.qf.send(qf_message(self.begin, msg_type, fields, groups))

    def qf_order(self, cl: str, side: int, qty: int, price: str, tif: str = "0") -> None:
        self.qf_send("D", [(11, cl), (21, "1"), (55, "PRB"), (54, str(side)), (60, _transact_time()),
                           (38, str(qty)), (40, "2"), (44, price), (59, tif)])

    def received(self, msg_type: str) -> list[Record]:
        """What reached QuickFIX's fromApp (i.e. passed its validation), of one MsgType."""
        assert self.qf is not None
        return self.qf.app.select("fromApp", msg_type)

    def reports(self, cl: str | None = None) -> list[dict[int, str]]:
        return [r.tags for r in self.received("8") if cl is None or r.tags.get(11) == cl]

    async def eventually(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{self.report()}")
            await asyncio.sleep(0.01)

    # -- verdicts -----------------------------------------------------------------------------------

    def our_log(self) -> MemoryLog:
        for session in self.venue.sessions:
            if session.session_id.target_comp_id == QF_COMP_ID:
                return session.log  # type: ignore[return-value]
        raise AssertionError("no QF session")

    def report(self) -> str:
        log = self.our_log()
        tail = [raw.replace(b"\x01", b"|").decode("latin-1") for raw in log.outgoing[-30:]]
        return ((self.qf.report() if self.qf is not None else "") + "--- venue -> QuickFIX (tail) ---\n"
                + "\n".join(tail) + f"\n--- venue session events ---\n{log.events}")

    def assert_no_rejects(self) -> None:
        assert self.qf is not None
        qf_rejects = [r.raw for r in self.qf.app.snapshot()
                      if r.kind in ("toAdmin", "toApp") and r.msg_type in ("3", "j")]
        assert not qf_rejects, f"QuickFIX rejected our messages: {qf_rejects}\n{self.report()}"
        ours = [decode(raw) for raw in self.our_log().outgoing]
        assert not [m for m in ours if m.msg_type() in (b"3", b"j")], f"we rejected QuickFIX\n{self.report()}"
        events = self.qf.event_log()
        for complaint in ("Reject", "Invalid", "rror", "too low", "Incorrect", "garbled", "not defined"):
            assert complaint not in events, f"QuickFIX event log says {complaint!r}\n{self.report()}"
        assert not self.qf.app.errors, self.report()


@pytest.fixture
async def market(tmp_path):
    made: list[VenueWithQuickFix] = []

    async def make(begin: str) -> VenueWithQuickFix:
        pair = VenueWithQuickFix(tmp_path, begin)
        made.append(pair)
        await pair.start()
        return pair

    try:
        yield make
    finally:
        for pair in made:
            await asyncio.wait_for(pair.stop(), 30)


@pytest.mark.parametrize("begin", ["FIX.4.4", "FIX.4.2"])
async def test_a_quickfix_firm_subscribes_rests_crosses_and_gets_fills_without_rejecting_anything(market, begin):
    if spec_xml(begin) is None:
        pytest.skip(f"this quickfix install ships no {begin} XML, so QuickFIX could not validate our messages")
    m = await market(begin)
    assert m.qf is not None and m.qf.dictionary is not None  # UseDataDictionary=Y
    trade_types = ("F",) if begin == "FIX.4.4" else ("1", "2")  # FIX 4.2: ExecType partial fill / fill

    # Market data: a snapshot of the empty book, then a refresh for every change.
    m.qf_send("V", [(262, "md1"), (263, "1"), (264, "0"), (265, "1")],
              [(267, 269, [[(269, "0")], [(269, "1")]]), (146, 55, [[(55, "PRB")]])])
    await m.eventually(lambda: m.received("W"), 5, "the snapshot")
    assert m.received("W")[0].tags[268] == "0"

    # Firm B rests an offer: QuickFIX sees it on the feed.
    m.b.send("D", [(11, "b1"), (21, 1), (55, "PRB"), (54, 2), (60, T), (38, 10), (40, 2), (44, "100.02"), (59, 0)])
    await m.b.expect("8")
    await m.eventually(lambda: len(m.received("X")) >= 1, 5, "the new offer on the feed")
    assert {k: m.received("X")[0].tags[k] for k in (279, 269, 270, 271)} == \
        {279: "0", 269: "1", 270: "100.02", 271: "10"}

    # QuickFIX rests a bid, then lifts 4 of B's offer with an IOC.
    m.qf_order("q1", 1, 5, "100.00")
    await m.eventually(lambda: m.reports("q1"), 5, "the ack of the resting bid")
    assert (m.reports("q1")[0][150], m.reports("q1")[0][39]) == ("0", "0")
    m.qf_order("q2", 1, 4, "100.02", tif="3")
    await m.eventually(lambda: any(r[150] in trade_types for r in m.reports("q2")), 5, "the IOC's fill")
    fill = next(r for r in m.reports("q2") if r[150] in trade_types)
    assert (fill[39], fill[32], fill[31], fill[14], fill[151]) == ("2", "4", "100.02", "4", "0")
    maker = await m.b.expect("8")
    assert (maker.get(39), maker.get(32), maker.get(151)) == (b"1", b"4", b"6")

    # B sells into QuickFIX's resting bid: QuickFIX's order fills as the resting side.
    m.b.send("D", [(11, "b2"), (21, 1), (55, "PRB"), (54, 2), (60, T), (38, 5), (40, 2), (44, "100.00"), (59, 3)])
    await m.eventually(lambda: any(r[150] in trade_types for r in m.reports("q1")), 5, "the resting bid's fill")
    fill = next(r for r in m.reports("q1") if r[150] in trade_types)
    assert (fill[39], fill[32], fill[31], fill[6]) == ("2", "5", "100.00", "100")

    # Replace and cancel a resting order.
    m.qf_order("q3", 1, 2, "99.99")
    await m.eventually(lambda: m.reports("q3"), 5, "the ack of q3")
    m.qf_send("G", [(41, "q3"), (11, "q4"), (21, "1"), (55, "PRB"), (54, "1"), (60, _transact_time()),
                    (38, "3"), (40, "2"), (44, "99.98"), (59, "0")])
    await m.eventually(lambda: m.reports("q4"), 5, "the replace")
    assert (m.reports("q4")[0][150], m.reports("q4")[0][41], m.reports("q4")[0][44]) == ("5", "q3", "99.98")
    m.qf_send("F", [(41, "q4"), (11, "q5"), (55, "PRB"), (54, "1"), (60, _transact_time()), (38, "3")])
    await m.eventually(lambda: m.reports("q5"), 5, "the cancel")
    assert (m.reports("q5")[0][150], m.reports("q5")[0][39]) == ("4", "4")
    m.qf_send("F", [(41, "q4"), (11, "q6"), (55, "PRB"), (54, "1"), (60, _transact_time()), (38, "3")])
    await m.eventually(lambda: m.received("9"), 5, "the cancel reject of a cancelled order")

    # Trading status: on request, and when the exchange halts and resumes the only symbol.
    m.qf_send("g", [(335, "ts1"), (263, "0")])
    await m.eventually(lambda: m.received("h"), 5, "the TradingSessionStatus reply")
    assert (m.received("h")[0].tags[335], m.received("h")[0].tags[340]) == ("ts1", "2")
    m.venue.halt("PRB", reason="interop drill")
    m.venue.resume("PRB")
    await m.eventually(lambda: len(m.received("h")) >= 3 and len(m.received("f")) >= 3, 5,
                       "the halt and resume statuses")
    assert [r.tags[340] for r in m.received("h")] == ["2", "1", "2"]
    assert [r.tags[326] for r in m.received("f")] == ["2", "21" if begin == "FIX.4.4" else "18", "17"]

    # The feed followed every change: B's offer (10, 6 left, gone at the halt, back after it), the bids.
    await m.eventually(lambda: len(m.received("X")) >= 9, 5, "every incremental refresh")
    await asyncio.sleep(0.3)  # anything QuickFIX might still reject would arrive by now
    m.assert_no_rejects()
    assert m.venue.exchange.levels("PRB") == {(2, 10002): 6}
