"""Interop: our FIX 4.2/4.4 session against QuickFIX (C++ engine, Python binding) over real TCP.

QuickFIX is the independent implementation (STYLE.md: h11's "test against an independent
implementation").  Every scenario runs for FIX.4.2 and FIX.4.4 and in both topologies:

* ``qf-initiator``: a QuickFIX ``SocketInitiator`` logs on to our :class:`FixAcceptor` (serving
  :class:`EchoApplication`), QuickFIX sends the orders;
* ``md-initiator``: our :class:`FixInitiator` logs on to a QuickFIX ``ThreadedSocketAcceptor`` running an
  echo application like QuickFIX's own acceptance-test one; we send the orders.

QuickFIX runs on its own native threads; our side runs on the test's asyncio loop with
``now_ns=time.time_ns``.  Every wait polls with a deadline, and both engines are stopped in the
fixture's teardown whatever happens.  Faults that need the network (a lost message, a peer that
goes silent) go through :class:`WireTap`, a recording TCP proxy; it also gives an engine-neutral
transcript of what crossed the wire, printed on failure together with QuickFIX's event log.

QuickFIX validates what we send with the FIX42.xml/FIX44.xml the quickfix package ships
(UseDataDictionary=Y); if an install ships none, it falls back to UseDataDictionary=N and the
checks on our messages are then only QuickFIX's framing and session rules.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest

pytest.importorskip(
    "quickfix",
    reason="QuickFIX interop tests need the quickfix binding: pip install -e '.[interop]' (or `make setup`)")

from sim.fix.codec import FixMessage, decode  # noqa: E402
from sim.fix.echo import EchoApplication  # noqa: E402
from sim.fix.session import Session, SessionConfig  # noqa: E402
from sim.fix.store import SessionID  # noqa: E402
from sim.fix.timestamps import format_utc_timestamp  # noqa: E402
from sim.fix.transport import FixAcceptor, FixInitiator, SessionDriver  # noqa: E402
from tests.integration.quickfix_peer import (  # noqa: E402
    QF_COMP_ID,
    QuickFixPeer,
    Stopping,
    free_port,
    new_order_single,
    spec_xml,
)
from tests.integration.wiretap import Frame, WireTap  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.slow]

VERSIONS = ["FIX.4.2", "FIX.4.4"]
TOPOLOGIES = ["qf-initiator", "md-initiator"]
QF, MD = "quickfix", "marketdrill"  # the two engines' names on the wire tap
_ids = itertools.count(1)


# -- OUR SIDE: LOG AND APPLICATIONS -------------------------------------------------------------


class StampedLog:
    """Our session's log with a monotonic timestamp on every entry (implements SessionLog)."""

    def __init__(self) -> None:
        self.entries: list[tuple[float, str, bytes | str]] = []

    def on_incoming(self, raw: bytes) -> None:
        self.entries.append((time.monotonic(), "in", raw))

    def on_outgoing(self, raw: bytes) -> None:
        self.entries.append((time.monotonic(), "out", raw))

    def on_event(self, text: str) -> None:
        self.entries.append((time.monotonic(), "event", text))

    def events(self) -> list[str]:
        return [text for _, kind, text in self.entries if kind == "event"]  # type: ignore[misc]

    def messages(self, direction: str, msg_type: bytes | None = None) -> list[FixMessage]:
        out = []
        for _, kind, raw in self.entries:
            if kind == direction:
                message = decode(raw)  # type: ignore[arg-type]
                if msg_type is None or message.msg_type() == msg_type:
                    out.append(message)
        return out

    def dump(self) -> str:
        lines = []
        for t, kind, data in self.entries[-80:]:
            text = data.replace(b"\x01", b"|").decode("latin-1") if isinstance(data, bytes) else data
            lines.append(f"{t:.3f} {kind}: {text}")
        return "\n".join(lines)


class Notices:
    """Logon/logout notices of our session, with monotonic timestamps."""

    def __init__(self) -> None:
        self.logons: list[float] = []
        self.logouts: list[float] = []


