"""The drill's web server: the dashboard, the game-master page, a JSON API and Server-Sent Events.

Standard library only (``http.server.ThreadingHTTPServer``): the drill serves a handful of people
on 127.0.0.1, so a thread per connection is plenty and nothing needs installing.  Routes::

    GET  /                 trainee dashboard          GET  /gm          game-master page
    GET  /static/NAME      the shipped assets         GET  /api/state   the latest snapshot (JSON)
    GET  /api/events       SSE: "state", "journal" and finally "end" events
    GET  /api/debrief      the debrief (HTML) once the drill is over
    GET  /metrics          Prometheus text: orders, rejects, fills, positions, states, alerts
    POST /api/action       a trainee action      POST /api/gm      a game-master command

POSTs must be ``application/json``: a browser cannot send that cross-origin without a CORS
preflight, which this server never grants, so another page open in the trainee's browser cannot
act on the drill.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from scenarios.drill.actions import ActionError
from scenarios.drill.live import Drill

MAX_BODY = 64 * 1024
KEEPALIVE_S = 15.0
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


def static_files() -> dict[str, bytes]:
    """The shipped dashboard assets by file name (read once: they are small)."""
    folder = resources.files("scenarios.drill") / "static"
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file()}


class DrillServer:
    """Serves one drill on 127.0.0.1 in background threads."""

    def __init__(self, drill: Drill, *, host: str = "127.0.0.1", port: int = 8080,
                 debrief_html: Any = None) -> None:
        self.drill = drill
        self.assets = static_files()
        self.debrief_html = debrief_html  # callable returning the debrief HTML once it exists
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="drill-http", daemon=True)

    @property
    def url(self) -> str:
        """The dashboard's address."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> DrillServer:
        """Start serving in the background."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_ref: DrillServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """Quiet: the drill's console shows the drill, not every request."""

    # -- GET --

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        """Pages, assets, state, events, debrief and metrics."""
        path = self.path.split("?", 1)[0]
        drill = self.server_ref.drill
        if path in ("/", "/index.html"):
            self._asset("index.html")
        elif path in ("/gm", "/gm.html"):
            self._asset("gm.html")
        elif path.startswith("/static/"):
            self._asset(path.removeprefix("/static/"))
        elif path == "/api/state":
            self._send(HTTPStatus.OK, drill.state_json().encode(), "application/json")
        elif path == "/api/events":
            self._events()
        elif path == "/api/debrief":
            html = self.server_ref.debrief_html() if self.server_ref.debrief_html else None
            if html is None:
                self._json(HTTPStatus.NOT_FOUND, {"ok": False, "error": "the debrief is written when the drill ends"})
            else:
                self._send(HTTPStatus.OK, html.encode(), _TYPES[".html"])
        elif path == "/metrics":
            self._send(HTTPStatus.OK, drill.metrics_text.encode(), CONTENT_TYPE_LATEST)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no such page: {path}"})

    def _asset(self, name: str) -> None:
        body = self.server_ref.assets.get(name)
        if body is None or "/" in name:
            self._json(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no such file: {name}"})
            return
        suffix = name[name.rfind("."):]
        self._send(HTTPStatus.OK, body, _TYPES.get(suffix, "application/octet-stream"))

    def _events(self) -> None:
        drill = self.server_ref.drill
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seq = _last_event_id(self.headers.get("Last-Event-ID"))
        version = -1
        try:
            while True:
                lines = drill.journal_since(seq)
                if lines:
                    seq = lines[-1]["seq"]
                    self._event("journal", lines, event_id=seq)
                if drill.version != version:
                    version = drill.version
                    self._event("state", drill.snapshot(), event_id=seq)
                if drill.finished.is_set():
                    self._event("end", drill.snapshot(), event_id=seq)
                    return
                if drill.wait_for_change(version, KEEPALIVE_S) == version and not drill.finished.is_set():
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return  # the browser went away (or is reconnecting with Last-Event-ID)

    def _event(self, name: str, data: Any, event_id: int) -> None:
        payload = json.dumps(data, separators=(",", ":"))
        self.wfile.write(f"id: {event_id}\nevent: {name}\ndata: {payload}\n\n".encode())
        self.wfile.flush()

    # -- POST --

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        """Trainee actions and game-master commands."""
        path = self.path.split("?", 1)[0]
        if path not in ("/api/action", "/api/gm"):
            self._json(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no such endpoint: {path}"})
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"ok": False, "error": "send JSON (Content-Type: "
                                                          "application/json)"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "error": f"the body must be 1 to {MAX_BODY} bytes of "
                                                "JSON with a Content-Length"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "error": f"the body is not JSON: {exc}"})
            return
        drill = self.server_ref.drill
        try:
            action = drill.submit(body) if path == "/api/action" else drill.command(body)
        except ActionError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "error": str(exc)})
            return
        self._json(HTTPStatus.OK, {"ok": True, "id": action.id, "t": drill.t_ns / 1e9,
                                   "queued": action.t_ns is None, "result": action.result})

    # -- replies --

    def _json(self, status: HTTPStatus, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


def _last_event_id(value: str | None) -> int:
    try:
        return int(value) if value else -1
    except ValueError:
        return -1
