"""FIX UTCTimestamp text <-> integer nanoseconds, on top of the clock's integer calendar.

The calendar arithmetic lives in :mod:`sim.clock` (one implementation for the whole project).
This module adds what FIX needs on the wire: bytes instead of str, any number of fraction digits
on input (QuickFIX accepts 0-9), a leap second ``:60`` tolerated as QuickFIX tolerates it, and
``None`` instead of an exception for text that is not a timestamp (the session turns that into
a Reject or a SendingTime problem, never a traceback).

Both directions sit on the per-message path (every ``Session._emit`` stamps SendingTime, every
received message's SendingTime is checked), and consecutive calls almost always fall in the same
second / minute, so each keeps a small cache of the calendar part:

* :func:`format_utc_timestamp` keeps the text of the last second (``YYYYMMDD-HH:MM:SS``) and
  only formats the fraction: 3.6 us -> ~0.6 us per call on the dev box.
* :func:`parse_utc_timestamp` keeps ns-since-epoch per ``YYYYMMDD-HH:MM:SS`` head (bounded
  dict; a leap second's head maps to the next second's start) and only parses the fraction:
  2.8 us -> ~0.7 us.

Both give exactly the results (and the errors) of the uncached calendar code, which still
handles every miss.
"""

from __future__ import annotations

from sim.clock import NS_PER_S, format_utc, utc_ns

_FRACTION_DIVISOR = {3: 1_000_000, 6: 1_000, 9: 1}
_FRACTION_FORMAT = {3: b".%03d", 6: b".%06d", 9: b".%09d"}

# Last second formatted: (second since the epoch, its bytes "YYYYMMDD-HH:MM:SS").  One entry is
# enough: time only moves forward in a session, so a miss is once per second.
_last_second: tuple[int, bytes] = (-1 << 80, b"")


def format_utc_timestamp(ns: int, millis: bool = True, digits: int | None = None) -> bytes:
    """Render ns since the epoch as FIX UTCTimestamp ``YYYYMMDD-HH:MM:SS.sss`` (truncating).

    >>> format_utc_timestamp(1_767_346_200_123_456_789)
    b'20260102-09:30:00.123'
    >>> format_utc_timestamp(1_767_346_200_123_456_789, digits=6)
    b'20260102-09:30:00.123456'
    >>> format_utc_timestamp(1_767_346_200_123_456_789, millis=False)
    b'20260102-09:30:00'
    """
    global _last_second
    if digits is None:
        digits = 3 if millis else 0
    if type(ns) is not int or (digits and digits not in _FRACTION_DIVISOR):
        return format_utc(ns, digits).encode("ascii")  # the reference (and its errors)
    second, frac = divmod(ns, NS_PER_S)
    cached_second, head = _last_second
    if second != cached_second:
        head = format_utc(second * NS_PER_S, 0).encode("ascii")  # raises for years outside 0..9999
        _last_second = (second, head)
    if not digits:
        return head
    return head + _FRACTION_FORMAT[digits] % (frac // _FRACTION_DIVISOR[digits])


#: ns since the epoch of a 17-byte head b"YYYYMMDD-HH:MM:SS" (None: not a valid one); cleared
#: when full, so distinct garbage cannot grow it.
_SECONDS: dict[bytes, int | None] = {}
_SECONDS_MAX = 4096
_FRAC_SCALE = [0, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1]


def parse_utc_timestamp(raw: bytes) -> int | None:
    """Parse ``YYYYMMDD-HH:MM:SS[.f{1,9}]`` into ns since the epoch; None if it is not one.

    >>> parse_utc_timestamp(b"20260102-09:30:00.123")
    1767346200123000000
    >>> parse_utc_timestamp(b"20260102-09:30:60")  # a leap second counts as the next second
    1767346260000000000
    >>> parse_utc_timestamp(b"20260102") is None
    True
    """
    if type(raw) is not bytes:
        return _parse_reference(raw)
    # The head up to the seconds is fixed-length and its value is linear in the fraction, so
    # the calendar work is cached per head (one miss per second of SendingTime).
    head = raw[:17]
    stamp = _SECONDS.get(head, _MISSING)
    if stamp is _MISSING:
        stamp = _parse_reference(head)
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        _SECONDS[head] = stamp
    if stamp is None:
        return None
    n = len(raw)
    if n == 17:
        return stamp
    frac = raw[18:]
    if raw[17] != 46 or n > 27 or not frac.isdigit():  # 46 = '.', 1-9 ASCII digits
        return None
    return stamp + int(frac) * _FRAC_SCALE[n - 18]


_MISSING = object()


def _parse_reference(raw: bytes) -> int | None:
    """The uncached parser (kept for anything that is not exactly ``bytes``)."""
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
