"""The per-message shortcuts of the session layer give the answers the full paths give.

validate's all-pass check, canonical_body_order without groups, the session's SendingTime cache and
MemoryStore.set's fast path; and the TCP driver's write coalescing keeps every frame, in order.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from sim.fix import validation
from sim.fix.codec import decode, encode
from sim.fix.dictionary import SPEC_DIR, Dictionary, _ordered
from sim.fix.session import Send, Session, SessionConfig
from sim.fix.store import MemoryStore, SessionID
from sim.fix.timestamps import format_utc_timestamp
from sim.fix.transport import SessionDriver
from tests.sim.fix.fixtools import AcceptAll

T = b"20240102-10:11:12.123"
NOS = [(34, b"2"), (49, b"TW44"), (52, T), (56, b"ISLD"), (11, b"ORD1"), (18, b"6"), (21, b"1"), (38, b"2000"),
       (40, b"2"), (44, b"101.25"), (54, b"1"), (55, b"INTC"), (59, b"0"), (60, T), (453, b"1"), (448, b"P1"),
       (447, b"D"), (452, b"1")]
BAD_VALUES = [b"", b"x", b"-1", b"1.5", b"Z", b"6 Z", b"6 E", b"99999999999", b"20241302-10:11:12", b"0", b"2",
              b"Y", b"00000000000000000001", b"184467440737095516160", b".5", b"1."]


def test_the_all_pass_check_agrees_with_the_ordered_walk(monkeypatch):
    fast = Dictionary.from_json(SPEC_DIR / "FIX44.json")
    ordered = Dictionary.from_json(SPEC_DIR / "FIX44.json")
    rng = random.Random(7)
    messages = []
    for _ in range(3000):
        fields = [(t, v) for t, v in NOS]
        for _ in range(rng.choice((0, 0, 1, 2))):
            i = rng.randrange(len(fields))
            fields[i] = (fields[i][0], rng.choice(BAD_VALUES))
        if rng.random() < 0.1:
            fields.insert(rng.randrange(4, len(fields)), (rng.choice((5001, 1, 21, 453)), b"1"))
        messages.append(decode(encode(b"FIX.4.4", b"D", fields)))
    fast_verdicts = [validation.validate(m, fast, check_group_members=g, strict=s)
                     for m in messages for g in (True, False) for s in (False, True)]
    monkeypatch.setattr(validation, "_fast_checks", lambda items: None)
    ordered_verdicts = [validation.validate(m, ordered, check_group_members=g, strict=s)
                        for m in messages for g in (True, False) for s in (False, True)]
    assert fast_verdicts == ordered_verdicts
    assert any(v is None for v in fast_verdicts) and any(v is not None for v in fast_verdicts)


def test_canonical_order_without_groups_is_the_general_order():
    dd = Dictionary.for_begin_string("FIX.4.4")
    rng = random.Random(3)
    for _ in range(500):
        fields = [(rng.choice((11, 21, 38, 40, 44, 54, 55, 59, 60, 1, 5001, 11)), b"%d" % i) for i in range(12)]
        for msg_type in (b"D", b"8", b"0"):
            mdef = dd.messages.get(msg_type)
            assert dd.canonical_body_order(msg_type, fields) == _ordered(fields, mdef.groups if mdef else {}, None)
    grouped = [(55, b"X"), (453, b"1"), (452, b"1"), (448, b"P"), (11, b"A")]
    assert dd.canonical_body_order(b"D", grouped) == _ordered(grouped, dd.messages[b"D"].groups, None)


def test_sending_time_is_stamped_per_millisecond_exactly():
    clock = [1_767_346_199_998_700_000]
    session = Session(SessionConfig(SessionID("FIX.4.4", "A", "B")), now_ns=lambda: clock[0])
    for step in (0, 100_000, 299_999, 1, 999_999, 1_000_000, 7, 500_000_000, 0):
        clock[0] += step
        assert session._timestamp() == format_utc_timestamp(clock[0])
    seconds = Session(SessionConfig(SessionID("FIX.4.4", "A", "B"), millisecond_timestamps=False),
                      now_ns=lambda: clock[0])
    assert seconds._timestamp() == format_utc_timestamp(clock[0], millis=False)


def test_memory_store_set_still_checks_what_it_is_given():
    store = MemoryStore()
    store.set(3, b"raw")
    store.set(4, bytearray(b"copy"))
    assert store.get_range(1, 9) == [(3, b"raw"), (4, b"copy")]
    for bad in (0, -1, "5", 2.0, True):
        with pytest.raises(ValueError):
            store.set(bad, b"x")


# -- TCP write coalescing --------------------------------------------------------------------------


class _Sink(AcceptAll):
    """Answers each application message with two orders."""

    def from_app(self, session, message) -> None:
        session.send(b"D", [(11, message.get(11))])
        session.send(b"D", [(11, message.get(11) + b"-2")])


def _logged_on_pair(coalesce: bool):
    """An acceptor session driven by a SessionDriver whose writes are recorded, logged on."""
    writes: list[bytes] = []
    now = asyncio.get_running_loop().time
    clock = lambda: int(now() * 1e9) + 1_767_346_200_000_000_000  # noqa: E731
    acceptor = Session(SessionConfig(SessionID("FIX.4.4", "ISLD", "TW"), check_latency=False, validate=False),
                       now_ns=clock, application=_Sink())
    client = Session(SessionConfig(SessionID("FIX.4.4", "TW", "ISLD"), initiator=True, check_latency=False),
                     now_ns=clock)
    driver = SessionDriver(acceptor, writes.append, lambda: None, now_ns=clock, coalesce=coalesce)
    driver.start()
    for action in client.connected():
        driver.feed(action.data)
    for frame in writes:
        client.receive_bytes(frame)
    assert acceptor.logged_on and client.logged_on
    writes.clear()
    return client, acceptor, driver, writes


def _frames(writes: list[bytes]) -> list[bytes]:
    return [b"8=FIX" + part for w in writes for part in w.split(b"8=FIX")[1:]]


@pytest.mark.parametrize("coalesce", [False, True])
def test_a_batch_goes_out_in_one_write_when_coalescing(coalesce):
    async def main():
        client, _acceptor, driver, writes = _logged_on_pair(coalesce)
        for i in range(3):
            client.send(b"D", [(11, b"C%d" % i)])
        driver.feed(b"".join(a.data for a in client.take_actions() if type(a) is Send))
        assert len(_frames(writes)) == 6
        assert len(writes) == (1 if coalesce else 6)
        return [decode(f).get(11) for f in _frames(writes)]

    assert asyncio.run(main()) == [b"C0", b"C0-2", b"C1", b"C1-2", b"C2", b"C2-2"]


def test_output_from_outside_is_held_until_the_next_loop_pass_and_kept_in_order():
    async def main():
        _client, acceptor, _driver, writes = _logged_on_pair(True)
        acceptor.send(b"8", [(11, b"A")])
        acceptor.send(b"8", [(11, b"B")])
        acceptor.logout("bye")  # the actions it returns are dropped, as Venue._logout drops them
        assert writes == []
        await asyncio.sleep(0)
        assert len(writes) == 1
        return [(decode(f).msg_type(), decode(f).get(11)) for f in _frames(writes)]

    assert asyncio.run(main()) == [(b"8", b"A"), (b"8", b"B"), (b"5", None)]
