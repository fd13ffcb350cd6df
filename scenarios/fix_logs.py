"""Read FIX message logs as real engines write them and merge them into one timeline.

This is the reading half of ``marketdrill import-fix`` (:mod:`scenarios.fix_import` writes the
scenario).  Formats accepted, detected per line so one reader serves them all:

* QuickFIX (C++) ``FileLog``: ``FIX.4.4-SENDER-TARGET.messages.current.log``, lines
  ``YYYYMMDD-HH:MM:SS.fffffffff : 8=FIX.4.4<SOH>...`` (1.16 writes nanoseconds; older releases
  milliseconds; our :class:`sim.fix.log.FileLog` writes microseconds);
* QuickFIX/J ``FileLog``: ``FIX.4.4-SENDER-TARGET.messages.log``, lines
  ``YYYYMMDD-HH:MM:SS[.SSS]: 8=FIX...`` when ``FileIncludeTimeStampForMessages=Y``, else the bare
  message (``FileLog.writeMessage`` in quickfixj-core);
* raw SOH streams: frames back to back, with or without newlines between them (a capture);
* ``|``-delimited text (one message a line, what people paste into tickets).

Whatever precedes ``8=FIX`` on a line is taken as the log's timestamp when it reads as one
(``: `` separators stripped) and otherwise ignored, so log4j-style prefixes work too.  Every frame
is checked by :func:`sim.fix.codec.decode` (BodyLength, CheckSum, header order): a line that
does not parse is reported as an :class:`Issue` with file, line and reason, and reading goes on.

Merging: several files (both ends of a session, several sessions) become one timeline ordered by
SendingTime(52) (the log line's own time only when 52 is missing or unreadable; ties keep file and
line order).  The same message logged by both ends is one message (identical frames); a resend
with PossDupFlag(43)=Y whose OrigSendingTime(122) matches a message already seen from that sender
with that MsgSeqNum is dropped, and so is a NewOrderSingle flagged PossDup/PossResend(97) whose
ClOrdID that sender already used.  Keys include the SendingTime because ``ResetOnLogon`` sessions
reuse sequence numbers every day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sim.fix.codec import SOH, FixMessage, GarbledFrame, decode
from sim.fix.timestamps import parse_utc_timestamp

__all__ = ["Issue", "LogMessage", "LogSet", "log_files", "read_logs"]

_START = b"8=FIX"
_SPLIT = SOH + _START  # a new frame starts after an SOH: tag 8 appears nowhere else
_TRUE = b"Y"


@dataclass(frozen=True, slots=True)
class Issue:
    """A log line (or file) that could not be used, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}" if self.line else f"{self.source}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One decoded FIX message and where and when it was logged."""

    msg: FixMessage
    time_ns: int  # SendingTime(52), else the log line's time
    source: str
    line: int
    raw: bytes = field(repr=False)

    def text(self, tag: int) -> str | None:
        """A field's value as text (None when absent)."""
        value = self.msg.get(tag)
        return None if value is None else value.decode("latin-1")

    @property
    def msg_type(self) -> str:
        """MsgType(35) as text."""
        return self.msg.msg_type().decode("latin-1")

    @property
    def where(self) -> str:
        """``file:line`` for messages and comments."""
        return f"{self.source}:{self.line}"


@dataclass
class LogSet:
    """Every file read, merged: the timeline, the bad lines, and counts for the summary."""

    messages: list[LogMessage] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    read: int = 0  # frames that decoded
    duplicates: Counter = field(default_factory=Counter)  # reason -> count
    formats: dict[str, str] = field(default_factory=dict)  # file -> layout detected