class CountingApplication:
    """Our initiator's application: collects what the QuickFIX echo sends back (sim.fix Application)."""

    def __init__(self) -> None:
        self.notices = Notices()
        self.received: list[FixMessage] = []

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """Accept."""

    def on_logon(self, session: Session) -> None:
        self.notices.logons.append(time.monotonic())

    def on_logout(self, session: Session) -> None:
        self.notices.logouts.append(time.monotonic())

    def from_app(self, session: Session, message: FixMessage) -> None:
        self.received.append(message)


class ObservedEcho(EchoApplication):
    """The fix-acceptor's echo application, plus logon/logout notices for the assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.notices = Notices()

    def on_logon(self, session: Session) -> None:
        super().on_logon(session)
        self.notices.logons.append(time.monotonic())

    def on_logout(self, session: Session) -> None:
        super().on_logout(session)
        self.notices.logouts.append(time.monotonic())


def our_nos_body(cl_ord_id: str) -> list[tuple[int, bytes | str | int]]:
    """The NewOrderSingle body our initiator sends (valid in FIX 4.2 and 4.4)."""
    return [(11, cl_ord_id), (21, "1"), (38, "100"), (40, "2"), (44, "10.25"), (54, "1"), (55, "PRB"),
            (60, format_utc_timestamp(time.time_ns()))]


# -- THE HARNESS --------------------------------------------------------------------------------


class Interop:
    """One QuickFIX engine and one marketdrill session connected over 127.0.0.1, maybe via a tap."""

    def __init__(self, tmp_path, begin: str, topology: str, *, heartbeat_s: int, tap: bool) -> None:
        self.tmp_path = tmp_path
        self.begin = begin
        self.topology = topology
        self.heartbeat_s = heartbeat_s
        self.use_tap = tap
        self.our_id = f"MD{next(_ids)}"  # unique per test: QuickFIX keeps a process-wide session registry
        self.log = StampedLog()
        self.qf: QuickFixPeer | None = None
        self.tap: WireTap | None = None
        self.acceptor: FixAcceptor | None = None
        self.initiator: FixInitiator | None = None
        sid = SessionID(begin, self.our_id, QF_COMP_ID)
        if topology == "qf-initiator":
            self.app: CountingApplication | ObservedEcho = ObservedEcho()
            config = SessionConfig(sid, reset_on_logon=True)
        else:
            self.app = CountingApplication()
            config = SessionConfig(sid, initiator=True, heartbeat_s=heartbeat_s, reset_on_logon=True)
        self.session = Session(config, now_ns=time.time_ns, application=self.app, log=self.log)

    async def start(self) -> None:
        if self.topology == "qf-initiator":
            self.acceptor = FixAcceptor([self.session], now_ns=time.time_ns)
            port = await self.acceptor.start("127.0.0.1", 0)
            if self.use_tap:
                self.tap = WireTap(port, client=QF, server=MD)
                port = await self.tap.start()
            self.qf = QuickFixPeer(self.tmp_path, role="initiator", begin_string=self.begin,
                                   our_comp_id=self.our_id, port=port, heartbeat_s=self.heartbeat_s)
            self.qf.start()
        else:
            for attempt in range(5):  # the free port may be taken between probing and binding
                port = free_port()
                self.qf = QuickFixPeer(self.tmp_path / f"try{attempt}", role="acceptor", begin_string=self.begin,
                                       our_comp_id=self.our_id, port=port, echo=True)
                try:
                    self.qf.start()
                    break
                except Exception:
                    if attempt == 4:
                        raise
            if self.use_tap:
                self.tap = WireTap(port, client=MD, server=QF)
                port = await self.tap.start()
            self.initiator = FixInitiator(self.session, "127.0.0.1", port, now_ns=time.time_ns,
                                          reconnect_interval_s=30.0)
            self.initiator.start()
        await self.eventually(lambda: self.qf.logged_on() and self.session.logged_on and self.qf.app.count("logon")
                              and self.app.notices.logons, 10, "logon on both sides")

    async def stop(self, stopping: list[Stopping]) -> None:
        """Stop our side, then QuickFIX (its stop handle goes to ``stopping``; the caller joins it)."""
        if self.initiator is not None:
            await self.initiator.stop()
        if self.acceptor is not None:
            await self.acceptor.stop()
        if self.qf is not None:
            # Let QuickFIX finish with the connection we just dropped before stopping it: stopping
            # a QuickFIX engine while its threads are still tearing a connection down is where its
            # races live (see quickfix_peer.QuickFixPeer).
            deadline = time.monotonic() + 3
            while self.qf.logged_on() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            stopping.append(self.qf.begin_stop())
        if self.tap is not None:
            await self.tap.stop()

    # -- driving our side --------------------------------------------------------------------------

    @property
    def driver(self) -> SessionDriver:
        if self.initiator is not None:
            driver = self.initiator.driver
        else:
            assert self.acceptor is not None
            drivers = list(self.acceptor.active.values())
            driver = drivers[0] if drivers else None
        assert driver is not None and not driver.closed, "our session has no live connection"
        return driver

    def flush(self, actions=None) -> None:
        """Write what our session queued outside a callback (send/logout), re-arm its timer.

        SessionDriver has no public "send now" entry point, so this uses its ``_apply``.
        """
        driver = self.driver
        driver._apply(self.session.take_actions() if actions is None else actions)

    def our_send_order(self, cl_ord_id: str, *, flush: bool = True) -> None:
        assert self.session.send(b"D", our_nos_body(cl_ord_id))
        if flush:
            self.flush()

    def qf_send_order(self, cl_ord_id: str) -> None:
        assert self.qf is not None and self.qf.send(new_order_single(self.begin, cl_ord_id))

    # -- waiting and reporting ---------------------------------------------------------------------

    def report(self) -> str:
        parts = [f"=== {self.topology} {self.begin} (our CompID {self.our_id}) ==="]
        if self.qf is not None:
            parts.append(self.qf.report())
        parts.append(f"--- marketdrill session log (tail) ---\n{self.log.dump()}")
        if self.tap is not None:
            parts.append(f"--- wire (tail) ---\n{self.tap.transcript()}")
        return "\n".join(parts)

    async def eventually(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{self.report()}")
            await asyncio.sleep(0.01)

    async def quiet(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def assert_no_rejects(self) -> None:
        """Neither side rejected anything, and QuickFIX's event log holds no complaint."""
        assert self.qf is not None
        ours_in = [m for m in self.log.messages("in") if m.msg_type() in (b"3", b"j")]
        ours_out = [m for m in self.log.messages("out") if m.msg_type() in (b"3", b"j")]
        assert not ours_in, f"QuickFIX rejected our messages: {ours_in}\n{self.report()}"
        assert not ours_out, f"we rejected QuickFIX's messages: {ours_out}\n{self.report()}"
        events = self.qf.event_log()
        for complaint in ("Rejected", "Invalid", "rror", "too low", "Incorrect", "garbled"):
            assert complaint not in events, f"QuickFIX event log says {complaint!r}\n{self.report()}"
        assert not self.qf.app.errors, self.report()


