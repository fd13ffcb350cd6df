"""Tests for sim.clock and sim.virtual_loop: virtual and real time, the virtual asyncio loop, UTC text."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.clock import (
    DEFAULT_START_NS,
    NS_PER_DAY,
    NS_PER_MS,
    NS_PER_S,
    Clock,
    DeadlockError,
    RealClock,
    RealTimeEventLoop,
    Timer,
    VirtualClock,
    VirtualEventLoop,
    VirtualEventLoopPolicy,
    current_clock,
    format_utc,
    hours,
    micros,
    millis,
    minutes,
    parse_utc,
    run_real,
    run_virtual,
    seconds,
    utc_ns,
    virtual_test,
)

EPOCH = dt.datetime(1970, 1, 1)
FIRST_NS = utc_ns(1, 1, 1)  # datetime's range, so hypothesis can compare against it
LAST_NS = utc_ns(9999, 12, 31, 23, 59, 59, NS_PER_S - 1)


# -- UNITS AND UTC TEXT ------------------------------------------------------------------------


def test_unit_helpers_return_exact_integer_nanoseconds():
    assert (micros(1), millis(1), seconds(1), minutes(1), hours(1)) == (
        1_000,
        1_000_000,
        1_000_000_000,
        60_000_000_000,
        3_600_000_000_000,
    )
    assert millis(0.5) == 500_000 and isinstance(seconds(1.5), int)


def test_default_start_is_2026_01_02_at_0930_utc():
    assert format_utc(DEFAULT_START_NS) == "20260102-09:30:00.000"
    assert DEFAULT_START_NS == int(dt.datetime(2026, 1, 2, 9, 30, tzinfo=dt.UTC).timestamp()) * NS_PER_S


def _datetime_text(ns: int) -> str:
    d = EPOCH + dt.timedelta(microseconds=ns // 1000)
    return (
        f"{d.year:04d}{d.month:02d}{d.day:02d}-{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        f".{d.microsecond // 1000:03d}"
    )


@given(st.integers(FIRST_NS, LAST_NS))
def test_format_utc_agrees_with_datetime_for_any_instant_in_years_1_to_9999(ns):
    assert format_utc(ns) == _datetime_text(ns)


@given(st.integers(FIRST_NS, LAST_NS), st.sampled_from([0, 3, 6, 9]))
def test_parse_utc_inverts_format_utc_down_to_the_printed_precision(ns, digits):
    unit = {0: NS_PER_S, 3: NS_PER_MS, 6: 1_000, 9: 1}[digits]
    assert parse_utc(format_utc(ns, digits)) == ns - ns % unit


@given(st.integers(1, 9999), st.integers(1, 12), st.integers(1, 31), st.integers(0, 23), st.integers(0, 59))
def test_utc_ns_accepts_exactly_the_dates_datetime_accepts(year, month, day, hour, minute):
    try:
        expected = (
            (dt.datetime(year, month, day, hour, minute) - EPOCH) // dt.timedelta(microseconds=1) * 1000
        )
    except ValueError:
        with pytest.raises(ValueError):
            utc_ns(year, month, day, hour, minute)
    else:
        assert utc_ns(year, month, day, hour, minute) == expected


def test_format_utc_truncates_milliseconds_instead_of_rounding():
    ns = utc_ns(2026, 1, 2, 9, 30, 0, 999_999_999)
    assert format_utc(ns) == "20260102-09:30:00.999"
    assert format_utc(ns, 0) == "20260102-09:30:00"
    assert format_utc(ns, 6) == "20260102-09:30:00.999999"
    assert format_utc(ns, 9) == "20260102-09:30:00.999999999"


def test_format_utc_rolls_over_day_month_and_year_at_midnight():
    last = utc_ns(2025, 12, 31, 23, 59, 59, NS_PER_S - 1)
    assert format_utc(last) == "20251231-23:59:59.999"
    assert format_utc(last + 1) == "20260101-00:00:00.000"
    assert format_utc(utc_ns(2026, 1, 31) + NS_PER_DAY) == "20260201-00:00:00.000"


def test_leap_days_follow_the_gregorian_400_year_rule():
    assert format_utc(utc_ns(2024, 2, 28) + NS_PER_DAY) == "20240229-00:00:00.000"
    assert format_utc(utc_ns(2000, 2, 28) + NS_PER_DAY) == "20000229-00:00:00.000"
    assert format_utc(utc_ns(2100, 2, 28) + NS_PER_DAY) == "21000301-00:00:00.000"
    with pytest.raises(ValueError):
        utc_ns(2100, 2, 29)


def test_format_utc_handles_instants_before_1970():
    assert format_utc(-1) == "19691231-23:59:59.999"


@pytest.mark.parametrize(
    "text",
    [
        "20260102-09:30:00.12",
        "20260102 09:30:00",
        "20261302-09:30:00",
        "20260102-24:00:00",
        "2026012-09:30:00",
    ],
)
def test_parse_utc_rejects_malformed_or_impossible_timestamps(text):
    with pytest.raises(ValueError):
        parse_utc(text)


def test_format_utc_rejects_unsupported_precision():
    with pytest.raises(ValueError):
        format_utc(0, 2)


# -- VIRTUAL CLOCK, STANDALONE -----------------------------------------------------------------


def test_virtual_clock_start_time_is_settable_and_time_stands_still_until_moved():
    clock = VirtualClock(start_ns=utc_ns(2026, 3, 9, 13, 30))
    assert clock.now_ns() == clock.start_ns == utc_ns(2026, 3, 9, 13, 30)
    assert clock.utc_string() == "20260309-13:30:00.000"
    assert clock.elapsed_ns() == 0 and clock.now_ns() == clock.start_ns


def test_call_later_runs_its_callback_at_the_exact_integer_instant_when_advanced():
    clock = VirtualClock()
    seen = []
    clock.call_later(7, lambda: seen.append(clock.now_ns()))
    assert clock.advance(6) == 0 and seen == []
    assert clock.advance(1) == 1 and seen == [DEFAULT_START_NS + 7]


def test_timers_at_the_same_instant_run_in_the_order_they_were_scheduled():
    clock = VirtualClock()
    seen = []
    at = clock.now_ns() + seconds(1)
    for i in range(50):
        clock.call_at(at, seen.append, i)
    clock.call_at(at - 1, seen.append, "earlier")
    clock.advance(seconds(1))
    assert seen == ["earlier", *range(50)]


def test_cancelled_timer_never_runs_and_cancel_after_running_is_harmless():
    clock = VirtualClock()
    seen = []
    doomed = clock.call_later(5, seen.append, "doomed")
    kept = clock.call_later(5, seen.append, "kept")
    doomed.cancel()
    clock.advance(10)
    kept.cancel()
    assert seen == ["kept"] and doomed.cancelled() and isinstance(kept, Timer)
    assert clock.pending_timers() == 0 and clock.next_timer_ns() is None


def test_step_runs_one_timer_and_returns_false_when_none_is_left():
    clock = VirtualClock()
    seen = []
    clock.call_later(20, seen.append, "b")
    clock.call_later(10, seen.append, "a")
    assert clock.step() and seen == ["a"] and clock.elapsed_ns() == 10
    assert clock.step() and seen == ["a", "b"] and clock.elapsed_ns() == 20
    assert not clock.step() and clock.elapsed_ns() == 20


def test_run_until_runs_timers_that_callbacks_schedule_inside_the_window_and_ends_at_the_target():
    clock = VirtualClock()
    seen = []

    def tick():
        seen.append(clock.elapsed_ns())
        clock.call_later(seconds(1), tick)

    clock.call_later(seconds(1), tick)
    assert clock.run_until(clock.start_ns + seconds(3) + 5) == 3
    assert seen == [seconds(1), seconds(2), seconds(3)]
    assert clock.elapsed_ns() == seconds(3) + 5 and clock.next_timer_ns() == clock.start_ns + seconds(4)


def test_time_cannot_move_backwards_or_be_scheduled_in_the_past():
    clock = VirtualClock()
    clock.advance(100)
    with pytest.raises(ValueError):
        clock.run_until(clock.now_ns() - 1)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.call_at(clock.now_ns() - 1, print)
    with pytest.raises(ValueError):
        clock.call_later(-1, print)


def test_mass_cancellation_compacts_the_heap_without_losing_live_timers():
    clock = VirtualClock()
    seen = []
    timers = [clock.call_later(i + 1, seen.append, i) for i in range(1000)]
    for t in timers[::2] + timers[1:900:2]:
        t.cancel()
    assert len(clock._heap) < 1000  # compaction happened
    clock.advance(2000)
    assert seen == list(range(901, 1000, 2))


def test_a_clock_driven_by_a_loop_refuses_to_be_moved_by_hand():
    clock = VirtualClock()
    loop = VirtualEventLoop(clock)
    try:
        with pytest.raises(RuntimeError):
            clock.advance(1)
        with pytest.raises(RuntimeError):
            VirtualEventLoop(clock)
    finally:
        loop.close()
    assert clock.advance(1) == 0  # released on close


# -- VIRTUAL EVENT LOOP ------------------------------------------------------------------------


def test_a_task_sleeping_an_hour_takes_exactly_3600_virtual_seconds_and_little_wall_time():
    clock = VirtualClock()

    async def main():
        await asyncio.sleep(3600)
        return current_clock().elapsed_ns()

    wall = time.perf_counter()
    assert run_virtual(main(), clock=clock) == seconds(3600)
    assert time.perf_counter() - wall < 1.0  # sanity bound, not a benchmark
    assert clock.elapsed_ns() == seconds(3600)


def test_ten_thousand_tasks_with_seeded_random_sleeps_wake_in_exact_time_order():
    delays_ns = np.random.default_rng(20260102).integers(1, seconds(3600), size=10_000)
    woke: list[tuple[int, int]] = []

    async def sleeper(i: int, delay_ns: int):
        await asyncio.sleep(delay_ns / NS_PER_S)
        woke.append((current_clock().elapsed_ns(), i))

    async def main():
        await asyncio.gather(*(sleeper(i, int(d)) for i, d in enumerate(delays_ns)))

    run_virtual(main())
    # each task wakes at its exact nanosecond; equal delays wake in creation order
    assert woke == sorted((int(d), i) for i, d in enumerate(delays_ns))


def _traced_program(trace: list[str]):
    async def worker(name: str, queue: asyncio.Queue, rng: np.random.Generator):
        clock = current_clock()
        for _ in range(20):
            await asyncio.sleep(int(rng.integers(0, 5)) / 1000)  # many ties on purpose
            await queue.put(name)
            trace.append(f"{clock.elapsed_ns()} {name} put")

    async def main():
        rng = np.random.default_rng(7)
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=3)
        workers = [asyncio.create_task(worker(f"w{i}", queue, rng)) for i in range(5)]
        for _ in range(100):
            got = await queue.get()
            trace.append(f"{current_clock().elapsed_ns()} got {got}")
        await asyncio.gather(*workers)

    return main()


def test_two_runs_of_the_same_program_give_the_same_event_trace():
    first: list[str] = []
    second: list[str] = []
    run_virtual(_traced_program(first))
    run_virtual(_traced_program(second))
    assert len(first) == 200 and first == second


def test_asyncio_timers_at_the_same_instant_run_fifo_across_call_at_call_later_and_the_clock():
    seen = []

    async def main():
        loop = asyncio.get_running_loop()
        clock = current_clock()
        at = loop.time() + 2.5
        loop.call_at(at, seen.append, "call_at 1")
        loop.call_later(2.5, seen.append, "call_later 2")
        clock.call_later(millis(2500), seen.append, "clock 3")
        loop.call_at_ns(clock.now_ns() + millis(2500), seen.append, "call_at_ns 4")
        loop.call_at(at, seen.append, "call_at 5")
        await asyncio.sleep(3)

    run_virtual(main())
    assert seen == ["call_at 1", "call_later 2", "clock 3", "call_at_ns 4", "call_at 5"]


def test_callbacks_see_now_ns_equal_to_the_scheduled_integer_instant_without_float_drift():
    offsets = [1, 999, millis(1) + 1, seconds(1) + 123, hours(7) + 7, hours(23) + seconds(59) + 999_999_999]
    seen: list[tuple[int, int]] = []

    async def main():
        loop = asyncio.get_running_loop()
        clock = current_clock()
        for off in offsets:
            loop.call_later(off / NS_PER_S, lambda off=off: seen.append((off, clock.elapsed_ns())))
            loop.call_at(off / NS_PER_S, lambda off=off: seen.append((off, clock.elapsed_ns())))
        await asyncio.sleep(86_400)

    run_virtual(main())
    assert len(seen) == 2 * len(offsets) and all(off == got for off, got in seen)


def test_loop_call_later_and_call_at_fire_once_and_cancel_prevents_firing():
    seen = []

    async def main():
        loop = asyncio.get_running_loop()
        clock = current_clock()
        loop.call_later(1, lambda: seen.append(("later", clock.elapsed_ns())))
        loop.call_at(loop.time() + 2, lambda: seen.append(("at", clock.elapsed_ns())))
        loop.call_later(1.5, seen.append, "cancelled").cancel()
        handle = loop.call_later(3, seen.append, "cancelled later")
        await asyncio.sleep(2.5)
        handle.cancel()
        await asyncio.sleep(10)

    run_virtual(main())
    assert seen == [("later", seconds(1)), ("at", seconds(2))]


def test_a_timer_cancelled_by_a_same_instant_timer_ahead_of_it_does_not_run():
    seen = []

    async def main():
        loop = asyncio.get_running_loop()
        first = loop.call_later(1, lambda: second.cancel())
        second = loop.call_later(1, seen.append, "second")
        await asyncio.sleep(2)
        assert not first.cancelled()

    run_virtual(main())
    assert seen == []


def test_wait_for_times_out_after_exactly_the_virtual_timeout():
    async def main():
        clock = current_clock()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(60), timeout=1.25)
        timed_out_at = clock.elapsed_ns()
        assert await asyncio.wait_for(asyncio.sleep(1, result="done"), timeout=2) == "done"
        return timed_out_at, clock.elapsed_ns()

    assert run_virtual(main()) == (millis(1250), millis(2250))


def test_asyncio_timeout_expires_in_virtual_time():
    async def main():
        clock = current_clock()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.Event().wait()
        return clock.elapsed_ns()

    assert run_virtual(main()) == seconds(30)


def test_queue_consumer_receives_items_at_the_producers_virtual_times():
    async def producer(queue: asyncio.Queue):
        for i in range(5):
            await asyncio.sleep(0.2)
            await queue.put(i)
        await queue.put(None)

    async def main():
        clock = current_clock()
        queue: asyncio.Queue = asyncio.Queue()
        task = asyncio.create_task(producer(queue))
        received = []
        while (item := await queue.get()) is not None:
            received.append((item, clock.elapsed_ns()))
        await task
        return received

    assert run_virtual(main()) == [(i, millis(200) * (i + 1)) for i in range(5)]


def test_a_due_timer_still_fires_while_another_task_spins_on_sleep_zero():
    async def main():
        loop = asyncio.get_running_loop()
        fired = asyncio.Event()
        loop.call_later(0, fired.set)
        spins = 0
        while not fired.is_set():
            spins += 1
            assert spins < 100, "timer starved by a busy task"
            await asyncio.sleep(0)
        return current_clock().elapsed_ns()

    assert run_virtual(main()) == 0


def test_clock_sleep_ns_sleeps_exact_integer_nanoseconds_under_the_loop():
    async def main():
        clock = current_clock()
        await clock.sleep_ns(3)
        await clock.sleep_until_ns(clock.start_ns + seconds(10) + 1)
        return clock.elapsed_ns()

    assert run_virtual(main()) == seconds(10) + 1


def test_clock_timers_scheduled_before_the_run_fire_inside_it():
    clock = VirtualClock()
    seen = []
    clock.call_later(seconds(5), lambda: seen.append(clock.elapsed_ns()))

    async def main():
        await asyncio.sleep(10)

    run_virtual(main(), clock=clock)
    assert seen == [seconds(5)]


def test_an_exception_in_a_clock_callback_goes_to_the_loop_exception_handler():
    errors = []

    def boom():
        raise ValueError("boom")

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: errors.append(ctx["exception"]))
        current_clock().call_later(1, boom)
        await asyncio.sleep(1)
        return "survived"

    assert run_virtual(main()) == "survived"
    assert [str(e) for e in errors] == ["boom"]


def test_run_virtual_returns_the_result_and_cancels_leftover_tasks_in_creation_order():
    cancelled = []

    async def background(name: str):
        try:
            await asyncio.sleep(1e6)
        finally:
            cancelled.append(name)

    async def main():
        for name in "abcdef":
            asyncio.create_task(background(name))
        await asyncio.sleep(1)
        return 42

    assert run_virtual(main()) == 42
    assert cancelled == list("abcdef")


def test_deadlock_raises_a_clear_error_naming_the_blocked_task_and_line():
    async def waits_forever():
        await asyncio.Event().wait()

    async def main():
        await asyncio.sleep(5)
        await asyncio.gather(asyncio.create_task(waits_forever(), name="stuck-feed"))

    clock = VirtualClock()
    with pytest.raises(DeadlockError) as info:
        run_virtual(main(), clock=clock)
    assert info.value.now_ns == clock.start_ns + seconds(5)
    assert "stuck-feed waiting in waits_forever" in str(info.value)
    assert "20260102-09:30:05" in str(info.value)


def test_sleeping_forever_is_a_deadlock_not_a_jump_to_infinity():
    async def main():
        await asyncio.sleep(float("inf"))

    with pytest.raises(DeadlockError):
        run_virtual(main())


def test_until_ns_stops_the_run_at_the_deadline_even_with_timers_pending():
    clock = VirtualClock()
    ticks = []

    async def main():
        while True:
            await asyncio.sleep(1)
            ticks.append(clock.elapsed_ns())

    assert run_virtual(main(), clock=clock, until_ns=clock.start_ns + seconds(10)) is None
    assert clock.elapsed_ns() == seconds(10)
    assert ticks == [seconds(i) for i in range(1, 11)]  # timers due at the deadline still run


def test_until_ns_before_the_next_timer_stops_without_running_it():
    clock = VirtualClock()
    seen = []

    async def main():
        asyncio.get_running_loop().call_later(5.000000001, seen.append, "too late")
        await asyncio.sleep(1)
        seen.append("on time")
        await asyncio.sleep(3600)

    run_virtual(main(), clock=clock, until_ns=clock.start_ns + seconds(5))
    assert seen == ["on time"] and clock.elapsed_ns() == seconds(5)


def test_until_ns_passes_quiet_time_and_returns_what_a_cancelled_main_reports():
    clock = VirtualClock()

    async def main():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return ("stopped at", current_clock().elapsed_ns())

    assert run_virtual(main(), clock=clock, until_ns=clock.start_ns + hours(6)) == ("stopped at", hours(6))


def test_thread_work_takes_zero_virtual_time_and_is_not_a_deadlock():
    async def main():
        await asyncio.sleep(1)
        value = await asyncio.to_thread(lambda: time.sleep(0.01) or "from thread")
        return value, current_clock().elapsed_ns()

    assert run_virtual(main()) == ("from thread", seconds(1))


def test_real_socket_data_already_waiting_is_delivered_before_time_jumps():
    reader, writer = socket.socketpair()
    try:

        async def main():
            loop = asyncio.get_running_loop()
            got = loop.create_future()
            loop.add_reader(reader, lambda: got.done() or got.set_result(reader.recv(16)))
            writer.send(b"ping")
            loop.call_later(60, lambda: got.done() or got.set_result(b"timer"))
            try:
                return await got, current_clock().elapsed_ns()
            finally:
                loop.remove_reader(reader)

        assert run_virtual(main()) == (b"ping", 0)
    finally:
        reader.close()
        writer.close()


def test_a_signal_handler_runs_before_time_jumps():
    # the loop skips polling fds while only its self-pipe is open, but not once a signal handler is set
    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, lambda: got.done() or got.set_result("signal"))
        try:
            loop.call_later(60, lambda: got.done() or got.set_result("timer"))
            os.kill(os.getpid(), signal.SIGUSR1)
            return await got, current_clock().elapsed_ns()
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    assert run_virtual(main()) == ("signal", 0)


def test_current_clock_outside_a_clocked_loop_raises():
    async def main():
        return current_clock()

    with pytest.raises(RuntimeError, match="no clock"):
        asyncio.run(main())


def test_run_virtual_refuses_a_non_coroutine():
    with pytest.raises(TypeError):
        run_virtual(asyncio.sleep)  # type: ignore[arg-type]


@pytest.fixture
def venue_name():
    return "XSIM"


@virtual_test
async def test_virtual_test_runs_an_async_test_on_a_fresh_virtual_clock_with_fixtures(venue_name):
    clock = current_clock()
    assert isinstance(clock, VirtualClock) and clock.now_ns() == DEFAULT_START_NS
    await asyncio.sleep(3600)
    assert clock.elapsed_ns() == seconds(3600) and venue_name == "XSIM"


@virtual_test(start_ns=utc_ns(2026, 6, 30, 23, 59, 59), until_ns=utc_ns(2026, 7, 1))
async def test_virtual_test_accepts_a_start_time_and_a_deadline():
    assert current_clock().utc_string() == "20260630-23:59:59.000"
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        assert current_clock().utc_string() == "20260701-00:00:00.000"
        raise
    raise AssertionError("the deadline should have cancelled the sleep")


def test_virtual_event_loop_policy_makes_virtual_loops_at_its_start_time():
    loop = VirtualEventLoopPolicy(start_ns=utc_ns(2026, 3, 9)).new_event_loop()
    try:
        assert isinstance(loop, VirtualEventLoop) and loop.clock.utc_string() == "20260309-00:00:00.000"
        assert loop.time() == 0.0
    finally:
        loop.close()


# -- REAL CLOCK --------------------------------------------------------------------------------


@pytest.mark.parametrize("clock", [VirtualClock(), RealClock(), RealClock(speed=2.0)], ids=repr)
def test_both_clocks_satisfy_the_clock_interface(clock):
    assert isinstance(clock, Clock)
    assert isinstance(clock.now_ns(), int) and clock.now_ns() >= clock.start_ns
    assert len(clock.utc_string()) == len("YYYYMMDD-HH:MM:SS.fff")


def test_real_clock_defaults_to_wall_utc_time():
    clock = RealClock()
    assert abs(clock.now_ns() - time.time_ns()) < seconds(1)
    assert clock.utc_string(digits=0)[:8] == dt.datetime.now(dt.UTC).strftime("%Y%m%d")


def test_real_clock_rejects_a_speed_that_is_not_positive():
    for speed in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            RealClock(speed=speed)


def test_real_clock_sleep_and_call_later_take_real_time_on_an_ordinary_loop():
    clock = RealClock(start_ns=utc_ns(2026, 1, 2, 9, 30))

    async def main():
        fired = asyncio.Event()
        clock.call_later(millis(20), fired.set)
        await clock.sleep_ns(millis(20))
        await fired.wait()

    wall = time.perf_counter()
    asyncio.run(main())
    assert time.perf_counter() - wall >= 0.019
    assert clock.elapsed_ns() >= millis(20) and clock.utc_string().startswith("20260102-09:30:0")


def test_real_clock_speed_factor_makes_simulated_time_run_faster():
    clock = RealClock(speed=20.0)

    async def main():
        await clock.sleep_ns(seconds(1))  # 50 ms of real time

    wall = time.perf_counter()
    asyncio.run(main())
    real = time.perf_counter() - wall
    assert clock.elapsed_ns() >= seconds(1) and 0.045 <= real < 0.9


def test_run_real_makes_plain_asyncio_sleep_run_at_the_clock_speed():
    clock = RealClock(speed=20.0)

    async def main():
        assert current_clock() is clock and isinstance(asyncio.get_running_loop(), RealTimeEventLoop)
        await asyncio.sleep(1)  # simulated seconds, because loop.time() reads the clock
        fired = asyncio.Event()
        clock.call_later(millis(500), fired.set)
        await fired.wait()
        return clock.elapsed_ns()

    wall = time.perf_counter()
    elapsed = run_real(main(), clock=clock)
    assert elapsed >= millis(1500) and time.perf_counter() - wall < 1.0


def test_run_real_stops_at_until_ns():
    clock = RealClock(speed=50.0)

    async def main():
        await asyncio.sleep(3600)

    assert run_real(main(), clock=clock, until_ns=clock.start_ns + seconds(1)) is None
    assert clock.elapsed_ns() >= seconds(1)


def test_virtual_loop_run_from_a_worker_thread_is_independent_of_the_main_thread():
    results = []
    thread = threading.Thread(target=lambda: results.append(run_virtual(asyncio.sleep(5, result="ok"))))
    thread.start()
    thread.join(5)
    assert results == ["ok"]
