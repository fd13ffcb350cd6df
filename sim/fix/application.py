"""What a FIX session calls: the Application protocol, and the exceptions an application raises.

Kept apart from :mod:`sim.fix.session` so applications (the echo test application, the venue
gateway, order engines) depend on this small contract, not on the session's internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sim.fix.codec import FixMessage
from sim.fix.validation import BUSINESS_REJECT_TEXT

if TYPE_CHECKING:
    from sim.fix.session import Session


class RejectLogon(Exception):
    """Raised by an application's ``on_logon_request`` to refuse a Logon (Logout with this text)."""


class BusinessReject(Exception):
    """Raised by an application to answer a message with BusinessMessageReject(j)."""

    def __init__(self, reason: int, text: str | None = None, ref_tag: int | None = None) -> None:
        super().__init__(text or BUSINESS_REJECT_TEXT.get(reason, "Other"))
        self.reason = reason
        self.text = text or BUSINESS_REJECT_TEXT.get(reason, "Other")
        self.ref_tag = ref_tag


class Application(Protocol):
    """What a session calls: logon checks, logon/logout notices and application messages."""

    def on_logon_request(self, session: Session, logon: FixMessage) -> None: ...
    def on_logon(self, session: Session) -> None: ...
    def on_logout(self, session: Session) -> None: ...
    def from_app(self, session: Session, message: FixMessage) -> None: ...


class NullApplication:
    """An application that accepts every logon and rejects every application message."""

    def on_logon_request(self, session: Session, logon: FixMessage) -> None:
        """Accept every logon."""

    def on_logon(self, session: Session) -> None:
        """Nothing to do."""

    def on_logout(self, session: Session) -> None:
        """Nothing to do."""

    def from_app(self, session: Session, message: FixMessage) -> None:
        """Refuse: this application handles no application messages."""
        raise BusinessReject(3)
