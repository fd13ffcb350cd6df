"""Transports: the in-memory pipe on the virtual clock runs the same sessions deterministically."""

from __future__ import annotations

import asyncio

from sim.clock import VirtualClock, current_clock, run_virtual, seconds
from sim.fix.codec import FixMessage
from sim.fix.echo import EchoApplication
from sim.fix.session import Session, SessionConfig
from sim.fix.store import SessionID
from sim.fix.transport import memory_pipe


class Collector:
    """An initiator-side application that records what comes back."""

    def __init__(self) -> None:
        self.messages: list[FixMessage] = []
        self.logons = 0

    def on_logon_request(self, session, logon) -> None:
        pass

    def on_logon(self, session) -> None:
        self.logons += 1

    def on_logout(self, session) -> None:
        pass

    def from_app(self, session, message) -> None:
        self.messages.append(message)


def _pair(now_ns, heartbeat_s=30):
    initiator = Session(SessionConfig(SessionID("FIX.4.4", "TW", "ISLD"), initiator=True, heartbeat_s=heartbeat_s,
                                      reset_on_logon=True), now_ns=now_ns, application=Collector())
    acceptor = Session(SessionConfig(SessionID("FIX.4.4", "ISLD", "TW"), reset_on_logon=True), now_ns=now_ns,
                       application=EchoApplication())
    return initiator, acceptor


def _run_echo_hour():
    async def main():
        now_ns = current_clock().now_ns
        initiator, acceptor = _pair(now_ns, heartbeat_s=30)
        memory_pipe(initiator, acceptor, now_ns=now_ns, latency_ns=250_000)
        await asyncio.sleep(1)
        for i in range(100):
            initiator.send(b"D", [(11, f"O{i}"), (21, 1), (38, 100), (40, 1), (54, 1), (55, "PRB"),
                                  (60, "20260102-09:30:00")])
            await asyncio.sleep(0.5)
        await asyncio.sleep(3600)
        return initiator, acceptor

    return run_virtual(main(), clock=VirtualClock())


def test_an_hour_of_heartbeats_and_100_echoes_run_in_virtual_time():
    initiator, acceptor = _run_echo_hour()
    assert initiator.logged_on and acceptor.logged_on
    assert [m.get(11) for m in initiator.app.messages] == [f"O{i}".encode() for i in range(100)]
    heartbeats = sum(1 for raw in acceptor.log.outgoing if b"\x0135=0\x01" in raw)
    assert 115 <= heartbeats <= 125  # one per 30 s of silence over ~3,650 s
    assert initiator.next_target_seq == acceptor.next_sender_seq


def test_the_same_run_twice_gives_byte_identical_session_logs():
    first, _ = _run_echo_hour()
    second, _ = _run_echo_hour()
    assert first.log.outgoing == second.log.outgoing
    assert first.log.incoming == second.log.incoming


def test_a_silent_peer_is_detected_by_test_request_then_disconnect():
    async def main():
        now_ns = current_clock().now_ns
        initiator, acceptor = _pair(now_ns, heartbeat_s=10)
        initiator_driver, acceptor_driver = memory_pipe(initiator, acceptor, now_ns=now_ns)
        await asyncio.sleep(1)
        assert acceptor.logged_on
        start = now_ns()
        # The initiator goes silent: its driver stops feeding and writing (a hung process).
        initiator_driver.closed = True
        while acceptor.connected_now:
            await asyncio.sleep(0.1)
        return acceptor, now_ns() - start

    acceptor, elapsed = run_virtual(main(), clock=VirtualClock())
    assert any("Sent test request TEST" in e for e in acceptor.log.events)
    assert any("Timed out waiting for heartbeat" in e for e in acceptor.log.events)
    assert seconds(23) <= elapsed <= seconds(25)  # 2.4 x HeartBtInt after the last message


def test_application_frames_are_told_from_session_frames_by_their_msg_type():
    from sim.fix.transport import _application_frame

    assert _application_frame(b"8=FIX.4.4\x019=5\x0135=D\x0134=9\x0110=000\x01")
    assert _application_frame(b"8=FIX.4.4\x019=5\x0135=AE\x0134=9\x0110=000\x01")
    for admin in (b"0", b"1", b"2", b"3", b"4", b"5", b"A"):
        assert not _application_frame(b"8=FIX.4.4\x019=5\x0135=" + admin + b"\x0134=9\x0110=000\x01")
    assert not _application_frame(b"garbage without a msg type")  # the session judges it