@pytest.fixture(scope="module")
def quickfix_stops():
    """QuickFIX engines still stopping; all joined (with a deadline) when the module is done.

    An initiator's stop takes up to a second (its thread polls once a second); joining them at the
    end instead of in every test's teardown saves ~15 s of the module's wall time.  Every engine
    has its own session (unique CompID), so one stopping while the next test runs is harmless.
    """
    stopping: list[Stopping] = []
    yield stopping
    failures = []
    for handle in stopping:
        try:
            handle.wait(15)
        except BaseException as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


@pytest.fixture
async def interop(tmp_path, quickfix_stops):
    """Factory: ``await interop(begin, topology, heartbeat_s=30, tap=False)`` -> a logged-on Interop."""
    made: list[Interop] = []

    async def make(begin: str, topology: str, *, heartbeat_s: int = 30, tap: bool = False) -> Interop:
        pair = Interop(tmp_path, begin, topology, heartbeat_s=heartbeat_s, tap=tap)
        made.append(pair)
        await pair.start()
        return pair

    try:
        yield make
    finally:
        for pair in made:
            await asyncio.wait_for(pair.stop(quickfix_stops), 20)


parametrize_all = pytest.mark.parametrize(
    "begin,topology", [(b, t) for b in VERSIONS for t in TOPOLOGIES], ids=lambda v: v)


