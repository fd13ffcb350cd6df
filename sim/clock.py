"""Time as a thing the simulation owns: one ``Clock`` interface, a deterministic ``VirtualClock``
and a wall-time ``RealClock``, plus integer-only UTC rendering for FIX.

Design, and why
---------------
* **Integer nanoseconds.** Every instant is an ``int`` of nanoseconds since the Unix epoch (UTC).
  Floats cannot hold 2026 in nanoseconds (one ulp of ``1.7e9`` seconds is ~238 ns), so a float
  round trip would move events and break byte-identical journals. Floats appear only at the edge
  where asyncio demands them (``loop.time()``), and there they count seconds since the clock's
  start, which keeps the round trip exact to the nanosecond for ~3 weeks of simulated time.
* **A heap keyed by (time, sequence)**, as in SimPy's core: the sequence number makes timers that
  fall on the same nanosecond run FIFO in scheduling order, the same tie-break as price-time
  priority. Stdlib asyncio compares ``TimerHandle`` by ``when`` only, so its ties are not FIFO;
  the virtual loop (``sim.virtual_loop``) therefore keeps *its* timers in this heap too, and a
  ``clock.call_later`` and a ``loop.call_later`` at the same instant interleave by sequence.
* **Autojump**, as in trio's ``MockClock(autojump_threshold=0)``: under ``run_virtual`` nothing
  ever waits; when no callback is ready the loop moves the clock to the next timer. An hour of
  timers takes milliseconds and the order of events depends only on the program and its seed.
* **Cancelled timers stay in the heap** (lazy deletion, as asyncio does) and are dropped when they
  reach the top or when they outnumber the live ones, so cancel is O(1).
* **One interface, two clocks.** Simulation code reads time only through ``current_clock()``
  (never ``time.time()``), so the same code runs a CI scenario in virtual time and an on-call drill
  against ``RealClock`` (optionally sped up). ``RealClock.now_ns()`` is wall UTC at construction
  plus monotonic elapsed time times ``speed``, so it never jumps with NTP.

Standalone use (no event loop), SimPy style::

    clock = VirtualClock()                      # starts 2026-01-02 09:30:00 UTC
    clock.call_later(seconds(5), print, "five")
    clock.advance(seconds(10))                  # runs the timer with now_ns() == start + 5 s

Asyncio use: ``run_virtual``, ``run_real``, ``virtual_test``, ``VirtualEventLoop``,
``RealTimeEventLoop``, ``VirtualEventLoopPolicy`` and ``DeadlockError`` live in
``sim.virtual_loop`` and are re-exported here (lazily, to avoid an import cycle); see that
module's docstring for the loop's design and for pytest integration. Inside a run::

    clock = current_clock()                     # the running loop's clock, virtual or real
    header[52] = clock.utc_string()             # FIX SendingTime, e.g. 20260102-09:30:00.125
"""

from __future__ import annotations

import abc
import asyncio
import heapq
import itertools
import math
import operator
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # for type checkers and linters; at run time __getattr__ below imports lazily
    from sim.virtual_loop import (
        DeadlockError,
        RealTimeEventLoop,
        VirtualEventLoop,
        VirtualEventLoopPolicy,
        run_real,
        run_virtual,
        virtual_test,
    )

__all__ = [
    "NS_PER_US",
    "NS_PER_MS",
    "NS_PER_S",
    "NS_PER_MIN",
    "NS_PER_HOUR",
    "NS_PER_DAY",
    "DEFAULT_START_NS",
    "micros",
    "millis",
    "seconds",
    "minutes",
    "hours",
    "utc_ns",
    "format_utc",
    "parse_utc",
    "Cancellable",
    "Timer",
    "Clock",
    "VirtualClock",
    "RealClock",
    "current_clock",
    # re-exported from sim.virtual_loop
    "DeadlockError",
    "VirtualEventLoop",
    "RealTimeEventLoop",
    "VirtualEventLoopPolicy",
    "run_virtual",
    "run_real",
    "virtual_test",
]

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
NS_PER_HOUR = 60 * NS_PER_MIN
NS_PER_DAY = 24 * NS_PER_HOUR


