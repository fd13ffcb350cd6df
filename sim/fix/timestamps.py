"""FIX UTCTimestamp text <-> integer nanoseconds, on top of the clock's integer calendar.

The calendar arithmetic lives in :mod:`sim.clock` (one implementation for the whole project).
This module adds what FIX needs on the wire: bytes instead of str, any number of fraction digits
on input (QuickFIX accepts 0-9), a leap second ``:60`` tolerated as QuickFIX tolerates it, and
``None`` instead of an exception for text that is not a timestamp (the session turns that into
a Reject or a SendingTime problem, never a traceback).
"""

from __future__ import annotations

from sim.clock import NS_PER_S, format_utc, utc_ns


def format_utc_timestamp(ns: int, millis: bool = True, digits: int | None = None) -> bytes:
    """Render ns since the epoch as FIX UTCTimestamp ``YYYYMMDD-HH:MM:SS.sss`` (truncating).

    >>> format_utc_timestamp(1_767_346_200_123_456_789)
    b'20260102-09:30:00.123'
    >>> format_utc_timestamp(1_767_346_200_123_456_789, digits=6)
    b'20260102-09:30:00.123456'
    """
    if digits is None:
        digits = 3 if millis else 0
    return format_utc(ns, digits).encode("ascii")


def parse_utc_timestamp(raw: bytes) -> int | None:
    """Parse ``YYYYMMDD-HH:MM:SS[.f{1,9}]`` into ns since the epoch; None if it is not one.

    >>> parse_utc_timestamp(b"20260102-09:30:00.123")
    1767346200123000000
    >>> parse_utc_timestamp(b"20260102") is None
    True
    """
    if len(raw) < 17 or raw[8:9] != b"-" or raw[11:12] != b":" or raw[14:15] != b":":
        return None
    date, hh, mm, ss = raw[0:8], raw[9:11], raw[12:14], raw[15:17]
    if not (date.isdigit() and hh.isdigit() and mm.isdigit() and ss.isdigit()):
        return None
    frac_ns = 0
    if len(raw) > 17:
        frac = raw[18:]
        if raw[17:18] != b"." or not frac.isdigit() or len(frac) > 9:
            return None
        frac_ns = int(frac.ljust(9, b"0"))
    second = int(ss)
    leap = second == 60  # QuickFIX accepts a leap second; count it as the next second's start
    try:
        stamp = utc_ns(int(date[0:4]), int(date[4:6]), int(date[6:8]), int(hh), int(mm),
                       59 if leap else second, frac_ns)
    except ValueError:
        return None
    return stamp + NS_PER_S if leap else stamp
