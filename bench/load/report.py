"""bench/results/load.md from the load and flood-isolation results."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from bench.bench_fix_tcp import machine_line, now_utc
from bench.load.venue import ANSWER_GRACE_S, LOAD_RATE, LOAD_SESSIONS, P99_RATIO_TARGET, PROBE_RATE, THROTTLE


def _us(x: float) -> str:
    return f"{x:,.0f}"


def render(load: dict, rounds: list[dict], probe_s: float, elapsed: float, args: argparse.Namespace) -> str:
    """The results file."""
    n = load["sessions"]
    base, peak = load["base_kb"]["VmRSS"], max(s["VmHWM"] for s in load["samples"])
    logged_on = load["samples"][0]["VmRSS"]
    per_session_kb = (peak - base) / n
    idle_per_session_kb = (logged_on - base) / n
    first, last = load["samples"][0], load["samples"][-1]
    growth_kb = last["VmRSS"] - first["VmRSS"]
    total = load["orders"]
    ok_load = load["unanswered_orders"] == 0 and load["unanswered_cancels"] == 0 and not load["dropped"] \
        and not load["dropped_at_logout"] and load["venue_alive"]
    # Best of the rounds per condition (the box is shared and noisy); every round is shown below.
    alone_p99 = min(r["alone"]["order_lat"]["p99"] for r in rounds)
    flood_p99 = min(r["flooded"]["order_lat"]["p99"] for r in rounds)
    ratio = flood_p99 / alone_p99
    probe_clean = all(r["flooded"]["unanswered"] == 0 and not r["probe_dropped"] and r["flooded"]["rejects"] == 0
                      for r in rounds)
    ok_flood = ratio <= P99_RATIO_TARGET and probe_clean
    fs = rounds[0]["flooder"]
    cmd = ".venv/bin/python bench/bench_load.py" + (" --quick" if args.quick else "")
    if args.sessions != LOAD_SESSIONS or args.rate != LOAD_RATE or args.seconds:
        cmd += f" --sessions {args.sessions} --rate {args.rate:g}" + (f" --seconds {args.seconds:g}" if args.seconds
                                                                     else "")
    ol, cl = load["order_lat"], load["cancel_lat"]
    run_s = load["trading_s"] + load["answer_s"]
    probe_rows = []
    for k, r in enumerate(rounds, start=1):
        probe_rows += [_probe_row(f"round {k}: alone", r["alone"]), _probe_row(f"round {k}: while FLOOD floods",
                                                                               r["flooded"]),
                       _probe_row(f"round {k}: after the flood", r["after"])]
    lines = [
        "# Venue load and flood isolation benchmark",
        "",
        f"- date: {now_utc()}",
        f"- machine: {cpu_model()}; {machine_line()} (load average {args.load_at_start:.2f} at the start)",
        f"- command: `{cmd}` (total {elapsed:.0f} s)",
        f"- venue: `marketdrill exchange --config <generated> --port 0 --quiet` in its own process (uvloop); FIX 4.4, "
        f"one symbol, {n} load sessions + PROBE + FLOOD, no agents, message throttle "
        f"{THROTTLE['messages_per_window']:,} messages per {THROTTLE['window_ms']:,} ms (beyond: rejected), "
        f"{THROTTLE['logout_messages_per_window']:,} (beyond: logged out).  Clients: lean raw-FIX sessions on uvloop "
        "in the benchmark process (the flooder in a process of its own).  Latencies are client-side, write to "
        "reply, so they include both event loops and the kernel; on this 2-core box the venue, the clients and "
        "the flooder share the two cores.",
        "",
        f"## Load: {n} concurrent sessions over TCP",
        "",
        f"Each session logs on, sends a DAY limit order every {1000 / load['rate']:.0f} ms for {load['seconds']:g} s "
        f"({load['rate']:g} orders/s per session, random side, price 100.00 +- 5 ticks, qty 1-10: about half "
        "cross), and every second order also cancels its oldest working order; then it waits for the last answers "
        f"(up to {ANSWER_GRACE_S:g} s) and logs out.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| sessions logged on / dropped while trading / dropped at logout | {n} / {len(load['dropped'])} / "
        f"{len(load['dropped_at_logout'])} |",
        f"| logon of all sessions | {load['logon_s']:.1f} s |",
        f"| orders sent / unanswered | {total:,} / {load['unanswered_orders']} |",
        f"| cancels sent / unanswered | {load['cancels']:,} / {load['unanswered_cancels']} |",
        f"| acks / order rejects (of which throttle) / fills | {load['acks']:,} / {load['order_rejects']:,} "
        f"({load['throttle_rejects']:,}) / {load['fills']:,} |",
        f"| cancels done / cancel rejects (order filled first) | {load['cancelled']:,} / {load['cancel_rejects']:,} |",
        f"| offered rate: orders/s (orders + cancels per s) | {total / load['trading_s']:,.0f} "
        f"({(total + load['cancels']) / load['trading_s']:,.0f}) |",
        f"| order -> first report: p50 / p99 / p99.9 / max (us) | {_us(ol['p50'])} / {_us(ol['p99'])} / "
        f"{_us(ol['p999'])} / {_us(ol['max'])} |",
        f"| cancel -> report: p50 / p99 / p99.9 / max (us) | {_us(cl['p50'])} / {_us(cl['p99'])} / "
        f"{_us(cl['p999'])} / {_us(cl['max'])} |",
        f"| last answer after the last order | {load['answer_s'] * 1000:.0f} ms |",
        f"| venue CPU (of one core) over the run | {load['venue_cpu_s'] / run_s:.0%} "
        f"({load['venue_cpu_s'] / (total + load['cancels']) * 1e6:.0f} us per order or cancel) |",
        f"| client CPU (all {n} sessions, one process) | {load['client_cpu_s'] / run_s:.0%} |",
        "",
        "Venue memory (`/proc/<pid>/status`):",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| RSS before any client connected (baseline) | {base / 1024:.1f} MiB |",
        f"| RSS with all {n} sessions logged on, before trading | {logged_on / 1024:.1f} MiB "
        f"(+{idle_per_session_kb:.0f} KiB per session) |",
        f"| RSS at the end of trading | {last['VmRSS'] / 1024:.1f} MiB |",
        f"| **peak RSS (VmHWM) - baseline, per session** | **{per_session_kb:.0f} KiB** "
        f"({(peak - base) / 1024:.1f} MiB / {n}) |",
        f"| RSS growth while trading, per 1,000 orders (+ their cancels) | {growth_kb / max(1, total) * 1000:.0f} KiB |",
        "",
        "- A logged-on idle session costs the venue almost nothing; the per-session figure is what the trading "
        "leaves behind: the venue keeps every order (`Exchange.orders`) and, for resends, every message it sent "
        "in the session's memory store until the next logon with ResetSeqNumFlag.  It grows with the number of "
        "orders (the row above), so a longer run reports more per session; it is bounded by the run, not by the "
        "venue.",
        "",
        "## Flood isolation",
        "",
        f"PROBE sends a buy at 90.00 (it rests; nothing else trades) and cancels it half an interval later, "
        f"{PROBE_RATE} times a second ({2 * PROBE_RATE * THROTTLE['window_ms'] // 1000:,} messages per throttle "
        f"window, under the limit), for {probe_s:g} s alone, then {probe_s:g} s while FLOOD writes NewOrderSingles "
        "as fast as TCP accepts them, then 3 s after the flood.  FLOOD plays an abusive client: it ignores the "
        "venue's Logout and keeps writing until the venue hangs up, then reconnects and floods again.  "
        f"{len(rounds)} round(s), a fresh venue each; the target compares the best p99 of each condition.",
        "",
        "| probe order -> ack | samples | p50 (us) | p99 (us) | p99.9 (us) | max (us) | venue CPU | unanswered |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *probe_rows,
        "",
        f"- p99 under flood / p99 alone: **{ratio:.1f}x** ({_us(flood_p99)} us vs {_us(alone_p99)} us; target <= "
        f"{P99_RATIO_TARGET:g}x); the probe was "
        f"{'never dropped' if not any(r['probe_dropped'] for r in rounds) else 'DROPPED'} and got "
        f"{sum(r['flooded']['rejects'] for r in rounds)} rejects under flood.",
    ]
    for k, r in enumerate(rounds, start=1):
        fs = r["flooder"]
        lines.append(
            f"- round {k}, what happened to FLOOD in {probe_s + 1:g} s: {fs['sent']:,} orders written, "
            f"{fs['acks']:,} accepted, {fs['throttle_rejects']:,} rejected by the throttle, {fs['other_rejects']:,} "
            f"other rejects; {fs['connections']} connection(s), {fs['logouts']} Logout(s), {fs['disconnects']} "
            f"disconnect(s) by the venue; logon -> Logout {_secs(fs['logon_to_logout_s'])}, Logout -> disconnect "
            f"{_secs(fs['logout_to_disconnect_s'])}; venue RSS {fs['rss_growth_kb'] / 1024:+.1f} MiB over the flood.")
    fs = rounds[0]["flooder"]
    lines += [
        f"- throttle texts: {'; '.join(repr(t) for t in fs['reject_texts'].values()) or 'none'}",
        f"- Logout text: {'; '.join(repr(t) for t in fs['logout_texts']) or 'none'}",
        "- Before connections took turns in `sim/fix/transport.py` (`FRAMES_PER_TURN`), the same flood (quick "
        "run, 2026-11-25) gave the probe p50 3.2 s and p99 5.6 s against 0.9 ms and 1.2 ms alone: the acceptor "
        "processed each 256 KB read (about 1,700 orders) whole, and libuv reads a busy socket up to 32 times "
        "before it polls the others.",
        "- Before the venue stopped serving a session it had logged out (2026-11-25), FLOOD kept its session "
        "after the throttle's Logout for as long as it wrote (every reject restarted the logout timeout, and "
        "every flood message cost a whole order's work): probe p99 under flood was 5.8x-6.6x its p99 alone. Now "
        "the timeout counts from the Logout, the acceptor skips the logged-out session's application frames "
        "without decoding them, and the venue hangs up 2 s after its Logout.",
    ]
    if all(r["flooder"]["logouts"] and not r["flooder"]["disconnects"] for r in rounds):
        growth = max(r["flooder"]["rss_growth_kb"] for r in rounds) / 1024
        lines.append(
            "- **Finding (not fixed here)**: after its throttle Logout the venue never hung up on FLOOD, which kept "
            "writing.  `Session._check_timers` (sim/fix/session.py) times a Logout out from `last_sent_ns`, which "
            "every reject the venue sends FLOOD refreshes, and `Session._next` still delivers application messages "
            "once a Logout was sent; so every flood message keeps costing a whole order's work (decode, validate, "
            "gateway, throttle, reject report) and memory: the reject is kept in the session's store for resends "
            "and `Protections._fire` appends a `Fired` record per message to `Protections.fired`, which nothing "
            f"trims (venue RSS up to {growth:+.0f} MiB over one flood above).")
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| {n} sessions over TCP: every order answered, no session dropped | {n} sessions, "
        f"{load['unanswered_orders'] + load['unanswered_cancels']} unanswered of {total + load['cancels']:,} orders "
        f"and cancels, {len(load['dropped']) + len(load['dropped_at_logout'])} dropped | {'yes' if ok_load else 'no'} |",
        f"| peak venue RSS per session (report) | {per_session_kb:.0f} KiB per session "
        f"({(peak - base) / 1024:.1f} MiB over the {base / 1024:.0f} MiB baseline, {total:,} orders) | yes |",
        f"| probe p99 under flood within {P99_RATIO_TARGET:g}x of its p99 alone | {_us(flood_p99)} us vs "
        f"{_us(alone_p99)} us ({ratio:.1f}x) | {'yes' if ok_flood else 'no'} |",
        "",
    ]
    return "\n".join(lines)


def _probe_row(label: str, r: dict) -> str:
    lat = r["order_lat"]
    cpu = f"{r['venue_cpu']:.0%}" if "venue_cpu" in r else "-"
    return (f"| {label} | {lat['n']:,} | {_us(lat['p50'])} | {_us(lat['p99'])} | {_us(lat['p999'])} | "
            f"{_us(lat['max'])} | {cpu} | {r['unanswered']} |")


def _secs(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{min(values):.2f}-{max(values):.2f} s" if len(values) > 1 else f"{values[0]:.2f} s"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ("?" if unreadable)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"
