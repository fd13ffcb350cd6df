"""The local admin endpoint of ``marketdrill exchange``: HTTP/JSON on 127.0.0.1, behind its own token.

Exchange operations staff halt and resume symbols, engage and release kill switches and change or
(de)list instruments.  In-process that is :class:`~sim.venue.Venue`'s admin API; from outside the
process it is this endpoint and nothing else: it listens on 127.0.0.1 only (there is no ``host``
key) and every request must carry ``Authorization: Bearer <token>``.  Each action goes through the
Venue method, so it reaches the FIX sessions at once and is recorded as a change event with actor
``admin:<X-Actor header, or "admin">``.

Configuration (``[admin]`` in the venue file)::

    [admin]
    enabled = true             # the default when the table is there
    port = 9890                # on 127.0.0.1; 0 picks a free one
    token_file = "admin.token" # read if it exists, else a random token is generated into it (0600)
    # token = "..."            # or the token itself (at least 16 characters); not with token_file

Where the token comes from, in order: ``token``, ``token_file``, the environment variable
``MARKETDRILL_ADMIN_TOKEN``, else a random token generated at every start into ``admin.token`` in
``[venue] log_path`` (or ``<config name>.admin-token`` next to the config file), mode 0600.  The
exchange prints where the endpoint listens and where the token is, never the token itself: the
terminal scrollback and CI logs are read by more people than the file is.

Endpoints (every answer is a JSON object; ``ok`` says whether the action was done)::

    GET  /status               status line, phases, instruments, kill switches, sessions
    GET  /changes              every change event so far
    POST /halt                 {"symbol", "reason"?}
    POST /resume               {"symbol", "reason"?}
    POST /kill-switch          {"firm" | "session", "reason"?}
    POST /release-kill-switch  {"firm" | "session", "reason"?}
    POST /change-instrument    {"symbol", "tick_size"?, "lot_size"?, "at"?, "reason"?}
    POST /add-instrument       {"symbol", "tick_size", "reference_price", "lot_size"?, "currency"?,
                                "band_tier"?, "shares_outstanding"?, "average_daily_volume"?, "reason"?}
    POST /remove-instrument    {"symbol", "reason"?}

``at`` is ``"+SECONDS"`` from now or a UTC timestamp (ISO 8601, or FIX ``YYYYMMDD-HH:MM:SS``).
Statuses: 400 bad input (``field`` names it, ``expected`` says what would do), 401 missing or wrong
token, 404/405 unknown path or method, 409 refused in the venue's current state (already halted,
symbol exists), 411/413/415/431 malformed HTTP, 429 after 5 refused tokens in 10 s (every request
is then answered 429 without looking at its token, until the oldest failure is 10 s old).

The parser is deliberately small and strict: one request per connection, ``Content-Length``
bodies of at most 1 MiB (no chunked encoding), 16 KiB of headers, 5 s to send each, CRLF line
ends, no duplicate headers that matter.  It runs on the venue's own event loop, so calling the
(single-threaded) Venue needs no locking.
"""

from __future__ import annotations

import asyncio
import collections
import difflib
import hmac
import json
import math
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.instruments import Instrument, InstrumentError
from sim.phases import Phase, PhaseError
from sim.venue_config import VenueConfigError
from sim.venue_events import ExecReport

if TYPE_CHECKING:
    from sim.venue import Venue

HOST = "127.0.0.1"
TOKEN_ENV = "MARKETDRILL_ADMIN_TOKEN"
MIN_TOKEN_CHARS = 16
MAX_BODY_BYTES = 1 << 20
MAX_HEAD_BYTES = 16 * 1024
MAX_CONNECTIONS = 16
MAX_AHEAD_S = 7 * 86_400  # a timed change further out than a week is more likely a typo than a plan

