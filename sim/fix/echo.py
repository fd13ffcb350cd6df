"""The fix-acceptor's built-in test application: echo application messages back to their sender.

This is the application QuickFIX's own acceptance suite runs against, so FIX client authors can
point their engine at ``marketdrill fix-acceptor`` and see their messages come back:

* NewOrderSingle (D) and SecurityDefinition (d) are sent back with the same body fields and
  byte-identical values; the header is restamped by the session (our CompIDs, a new MsgSeqNum and
  SendingTime) and PossResend(97) is kept.
* A NewOrderSingle with PossResend=Y whose ClOrdID was already seen since the last Logon is a
  duplicate the client resent on purpose: it is dropped.
* Anything else gets BusinessMessageReject(j) "Unsupported Message Type".
"""

from __future__ import annotations

from sim.fix.codec import FixMessage
from sim.fix.session import BusinessReject, Session

ECHOED_TYPES = frozenset({b"D", b"d"})
_NOT_COPIED = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 122})


class EchoApplication:
    """Echoes NewOrderSingle and SecurityDefinition; rejects other application messages."""

    def __init__(self) -> None:
        self._seen: dict[object, set[bytes]] = {}

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """Every configured counterparty may log on."""

    def on_logon(self, session: Session) -> None:
        """ClOrdIDs seen before this Logon no longer count as duplicates."""
        self._seen[session.session_id] = set()

    def on_logout(self, session: Session) -> None:
        """Nothing to clean up beyond what on_logon resets."""

    def from_app(self, session: Session, message: FixMessage) -> None:
        """Echo D and d back; drop a PossResend duplicate; reject the rest."""
        msg_type = message.msg_type()
        if msg_type not in ECHOED_TYPES:
            raise BusinessReject(3)
        if msg_type == b"D":
            seen = self._seen.setdefault(session.session_id, set())
            cl_ord_id = message.get(11)
            if message.get(97) == b"Y" and cl_ord_id in seen:
                session.log.on_event(f"Dropped PossResend duplicate ClOrdID {cl_ord_id!r}")
                return
            if cl_ord_id is not None:
                seen.add(cl_ord_id)
        header_tags = session.dictionary.header_tags
        header: list[tuple[int, bytes]] = []
        body: list[tuple[int, bytes]] = []
        for tag, value in message.fields:
            if tag in _NOT_COPIED:
                continue
            if tag == 97:
                header.append((tag, value))
            elif tag not in header_tags and tag not in session.dictionary.trailer_tags:
                body.append((tag, value))
        session.send(msg_type, session.dictionary.canonical_body_order(msg_type, body), header)