@pytest.mark.parametrize("begin", VERSIONS)
def test_quickfix_validates_what_we_send_with_its_own_dictionary(begin):
    """QuickFIX checks our messages against its own FIX42.xml/FIX44.xml (UseDataDictionary=Y)."""
    if spec_xml(begin) is None:
        pytest.skip(f"this quickfix install ships no {begin} XML: QuickFIX runs with UseDataDictionary=N, "
                    "so it checks only framing and session rules of what we send")
    assert spec_xml(begin).name == begin.replace(".", "") + ".xml"


# -- 1. LOGON -----------------------------------------------------------------------------------


@parametrize_all
async def test_logon_is_accepted_by_both_engines(interop, begin, topology):
    pair = await interop(begin, topology, heartbeat_s=30)
    qf = pair.qf
    [qf_logon_in] = qf.app.select("fromAdmin", "A")
    [qf_logon_out] = qf.app.select("toAdmin", "A")
    [our_logon_in] = pair.log.messages("in", b"A")
    [our_logon_out] = pair.log.messages("out", b"A")
    assert qf_logon_in.tags[49] == pair.our_id and qf_logon_in.tags[56] == QF_COMP_ID
    assert qf_logon_in.tags[8] == begin and qf_logon_in.tags[34] == "1"
    assert qf_logon_in.tags[108] == "30" and qf_logon_in.tags[141] == "Y"  # both reset (ResetOnLogon=Y)
    assert our_logon_in.get(108) == b"30" and our_logon_in.get(141) == b"Y"
    assert our_logon_out.get(34) == b"1" and our_logon_in.get(34) == b"1"
    assert qf.app.count("logon") == 1 and len(pair.app.notices.logons) == 1
    # Sequence numbers agree: each side sent exactly its Logon.
    session = qf.session
    assert (session.getExpectedSenderNum(), session.getExpectedTargetNum()) == (2, 2)
    assert (pair.session.next_sender_seq, pair.session.next_target_seq) == (2, 2)
    assert qf_logon_out.tags[35] == "A"
    pair.assert_no_rejects()


# -- 2. 1,000 ORDERS ECHOED -----------------------------------------------------------------------


@parametrize_all
async def test_a_thousand_new_order_singles_are_echoed_back_in_order(interop, begin, topology):
    pair = await interop(begin, topology)
    ids = [f"ORD{i:04d}" for i in range(1000)]
    if topology == "qf-initiator":
        # QuickFIX sends (from a worker thread; our loop echoes meanwhile), our EchoApplication echoes.
        await asyncio.wait_for(asyncio.to_thread(lambda: [pair.qf_send_order(i) for i in ids]), 30)
        await pair.eventually(lambda: pair.qf.app.count("fromApp", "D") >= 1000, 30, "1,000 echoes at QuickFIX")
        sent = pair.qf.app.select("toApp", "D")
        echoed = pair.qf.app.select("fromApp", "D")
        assert [r.tags[11] for r in echoed] == ids
        # The echo keeps every body field byte-identical.
        header = {8, 9, 10, 34, 35, 49, 52, 56, 43, 97, 122}
        for out, back in zip(sent, echoed, strict=True):
            assert {t: v for t, v in out.tags.items() if t not in header} == \
                   {t: v for t, v in back.tags.items() if t not in header}
    else:
        for i, cl_ord_id in enumerate(ids):
            pair.our_send_order(cl_ord_id, flush=(i % 50 == 49))
        pair.flush()
        await pair.eventually(lambda: len(pair.app.received) >= 1000, 30, "1,000 echoes at marketdrill")
        assert [m.get(11).decode() for m in pair.app.received] == ids
        assert [r.tags[11] for r in pair.qf.app.select("fromApp", "D")] == ids
        assert all(m.msg_type() == b"D" and m.get(55) == b"PRB" for m in pair.app.received)
    await pair.quiet(0.1)
    assert pair.qf.logged_on() and pair.session.logged_on
    assert pair.session.next_target_seq == 1002 and pair.session.next_sender_seq == 1002
    pair.assert_no_rejects()