def log_files(paths: list[str | Path], issues: list[Issue] | None = None) -> list[Path]:
    """The files to read: each path itself, or a directory's FIX message logs (QuickFIX's FileLogPath)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # QuickFIX writes *.messages.current.log (+ rotated backups), QuickFIX/J *.messages.log;
            # event logs hold no messages, so a FileLogPath directory can be passed as it is.
            found = sorted(p for p in path.rglob("*messages*.log") if p.is_file())
            if not found and issues is not None:
                issues.append(Issue(str(path), 0, "a directory without *messages*.log files"))
            out.extend(found)
        else:
            out.append(path)
    return out


def read_logs(paths: list[str | Path]) -> LogSet:
    """Read every file, report bad lines, merge by SendingTime and drop duplicates."""
    result = LogSet()
    timeline: list[tuple[int, int, int, LogMessage]] = []
    for file_index, path in enumerate(log_files(paths, result.issues)):
        for position, message in enumerate(_read_file(path, result)):
            timeline.append((message.time_ns, file_index, position, message))
    timeline.sort(key=lambda item: item[:3])
    seen_frames: set[bytes] = set()
    seen_seq: set[tuple[str | None, ...]] = set()
    seen_orders: set[tuple[str | None, str | None]] = set()
    for _, _, _, message in timeline:
        reason = _duplicate(message, seen_frames, seen_seq, seen_orders)
        if reason:
            result.duplicates[reason] += 1
            continue
        result.messages.append(message)
    return result


def _duplicate(m: LogMessage, frames: set[bytes], seqs: set[tuple[str | None, ...]],
               orders: set[tuple[str | None, str | None]]) -> str:
    """Why ``m`` repeats a message already kept ("" if it does not); records it as seen."""
    if m.raw in frames:
        return "logged by both ends (identical frame)"
    frames.add(m.raw)
    sender, target, seq = m.text(49), m.text(56), m.text(34)
    poss_dup = m.msg.get(43) == _TRUE
    order_key = (sender, m.text(11)) if m.msg_type == "D" else None
    if poss_dup and (sender, target, seq, m.text(122)) in seqs:
        return "PossDupFlag=Y resend of a message already seen (same sender, MsgSeqNum, OrigSendingTime)"
    if order_key and (poss_dup or m.msg.get(97) == _TRUE) and order_key in orders:
        return "PossDup/PossResend order with a ClOrdID that sender already used"
    seqs.add((sender, target, seq, m.text(52)))
    if order_key:
        orders.add(order_key)
    return ""


def _read_file(path: Path, result: LogSet) -> list[LogMessage]:
    source = str(path)
    if ".event." in path.name:
        result.issues.append(Issue(source, 0, "an event log (session events, no messages): skipped"))
        return []
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.issues.append(Issue(source, 0, f"cannot read: {exc.strerror or exc}"))
        return []
    if not data.strip():
        result.issues.append(Issue(source, 0, "empty file"))
        return []
    out: list[LogMessage] = []
    layouts: Counter = Counter()
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        start = line.find(_START)
        if start < 0:
            result.issues.append(Issue(source, number, f"not a FIX message (unknown format): {_show(line)}"))
            continue
        prefix = line[:start]
        log_ns = _prefix_time(prefix)
        body = line[start:]
        pipe = SOH not in body and b"|" in body
        if pipe:
            body = body.replace(b"|", SOH)  # values with '|' are rare; a wrong guess fails the checksum
        layouts[_layout(prefix, log_ns, pipe)] += 1
        pieces = body.split(_SPLIT)
        for k, piece in enumerate(pieces):
            frame = piece if k == 0 else _START + piece
            if k < len(pieces) - 1:
                frame += SOH  # the split took this frame's final SOH
            else:
                frame = frame.rstrip(b" \t")
                if not frame.endswith(SOH) and _ends_with_checksum(frame):
                    frame += SOH  # a '|' log that leaves out the last delimiter
            message = _decode(frame, source, number, k, len(pieces), log_ns, result)
            if message is not None:
                out.append(message)
    result.formats[source] = ", ".join(name for name, _ in layouts.most_common()) or "no FIX messages"
    return out


def _decode(frame: bytes, source: str, line: int, k: int, n: int, log_ns: int | None,
            result: LogSet) -> LogMessage | None:
    label = f" (message {k + 1} of {n} on this line)" if n > 1 else ""
    try:
        msg = decode(frame)
    except GarbledFrame as exc:
        result.issues.append(Issue(source, line, _reason(frame, exc.reason) + label))
        return None
    result.read += 1
    sent = msg.get(52)
    time_ns = parse_utc_timestamp(sent) if sent is not None else None
    if time_ns is None:
        if log_ns is None:
            result.issues.append(Issue(source, line, "no readable SendingTime(52) and no timestamp on the line" + label))
            return None
        time_ns = log_ns  # keep it, placed by the log's own clock
    return LogMessage(msg, time_ns, source, line, frame)


def _reason(frame: bytes, codec_reason: str) -> str:
    """The codec's reason, said the way a person reading a log thinks of it."""
    if b"\x0110=" not in frame:
        return f"truncated message: no CheckSum(10) field ({len(frame)} bytes: {_show(frame)})"
    if codec_reason.startswith("CheckSum(10)=") and "computed" in codec_reason:
        return f"bad checksum: {codec_reason}"
    if codec_reason.startswith("BodyLength"):
        return f"bad or truncated message: {codec_reason}"
    return f"garbled message: {codec_reason}"


def _ends_with_checksum(frame: bytes) -> bool:
    tail = frame.rfind(b"\x0110=")
    return tail >= 0 and frame[tail + 4:].isdigit()


def _prefix_time(prefix: bytes) -> int | None:
    """The timestamp a log wrote before the message (QuickFIX ``T : ``, QuickFIX/J ``T: ``)."""
    text = prefix.strip().rstrip(b":").strip()
    return parse_utc_timestamp(text) if text else None


def _layout(prefix: bytes, log_ns: int | None, pipe: bool) -> str:
    kind = "'|'-delimited" if pipe else "SOH"
    if not prefix.strip():
        return f"{kind}, no timestamps (raw stream or QuickFIX/J without FileIncludeTimeStampForMessages)"
    if log_ns is None:
        return f"{kind}, unrecognised line prefix (ignored)"
    if prefix.endswith(b" : "):
        return f"{kind}, QuickFIX timestamped lines"
    return f"{kind}, QuickFIX/J timestamped lines"


def _show(raw: bytes, limit: int = 60) -> str:
    text = raw.replace(SOH, b"|").decode("latin-1")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return repr(text if len(text) <= limit else text[:limit] + "...")
