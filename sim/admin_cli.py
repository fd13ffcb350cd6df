"""``marketdrill admin``: exchange operations from a terminal, through the running exchange's admin endpoint.

::

    marketdrill admin --config venue.toml halt ESZ6 --reason "news pending"
    marketdrill admin --port 9890 --token-file admin.token kill-switch --firm A --reason "runaway algo"
    marketdrill admin --config venue.toml change-instrument ESZ6 --tick-size 0.5 --at +60
    marketdrill admin --config venue.toml status

Where the endpoint is: ``--url http://127.0.0.1:PORT``, ``--port N`` or the venue config's
``[admin] port``.  The token: ``--token``, ``--token-file``, then the venue config's (``token``,
``token_file``, ``$MARKETDRILL_ADMIN_TOKEN`` or the generated file, as the exchange looks for it),
then ``$MARKETDRILL_ADMIN_TOKEN``.  Exit status: 0 done, 1 the endpoint refused (the reason is
printed), 2 nothing was asked (bad options, no token, no endpoint listening).
"""

from __future__ import annotations

import argparse
import getpass
import http.client
import ipaddress
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from sim import argtypes
from sim.admin_server import TOKEN_ENV, client_token
from sim.venue_config import VenueConfigError, load_venue_config

TIMEOUT_S = 10.0


