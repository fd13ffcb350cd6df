"""``marketdrill fix-acceptor``: a standalone FIX acceptor for testing FIX clients.

Builds one :class:`Session` per ``[[session]]`` of a settings file, gives them the echo
application and serves them all on one port.  Events go to the console (and to QuickFIX-style log
files when the settings give FileLogPath).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable

from sim.fix.dictionary import Dictionary
from sim.fix.echo import EchoApplication
from sim.fix.log import FileLog, NullLog
from sim.fix.session import Application, Session, SessionConfig, SessionLog
from sim.fix.settings import SessionSettings, Settings, load_settings
from sim.fix.store import open_store
from sim.fix.transport import FixAcceptor, run_realtime


def config_from_settings(settings: SessionSettings) -> SessionConfig:
    """The session layer's view of one settings-file session."""
    dictionary = None
    if settings.data_dictionary is not None:
        dictionary = Dictionary.from_quickfix_xml(settings.data_dictionary)
    return SessionConfig(
        session_id=settings.session_id,
        initiator=not settings.is_acceptor,
        heartbeat_s=settings.heart_bt_int or 30,
        reset_on_logon=settings.reset_on_logon,
        reset_on_logout=settings.reset_on_logout,
        reset_on_disconnect=settings.reset_on_disconnect,
        check_latency=settings.check_latency,
        max_latency_s=settings.max_latency,
        validate=settings.use_data_dictionary,
        logon_timeout_s=settings.logon_timeout,
        logout_timeout_s=settings.logout_timeout,
        send_redundant_resend_requests=settings.send_redundant_resend_requests,
        persist_messages=settings.persist_messages,
        millisecond_timestamps=settings.milliseconds_in_timestamp,
        dictionary=dictionary,
    )


class _TeeLog:
    """Writes to a file log and echoes events to the console."""

    def __init__(self, inner: SessionLog, echo: Callable[[str], None], name: str) -> None:
        self.inner, self.echo, self.name = inner, echo, name

    def on_incoming(self, raw: bytes) -> None:
        self.inner.on_incoming(raw)

    def on_outgoing(self, raw: bytes) -> None:
        self.inner.on_outgoing(raw)

    def on_event(self, text: str) -> None:
        self.inner.on_event(text)
        self.echo(f"[{self.name}] {text}")


def build_sessions(settings: Settings, application: Application, *, now_ns: Callable[[], int],
                   echo: Callable[[str], None] | None = None, acceptors_only: bool = True) -> list[Session]:
    """Sessions (with stores and logs) for every acceptor session in ``settings``."""
    sessions = []
    for entry in settings.sessions:
        if acceptors_only and not entry.is_acceptor:
            continue
        config = config_from_settings(entry)
        store = open_store(entry.session_id, entry.file_store_path)
        log: SessionLog
        if entry.file_log_path is not None:
            log = FileLog(entry.file_log_path, entry.session_id, now_ns)
        else:
            # A long-running acceptor without FileLogPath keeps nothing (memory stays flat).
            log = NullLog()
        if echo is not None:
            log = _TeeLog(log, echo, str(entry.session_id))
        sessions.append(Session(config, now_ns=now_ns, store=store, application=application, log=log))
    return sessions


def _console(text: str) -> None:
    print(text, flush=True)


async def serve_acceptor(settings: Settings, host: str, port: int, *, quiet: bool = False,
                         ready: Callable[[int], None] | None = None) -> None:
    """Serve the echo acceptor until cancelled or interrupted (SIGINT/SIGTERM)."""
    echo = None if quiet else _console
    sessions = build_sessions(settings, EchoApplication(), now_ns=time.time_ns, echo=echo)
    if not sessions:
        raise SystemExit(f"{settings.source}: no acceptor sessions configured")
    acceptor = FixAcceptor(sessions, now_ns=time.time_ns, on_event=echo or (lambda text: None))
    bound = await acceptor.start(host, port)
    _console(f"marketdrill fix-acceptor listening on {host}:{bound}")
    for session in sessions:
        _console(f"  session {session.session_id} (HeartBtInt from Logon, "
                 f"ResetOnLogon={'Y' if session.config.reset_on_logon else 'N'})")
    if ready is not None:
        ready(bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread or Windows
            pass
    try:
        await stop.wait()
    finally:
        _console("marketdrill fix-acceptor stopping")
        await acceptor.stop()
        for session in sessions:
            session.store.close()
            close = getattr(getattr(session.log, "inner", session.log), "close", None)
            if close is not None:
                close()


def main(config: str, port: int | None, host: str = "127.0.0.1", quiet: bool = False) -> int:
    """Entry point for the CLI: load settings (errors are the caller's to print) and serve."""
    settings = load_settings(config, port=port)
    ports = {s.socket_accept_port for s in settings.sessions if s.is_acceptor}
    if len(ports) != 1 or None in ports:
        print(f"{config}: all acceptor sessions must share one SocketAcceptPort (or pass --port)", file=sys.stderr)
        return 2
    try:
        run_realtime(serve_acceptor(settings, host, ports.pop(), quiet=quiet))
    except KeyboardInterrupt:
        pass
    return 0