# -- 3. SEQUENCE GAP RECOVERED BY RESEND --------------------------------------------------------------


def _is_order(cl_ord_id: str) -> Callable[[Frame], bool]:
    return lambda f: f.msg_type == b"D" and f.tags.get(11) == cl_ord_id.encode()


@parametrize_all
@pytest.mark.parametrize("lost_from", [QF, MD])
async def test_a_lost_message_is_recovered_by_resend_request_with_poss_dup(interop, begin, topology, lost_from):
    """The wire loses one NewOrderSingle (or its echo); the receiver asks for it again and gets it."""
    pair = await interop(begin, topology, tap=True)
    tap = pair.tap
    sender_is_qf = topology == "qf-initiator"  # who sends the orders (the other side echoes)
    receiver = MD if lost_from == QF else QF
    tap.drop_once(lost_from, _is_order("GAP2"))

    def send(cl_ord_id: str) -> None:
        if sender_is_qf:
            pair.qf_send_order(cl_ord_id)
        else:
            pair.our_send_order(cl_ord_id)

    def echoes() -> list[str]:
        if sender_is_qf:
            return [r.tags[11] for r in pair.qf.app.select("fromApp", "D")]
        return [m.get(11).decode() for m in pair.app.received]

    for cl_ord_id in ("GAP1", "GAP2", "GAP3"):
        send(cl_ord_id)
    await pair.eventually(lambda: echoes() == ["GAP1", "GAP2", "GAP3"], 10, "all three echoes after the resend")
    send("GAP4")  # the session carries on normally after the recovery
    await pair.eventually(lambda: echoes() == ["GAP1", "GAP2", "GAP3", "GAP4"], 10, "the fourth echo")

    [lost] = [f for f in tap.sent_by(lost_from, b"D", delivered=False)]
    lost_seq = lost.tags[34]
    [resend_request] = tap.sent_by(receiver, b"2")
    assert resend_request.tags[7] == lost_seq and resend_request.tags[16] == b"0", tap.transcript()
    again = [f for f in tap.sent_by(lost_from, b"D", delivered=True) if f.tags[34] == lost_seq]
    assert len(again) == 1, tap.transcript()
    resent = again[0].tags
    assert resent[11] == b"GAP2" and resent[43] == b"Y" and 122 in resent, tap.transcript()
    assert resent[122] == lost.tags[52], "OrigSendingTime must be the original SendingTime"
    # The receiving application saw GAP2 once, flagged PossDupFlag=Y.
    if receiver == QF:
        got = [r for r in pair.qf.app.select("fromApp", "D") if r.tags[11] == "GAP2"]
        assert len(got) == 1 and got[0].tags[43] == "Y", pair.report()
    else:
        got = [m for m in pair.log.messages("in", b"D") if m.get(11) == b"GAP2"]
        assert [m.get(43) for m in got] == [b"Y"], pair.report()
    assert pair.qf.logged_on() and pair.session.logged_on
    assert not tap.sent_by(QF, b"5") and not tap.sent_by(MD, b"5")
    assert all(f.delivered for f in tap.frames if f is not lost)
    pair.assert_no_rejects()


