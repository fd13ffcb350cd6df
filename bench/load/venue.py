"""The venue under load: its generated config and the `marketdrill exchange` child process."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.bench_fix_tcp import CLK_TCK, ROOT
from bench.bench_venue_tcp import SYMBOL, VENUE_ID

LOAD_SESSIONS = 100
LOAD_PREFIX = "L"
PROBE_ID = "PROBE"
FLOOD_ID = "FLOOD"
BEGIN = b"FIX.4.4"
THROTTLE = {"messages_per_window": 1000, "logout_messages_per_window": 1500, "window_ms": 3000}
LOAD_RATE = 10          # new orders per second per load session (plus half as many cancels)
PROBE_RATE = 100        # probe new orders per second (plus as many cancels): 600 messages per 3 s
ANSWER_GRACE_S = 10.0   # after the last order, how long answers may take before they count as missing
P99_RATIO_TARGET = 2.0

_PORT_LINE = re.compile(rb"listening on [^\s:]+:(\d+)")




def venue_toml(load_sessions: int, prefix: str = LOAD_PREFIX, extra: tuple[str, ...] = (PROBE_ID, FLOOD_ID),
               throttle: dict[str, int] | None = None) -> str:
    """The venue config: one FIX 4.4 session per firm, one symbol, no agents, the message throttle."""
    throttle = THROTTLE if throttle is None else throttle
    firms = [f"{prefix}{k:03d}" for k in range(load_sessions)] + list(extra)
    lines = ["[venue]", f'comp_id = "{VENUE_ID}"', 'host = "127.0.0.1"', "port = 0", 'begin_strings = ["FIX.4.4"]',
             "reset_on_logon = true", "", "[[instrument]]", f'symbol = "{SYMBOL}"', 'tick_size = "0.01"',
             'reference_price = "100.00"', "lot_size = 1", ""]
    for firm in firms:
        lines += ["[[firm]]", f'id = "{firm}"', ""]
    lines += ["[agents]", "enabled = false", "", "[protections]"]
    lines += [f"{key} = {value}" for key, value in throttle.items()]
    return "\n".join(lines) + "\n"


def die_with_parent() -> None:
    """Child preexec: SIGTERM when this process dies, so a SIGKILLed benchmark leaves no venue behind."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class VenueProcess:
    """``marketdrill exchange`` as a child process: port from its stdout, memory and CPU from /proc."""

    def __init__(self, config_path: Path, start_timeout_s: float = 30.0) -> None:
        exe = Path(sys.executable).with_name("marketdrill")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-c",
                                               "import sys; from scenarios.cli import main; sys.exit(main())"]
        cmd += ["exchange", "--config", str(config_path), "--port", "0", "--quiet"]
        self.cmd = cmd
        # Same process group as us (Ctrl-C and run_all's group kill reach it) and killed with us.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=str(ROOT), preexec_fn=die_with_parent)
        self.pid = self.proc.pid
        self.output: list[bytes] = []
        self.port = 0
        self._ready = threading.Event()
        # A thread drains stdout for the whole run: a full pipe would block the venue's prints.
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(start_timeout_s) or not self.port:
            self.stop()
            raise RuntimeError(f"venue did not start: {b''.join(self.output[-20:])!r}")

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            match = _PORT_LINE.search(line)
            if match:
                self.port = int(match.group(1))
            if line.lstrip().startswith(b"instruments:"):  # printed after every session line
                self._ready.set()
        self._ready.set()

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the venue process, in kB."""
        out = {}
        with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
        return out

    def cpu_s(self) -> float:
        """utime + stime so far (10 ms resolution)."""
        with open(f"/proc/{self.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def alive(self) -> bool:
        """The venue process is still running."""
        return self.proc.poll() is None

    def stop(self) -> None:
        """SIGINT (the venue stops cleanly), then SIGKILL if it lingers."""
        for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait_s)


@contextlib.contextmanager
def running_venue(load_sessions: int, prefix: str = LOAD_PREFIX, throttle: dict[str, int] | None = None):
    """A fresh venue process on a generated config in a temp dir; stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        path = Path(tmp) / "venue.toml"
        path.write_text(venue_toml(load_sessions, prefix, throttle=throttle), encoding="utf-8")
        venue = VenueProcess(path)
        try:
            yield venue
        finally:
            venue.stop()
