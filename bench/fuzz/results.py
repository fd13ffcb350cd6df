"""What a fuzz target found: findings, counters, memory samples and progress lines."""

from __future__ import annotations

import gc
import os
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.fuzz.frames import MAX_EXAMPLES


@dataclass
class Finding:
    """One kind of problem: how often, and the first few inputs that showed it."""

    target: str
    kind: str  # escape, app-error, mismatch, invalid-reply, not-serving, note (known and accepted)
    signature: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class TargetResult:
    """Counts, time, memory samples and findings of one target (one shard, or merged)."""

    target: str
    inputs: int = 0
    probes: int = 0
    seconds: float = 0.0
    escapes: int = 0
    app_errors: int = 0
    mismatches: int = 0
    invalid_replies: int = 0
    relogons: int = 0
    notes: int = 0
    cases: Counter = field(default_factory=Counter)
    memory: list[tuple[int, int, int]] = field(default_factory=list)  # (inputs, RSS KiB, allocated blocks)
    findings: dict[str, Finding] = field(default_factory=dict)
    shards: int = 1

    def record(self, kind: str, signature: str, example: str) -> None:
        """Count one problem under ``signature`` and keep its input when it is among the first few."""
        key = f"{kind}: {signature}"
        finding = self.findings.get(key)
        if finding is None:
            finding = self.findings[key] = Finding(self.target, kind, signature)
        finding.count += 1
        if len(finding.examples) < MAX_EXAMPLES:
            finding.examples.append(example[:600])
        if kind == "escape":
            self.escapes += 1
        elif kind == "app-error":
            self.app_errors += 1
        elif kind == "invalid-reply":
            self.invalid_replies += 1
        elif kind == "note":
            self.notes += 1
        else:
            self.mismatches += 1

    def merge(self, other: TargetResult) -> None:
        """Add another shard's result (memory samples stay per shard: the first shard's are kept)."""
        self.inputs += other.inputs
        self.probes += other.probes
        self.seconds = max(self.seconds, other.seconds)
        self.escapes += other.escapes
        self.app_errors += other.app_errors
        self.mismatches += other.mismatches
        self.invalid_replies += other.invalid_replies
        self.relogons += other.relogons
        self.notes += other.notes
        self.cases.update(other.cases)
        self.shards += other.shards
        for key, f in other.findings.items():
            mine = self.findings.setdefault(key, Finding(f.target, f.kind, f.signature))
            mine.count += f.count
            mine.examples += f.examples[:MAX_EXAMPLES - len(mine.examples)]

    @property
    def clean(self) -> bool:
        """Nothing escaped, nothing crashed inside the application, every reply as prescribed."""
        return not (self.escapes or self.app_errors or self.mismatches or self.invalid_replies)


def exception_site(exc: BaseException) -> str:
    """``Type at file:line in function`` of the innermost frame: the signature of a crash."""
    frames = traceback.extract_tb(exc.__traceback__)
    inner = frames[-1] if frames else None
    loc = f" at {Path(inner.filename).name}:{inner.lineno} in {inner.name}" if inner else ""
    return f"{type(exc).__name__}{loc}"


def rss_kib() -> int:
    """Resident set size of this process in KiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


class Progress:
    """Prints a progress line every ``every_s`` seconds and samples memory every ``window`` inputs."""

    def __init__(self, result: TargetResult, total: int, label: str, every_s: float, window: int,
                 quiet: bool) -> None:
        self.result = result
        self.total = total
        self.label = label
        self.every_s = every_s
        self.window = window
        self.quiet = quiet
        self.started = time.monotonic()
        self.last = self.started
        self.next_sample = window

    def tick(self) -> None:
        """Call after every input."""
        r = self.result
        if r.inputs >= self.next_sample:
            self.next_sample += self.window
            gc.collect()
            r.memory.append((r.inputs, rss_kib(), sys.getallocatedblocks()))
        if r.inputs & 255 == 0:
            now = time.monotonic()
            if now - self.last >= self.every_s:
                self.last = now
                self.report(now)

    def report(self, now: float | None = None) -> None:
        """One progress line."""
        if self.quiet:
            return
        r = self.result
        elapsed = (now or time.monotonic()) - self.started
        print(f"[{self.label}] {r.inputs:,}/{self.total:,} inputs, {r.inputs / max(elapsed, 1e-9):,.0f}/s, "
              f"escapes {r.escapes}, app errors {r.app_errors}, mismatches {r.mismatches}, "
              f"invalid replies {r.invalid_replies}, RSS {rss_kib() / 1024:.0f} MiB", flush=True)

    def finish(self) -> None:
        """Final memory sample and time."""
        r = self.result
        r.seconds = time.monotonic() - self.started
        gc.collect()
        if not r.memory or r.memory[-1][0] != r.inputs:
            r.memory.append((r.inputs, rss_kib(), sys.getallocatedblocks()))
        self.report()


class CampaignLog:
    """A session log that keeps nothing but a count of swallowed application errors (bounded memory)."""

    def __init__(self) -> None:
        self.app_errors: list[str] = []  # the first few texts
        self.app_error_count = 0

    def on_incoming(self, raw: bytes) -> None:
        """Not kept."""

    def on_outgoing(self, raw: bytes) -> None:
        """Not kept."""

    def on_event(self, text: str) -> None:
        """Keep application errors (the session turned an exception into BusinessMessageReject)."""
        if text.startswith("Application error"):
            self.app_error_count += 1
            if len(self.app_errors) < MAX_EXAMPLES:
                self.app_errors.append(text)