@parametrize_all
async def test_a_lost_message_found_by_the_next_heartbeat_is_resent_and_the_heartbeats_gap_filled(
        interop, begin, topology):
    """HeartBtInt=1: our lost message is followed only by Heartbeats, so QuickFIX's ResendRequest
    covers admin messages too: we resend the application message and gap-fill the Heartbeats."""
    pair = await interop(begin, topology, heartbeat_s=1, tap=True)
    tap = pair.tap
    tap.drop_once(MD, _is_order("HB1"))  # our order (md-initiator) or our echo of QuickFIX's order
    if topology == "qf-initiator":
        pair.qf_send_order("HB1")
        echoed = lambda: [r.tags[11] for r in pair.qf.app.select("fromApp", "D")]  # noqa: E731
    else:
        pair.our_send_order("HB1")
        echoed = lambda: [m.get(11).decode() for m in pair.app.received]  # noqa: E731
    await pair.eventually(lambda: echoed() == ["HB1"] and tap.sent_by(MD, b"4"), 8,
                          "the echo after a gap found by a Heartbeat")
    [lost] = tap.sent_by(MD, b"D", delivered=False)
    lost_seq = int(lost.tags[34])
    [resend_request] = tap.sent_by(QF, b"2")
    assert int(resend_request.tags[7]) == lost_seq, tap.transcript()
    [resent_frame] = [f for f in tap.sent_by(MD, b"D", delivered=True) if int(f.tags[34]) == lost_seq]
    [gap_fill_frame] = tap.sent_by(MD, b"4")
    assert resend_request.t <= resent_frame.t <= gap_fill_frame.t, tap.transcript()
    resent, gap_fill = resent_frame.tags, gap_fill_frame.tags
    assert (resent[43], resent[122]) == (b"Y", lost.tags[52])
    assert (gap_fill[35], int(gap_fill[34]), gap_fill[123]) == (b"4", lost_seq + 1, b"Y"), tap.transcript()
    assert int(gap_fill[36]) > lost_seq + 1
    skipped = tap.sent_by(MD, b"0")
    assert any(int(f.tags[34]) == lost_seq + 1 for f in skipped), "the gap-filled seq was a Heartbeat"
    if topology == "md-initiator":
        [got] = [r for r in pair.qf.app.select("fromApp", "D")]
        assert got.tags[43] == "Y"
    assert pair.qf.logged_on() and pair.session.logged_on
    pair.assert_no_rejects()


@parametrize_all
@pytest.mark.parametrize("skipper", [QF, MD])
async def test_a_skipped_seqnum_is_gap_filled_on_resend_request(interop, begin, topology, skipper):
    """One side skips a MsgSeqNum (nothing stored under it): the resend is a SequenceReset-GapFill."""
    pair = await interop(begin, topology, tap=True)
    tap = pair.tap
    sender_is_qf = topology == "qf-initiator"
    receiver = MD if skipper == QF else QF

    def send(cl_ord_id: str) -> None:
        if sender_is_qf:
            pair.qf_send_order(cl_ord_id)
        else:
            pair.our_send_order(cl_ord_id)

    def echoes() -> list[str]:
        if sender_is_qf:
            return [r.tags[11] for r in pair.qf.app.select("fromApp", "D")]
        return [m.get(11).decode() for m in pair.app.received]

    send("SKIP1")
    await pair.eventually(lambda: echoes() == ["SKIP1"], 10, "the first echo")
    if skipper == QF:
        session = pair.qf.session
        skipped = session.getExpectedSenderNum()
        session.setNextSenderMsgSeqNum(skipped + 1)
    else:
        skipped = pair.session.store.next_sender_seq
        pair.session.store.next_sender_seq = skipped + 1
    send("SKIP2")
    await pair.eventually(lambda: echoes() == ["SKIP1", "SKIP2"], 10, "the second echo after the gap fill")
    send("SKIP3")
    await pair.eventually(lambda: echoes() == ["SKIP1", "SKIP2", "SKIP3"], 10, "the third echo")

    assert not [f for f in tap.sent_by(skipper) if f.tags[34] == str(skipped).encode() and f.msg_type != b"4"]
    [resend_request] = tap.sent_by(receiver, b"2")
    assert resend_request.tags[7] == str(skipped).encode(), tap.transcript()
    [gap_fill] = tap.sent_by(skipper, b"4")
    fill = gap_fill.tags
    assert (fill[34], fill[123], fill[43], fill[36]) == (str(skipped).encode(), b"Y", b"Y",
                                                         str(skipped + 1).encode()), tap.transcript()
    assert 122 in fill, "a GapFill carries OrigSendingTime (it has PossDupFlag=Y)"
    assert pair.qf.logged_on() and pair.session.logged_on
    pair.assert_no_rejects()


# -- 4. HEARTBEAT TIMEOUT -----------------------------------------------------------------------------