_ADMIN_KEYS: dict[str, type] = {"enabled": bool, "port": int, "token": str, "token_file": str}
_ACTOR = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_SYMBOL = re.compile(r"[A-Za-z0-9._:/+-]{1,32}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SINGLE_HEADERS = ("authorization", "content-length", "content-type", "x-actor", "transfer-encoding")


# -- CONFIGURATION -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """The checked ``[admin]`` table: the endpoint's port and where its token comes from."""

    port: int
    token: str = field(default="", repr=False)
    token_file: Path | None = None
    default_token_file: Path = Path("admin.token")  # where a generated token goes without token_file
    source: str = "<dict>"


def admin_config(table: Any, *, source: str, base: Path, log_path: Path | None) -> AdminConfig | None:
    """Check an ``[admin]`` table (VenueConfigError naming the key); None when ``enabled = false``."""
    where = f"{source}: [admin]"
    if not isinstance(table, dict):
        raise VenueConfigError(f"{where} must be a table")
    for key, value in table.items():
        if key == "host":
            raise VenueConfigError(f"{where}: unknown key 'host': the admin endpoint listens on {HOST} only")
        if key not in _ADMIN_KEYS:
            raise VenueConfigError(f"{where}: unknown key {key!r}{_hint(key, _ADMIN_KEYS)}")
        kind = _ADMIN_KEYS[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise VenueConfigError(f"{where}: {key} must be an integer, got {value!r}")
        if kind is not int and not isinstance(value, kind):
            raise VenueConfigError(f"{where}: {key} must be a {kind.__name__}, got {value!r}")
    if not table.get("enabled", True):
        return None
    if "port" not in table:
        raise VenueConfigError(f"{where}: required key 'port' is missing (the endpoint's port on {HOST}; "
                               "0 picks a free one)")
    port = table["port"]
    if not 0 <= port <= 65535:
        raise VenueConfigError(f"{where}: port must be 0..65535, got {port}")
    if "token" in table and "token_file" in table:
        raise VenueConfigError(f"{where}: give token or token_file, not both")
    token = table.get("token", "")
    if "token" in table:
        _check_token(token, f"{where}: token")
    token_file = table.get("token_file")
    if token_file is not None and not token_file:
        raise VenueConfigError(f"{where}: token_file must name a file, got \"\"")
    stem = Path(source).stem if source.endswith(".toml") else "venue"
    default = (log_path / "admin.token") if log_path is not None else base / f"{stem}.admin-token"
    return AdminConfig(port=port, token=token, token_file=(base / token_file) if token_file else None,
                       default_token_file=default, source=source)


def _check_token(token: str, what: str) -> None:
    # Visible ASCII only: it travels in an HTTP header, and a short one could be guessed.
    if len(token) < MIN_TOKEN_CHARS or not all("!" <= c <= "~" for c in token):
        raise VenueConfigError(f"{what} must be at least {MIN_TOKEN_CHARS} visible ASCII characters "
                               "without spaces (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")


def _read_token_file(path: Path) -> str:
    try:
        info = path.stat()
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise VenueConfigError(f"{path}: cannot read the admin token: {getattr(exc, 'strerror', None) or exc}") \
            from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise VenueConfigError(f"{path}: the admin token file is readable by other users; chmod 600 {path}")
    token = text.strip()
    _check_token(token, f"{path}: the admin token")
    return token


def _write_token_file(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a symlink planted where the token goes must not redirect the secret elsewhere.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # the mode of os.open applies only to a file it creates
        os.write(fd, (token + "\n").encode("ascii"))
    finally:
        os.close(fd)


def server_token(config: AdminConfig) -> tuple[str, str]:
    """The token the endpoint will require and a sentence saying where it is (never the token)."""
    if config.token:
        return config.token, f"token: [admin] token in {config.source}"
    if config.token_file is not None and config.token_file.exists():
        return _read_token_file(config.token_file), f"token in {config.token_file}"
    if config.token_file is None and TOKEN_ENV in os.environ:
        token = os.environ[TOKEN_ENV]
        _check_token(token, f"${TOKEN_ENV}")
        return token, f"token from ${TOKEN_ENV}"
    path = config.token_file or config.default_token_file
    token = secrets.token_urlsafe(32)
    try:
        _write_token_file(path, token)
    except OSError as exc:
        raise VenueConfigError(f"{path}: cannot write the admin token: {exc.strerror or exc}") from None
    return token, f"token generated into {path} (mode 0600)"


def client_token(config: AdminConfig) -> str:
    """The token a client finds through the same venue config (as :func:`server_token`, never generating)."""
    if config.token:
        return config.token
    if config.token_file is None and TOKEN_ENV in os.environ:
        return os.environ[TOKEN_ENV]
    path = config.token_file or config.default_token_file
    if not path.exists():
        raise VenueConfigError(f"{path}: no admin token there yet: is `marketdrill exchange --config "
                               f"{config.source}` running?")
    return _read_token_file(path)


# -- THE SERVER ----------------------------------------------------------------------------------


class Refused(Exception):
    """An admin request that is not carried out: HTTP status, the field at fault, what was expected."""

    def __init__(self, status: int, message: str, field: str = "", expected: str = "",
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.expected, self.headers = status, message, field, expected, headers

    def payload(self) -> dict[str, Any]:
        """The JSON answer."""
        body: dict[str, Any] = {"ok": False, "status": self.status, "error": self.message}
        if self.field:
            body["field"] = self.field
        if self.expected:
            body["expected"] = self.expected
        return body


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    peer: str


class AdminServer:
    """The admin endpoint on 127.0.0.1: authenticates, validates and calls the Venue's admin API."""

    def __init__(self, venue: Venue, token: str, *, port: int = 0, on_event: Callable[[str], None] | None = None,
                 max_failures: int = 5, failure_window_s: float = 10.0, timeout_s: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.venue = venue
        self._token = token.encode("ascii")
        self.requested_port = port
        self.port = 0
        self._on_event = on_event or (lambda text: None)
        self.max_failures = max_failures
        self.failure_window_s = failure_window_s
        self.timeout_s = timeout_s
        self._monotonic = monotonic
        self._failures: collections.deque[float] = collections.deque()
        self.refused = 0  # requests refused for their token, for /status and tests
        self.banner: list[str] = []  # what the exchange prints about this endpoint at start
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._routes: dict[str, tuple[str, Callable[[dict[str, Any], str], dict[str, Any]]]] = {
            "/status": ("GET", self._status), "/changes": ("GET", self._changes),
            "/halt": ("POST", self._halt), "/resume": ("POST", self._resume),
            "/kill-switch": ("POST", self._kill_switch), "/release-kill-switch": ("POST", self._release),
            "/change-instrument": ("POST", self._change_instrument),
            "/add-instrument": ("POST", self._add_instrument), "/remove-instrument": ("POST", self._remove_instrument),
        }

    @property
    def url(self) -> str:
        """Where the endpoint listens."""
        return f"http://{HOST}:{self.port}"

    async def start(self) -> int:
        """Listen on 127.0.0.1 (port 0 picks a free one); returns the port."""
        self._server = await asyncio.start_server(self._handle, HOST, self.requested_port, limit=MAX_HEAD_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and drop every connection still open."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.timeout_s)
        if self._server is not None:
            await self._server.wait_closed()

    # -- HTTP ------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            if len(self._writers) > MAX_CONNECTIONS:
                await self._respond(writer, 503, Refused(503, "too many admin connections at once").payload())
                return
            try:
                status, payload, headers = await self._serve(reader, writer)
            except Refused as refused:
                status, payload, headers = refused.status, refused.payload(), refused.headers
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the client went away: nobody to answer
            except Exception as exc:  # a bug in this module: still a JSON answer, never a traceback
                self._on_event(f"admin: internal error: {type(exc).__name__}: {exc}")
                status, payload, headers = 500, Refused(500, f"internal error: {type(exc).__name__}").payload(), ()
            await self._respond(writer, status, payload, headers)
            await self._linger(reader, writer)
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> tuple[int, dict[str, Any], tuple[tuple[str, str], ...]]:
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        try:
            async with asyncio.timeout(self.timeout_s):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise Refused(408, f"request headers not received within {self.timeout_s:g} s") from None
        except asyncio.LimitOverrunError:
            raise Refused(431, f"request headers over {MAX_HEAD_BYTES} bytes") from None
        request = _parse_head(head, peer_text)
        self._authenticate(request)
        route = self._routes.get(request.path)
        if route is None:
            raise Refused(404, f"no endpoint {request.path}", "path", "one of " + ", ".join(self._routes))
        method, handler = route
        if request.method != method:
            raise Refused(405, f"{request.path} takes {method}, not {request.method}", "method", method,
                          (("Allow", method),))
        body = await self._read_body(reader, request)
        actor = request.headers.get("x-actor", "admin")
        if not _ACTOR.fullmatch(actor):
            raise Refused(400, f"X-Actor {actor!r} is not a name", "X-Actor",
                          "1-64 characters of A-Z a-z 0-9 . _ @ -")
        try:
            result = handler(body, f"admin:{actor}")
        except Refused:
            raise
        except Exception as exc:  # a bug, or a venue state nobody foresaw: a JSON 500, never a traceback
            self._on_event(f"admin: {request.method} {request.path} by {actor} failed: {type(exc).__name__}: {exc}")
            raise Refused(500, f"internal error: {type(exc).__name__}: {exc}") from None
        return 200, {"ok": True, **result}, ()

    def _authenticate(self, request: _Request) -> None:
        now = self._monotonic()
        while self._failures and now - self._failures[0] >= self.failure_window_s:
            self._failures.popleft()
        if len(self._failures) >= self.max_failures:
            # Locked: the token is not even compared, so guessing gains nothing while it lasts.
            wait = max(1, math.ceil(self._failures[0] + self.failure_window_s - now))
            raise Refused(429, f"too many refused tokens: try again in {wait} s", headers=(("Retry-After", str(wait)),))
        header = request.headers.get("authorization")
        scheme, _, presented = (header or "").partition(" ")
        if header is None:
            why = "missing Authorization: Bearer <token>"
        elif scheme.lower() != "bearer" or not presented.strip():
            why = "expected Authorization: Bearer <token>"
        elif hmac.compare_digest(presented.strip().encode("latin-1"), self._token):
            return
        else:
            why = "wrong token"
        self._failures.append(now)
        self.refused += 1
        self._on_event(f"admin: refused {request.method} {request.path} from {request.peer}: {why}")
        raise Refused(401, why, "Authorization", "Bearer <the admin token>",
                      (("WWW-Authenticate", 'Bearer realm="marketdrill-admin"'),))

    async def _read_body(self, reader: asyncio.StreamReader, request: _Request) -> dict[str, Any]:
        length_text = request.headers.get("content-length")
        if request.method == "GET":
            if length_text not in (None, "0"):
                raise Refused(400, f"GET {request.path} takes no body", "Content-Length", "absent or 0")
            return {}
        if length_text is None:
            raise Refused(411, "a POST needs Content-Length", "Content-Length", "the body's length in bytes")
        if not length_text.isdigit() or len(length_text) > 10:
            raise Refused(400, f"Content-Length {length_text!r} is not a number", "Content-Length", "digits")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise Refused(413, f"body of {length} bytes is over the {MAX_BODY_BYTES}-byte limit")
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind != "application/json":
            raise Refused(415, f"Content-Type {kind!r} is not accepted", "Content-Type", "application/json")
        try:
            async with asyncio.timeout(self.timeout_s):
                raw = await reader.readexactly(length)
        except TimeoutError:
            raise Refused(408, f"request body not received within {self.timeout_s:g} s") from None
        try:
            body = json.loads(raw.decode("utf-8") or "{}", object_pairs_hook=_no_duplicates,
                              parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refused(400, f"body is not JSON: {exc}", "body", "a JSON object") from None
        if not isinstance(body, dict):
            raise Refused(400, f"body is a JSON {type(body).__name__}", "body", "a JSON object")
        return body

    async def _respond(self, writer: asyncio.StreamWriter, status: int, payload: dict[str, Any],
                       headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = (json.dumps(payload) + "\n").encode()
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json",
                 f"Content-Length: {len(data)}", "Cache-Control: no-store", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        try:
            async with asyncio.timeout(self.timeout_s):
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass  # a client that does not read its answer loses it

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Half-close, then discard what the client still sends, so a body we never read cannot reset the answer."""
        try:
            if writer.can_write_eof():
                writer.write_eof()
            async with asyncio.timeout(1.0):
                discarded = 0
                while discarded <= MAX_BODY_BYTES and (chunk := await reader.read(65536)):
                    discarded += len(chunk)
        except (TimeoutError, OSError):
            pass

    # -- ACTIONS ---------------------------------------------------------------------------------

    def _status(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        venue = self.venue
        instruments = venue.exchange.instruments
        firm_of = venue.gateway.firm_of
        return {
            "venue": venue.config.comp_id, "time": _iso(venue.now_ns()), "status": venue.status_line(),
            "phases": {symbol: str(phase) for symbol, phase in venue.phases.phases.items()},
            "instruments": {i.symbol: {"tick_size": str(i.tick_size), "lot_size": i.lot_size,
                                       "reference_price": i.to_price(venue.phases.reference.get(i.symbol,
                                                                                               i.reference_ticks))}
                            for i in instruments},
            "kill_switches": {"firms": sorted(venue.protections.killed_firms),
                              "sessions": sorted(venue.protections.killed_owners)},
            "sessions": {str(s.session_id): {"firm": firm_of.get(str(s.session_id), "drop copy"),
                                             "logged_on": s.logged_on} for s in venue.sessions},
            "changes": len(venue.changes), "refused_tokens": self.refused,
        }

    def _changes(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        return {"changes": [{"time": _iso(c.time_ns), "time_ns": c.time_ns, "actor": c.actor, "what": c.what,
                             "target": c.target, "old": c.old, "new": c.new, "reason": c.reason}
                            for c in self.venue.changes]}

    def _halt(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        _allowed(body, ("symbol", "reason"))
        symbol, reason = self._symbol(body), _reason(body)
        before = self.venue.phases.phase(symbol)
        if before == Phase.HALTED:
            raise Refused(409, f"{symbol} is already halted", "symbol")
        try:
            self.venue.halt(symbol, reason=reason, actor=actor)
        except PhaseError as exc:
            raise Refused(409, str(exc), "symbol") from None
        return self._done(actor, f"{symbol} halted (was {before})", reason, phase=str(self.venue.phases.phase(symbol)))

    def _resume(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        _allowed(body, ("symbol", "reason"))
        symbol, reason = self._symbol(body), _reason(body)
        before = self.venue.phases.phase(symbol)
        if before not in (Phase.HALTED, Phase.PAUSED):
            raise Refused(409, f"{symbol} is {before}: only a halted or paused symbol can be resumed", "symbol")
        self.venue.resume(symbol, reason=reason, actor=actor)
        after = self.venue.phases.phase(symbol)
        return self._done(actor, f"{symbol} re-opened by auction, now {after}", reason, phase=str(after))

    def _kill_switch(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        _allowed(body, ("firm", "session", "reason"))
        firm, session = self._who(body)
        reason = _reason(body)
        events = self.venue.kill_switch(firm=firm, session=session, reason=reason, actor=actor)
        cancelled = sum(1 for e in events if isinstance(e, ExecReport))
        who = f"firm {firm}" if firm else f"session {session}"
        return self._done(actor, f"kill switch engaged for {who}: {cancelled} open orders cancelled", reason,
                          cancelled=cancelled)

    def _release(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        _allowed(body, ("firm", "session", "reason"))
        firm, session = self._who(body)
        reason = _reason(body)
        protections = self.venue.protections
        engaged = firm in protections.killed_firms if firm else session in protections.killed_owners
        self.venue.release_kill_switch(firm=firm, session=session, reason=reason, actor=actor)
        who = f"firm {firm}" if firm else f"session {session}"
        state = "released" if engaged else "was not engaged (released anyway, with any execution-throttle blocks)"
        return self._done(actor, f"kill switch for {who} {state}", reason, was_engaged=engaged)

    def _change_instrument(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        _allowed(body, ("symbol", "tick_size", "lot_size", "at", "reason"))
        symbol, reason = self._symbol(body), _reason(body)
        if "tick_size" not in body and "lot_size" not in body:
            raise Refused(400, "nothing to change", "tick_size", "tick_size and/or lot_size")
        old = self.venue.exchange.instruments.get(symbol)
        tick = _decimal(body, "tick_size") if "tick_size" in body else None
        lot = _positive_int(body, "lot_size") if "lot_size" in body else None
        if (tick is None or tick == old.tick_size) and (lot is None or lot == old.lot_size):
            raise Refused(409, f"{symbol} already has tick size {old.tick_size} and lot size {old.lot_size}",
                          "tick_size" if tick is not None else "lot_size")
        now = self.venue.now_ns()
        at_ns = _at(body["at"], now) if "at" in body else None
        tick_text = str(tick) if tick is not None else None
        try:
            self.venue.change_instrument(symbol, tick_size=tick_text, lot_size=lot, at_ns=at_ns, reason=reason,
                                         actor=actor)
        except InstrumentError as exc:
            name = _field_in(str(exc), ("tick_size", "lot_size"), "tick_size")
            raise Refused(400, str(exc), name, _EXPECTED.get(name, "")) from None
        what = ", ".join(f"{name} {before} -> {after}" for name, before, after in
                         (("tick", old.tick_size, tick), ("lot", old.lot_size, lot)) if after is not None)
        if at_ns is not None and at_ns > now:
            return self._done(actor, f"{symbol} change scheduled for {_iso(at_ns)}: {what}", reason,
                              scheduled=True, at=_iso(at_ns), at_ns=at_ns)
        return self._done(actor, f"{symbol} changed: {what}; resting orders cancelled", reason, scheduled=False)

    def _add_instrument(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        spec: dict[str, type] = {"symbol": str, "tick_size": str, "reference_price": str, "lot_size": int,
                                 "currency": str, "band_tier": int, "shares_outstanding": int,
                                 "average_daily_volume": int}
        _allowed(body, (*spec, "reason"))
        reason = _reason(body)
        for key in ("symbol", "tick_size", "reference_price"):
            if key not in body:
                raise Refused(400, f"{key} is required", key, _EXPECTED.get(key, "a value"))
        for key, kind in spec.items():
            if key not in body:
                continue
            value = body[key]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise Refused(400, f"{key} must be an integer, got {value!r}", key, "a JSON integer")
            if kind is str and not isinstance(value, str):
                raise Refused(400, f"{key} must be a string, got {value!r}", key, _EXPECTED.get(key, "a string"))
        symbol = body["symbol"]
        if not _SYMBOL.fullmatch(symbol):
            raise Refused(400, f"symbol {symbol!r} is not a symbol", "symbol", _EXPECTED["symbol"])
        if symbol in self.venue.exchange.instruments:
            raise Refused(409, f"{symbol} is already listed", "symbol")
        if not body.get("currency", "USD").isascii():
            raise Refused(400, "currency must be ASCII", "currency", "a currency code such as \"USD\"")
        extra = {key: body[key] for key in spec if key in body and key not in ("symbol", "tick_size", "reference_price")}
        try:
            instrument = Instrument.create(symbol, body["tick_size"], body["reference_price"], **extra)
        except InstrumentError as exc:
            name = _field_in(str(exc), tuple(spec), "tick_size")
            raise Refused(400, str(exc), name, _EXPECTED.get(name, "")) from None
        self.venue.add_instrument(instrument, reason=reason, actor=actor)
        return self._done(actor, f"{symbol} listed (tick {instrument.tick_size}, lot {instrument.lot_size}, "
                                 f"reference {instrument.to_price(instrument.reference_ticks)}), now "
                                 f"{self.venue.phases.phase(symbol)}", reason)

    def _remove_instrument(self, body: dict[str, Any], actor: str) -> dict[str, Any]:
        _allowed(body, ("symbol", "reason"))
        symbol, reason = self._symbol(body), _reason(body)
        if len(self.venue.exchange.instruments) == 1:
            raise Refused(409, f"{symbol} is the only instrument: a venue lists at least one", "symbol")
        events = self.venue.remove_instrument(symbol, reason=reason, actor=actor)
        cancelled = sum(1 for e in events if isinstance(e, ExecReport))
        return self._done(actor, f"{symbol} delisted: {cancelled} open orders cancelled", reason, cancelled=cancelled)

    # -- HELPERS ---------------------------------------------------------------------------------

    def _done(self, actor: str, message: str, reason: str, **extra: Any) -> dict[str, Any]:
        self._on_event(f"admin: {actor}: {message}{f' ({reason})' if reason else ''}")
        return {"message": message, "actor": actor, **extra}

    def _symbol(self, body: dict[str, Any]) -> str:
        symbols = self.venue.exchange.instruments.symbols
        expected = "one of " + ", ".join(symbols)
        if "symbol" not in body:
            raise Refused(400, "symbol is required", "symbol", expected)
        symbol = body["symbol"]
        if not isinstance(symbol, str):
            raise Refused(400, f"symbol must be a string, got {symbol!r}", "symbol", expected)
        if symbol not in self.venue.exchange.instruments:
            raise Refused(400, f"unknown symbol {symbol!r}{_hint(symbol, symbols)}", "symbol", expected)
        return symbol

    def _who(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        if ("firm" in body) == ("session" in body):
            raise Refused(400, "give exactly one of firm or session", "firm", "a firm id, or a session")
        firms = [f.id for f in self.venue.config.firms]
        if "firm" in body:
            firm = body["firm"]
            if not isinstance(firm, str) or firm not in firms:
                raise Refused(400, f"unknown firm {firm!r}{_hint(str(firm), firms)}", "firm",
                              "one of " + ", ".join(firms))
            return firm, None
        sessions = list(self.venue.gateway.firm_of)  # order-entry sessions: drop copies place no orders
        session = body["session"]
        if not isinstance(session, str) or session not in sessions:
            raise Refused(400, f"unknown order-entry session {session!r}{_hint(str(session), sessions)}", "session",
                          "one of " + ", ".join(sessions))
        return None, session


_EXPECTED = {
    "symbol": "1-32 characters of A-Z a-z 0-9 . _ : / + -",
    "tick_size": "a positive decimal string such as \"0.25\"",
    "reference_price": "a decimal string on the tick grid such as \"5000.00\"",
    "reason": "printable ASCII text of at most 200 characters",
}


def _parse_head(head: bytes, peer: str) -> _Request:
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise Refused(400, "request line and headers must be ASCII") from None
    lines = text[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise Refused(400, f"malformed request line {lines[0][:80]!r}", "request line", "METHOD /path HTTP/1.1")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise Refused(505, f"{version[:20]!r} is not served", "request line", "HTTP/1.1")
    if not target.startswith("/") or "?" in target or "#" in target:
        raise Refused(400, f"request target {target[:80]!r} is not a plain path", "path", "e.g. /status")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise Refused(400, f"malformed header line {line[:80]!r}", "headers", "Name: value")
        name = name.lower()
        if name in headers and name in _SINGLE_HEADERS:
            raise Refused(400, f"header {name} given twice", name)
        headers[name] = value.strip(" \t")
    if "transfer-encoding" in headers:
        raise Refused(501, "Transfer-Encoding is not accepted: send a Content-Length body", "Transfer-Encoding")
    if "origin" in headers:
        # Browsers send Origin; the endpoint is for the CLI and scripts, never for a web page.
        raise Refused(403, "requests from web pages are refused", "Origin")
    return _Request(method, target, headers, peer)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key in body:
            raise ValueError(f"key {key!r} appears twice")
        body[key] = value
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _allowed(body: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in body:
        if key not in keys:
            raise Refused(400, f"unknown field {key!r}{_hint(key, keys)}", key, "fields " + ", ".join(keys))


def _reason(body: dict[str, Any]) -> str:
    reason = body.get("reason", "")
    # It goes into FIX Text(58), encoded latin-1 and framed by SOH: control characters would break it.
    if not isinstance(reason, str) or len(reason) > 200 or not (reason.isascii() and reason.isprintable()):
        raise Refused(400, f"reason is not usable: {str(reason)[:40]!r}", "reason", _EXPECTED["reason"])
    return reason


def _decimal(body: dict[str, Any], key: str) -> Decimal:
    value = body[key]
    if not isinstance(value, str):
        # A JSON number is a binary float by the time we see it: 0.1 would not be 0.1.
        raise Refused(400, f"{key} must be a decimal string, got {value!r}", key, _EXPECTED[key])
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise Refused(400, f"{key} {value!r} is not a decimal number", key, _EXPECTED[key]) from None
    if not number.is_finite() or number <= 0:
        raise Refused(400, f"{key} must be positive, got {value!r}", key, _EXPECTED[key])
    return number


def _positive_int(body: dict[str, Any], key: str) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Refused(400, f"{key} must be a positive integer, got {value!r}", key, "a positive JSON integer")
    return value


def _at(value: Any, now_ns: int) -> int:
    """``"+SECONDS"`` or a UTC timestamp, as ns since the epoch; in the future, within a week."""
    expected = "\"+SECONDS\" (e.g. \"+30\") or a UTC time (\"2026-01-02T09:30:00Z\" or \"20260102-09:30:00\")"
    if not isinstance(value, str):
        raise Refused(400, f"at must be a string, got {value!r}", "at", expected)
    text = value.strip()
    if text.startswith("+"):
        try:
            seconds = Decimal(text[1:].removesuffix("s"))
        except InvalidOperation:
            raise Refused(400, f"at {value!r} is not a number of seconds", "at", expected) from None
        if not seconds.is_finite() or seconds <= 0:
            raise Refused(400, f"at {value!r} must be a positive number of seconds", "at", expected)
        at_ns = now_ns + int(seconds * 1_000_000_000)
    else:
        moment = None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            for pattern in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
                try:
                    moment = datetime.strptime(text, pattern)
                    break
                except ValueError:
                    continue
        if moment is None:
            raise Refused(400, f"at {value!r} is not a time", "at", expected)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # the venue's clocks and FIX timestamps are UTC
        at_ns = (moment - _EPOCH) // timedelta(microseconds=1) * 1000
        if at_ns <= now_ns:
            raise Refused(400, f"at {value!r} is in the past (now is {_iso(now_ns)})", "at", expected)
    if at_ns - now_ns > MAX_AHEAD_S * 1_000_000_000:
        raise Refused(400, f"at {value!r} is more than a week ahead", "at", expected)
    return at_ns


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(ns: int) -> str:
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _field_in(message: str, names: tuple[str, ...], default: str) -> str:
    return next((name for name in names if name in message), default)


def _hint(key: str, choices: Any) -> str:
    match = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


async def start_admin(venue: Venue, config: AdminConfig, *,
                      on_event: Callable[[str], None] | None = None) -> AdminServer:
    """Resolve the token and start the endpoint; its ``banner`` says where it listens and where the token is."""
    token, where = server_token(config)
    server = AdminServer(venue, token, port=config.port, on_event=on_event)
    try:
        await server.start()
    except OSError as exc:
        raise VenueConfigError(f"{config.source}: [admin] cannot listen on {HOST}:{config.port}: "
                               f"{exc.strerror or exc}") from None
    port = f" --port {server.port}" if config.port == 0 else ""  # a picked port is not in the file
    server.banner = [f"  admin endpoint {server.url} ({where})",
                     f"    e.g. marketdrill admin --config {config.source}{port} status"]
    return server