def _to_ns(value: float, unit: int) -> int:
    # ints stay exact; floats are rounded once, here, rather than drifting later
    if isinstance(value, int):
        return value * unit
    return round(value * unit)


def micros(us: float) -> int:
    """Return ``us`` microseconds as integer nanoseconds."""
    return _to_ns(us, NS_PER_US)


def millis(ms: float) -> int:
    """Return ``ms`` milliseconds as integer nanoseconds."""
    return _to_ns(ms, NS_PER_MS)


def seconds(s: float) -> int:
    """Return ``s`` seconds as integer nanoseconds."""
    return _to_ns(s, NS_PER_S)


def minutes(m: float) -> int:
    """Return ``m`` minutes as integer nanoseconds."""
    return _to_ns(m, NS_PER_MIN)


def hours(h: float) -> int:
    """Return ``h`` hours as integer nanoseconds."""
    return _to_ns(h, NS_PER_HOUR)


# -- CALENDAR (integer only) -------------------------------------------------------------------
# Howard Hinnant's days_from_civil / civil_from_days: proleptic Gregorian, exact for any year,
# no floats and no datetime, so formatting cannot disagree between machines.


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_days(y: int, m: int) -> int:
    return 29 if m == 2 and _is_leap(y) else _MONTH_DAYS[m - 1]


