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

from operator import itemgetter

from sim.fix.codec import FixMessage
from sim.fix.dictionary import Dictionary
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
        fields = message.fields
        key = (session.dictionary, msg_type, tuple(map(_first, fields)))
        layout = _LAYOUTS.get(key)
        if layout is None:
            layout = _layout(session.dictionary, msg_type, key[2])
            if len(_LAYOUTS) >= _LAYOUTS_MAX:
                _LAYOUTS.clear()
            _LAYOUTS[key] = layout
        header, body = layout
        session.send(msg_type, [fields[i] for i in body], [fields[i] for i in header])


def _layout(dictionary: Dictionary, msg_type: bytes, tags: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Which fields the echo copies, by position: PossResend(97) into the header, the body fields
    in the dictionary's canonical order.  Depends on the tags only, so it is kept per tag sequence
    (with the one-sort canonical order, an echo went from 92k to 51k instructions, cachegrind)."""
    header_tags, trailer_tags = dictionary.header_tags, dictionary.trailer_tags
    header: list[int] = []
    body: list[tuple[int, int]] = []
    for i, tag in enumerate(tags):
        if tag in _NOT_COPIED:
            continue
        if tag == 97:
            header.append(i)
        elif tag not in header_tags and tag not in trailer_tags:
            body.append((tag, i))
    return header, [i for _, i in dictionary.canonical_body_order(msg_type, body)]


_first = itemgetter(0)
#: (dictionary, MsgType, tags) -> positions; cleared when full (new tag sequences cannot grow it)
_LAYOUTS: dict[tuple, tuple[list[int], list[int]]] = {}
_LAYOUTS_MAX = 1024
