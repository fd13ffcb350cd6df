"""Session logs in QuickFIX's file layout, so people can diff ours against a QuickFIX log.

For each session two files in the log directory, named as QuickFIX's FileLog names them::

    FIX.4.4-ISLD-TW.messages.current.log     every frame received or sent
    FIX.4.4-ISLD-TW.event.current.log        session events (logon, resend, rejects, ...)

Each line is ``YYYYMMDD-HH:MM:SS.ffffff : <text>`` with the message's SOH bytes kept as they are,
which is what QuickFIX writes and what ``marketdrill import-fix`` reads back.  Passwords
(Password 554, NewPassword 925) are masked before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from sim.fix.store import SessionID
from sim.fix.timestamps import format_utc_timestamp

_SECRET = re.compile(rb"(\x01(?:554|925)=)[^\x01]*")


def mask_secrets(raw: bytes) -> bytes:
    """Replace the values of Password(554) and NewPassword(925) with ``***``.

    >>> mask_secrets(b"8=FIX.4.4\\x01554=hunter2\\x0110=000\\x01")
    b'8=FIX.4.4\\x01554=***\\x0110=000\\x01'
    """
    return _SECRET.sub(rb"\1***", raw)


class SessionLog(Protocol):
    """Where a session writes its message and event log (QuickFIX's Log interface)."""

    def on_incoming(self, raw: bytes) -> None: ...
    def on_outgoing(self, raw: bytes) -> None: ...
    def on_event(self, text: str) -> None: ...


class MemoryLog:
    """A session log kept in memory (tests and virtual-time runs read it back)."""

    def __init__(self) -> None:
        self.incoming: list[bytes] = []
        self.outgoing: list[bytes] = []
        self.events: list[str] = []

    def on_incoming(self, raw: bytes) -> None:
        """Keep a received frame."""
        self.incoming.append(raw)

    def on_outgoing(self, raw: bytes) -> None:
        """Keep a sent frame."""
        self.outgoing.append(raw)

    def on_event(self, text: str) -> None:
        """Keep an event line."""
        self.events.append(text)


class FileLog:
    """QuickFIX-style messages and event log files for one session."""

    def __init__(self, directory: str | Path, session_id: SessionID, now_ns: Callable[[], int],
                 echo: Callable[[str], None] | None = None) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        prefix = session_id.file_prefix
        self.messages_path = directory / f"{prefix}.messages.current.log"
        self.event_path = directory / f"{prefix}.event.current.log"
        self._messages: TextIO = open(self.messages_path, "a", encoding="latin-1", newline="\n")  # noqa: SIM115
        self._events: TextIO = open(self.event_path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115
        self._now = now_ns
        self._echo = echo
        self._session = str(session_id)

    def _stamp(self) -> str:
        return format_utc_timestamp(self._now(), digits=6).decode()

    def on_incoming(self, raw: bytes) -> None:
        """Log a received frame."""
        self._messages.write(f"{self._stamp()} : {mask_secrets(raw).decode('latin-1')}\n")

    def on_outgoing(self, raw: bytes) -> None:
        """Log a sent frame."""
        self._messages.write(f"{self._stamp()} : {mask_secrets(raw).decode('latin-1')}\n")

    def on_event(self, text: str) -> None:
        """Log a session event (and echo it to the console when asked)."""
        line = f"{self._stamp()} : {text}"
        self._events.write(line + "\n")
        if self._echo is not None:
            self._echo(f"{line} [{self._session}]")

    def flush(self) -> None:
        """Push buffered lines to disk."""
        self._messages.flush()
        self._events.flush()

    def close(self) -> None:
        """Flush and close both files."""
        self._messages.close()
        self._events.close()


class NullLog:
    """A session log that keeps nothing: long-running processes without a log directory stay flat."""

    def on_incoming(self, raw: bytes) -> None:
        """Drop."""

    def on_outgoing(self, raw: bytes) -> None:
        """Drop."""

    def on_event(self, text: str) -> None:
        """Drop."""