def utc_ns(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, nanosecond: int = 0
) -> int:
    """Return the UTC calendar instant as integer nanoseconds since the Unix epoch."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} out of range 1..12")
    if not 1 <= day <= _month_days(year, month):
        raise ValueError(f"day {day} out of range for {year:04d}-{month:02d}")
    if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60 and 0 <= nanosecond < NS_PER_S):
        raise ValueError(f"time of day {hour}:{minute}:{second}.{nanosecond} out of range")
    days = _days_from_civil(year, month, day)
    return days * NS_PER_DAY + hour * NS_PER_HOUR + minute * NS_PER_MIN + second * NS_PER_S + nanosecond


DEFAULT_START_NS = utc_ns(2026, 1, 2, 9, 30)
"""2026-01-02 09:30:00 UTC: a fixed, ordinary trading morning so every run starts identically."""

_FRACTION_DIVISOR = {0: 0, 3: NS_PER_MS, 6: NS_PER_US, 9: 1}


def format_utc(ns: int, digits: int = 3) -> str:
    """Render ``ns`` as ``YYYYMMDD-HH:MM:SS[.fff]`` UTC, truncating to ``digits`` (0, 3, 6 or 9)."""
    if digits not in _FRACTION_DIVISOR:
        raise ValueError(f"digits must be 0, 3, 6 or 9, not {digits}")
    days, rem = divmod(ns, NS_PER_DAY)
    y, mo, d = _civil_from_days(days)
    if not 0 <= y <= 9999:
        raise ValueError(f"year {y} cannot be written as YYYY")
    hh, rem = divmod(rem, NS_PER_HOUR)
    mm, rem = divmod(rem, NS_PER_MIN)
    ss, frac = divmod(rem, NS_PER_S)
    text = f"{y:04d}{mo:02d}{d:02d}-{hh:02d}:{mm:02d}:{ss:02d}"
    if digits:
        text += f".{frac // _FRACTION_DIVISOR[digits]:0{digits}d}"
    return text


def parse_utc(text: str) -> int:
    """Parse ``YYYYMMDD-HH:MM:SS`` with an optional 3, 6 or 9 digit fraction into nanoseconds."""
    head, dot, frac = text.partition(".")
    if (
        len(head) != 17
        or head[8] != "-"
        or head[11] != ":"
        or head[14] != ":"
        or not (head[:8] + head[9:11] + head[12:14] + head[15:]).isdigit()
        or (dot and (len(frac) not in (3, 6, 9) or not frac.isdigit()))
        or not text.isascii()
    ):
        raise ValueError(f"not a UTC timestamp YYYYMMDD-HH:MM:SS[.fff]: {text!r}")
    nanos = int(frac) * _FRACTION_DIVISOR[len(frac)] if dot else 0
    return utc_ns(
        int(head[0:4]),
        int(head[4:6]),
        int(head[6:8]),
        int(head[9:11]),
        int(head[12:14]),
        int(head[15:17]),
        nanos,
    )


# -- CLOCKS ------------------------------------------------------------------------------------


class Cancellable(Protocol):
    """What every ``call_at``/``call_later`` returns: ``Timer`` or ``asyncio.TimerHandle``."""

    def cancel(self) -> None: ...

    def cancelled(self) -> bool: ...


class Timer:
    """A cancellable callback scheduled on a ``VirtualClock`` at ``when_ns``."""

    __slots__ = ("when_ns", "_callback", "_args", "_clock", "_cancelled", "_in_heap")

    def __init__(self, when_ns: int, callback: Callable[..., Any], args: tuple, clock: VirtualClock):
        self.when_ns = when_ns
        self._callback = callback
        self._args = args
        self._clock = clock
        self._cancelled = False
        self._in_heap = True

    def cancel(self) -> None:
        """Stop the callback from running; a no-op if it already ran or was cancelled."""
        if not self._cancelled:
            self._cancelled = True
            if self._in_heap:
                self._clock._note_cancelled()

    def cancelled(self) -> bool:
        """Return True if ``cancel()`` was called."""
        return self._cancelled

    def _run(self) -> None:
        # re-checked here: under a loop a timer can be cancelled after it left the heap
        # for the ready queue but before it ran (e.g. by a same-instant timer ahead of it)
        if not self._cancelled:
            self._callback(*self._args)

    def __repr__(self) -> str:
        state = " cancelled" if self._cancelled else ""
        return f"<Timer {format_utc(self.when_ns, 9)}{state} {self._callback!r}>"


class Clock(abc.ABC):
    """The one time interface simulation code sees: integer ns now, timers and sleeps."""

    @property
    @abc.abstractmethod
    def start_ns(self) -> int:
        """Return the instant (ns since the epoch) this clock started at."""

    @abc.abstractmethod
    def now_ns(self) -> int:
        """Return the current instant as integer nanoseconds since the Unix epoch (UTC)."""

    @abc.abstractmethod
    def call_at(self, ns: int, callback: Callable[..., Any], *args: Any) -> Cancellable:
        """Run ``callback(*args)`` at instant ``ns``; return a handle with ``cancel()``."""

    @abc.abstractmethod
    async def sleep_ns(self, delay_ns: int) -> None:
        """Suspend the calling task for ``delay_ns`` nanoseconds of this clock's time."""

    def call_later(self, delay_ns: int, callback: Callable[..., Any], *args: Any) -> Cancellable:
        """Run ``callback(*args)`` after ``delay_ns`` nanoseconds; return a cancellable handle."""
        delay_ns = operator.index(delay_ns)
        if delay_ns < 0:
            raise ValueError(f"negative delay {delay_ns} ns")
        return self.call_at(self.now_ns() + delay_ns, callback, *args)

    async def sleep_until_ns(self, ns: int) -> None:
        """Suspend the calling task until instant ``ns`` (at once if it has passed)."""
        await self.sleep_ns(max(0, ns - self.now_ns()))

    def now_s(self) -> float:
        """Return now as float seconds since the epoch (for display only: not exact)."""
        return self.now_ns() / NS_PER_S

    def elapsed_ns(self) -> int:
        """Return nanoseconds since the clock started."""
        return self.now_ns() - self.start_ns

    def utc_string(self, ns: int | None = None, digits: int = 3) -> str:
        """Render ``ns`` (default: now) as ``YYYYMMDD-HH:MM:SS.fff``, as FIX SendingTime(52) wants."""
        return format_utc(self.now_ns() if ns is None else ns, digits)


