"""Asyncio event loops driven by a ``sim.clock`` clock, and ``run_virtual``/``run_real`` to run them.

``VirtualEventLoop`` runs ordinary asyncio code (``asyncio.sleep``, ``loop.call_later``/``call_at``,
tasks, queues, ``asyncio.wait_for``, ``asyncio.timeout``) unchanged, in virtual time:

* **Autojump** (trio's ``MockClock(autojump_threshold=0)``): the loop's selector is wrapped so that
  when asyncio would block (nothing ready), it moves the ``VirtualClock`` to the next timer instead
  of sleeping. A simulated hour costs only the callbacks it runs.
* **FIFO ties**: ``call_at``/``call_later`` put timers in the clock's (time, sequence) heap rather
  than asyncio's ``_scheduled`` heap (which orders by ``when`` alone), so timers due at the same
  nanosecond run in scheduling order, interleaved by sequence with ``clock.call_at`` timers.
* **Exact integer time**: ``loop.time()`` is seconds since the clock's *start* (asyncio only
  promises a monotonic reference), so ``round(when * 1e9)`` recovers the intended nanosecond for
  ~3 weeks of simulated time; ``call_later`` adds its delay to the integer ``now_ns()``, and
  ``call_at_ns``/``call_later_ns`` take integers directly. Inside a timer callback
  ``clock.now_ns()`` equals the scheduled integer instant.
* **Deadlock detection**: with nothing ready, no timers, and no executor job running, no event can
  ever arrive, so instead of hanging the loop raises ``DeadlockError`` naming each blocked task
  and the line it waits on.
* **Real file descriptors** (chosen policy): the virtual loop is for in-memory transports. Real
  fds (including asyncio's own self-pipe) are polled *without blocking* before every jump; they
  never hold virtual time back and do not count against deadlock (while the self-pipe is the only
  fd and no signal handler or executor job exists there is nothing to poll for, and the poll is
  skipped). Only executor jobs (``run_in_executor``, ``asyncio.to_thread``, ``getaddrinfo``,
  executor shutdown) make the loop block for real: it waits for them with time frozen, i.e. thread
  work takes zero virtual time.
  Other threads must not drive a virtual loop with ``call_soon_threadsafe``.
* **Deterministic shutdown**: leftover tasks are cancelled in creation order, not in the hash
  order of ``asyncio.all_tasks()``'s set, so cleanup that writes the journal is reproducible.

``RealTimeEventLoop`` is the drill twin: a stdlib selector loop whose ``time()`` reads a
``RealClock`` and whose selector waits ``timeout / speed`` real seconds, so ``asyncio.sleep(30)``
is 30 *simulated* seconds at any ``speed`` and scenario code needs no changes between modes.

Entry points::

    result = run_virtual(main(), clock=VirtualClock(start_ns=utc_ns(2026, 3, 9, 13, 30)),
                         until_ns=utc_ns(2026, 3, 9, 20, 0))
    result = run_real(main(), clock=RealClock(speed=2.0))

With ``until_ns`` the loop stops at that instant even if later timers remain: everything due at
or before it runs, including task steps woken by timers due exactly at it, then time is set to
``until_ns`` (a run that went quiet earlier just passes the quiet time: not a deadlock). The main
task is then cancelled, so a main that catches ``CancelledError`` and returns partial results has
them returned (otherwise ``None``). Leftover tasks are cancelled as
``asyncio.run`` does; their cleanup may still advance time past ``until_ns``.

pytest (pytest-asyncio 1.x, ``asyncio_mode = "auto"``)
------------------------------------------------------
Simplest, and independent of pytest-asyncio: decorate an ``async def`` test with ``virtual_test``.
It becomes a plain sync test that runs the coroutine under ``run_virtual`` on a fresh clock, so it
takes fixtures as usual (use sync fixtures: async fixtures would live on another loop)::

    @virtual_test                                  # or @virtual_test(start_ns=..., until_ns=...)
    async def test_heartbeat_after_30_seconds(tmp_path):
        clock = current_clock()
        await asyncio.sleep(30)
        assert clock.elapsed_ns() == seconds(30)

To put *every* async test of a directory on the virtual loop, use pytest-asyncio's loop-factory
hook in that directory's ``conftest.py`` (the hook is session-wide and cannot be scoped from a
test module, which is why this module does not install it)::

    def pytest_asyncio_loop_factories(config, item):
        return {"virtual": VirtualEventLoop}

The older route, overriding the ``event_loop_policy`` fixture to return
``VirtualEventLoopPolicy()``, still works but pytest-asyncio 1.5 deprecates it (and asyncio
removes policies in 3.16). Sync tests can also just call ``run_virtual(coro, clock=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import math
import selectors
import weakref
from collections.abc import Callable, Coroutine
from heapq import heappop, heappush
from typing import Any, TypeVar

from sim.clock import DEFAULT_START_NS, NS_PER_S, RealClock, Timer, VirtualClock, format_utc

__all__ = [
    "DeadlockError",
    "VirtualEventLoop",
    "RealTimeEventLoop",
    "VirtualEventLoopPolicy",
    "run_virtual",
    "run_real",
    "virtual_test",
]

T = TypeVar("T")


class DeadlockError(RuntimeError):
    """Raised when a virtual loop can never make progress: nothing ready, no timers, tasks waiting."""

    def __init__(self, message: str, now_ns: int, blocked: list[str]):
        super().__init__(message)
        self.now_ns = now_ns
        self.blocked = blocked


class _WrappedSelector(selectors.BaseSelector):
    """Delegates registration to a real selector; subclasses decide how ``select`` waits."""

    def __init__(self, real: selectors.BaseSelector):
        self._real = real

    def register(self, fileobj, events, data=None):
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self._real.unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        return self._real.modify(fileobj, events, data)

    def get_map(self):
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class _VirtualSelector(_WrappedSelector):
    """Wraps a real selector: polls it without blocking, and jumps virtual time instead of waiting."""

    def __init__(self, real: selectors.BaseSelector):
        super().__init__(real)
        self._loop: VirtualEventLoop | None = None
        self._fds = 0  # file objects registered (the loop's own self-pipe is one)

    def register(self, fileobj, events, data=None):
        key = self._real.register(fileobj, events, data)
        self._fds += 1
        return key

    def unregister(self, fileobj):
        key = self._real.unregister(fileobj)
        self._fds -= 1
        return key

    def select(self, timeout: float | None = None):
        loop = self._loop
        assert loop is not None
        # With only the self-pipe registered and no signal handler or executor job, no fd can bring
        # the loop anything (call_soon_threadsafe queues its callback itself), so the poll (a
        # syscall and a selectors call per iteration, ~2% of a trading-day run sampled) is skipped.
        if self._fds > 1 or loop._executor_jobs or loop._signal_handlers:
            events = self._real.select(0)
        else:
            events = []
        # timers already due run now even while other callbacks keep the loop busy, as in stdlib
        # asyncio; waiting for an idle loop would starve a call_later(0) behind a sleep(0) spinner.
        # The head test is the release loop's own condition, inlined: in most iterations nothing is
        # due (45,000 of 51,000 iterations per 5 simulated minutes of the trading-day bench jump).
        clock = loop._clock
        heap = clock._heap
        released = loop._release_due_timers() if heap and heap[0][0] <= clock._now else 0
        if events or released or (timeout is not None and timeout <= 0):
            return events
        if loop._executor_jobs:
            # a thread is working: wait for it with time frozen, so its work costs 0 virtual ns
            return self._real.select(None)
        nxt = clock.next_timer_ns()
        until = loop._until_ns
        if until is not None and (nxt is None or nxt > until):
            # quiescent at or before the deadline: pass the quiet time, then stop
            clock._now = max(clock._now, until)
            loop._until_ns = None
            loop.stop()
            return []
        if nxt is None:
            raise loop._deadlock_error()
        clock._now = nxt
        loop._release_due_timers()
        return []


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose time is a ``VirtualClock`` and which never waits: it jumps."""

    _signal_handlers: dict = {}  # the Unix loop sets its own in __init__; the selector reads it

    def __new__(cls, clock: VirtualClock | None = None):
        # refuse before any loop object exists: a half-built loop would complain in __del__
        if clock is not None:
            clock._check_attachable()
        return super().__new__(cls)

    def __init__(self, clock: VirtualClock | None = None):
        self._clock = VirtualClock() if clock is None else clock
        self._executor_jobs = 0
        self._until_ns: int | None = None
        self._task_seq = itertools.count()
        self._task_order: weakref.WeakKeyDictionary[asyncio.Task, int] = weakref.WeakKeyDictionary()
        selector = _VirtualSelector(selectors.DefaultSelector())
        super().__init__(selector)
        selector._loop = self
        self._clock._attach(self)

    @property
    def clock(self) -> VirtualClock:
        """Return the VirtualClock this loop drives."""
        return self._clock

    def time(self) -> float:
        """Return virtual seconds since the clock's start (asyncio's float view of ``now_ns``)."""
        return (self._clock._now - self._clock._start) / NS_PER_S

    # -- TIMERS --

    def call_at(self, when, callback, *args, context=None) -> asyncio.TimerHandle:
        """Schedule like asyncio's ``call_at`` (``when`` in ``loop.time()`` seconds), FIFO on ties."""
        self._check_timer_args(callback, "call_at")
        if when is None:
            raise TypeError("when must be a number, not None")
        if not math.isfinite(when):
            return self._never(callback, args, context)
        return self._schedule(self._clock._start + round(when * NS_PER_S), callback, args, context)

    def call_later(self, delay, callback, *args, context=None) -> asyncio.TimerHandle:
        """Schedule like asyncio's ``call_later``, offset from the integer ``now_ns()``."""
        self._check_timer_args(callback, "call_later")
        if delay is None:
            raise TypeError("delay must not be None")
        if not math.isfinite(delay):
            return self._never(callback, args, context)
        return self._schedule(self._clock._now + round(delay * NS_PER_S), callback, args, context)

    def call_at_ns(
        self, ns: int, callback: Callable[..., Any], *args: Any, context=None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` at integer virtual instant ``ns`` (past instants run asap)."""
        self._check_timer_args(callback, "call_at_ns")
        return self._schedule(int(ns), callback, args, context)

    def call_later_ns(
        self, delay_ns: int, callback: Callable[..., Any], *args: Any, context=None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` ``delay_ns`` integer nanoseconds from now."""
        self._check_timer_args(callback, "call_later_ns")
        return self._schedule(self._clock._now + int(delay_ns), callback, args, context)

    def _check_timer_args(self, callback, method: str) -> None:
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, method)

    def _never(self, callback, args, context) -> asyncio.TimerHandle:
        # asyncio.sleep(inf) and friends: a timer that never fires is simply never queued,
        # so a task waiting only on it is reported as deadlocked instead of jumping to infinity
        return asyncio.TimerHandle(float("inf"), callback, args, self, context)

    def _schedule(self, ns: int, callback, args, context) -> asyncio.TimerHandle:
        clock = self._clock
        ns = max(ns, clock._now)
        handle = asyncio.TimerHandle((ns - clock._start) / NS_PER_S, callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        # _scheduled=True makes TimerHandle.cancel() report back via _timer_handle_cancelled
        handle._scheduled = True
        heappush(clock._heap, (ns, next(clock._seq), handle))  # clock._push, inlined: once per FIX message
        return handle

    def _timer_handle_cancelled(self, handle) -> None:
        if handle._scheduled:
            self._clock._note_cancelled()

    def _release_due_timers(self) -> int:
        """Move every live timer due at or before now onto the ready queue, in (time, seq) order."""
        clock = self._clock
        heap = clock._heap
        now = clock._now
        ready = self._ready
        released = 0
        while heap and heap[0][0] <= now:
            item = heappop(heap)[2]
            if item._cancelled:  # Timer and TimerHandle both keep it; cancelled() is a call per timer
                clock._cancelled = max(0, clock._cancelled - 1)
                continue
            if isinstance(item, Timer):
                item._in_heap = False
                ready.append(asyncio.Handle(item._run, (), self))
            else:
                item._scheduled = False
                ready.append(item)
            released += 1
        return released

    def _run_once(self) -> None:
        """One iteration as asyncio's: poll, release due timers (or jump), run what is ready.

        asyncio's own iteration also services its ``_scheduled`` heap and reads ``time()``;
        timers live in the clock's heap here, so that work is always empty.  With the selector's
        changes, 79M fewer instructions per simulated minute of the trading-day bench (cachegrind).
        """
        if self._scheduled or self._debug:
            super()._run_once()  # not reached by this loop's own timers; asyncio's path if it is
            return
        ready = self._ready
        event_list = self._selector.select(0 if ready or self._stopping else None)
        if event_list:
            self._process_events(event_list)
        event_list = None  # as asyncio does: breaks cycles when an exception occurs
        popleft = ready.popleft
        for _ in range(len(ready)):
            handle = popleft()
            if not handle._cancelled:
                handle._run()
        handle = None

    # -- TASKS, EXECUTORS, DEADLOCK --

    def create_task(self, coro, *, name=None, context=None):
        """Create a task as asyncio does, remembering creation order for deterministic shutdown."""
        if context is None:
            task = super().create_task(coro, name=name)
        else:
            task = super().create_task(coro, name=name, context=context)
        self._task_order[task] = next(self._task_seq)
        return task

    def run_in_executor(self, executor, func, *args):
        """Run ``func`` in a thread as asyncio does; virtual time waits for it (zero virtual cost)."""
        future = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        future.add_done_callback(self._executor_job_done)
        return future

    def _executor_job_done(self, _future) -> None:
        self._executor_jobs -= 1

    async def shutdown_default_executor(self, *args, **kwargs) -> None:
        """Shut the default executor down; counted as an executor job so it is not a deadlock."""
        self._executor_jobs += 1
        try:
            await super().shutdown_default_executor(*args, **kwargs)
        finally:
            self._executor_jobs -= 1

    def tasks_in_creation_order(self) -> list[asyncio.Task]:
        """Return this loop's unfinished tasks, oldest first."""
        order = self._task_order
        tasks = [t for t in asyncio.all_tasks(self) if not t.done()]
        return sorted(tasks, key=lambda t: (order.get(t, 1 << 62), t.get_name()))

    def _deadlock_error(self) -> DeadlockError:
        now = self._clock._now
        blocked = [f"{task.get_name()} waiting in {_where(task)}" for task in self.tasks_in_creation_order()]
        lines = "\n".join(f"  {b}" for b in blocked) or "  (no tasks: nothing will ever stop the loop)"
        message = (
            f"deadlock at virtual time {format_utc(now, 9)}: no ready callbacks, no timers, "
            f"no executor jobs, and {len(blocked)} task(s) still waiting:\n{lines}"
        )
        return DeadlockError(message, now, blocked)

    def close(self) -> None:
        """Close the loop and release its clock (clock-level Timers stay for standalone use)."""
        super().close()
        self._clock._detach(self)


def _where(task: asyncio.Task) -> str:
    """Describe a suspended task's await chain, outermost frame first."""
    frames = []
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            frames.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return " -> ".join(frames) or "<not started>"


class _ScaledSelector(_WrappedSelector):
    """Wraps a real selector so a timeout in simulated seconds waits ``timeout / speed`` real ones."""

    def __init__(self, real: selectors.BaseSelector, speed: float):
        super().__init__(real)
        self._speed = speed

    def select(self, timeout: float | None = None):
        return self._real.select(None if timeout is None else timeout / self._speed)


class RealTimeEventLoop(asyncio.SelectorEventLoop):
    """A real-time asyncio loop whose ``time()`` is a ``RealClock``'s simulated seconds."""

    def __init__(self, clock: RealClock | None = None):
        self._clock = RealClock() if clock is None else clock
        super().__init__(_ScaledSelector(selectors.DefaultSelector(), self._clock.speed))

    @property
    def clock(self) -> RealClock:
        """Return the RealClock this loop reads."""
        return self._clock

    def time(self) -> float:
        """Return simulated seconds since the clock's start."""
        return (self._clock.now_ns() - self._clock.start_ns) / NS_PER_S

    def call_at_ns(
        self, ns: int, callback: Callable[..., Any], *args: Any, context=None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` at simulated instant ``ns``."""
        return self.call_at((ns - self._clock.start_ns) / NS_PER_S, callback, *args, context=context)

    def call_later_ns(
        self, delay_ns: int, callback: Callable[..., Any], *args: Any, context=None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` ``delay_ns`` simulated nanoseconds from now."""
        return self.call_later(delay_ns / NS_PER_S, callback, *args, context=context)


class VirtualEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose new loops are ``VirtualEventLoop``s on fresh clocks (for pytest)."""

    def __init__(self, start_ns: int | None = None):
        super().__init__()
        self._start_ns = start_ns

    def new_event_loop(self) -> VirtualEventLoop:
        """Return a new VirtualEventLoop on a new VirtualClock."""
        clock = VirtualClock() if self._start_ns is None else VirtualClock(self._start_ns)
        return VirtualEventLoop(clock)


# -- RUNNING -----------------------------------------------------------------------------------


def run_virtual(
    main: Coroutine[Any, Any, T],
    *,
    clock: VirtualClock | None = None,
    until_ns: int | None = None,
    debug: bool | None = None,
) -> T | None:
    """Run ``main`` to completion (or to ``until_ns``) on a fresh VirtualEventLoop; like asyncio.run."""
    loop = VirtualEventLoop(clock)
    if debug is not None:
        loop.set_debug(debug)
    return _drive(loop, main, until_ns)


def run_real(
    main: Coroutine[Any, Any, T],
    *,
    clock: RealClock | None = None,
    until_ns: int | None = None,
    debug: bool | None = None,
) -> T | None:
    """Run ``main`` on a RealTimeEventLoop (wall time, scaled by the clock's speed); like asyncio.run."""
    loop = RealTimeEventLoop(clock)
    if debug is not None:
        loop.set_debug(debug)
    return _drive(loop, main, until_ns)


def virtual_test(
    test: Callable[..., Coroutine[Any, Any, Any]] | None = None,
    *,
    start_ns: int = DEFAULT_START_NS,
    until_ns: int | None = None,
):
    """Decorate an async test so it runs as a sync test under ``run_virtual`` on a fresh clock."""

    def decorate(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        @functools.wraps(fn)  # keeps the signature, so pytest still injects fixtures
        def run_test(*args: Any, **kwargs: Any) -> None:
            run_virtual(fn(*args, **kwargs), clock=VirtualClock(start_ns), until_ns=until_ns)

        return run_test

    return decorate if test is None else decorate(test)


def _drive(loop, main, until_ns: int | None):
    if not asyncio.iscoroutine(main):
        loop.close()
        raise TypeError(f"a coroutine was expected, got {main!r}")
    if asyncio._get_running_loop() is not None:
        main.close()
        loop.close()
        raise RuntimeError("run_virtual()/run_real() cannot be called from a running event loop")
    asyncio.set_event_loop(loop)
    deadline = None
    try:
        task = loop.create_task(main)

        def stop_when_done(_task: asyncio.Task) -> None:
            loop.stop()

        task.add_done_callback(stop_when_done)
        if until_ns is not None and isinstance(loop, VirtualEventLoop):
            # enforced by the selector, so everything due at until_ns (including the task steps
            # that timers at until_ns wake) runs before the stop, whatever its sequence number
            loop._until_ns = until_ns
        elif until_ns is not None:
            deadline = loop.call_at_ns(until_ns, loop.stop)
        loop.run_forever()
        task.remove_done_callback(stop_when_done)
        if isinstance(loop, VirtualEventLoop):
            loop._until_ns = None
        if not task.done():
            # deadline reached: cancel main so its cleanup runs; what it returns is the result
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                return loop.run_until_complete(task)
            return None
        return task.result()
    finally:
        if deadline is not None:
            deadline.cancel()
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_all_tasks(loop) -> None:
    """Cancel leftover tasks in creation order and wait for them, as asyncio.run does."""
    if isinstance(loop, VirtualEventLoop):
        to_cancel = loop.tasks_in_creation_order()
    else:
        to_cancel = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    try:
        loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    except DeadlockError:
        # a cleanup that blocks forever must not mask the run's own outcome
        return
    for task in to_cancel:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during run_virtual()/run_real() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