class AdminCliError(Exception):
    """Nothing could be asked of the endpoint: the message says why, in one line."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The endpoint never redirects; following one would hand the token to wherever it points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``admin`` and its actions to the ``marketdrill`` subcommands."""
    admin = subparsers.add_parser(
        "admin", help="halt/resume, kill switches, instrument changes on a running exchange (its admin endpoint)",
        description="Exchange admin actions through the local admin endpoint of a running `marketdrill exchange` "
                    "(its config needs an [admin] table). Each action is recorded as a change event.",
        epilog="Exit status: 0 done, 1 refused by the endpoint, 2 not asked (options, token, no endpoint).")
    where = admin.add_argument_group("where the endpoint and its token are")
    where.add_argument("--config", metavar="VENUE.toml", help="the exchange's venue config: [admin] port and token")
    where.add_argument("--url", help="http://127.0.0.1:PORT (loopback only)")
    where.add_argument("--port", type=_port, help="the endpoint's port on 127.0.0.1")
    token = where.add_mutually_exclusive_group()
    token.add_argument("--token", help="the token (other users can see it in ps: prefer --token-file or "
                                       f"${TOKEN_ENV})")
    token.add_argument("--token-file", metavar="FILE", help="a file holding the token (the exchange prints which)")
    admin.add_argument("--actor", help="who is acting, recorded with each change (default: your user name)")
    admin.add_argument("--json", action="store_true", help="print the endpoint's JSON answer as it is")
    actions = admin.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    for name, help_text in (("halt", "halt a symbol (SecurityStatus to every session; new orders refused or held)"),
                            ("resume", "re-open a halted or paused symbol by auction"),
                            ("remove-instrument", "delist a symbol: its orders are cancelled")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("symbol")
        _reason(action)
    for name, help_text in (("kill-switch", "cancel every open order of a firm or session, refuse new ones"),
                            ("release-kill-switch", "let a firm or session trade again")):
        action = actions.add_parser(name, help=help_text)
        who = action.add_mutually_exclusive_group(required=True)
        who.add_argument("--firm", help="a firm id of the venue config")
        who.add_argument("--session", help="one order-entry session, e.g. FIX.4.4:VENUE->A")
        _reason(action)
    change = actions.add_parser("change-instrument", help="change a tick and/or lot size, now or at a given time "
                                                          "(resting orders are cancelled when it applies)")
    change.add_argument("symbol")
    change.add_argument("--tick-size", help="new tick size, e.g. 0.25")
    change.add_argument("--lot-size", type=int, help="new lot size")
    change.add_argument("--at", help="when: +SECONDS from now, or a UTC time (2026-01-02T09:30:00Z); default now")
    _reason(change)
    add = actions.add_parser("add-instrument", help="list a new instrument (empty book)")
    add.add_argument("symbol")
    add.add_argument("--tick-size", required=True, help="e.g. 0.01")
    add.add_argument("--reference-price", required=True, help="on the tick grid, e.g. 100.00")
    add.add_argument("--lot-size", type=int)
    add.add_argument("--currency")
    add.add_argument("--band-tier", type=int, choices=(1, 2))
    _reason(add)
    actions.add_parser("status", help="status line, phases, instruments, kill switches, sessions")
    actions.add_parser("changes", help="every change event recorded so far")
    admin.set_defaults(func=run)
    return admin


def run(args: argparse.Namespace) -> int:
    """Carry out one ``marketdrill admin`` action; returns the exit status."""
    try:
        url, token = _endpoint(args)
        actor = args.actor if args.actor is not None else _user()
        method, path, body = _request(args)
        status, answer = call(url, method, path, body, token=token, actor=actor)
    except (AdminCliError, VenueConfigError) as exc:
        print(f"marketdrill admin: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, indent=2))
    if status != 200 or not answer.get("ok"):
        print(f"marketdrill admin: {_refusal(status, answer)}", file=sys.stderr)
        return 1
    if not args.json:
        print(_describe(args.action, answer))
    return 0


def call(url: str, method: str, path: str, body: dict[str, Any] | None, *, token: str,
         actor: str | None = None) -> tuple[int, dict[str, Any]]:
    """One request to the admin endpoint: (HTTP status, JSON answer); AdminCliError if it cannot be asked."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if actor:
        headers["X-Actor"] = actor
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    # No proxies: an http_proxy variable must not route the token through another machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(request, timeout=TIMEOUT_S) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as err:
        return err.code, _json(err.read())
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            raise AdminCliError(f"no admin endpoint at {url}: is `marketdrill exchange` running with [admin] "
                                "enabled?") from None
        if isinstance(err.reason, TimeoutError):
            raise AdminCliError(f"no answer from {url} within {TIMEOUT_S:g} s") from None
        raise AdminCliError(f"cannot reach {url}: {err.reason}") from None
    except TimeoutError:
        raise AdminCliError(f"no answer from {url} within {TIMEOUT_S:g} s") from None
    except (ConnectionError, http.client.HTTPException) as exc:
        raise AdminCliError(f"the connection to {url} broke: {exc or type(exc).__name__}") from None


def _endpoint(args: argparse.Namespace) -> tuple[str, str]:
    """The endpoint's URL and the token, from the options, the venue config and the environment."""
    admin = None
    if args.config:
        config = load_venue_config(args.config)
        admin = config.admin
        if admin is None:
            raise AdminCliError(f"{args.config} has no enabled [admin] table: the exchange serves no admin endpoint")
    if args.url:
        url = _loopback_url(args.url)
    elif args.port is not None:
        url = f"http://127.0.0.1:{args.port}"
    elif admin is not None and admin.port:
        url = f"http://127.0.0.1:{admin.port}"
    else:
        raise AdminCliError("where is the endpoint? give --port N, --url http://127.0.0.1:N or --config VENUE.toml"
                            + (" (its [admin] port is 0: --port with the port the exchange printed)" if admin else ""))
    if args.token:
        return url, args.token
    if args.token_file:
        try:
            return url, Path(args.token_file).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AdminCliError(f"{args.token_file}: cannot read the token: "
                                f"{getattr(exc, 'strerror', None) or exc}") from None
    if admin is not None:
        return url, client_token(admin)
    if os.environ.get(TOKEN_ENV):
        return url, os.environ[TOKEN_ENV]
    raise AdminCliError(f"no admin token: give --token-file FILE (the exchange prints where its token is), "
                        f"--config VENUE.toml or set ${TOKEN_ENV}")


def _loopback_url(text: str) -> str:
    parts = urllib.parse.urlsplit(text)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or not loopback or port is None or parts.path not in ("", "/") or parts.query:
        raise AdminCliError(f"--url {text!r}: expected http://127.0.0.1:PORT (the endpoint listens on the "
                            "loopback only, and the token must not cross a network in clear text)")
    return f"http://{parts.netloc}"


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    action = args.action
    if action in ("status", "changes"):
        return "GET", f"/{action}", None
    body: dict[str, Any] = {}
    for option in ("symbol", "firm", "session", "tick_size", "lot_size", "at", "reference_price", "currency",
                   "band_tier"):
        value = getattr(args, option, None)
        if value is not None:
            body[option] = value
    if args.reason:
        body["reason"] = args.reason
    if action == "change-instrument" and "tick_size" not in body and "lot_size" not in body:
        raise AdminCliError("change-instrument: nothing to change: give --tick-size and/or --lot-size")
    return "POST", f"/{action}", body


def _refusal(status: int, answer: dict[str, Any]) -> str:
    error = answer.get("error", f"HTTP {status}")
    if status == 401:
        return f"the admin endpoint refused the token ({error})"
    if status == 429:
        return f"the admin endpoint is locked after repeated wrong tokens: {error}"
    detail = f" [{answer['field']}: expected {answer['expected']}]" if answer.get("expected") else ""
    return f"{error}{detail}"


def _describe(action: str, answer: dict[str, Any]) -> str:
    if action == "status":
        lines = [f"{answer.get('venue')} at {answer.get('time')}", answer.get("status", "")]
        instruments = answer.get("instruments", {})
        for symbol, phase in answer.get("phases", {}).items():
            spec = instruments.get(symbol, {})
            lines.append(f"  {symbol:10s} {phase:11s} tick {spec.get('tick_size')}  lot {spec.get('lot_size')}  "
                         f"reference {spec.get('reference_price')}")
        kills = answer.get("kill_switches", {})
        lines.append(f"kill switches: firms {', '.join(kills.get('firms', [])) or 'none'}; "
                     f"sessions {', '.join(kills.get('sessions', [])) or 'none'}")
        lines.append(f"changes recorded: {answer.get('changes', 0)}; refused tokens: {answer.get('refused_tokens', 0)}")
        return "\n".join(lines)
    if action == "changes":
        changes = answer.get("changes", [])
        if not changes:
            return "no changes recorded yet"
        lines = []
        for c in changes:
            why = f"  ({c['reason']})" if c.get("reason") else ""
            lines.append(f"{c['time']}  {c['actor']:16s} {c['what']:20s} {c['target']}: "
                         f"{c['old'] or '-'} -> {c['new'] or '-'}{why}")
        return "\n".join(lines)
    return str(answer.get("message", "done"))


def _reason(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default="", help="why (sent to the sessions as Text, recorded with the change)")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        answer = None
    if not isinstance(answer, dict):
        return {"ok": False, "error": "the answer is not JSON: is this a marketdrill admin endpoint?"}
    return answer


def _user() -> str | None:
    try:
        name = getpass.getuser()
    except Exception:  # no USER variable and no passwd entry (containers): then the endpoint says "admin"
        return None
    return re.sub(r"[^A-Za-z0-9._@-]", "", name)[:64] or None


_port = argtypes.bounded(int, 1, 65535, "port", "a port number")