@parametrize_all
@pytest.mark.parametrize("detector", [MD, QF])
async def test_a_silent_peer_gets_a_test_request_then_is_disconnected_at_2_4_heartbeats(
        interop, begin, topology, detector):
    """HeartBtInt=1: the wire stops delivering one side's messages; the other side notices."""
    pair = await interop(begin, topology, heartbeat_s=1, tap=True)
    tap = pair.tap
    silent = QF if detector == MD else MD
    await pair.quiet(0.3)
    tap.mute(silent)
    await pair.eventually(lambda: bool(tap.closes), 8, "the detector to drop the connection")
    [(_, closed_by, closed_at)] = tap.closes
    last_heard = max(f.t for f in tap.sent_by(silent, delivered=True))
    test_requests = [f for f in tap.sent_by(detector, b"1") if f.t > last_heard]
    assert closed_by == detector, tap.transcript()
    assert test_requests, f"{detector} sent no TestRequest\n{pair.report()}"
    first_tr = test_requests[0].t - last_heard
    timeout = closed_at - last_heard
    assert test_requests[0].tags[112] == b"TEST"
    # The silent side was alive and answered the TestRequest; the wire lost the answer.
    assert any(f.tags.get(112) == b"TEST" for f in tap.sent_by(silent, b"0", delivered=False)), pair.report()
    assert not tap.sent_by(detector, b"5"), "a heartbeat timeout disconnects without a Logout"
    if detector == MD:
        # Ours runs on exact timers: TestRequest at 1.2 x HeartBtInt, disconnect at 2.4 x.
        assert 1.15 <= first_tr <= 1.7, (first_tr, pair.report())
        assert 2.35 <= timeout <= 3.0, (timeout, pair.report())
        assert "Disconnecting: Timed out waiting for heartbeat" in pair.log.events()
        await pair.eventually(lambda: bool(pair.qf.app.select("logout")), 5, "QuickFIX to see the disconnect")
    else:
        # QuickFIX compares whole seconds and polls once a second: the same rule, coarser.
        assert 1.0 <= first_tr <= 3.3, (first_tr, pair.report())
        assert 2.0 <= timeout <= 4.5, (timeout, pair.report())
        assert "Timed out waiting for heartbeat" in pair.qf.event_log()
        await pair.eventually(lambda: not pair.session.connected_now, 5, "our side to see the disconnect")
        assert pair.app.notices.logouts
    assert not pair.session.logged_on and not pair.qf.logged_on()


# -- 5. LOGOUT HANDSHAKE ----------------------------------------------------------------------------


@parametrize_all
@pytest.mark.parametrize("initiated_by", [MD, QF])
async def test_logout_handshake_started_by_either_side(interop, begin, topology, initiated_by):
    pair = await interop(begin, topology, tap=True)
    tap = pair.tap
    responder = QF if initiated_by == MD else MD
    if initiated_by == MD:
        pair.flush(pair.session.logout("end of day"))
    else:
        pair.qf.logout("end of day")
    await pair.eventually(lambda: any(c == 1 for c, _, _ in tap.closes) and pair.qf.app.count("logout")
                          and pair.app.notices.logouts, 8, "the logout handshake to finish")
    # (A QuickFIX initiator may log on again at once: QuickFIX 1.16 does not apply ReconnectInterval
    # before its first timer tick.  Only the first connection is this test's business.)
    first = [f for f in tap.frames if f.connection == 1]
    [request] = [f for f in first if f.sender == initiated_by and f.msg_type == b"5"]
    [response] = [f for f in first if f.sender == responder and f.msg_type == b"5"]
    assert request.tags.get(58) == b"end of day"
    assert request.t < response.t and request.delivered and response.delivered
    assert 58 not in response.tags
    assert first[-1] is response, tap.transcript()
    qf_logout = pair.qf.app.select("logout")[0]
    assert qf_logout.t >= request.t and pair.app.notices.logouts[0] >= request.t
    if initiated_by == MD:
        assert "Received logout request" in pair.qf.event_log()
        assert "Received logout response" in pair.log.events()
    else:
        assert "Received logout request" in pair.log.events()
        assert "Received logout response" in pair.qf.event_log()
    pair.assert_no_rejects()