class VirtualClock(Clock):
    """Deterministic simulated time: a (time, sequence) heap of timers, moved only on request.

    Standalone, ``advance``/``run_until``/``step`` move time and run due callbacks inline (an
    exception from a callback propagates to the caller). Attached to a ``VirtualEventLoop``, the
    loop drives it and those three methods raise: sleep or await instead.
    """

    # rebuild the heap once cancelled entries are both numerous and the majority
    _COMPACT_MIN = 64

    def __init__(self, start_ns: int = DEFAULT_START_NS):
        start_ns = operator.index(start_ns)
        self._start = start_ns
        self._now = start_ns
        self._heap: list[tuple[int, int, Any]] = []
        self._seq = itertools.count()
        self._cancelled = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<VirtualClock {format_utc(self._now, 9)} timers={len(self._heap) - self._cancelled}>"

    # -- READING --

    @property
    def start_ns(self) -> int:
        """Return the instant the clock started at."""
        return self._start

    def now_ns(self) -> int:
        """Return the current virtual instant in integer nanoseconds."""
        return self._now

    def next_timer_ns(self) -> int | None:
        """Return the instant of the earliest live timer, or None if there is none."""
        self._drop_cancelled_head()
        return self._heap[0][0] if self._heap else None

    def pending_timers(self) -> int:
        """Return the number of timers not yet run or cancelled."""
        return sum(1 for entry in self._heap if not entry[2].cancelled())

    # -- SCHEDULING --

    def call_at(self, ns: int, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` at virtual instant ``ns`` (not in the past); FIFO among equals."""
        ns = operator.index(ns)
        if ns < self._now:
            raise ValueError(f"call_at({format_utc(ns, 9)}) is before now ({format_utc(self._now, 9)})")
        timer = Timer(ns, callback, args, self)
        self._push(ns, timer)
        return timer

    def call_later(self, delay_ns: int, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` ``delay_ns`` nanoseconds from now; FIFO among equal instants."""
        return super().call_later(delay_ns, callback, *args)  # type: ignore[return-value]

    async def sleep_ns(self, delay_ns: int) -> None:
        """Suspend the calling task for exactly ``delay_ns`` virtual nanoseconds."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise RuntimeError(
                "VirtualClock.sleep_ns needs the clock's own VirtualEventLoop (see run_virtual)"
            )
        future = loop.create_future()
        timer = self.call_later(delay_ns, _resolve, future)
        try:
            await future
        finally:
            timer.cancel()

    # -- MOVING TIME (standalone only) --

    def step(self) -> bool:
        """Run the next live timer, moving now to its instant; return False if none is left."""
        self._check_standalone()
        if self.next_timer_ns() is None:
            return False
        ns, _, timer = heapq.heappop(self._heap)
        self._now = ns
        timer._in_heap = False
        timer._run()
        return True

    def run_until(self, ns: int) -> int:
        """Run every timer due at or before ``ns`` (including ones they schedule), end at ``ns``."""
        self._check_standalone()
        ns = operator.index(ns)
        if ns < self._now:
            raise ValueError(f"run_until({format_utc(ns, 9)}) would move time backwards")
        count = 0
        while (nxt := self.next_timer_ns()) is not None and nxt <= ns:
            self.step()
            count += 1
        self._now = ns
        return count

    def advance(self, delta_ns: int) -> int:
        """Move time forward by ``delta_ns``, running due timers in order; return how many ran."""
        delta_ns = operator.index(delta_ns)
        if delta_ns < 0:
            raise ValueError(f"cannot advance by a negative {delta_ns} ns")
        return self.run_until(self._now + delta_ns)

    # -- INTERNALS shared with sim.virtual_loop --

    def _check_standalone(self) -> None:
        if self._loop is not None:
            raise RuntimeError(
                "this VirtualClock is driven by its VirtualEventLoop; await asyncio.sleep() or "
                "clock.sleep_ns() instead of moving time by hand"
            )

    def _push(self, ns: int, item: Any) -> None:
        heapq.heappush(self._heap, (ns, next(self._seq), item))

    def _note_cancelled(self) -> None:
        self._cancelled += 1
        if self._cancelled >= self._COMPACT_MIN and 2 * self._cancelled > len(self._heap):
            live = [entry for entry in self._heap if not entry[2].cancelled()]
            heapq.heapify(live)
            self._heap = live
            self._cancelled = 0

    def _drop_cancelled_head(self) -> None:
        heap = self._heap
        while heap and heap[0][2].cancelled():
            heapq.heappop(heap)
            self._cancelled = max(0, self._cancelled - 1)

    def _check_attachable(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError(f"{self!r} is already driven by another open event loop")

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._check_attachable()
        self._loop = loop

    def _detach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            # asyncio handles die with their loop; plain Timers survive for standalone use
            self._heap = [e for e in self._heap if isinstance(e[2], Timer) and not e[2].cancelled()]
            heapq.heapify(self._heap)
            self._cancelled = 0
            self._loop = None


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class RealClock(Clock):
    """Wall-clock time, optionally sped up: ``speed=2.0`` makes simulated time run twice as fast.

    ``now_ns()`` starts at ``start_ns`` (default: wall UTC now) and advances with the monotonic
    clock times ``speed``. Timers and sleeps need a running asyncio loop; under a
    ``RealTimeEventLoop`` bound to this clock, plain ``asyncio.sleep`` also runs at ``speed``.
    """

    def __init__(self, *, speed: float = 1.0, start_ns: int | None = None):
        if not (isinstance(speed, int | float) and math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive finite number, not {speed!r}")
        self._speed = float(speed)
        self._mono0 = time.monotonic_ns()
        self._start = time.time_ns() if start_ns is None else operator.index(start_ns)

    def __repr__(self) -> str:
        return f"<RealClock speed={self._speed} {format_utc(self.now_ns(), 9)}>"

    @property
    def start_ns(self) -> int:
        """Return the instant the clock started at."""
        return self._start

    @property
    def speed(self) -> float:
        """Return how many simulated seconds pass per real second."""
        return self._speed

    def now_ns(self) -> int:
        """Return start plus monotonic elapsed time scaled by ``speed``, in integer ns."""
        elapsed = time.monotonic_ns() - self._mono0
        if self._speed == 1.0:
            return self._start + elapsed
        return self._start + round(elapsed * self._speed)

    def call_at(self, ns: int, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        """Run ``callback(*args)`` on the running loop when simulated time reaches ``ns``."""
        loop = asyncio.get_running_loop()
        if getattr(loop, "clock", None) is self:
            return loop.call_at_ns(ns, callback, *args)  # type: ignore[attr-defined]
        return loop.call_later(self._real_seconds(ns - self.now_ns()), callback, *args)

    async def sleep_ns(self, delay_ns: int) -> None:
        """Suspend the calling task for ``delay_ns`` simulated ns (``delay_ns / speed`` real ns)."""
        loop = asyncio.get_running_loop()
        if getattr(loop, "clock", None) is self:
            # that loop's time() already is this clock's simulated time
            await asyncio.sleep(delay_ns / NS_PER_S)
        else:
            await asyncio.sleep(self._real_seconds(delay_ns))

    def _real_seconds(self, simulated_ns: int) -> float:
        return max(0, simulated_ns) / self._speed / NS_PER_S


def current_clock() -> Clock:
    """Return the clock of the running event loop (raises RuntimeError if it has none)."""
    loop = asyncio.get_running_loop()
    clock = getattr(loop, "clock", None)
    if not isinstance(clock, Clock):
        # failing loudly beats silently falling back to wall time inside a simulation
        raise RuntimeError(
            f"the running loop {type(loop).__name__} has no clock: run under sim.clock.run_virtual() "
            "or run_real(), or use VirtualEventLoop/RealTimeEventLoop"
        )
    return clock


_LOOP_EXPORTS = frozenset(
    {
        "DeadlockError",
        "VirtualEventLoop",
        "RealTimeEventLoop",
        "VirtualEventLoopPolicy",
        "run_virtual",
        "run_real",
        "virtual_test",
    }
)


def __getattr__(name: str) -> Any:
    # lazy re-export: sim.virtual_loop imports this module, so importing it eagerly would cycle
    if name in _LOOP_EXPORTS:
        from sim import virtual_loop

        return getattr(virtual_loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
