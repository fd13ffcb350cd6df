"""Answering a ResendRequest from the message store: the session's retransmission, QuickFIX's way.

Split out of :mod:`sim.fix.session` (which calls :func:`retransmit` for a ResendRequest when
messages are persisted) to keep that module to the per-message protocol.  The rules are QuickFIX's
``Session::nextResendRequest``: application messages in the range are sent again with
PossDupFlag=Y and OrigSendingTime (their original SendingTime), restamped and under their
original MsgSeqNum; each run of admin messages (and of numbers the store does not hold) becomes
one SequenceReset-GapFill to the next number worth sending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.fix.codec import FixMessage, GarbledFrame, decode

if TYPE_CHECKING:
    from sim.fix.session import Session

ADMIN_TYPES = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})
_NOT_RESENT = (8, 9, 35, 10, 34, 49, 56)  # the session writes these itself


def retransmit(session: Session, begin: int, end: int) -> None:
    """Resend application messages begin..end; runs of admin messages become one GapFill."""
    store = session.store
    stored = store.get_range(begin, end) if end >= begin else []
    gap_start = 0
    current = begin
    last_seq = begin - 1
    app_just_sent = False
    for seq, raw in stored:
        app_just_sent = False
        try:
            original = decode(raw)
        except GarbledFrame:
            original = None
        if current != seq and not gap_start:
            gap_start = current
        msg_type = original.get(35) if original is not None else b"0"
        if original is None or msg_type in ADMIN_TYPES:
            if not gap_start:
                gap_start = seq
        else:
            if gap_start:
                session._send_gap_fill(gap_start, seq)
            _resend(session, original)
            session.log.on_event(f"Resending Message: {seq}")
            gap_start = 0
            app_just_sent = True
        current = seq + 1
        last_seq = seq
    if gap_start:
        session._send_gap_fill(gap_start, last_seq + 1)
    if end > last_seq:
        new_seq = min(end + 1, store.next_sender_seq)
        start = last_seq + 1 if app_just_sent else (begin if not stored else last_seq + 1)
        if start < new_seq:
            session._send_gap_fill(start, new_seq)


def _resend(session: Session, original: FixMessage) -> None:
    """One stored application message again: PossDupFlag=Y, OrigSendingTime, its own MsgSeqNum."""
    header_tags = session.dictionary.header_tags
    header, body = [], []
    for tag, value in original.fields:
        if tag in _NOT_RESENT:
            continue
        (header if tag in header_tags else body).append((tag, value))
    orig_time = original.get(52) or b""
    header = [(t, v) for t, v in header if t not in (43, 52, 122)]
    header.append((43, b"Y"))
    header.append((122, orig_time))
    seq = int(original.get(34) or b"0")
    session._emit(original.get(35) or b"0", seq, header, body, store=False)
