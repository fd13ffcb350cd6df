"""The local admin endpoint over real HTTP on 127.0.0.1, started by serve_venue as `marketdrill exchange` does.

Without the token nothing changes (401, and a venue log line); repeated failures lock the endpoint
(429); with it, a halt reaches a logged-on FIX client as SecurityStatus/TradingSessionStatus and
new orders are refused, a kill switch cancels the firm's open orders, a tick size change applies
at the time given, bad input is a 400 naming the field, and ``marketdrill admin`` round-trips.
"""

from __future__ import annotations

import asyncio
import json
import re
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scenarios.cli import build_parser
from sim import admin_cli
from sim.admin_server import AdminServer, server_token
from sim.fix.codec import FixMessage
from sim.venue import Venue, serve_venue
from sim.venue_config import VenueConfigError, load_venue_config, venue_config_from_dict
from tests.integration.isolation_helpers import bounded, drain, f, of_type
from tests.integration.rawfix import RawFixClient

TOKEN = "test-admin-token-0123456789"
T = "20260102-09:30:00"

VENUE_TOML = """\
[venue]
comp_id = "VENUE"
port = 0
begin_strings = ["FIX.4.4"]

[[instrument]]
symbol = "PRB"
tick_size = "0.01"
reference_price = "100.00"

[[firm]]
id = "A"

[[firm]]
id = "B"

[agents]
enabled = false

[admin]
port = 0
{token_line}
"""


@dataclass
class Exchange:
    fix_port: int
    admin_port: int
    config_path: Path
    output: Callable[[], str]  # everything printed so far (banner, venue log events)


@asynccontextmanager
async def exchange(tmp_path: Path, capsys, token_line: str = f'token = "{TOKEN}"') -> AsyncIterator[Exchange]:
    """serve_venue with an [admin] table on free ports; the admin port is read from the printed banner."""
    path = tmp_path / "venue.toml"
    path.write_text(VENUE_TOML.format(token_line=token_line))
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_venue(load_venue_config(path), ready=ready.set_result, stop=stop,
                                           status_every_s=60))
    seen: list[str] = []

    def output() -> str:
        seen.append(capsys.readouterr().out)
        return "".join(seen)

    try:
        done, _ = await asyncio.wait([task, ready], timeout=5, return_when=asyncio.FIRST_COMPLETED)
        assert ready in done, f"the exchange did not start: {task.exception() if task.done() else 'timeout'}"
        match = re.search(r"admin endpoint http://127\.0\.0\.1:(\d+)", output())
        assert match, output()
        yield Exchange(ready.result(), int(match.group(1)), path, output)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def http(port: int, method: str, path: str, body: Any = None, *, token: str | None = TOKEN,
               headers: dict[str, str | None] | None = None, raw: bytes | None = None) -> tuple[int, dict, dict]:
    """One request over a raw socket: (status, JSON answer, response headers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if raw is None:
            data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
            fields: dict[str, str | None] = {"Host": f"127.0.0.1:{port}"}
            if token is not None:
                fields["Authorization"] = f"Bearer {token}"
            if method == "POST":
                fields.update({"Content-Type": "application/json", "Content-Length": str(len(data))})
            fields.update(headers or {})
            lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in fields.items() if v is not None]
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
        writer.write(raw)
        response = await asyncio.wait_for(reader.read(-1), 5)  # the endpoint closes after one answer
    finally:
        writer.close()
    head, _, payload = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    answer = json.loads(payload)
    assert isinstance(answer, dict) and "Traceback" not in payload.decode()
    return int(lines[0].split(" ")[1]), answer, dict(line.split(": ", 1) for line in lines[1:])


async def logged_on(port: int, *comp_ids: str) -> list[RawFixClient]:
    clients = []
    for comp_id in comp_ids:
        client = RawFixClient(comp_id, "VENUE")
        await client.connect(port)
        await client.logon()
        clients.append(client)
    return clients


def order(client: RawFixClient, cl_ord_id: str, side: int, price: str, qty: int = 5, symbol: str = "PRB") -> None:
    client.send("D", [(11, cl_ord_id), (21, 1), (55, symbol), (54, side), (60, T), (38, qty), (40, 2), (44, price)])


def reports(messages: list[FixMessage]) -> list[tuple[str | None, str | None, str | None]]:
    """(ClOrdID, ExecType, Text) of every ExecutionReport."""
    return [(f(m, 11), f(m, 150), f(m, 58)) for m in of_type(messages, "8")]


# -- AUTHENTICATION --------------------------------------------------------------------------------


@bounded(10)
async def test_without_the_token_nothing_changes_and_each_refusal_is_logged(tmp_path, capsys):
    async with exchange(tmp_path, capsys) as ex:
        (a,) = await logged_on(ex.fix_port, "A")
        try:
            for token, why in ((None, "missing Authorization"), ("not-the-token-at-all-000", "wrong token")):
                status, answer, headers = await http(ex.admin_port, "POST", "/halt", {"symbol": "PRB"}, token=token)
                assert (status, answer["ok"], answer["field"]) == (401, False, "Authorization")
                assert why in answer["error"] and headers["WWW-Authenticate"].startswith("Bearer")
            status, answer, _ = await http(ex.admin_port, "POST", "/kill-switch", {"firm": "A"},
                                           headers={"Authorization": f"Basic {TOKEN}"})
            assert status == 401 and "Bearer" in answer["error"]
            assert (await http(ex.admin_port, "GET", "/status", token=None))[0] == 401  # reading needs it too
            assert not of_type(await drain(a), "f")  # no SecurityStatus: nothing was halted
            status, answer, _ = await http(ex.admin_port, "GET", "/status")
            assert status == 200 and answer["phases"] == {"PRB": "continuous"}
            assert answer["changes"] == 0 and answer["kill_switches"] == {"firms": [], "sessions": []}
            assert answer["refused_tokens"] == 4
            log = ex.output()
            assert "admin: refused POST /halt from 127.0.0.1:" in log and "wrong token" in log
            assert TOKEN not in log  # the venue log names the refusal, never the token
        finally:
            await a.close()


@bounded(10)
async def test_repeated_wrong_tokens_lock_the_endpoint_until_they_age_out(tmp_path, capsys):
    async with exchange(tmp_path, capsys) as ex:
        for _ in range(5):
            assert (await http(ex.admin_port, "GET", "/status", token="guess-guess-guess-guess"))[0] == 401
        status, answer, headers = await http(ex.admin_port, "GET", "/status", token="guess-guess-guess-guess")
        assert status == 429 and int(headers["Retry-After"]) >= 1
        # While locked even the right token is not looked at, so guessing gains nothing.
        assert (await http(ex.admin_port, "POST", "/halt", {"symbol": "PRB"}))[0] == 429
    # The lock ends when the failures are older than the window (a fake clock: no 10 s wait).
    loop = asyncio.get_running_loop()
    config = venue_config_from_dict(json.loads(json.dumps(_dict_config())))
    venue = Venue(config, now_ns=time.time_ns, schedule=lambda d, fn: loop.call_later(d / 1e9, fn))
    now = [1000.0]
    server = AdminServer(venue, TOKEN, monotonic=lambda: now[0], timeout_s=0.3)
    port = await server.start()
    try:
        for _ in range(5):
            assert (await http(port, "GET", "/status", token="x" * 20))[0] == 401
        assert (await http(port, "GET", "/status"))[0] == 429
        now[0] += 10.0
        assert (await http(port, "GET", "/status"))[0] == 200
        # A client that never finishes its headers gets a 408 instead of holding the connection.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /status HTTP/1.1\r\n")
        answer = await asyncio.wait_for(reader.read(-1), 3)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ")
    finally:
        await server.stop()


def _dict_config() -> dict[str, Any]:
    return {"venue": {"comp_id": "VENUE"}, "instrument": [{"symbol": "PRB", "tick_size": "0.01",
                                                            "reference_price": "100.00"}],
            "firm": [{"id": "A"}, {"id": "B"}]}


# -- ACTIONS ---------------------------------------------------------------------------------------


@bounded(10)
async def test_a_halt_reaches_the_fix_sessions_refuses_new_orders_and_is_recorded(tmp_path, capsys):
    async with exchange(tmp_path, capsys) as ex:
        (a,) = await logged_on(ex.fix_port, "A")
        try:
            status, answer, _ = await http(ex.admin_port, "POST", "/halt", {"symbol": "PRB", "reason": "news pending"},
                                           headers={"X-Actor": "alice"})
            assert status == 200 and answer["ok"] and answer["phase"] == "halted"
            got = await drain(a)
            (security,) = of_type(got, "f")
            assert (f(security, 55), f(security, 326)) == ("PRB", "2") and "news pending" in f(security, 58)
            (session,) = of_type(got, "h")
            assert f(session, 340) == "1"  # the only symbol halted: the trading session is halted
            order(a, "a1", 1, "100.00")
            assert reports(await drain(a)) == [("a1", "8", "PRB is halted: new orders are not accepted")]
            status, answer, _ = await http(ex.admin_port, "POST", "/halt", {"symbol": "PRB"})
            assert status == 409 and "already halted" in answer["error"]
            status, answer, _ = await http(ex.admin_port, "POST", "/resume", {"symbol": "PRB"})
            assert status == 200 and answer["phase"] == "continuous"
            assert [f(m, 326) for m in of_type(await drain(a), "f")] == ["21", "17"]
            order(a, "a2", 1, "100.00")
            assert [r[:2] for r in reports(await drain(a))] == [("a2", "0")]
            status, answer, _ = await http(ex.admin_port, "GET", "/changes")
            assert [(c["actor"], c["what"], c["target"], c["old"], c["new"], c["reason"]) for c in answer["changes"]] \
                == [("admin:alice", "halt", "PRB", "continuous", "halted", "news pending"),
                    ("admin:admin", "resume", "PRB", "halted", "continuous", "")]
            assert "admin: admin:alice: PRB halted (was continuous) (news pending)" in ex.output()
        finally:
            await a.close()


@bounded(10)
async def test_a_kill_switch_cancels_the_firms_open_orders_and_only_those(tmp_path, capsys):
    async with exchange(tmp_path, capsys) as ex:
        a, b = await logged_on(ex.fix_port, "A", "B")
        try:
            order(a, "a1", 1, "99.00")
            order(a, "a2", 2, "101.00")
            order(b, "b1", 1, "98.00")
            await drain(a)
            await drain(b)
            status, answer, _ = await http(ex.admin_port, "POST", "/kill-switch", {"firm": "A", "reason": "runaway"})
            assert status == 200 and answer["cancelled"] == 2
            cancels = reports(await drain(a))
            assert sorted(r[1] for r in cancels) == ["4", "4"] and all("Kill switch" in r[2] for r in cancels)
            assert not reports(await drain(b))  # firm B's order rests untouched
            order(a, "a3", 1, "99.00")
            (rejected,) = reports(await drain(a))
            assert rejected[1] == "8" and "Kill switch engaged for firm A" in rejected[2]
            status, answer, _ = await http(ex.admin_port, "GET", "/status")
            assert answer["kill_switches"]["firms"] == ["A"]
            status, answer, _ = await http(ex.admin_port, "POST", "/release-kill-switch", {"firm": "A"})
            assert status == 200 and answer["was_engaged"] is True
            order(a, "a4", 1, "99.00")
            assert [r[:2] for r in reports(await drain(a))] == [("a4", "0")]
            # One session instead of a whole firm: B's order-entry session.
            status, answer, _ = await http(ex.admin_port, "POST", "/kill-switch", {"session": "FIX.4.4:VENUE->B"})
            assert status == 200 and answer["cancelled"] == 1
            assert [r[:2] for r in reports(await drain(b))] == [("b1", "4")]
        finally:
            await a.close()
            await b.close()


@bounded(10)
async def test_a_tick_size_change_applies_at_the_time_given(tmp_path, capsys):
    async with exchange(tmp_path, capsys) as ex:
        (a,) = await logged_on(ex.fix_port, "A")
        try:
            order(a, "a1", 1, "100.03")
            await drain(a)
            status, answer, _ = await http(ex.admin_port, "POST", "/change-instrument",
                                           {"symbol": "PRB", "tick_size": "0.05", "at": "+0.4", "reason": "regime"})
            assert status == 200 and answer["scheduled"] is True and answer["at"].endswith("Z")
            assert not reports(await drain(a))  # not yet: the order rests on the old grid
            assert (await http(ex.admin_port, "GET", "/status"))[1]["instruments"]["PRB"]["tick_size"] == "0.01"
            await asyncio.sleep(0.6)
            (cancel,) = reports(await drain(a))
            assert cancel[:2] == ("a1", "4") and "tick 0.01 -> 0.05" in cancel[2]
            status, answer, _ = await http(ex.admin_port, "GET", "/status")
            assert answer["instruments"]["PRB"]["tick_size"] == "0.05"
            changes = (await http(ex.admin_port, "GET", "/changes"))[1]["changes"]
            assert [(c["actor"], c["what"], c["old"], c["new"], c["reason"]) for c in changes] == \
                [("admin:admin", "tick_size", "0.01", "0.05", "regime")]
            order(a, "a2", 1, "100.03")
            order(a, "a3", 1, "100.05")
            got = reports(await drain(a))
            assert [r[:2] for r in got] == [("a2", "8"), ("a3", "0")] and "tick grid" in got[0][2]
            # A lot size change now (no "at"), and the same value again is refused as no change.
            status, answer, _ = await http(ex.admin_port, "POST", "/change-instrument", {"symbol": "PRB", "lot_size": 10})
            assert status == 200 and answer["scheduled"] is False
            status, answer, _ = await http(ex.admin_port, "POST", "/change-instrument", {"symbol": "PRB", "lot_size": 10})
            assert status == 409
        finally:
            await a.close()


@bounded(10)
async def test_instruments_are_listed_and_delisted(tmp_path, capsys):
    async with exchange(tmp_path, capsys) as ex:
        (a,) = await logged_on(ex.fix_port, "A")
        try:
            status, answer, _ = await http(ex.admin_port, "POST", "/add-instrument",
                                           {"symbol": "XYZ", "tick_size": "0.05", "reference_price": "25.00",
                                            "lot_size": 10})
            assert status == 200, answer
            order(a, "x1", 1, "25.05", qty=10, symbol="XYZ")
            assert [r[:2] for r in reports(await drain(a))] == [("x1", "0")]
            status, answer, _ = await http(ex.admin_port, "GET", "/status")
            assert answer["phases"] == {"PRB": "continuous", "XYZ": "continuous"}
            assert answer["instruments"]["XYZ"] == {"tick_size": "0.05", "lot_size": 10, "reference_price": "25.00"}
            status, answer, _ = await http(ex.admin_port, "POST", "/remove-instrument",
                                           {"symbol": "XYZ", "reason": "delisted"})
            assert status == 200 and answer["cancelled"] == 1
            got = await drain(a)
            assert [r[:2] for r in reports(got)] == [("x1", "4")]
            assert [(f(m, 55), f(m, 326)) for m in of_type(got, "f")] == [("XYZ", "18")]  # closed
            status, answer, _ = await http(ex.admin_port, "POST", "/remove-instrument", {"symbol": "PRB"})
            assert status == 409 and "only instrument" in answer["error"]
            whats = [c["what"] for c in (await http(ex.admin_port, "GET", "/changes"))[1]["changes"]]
            assert whats == ["add_instrument", "remove_instrument"]
        finally:
            await a.close()


# -- BAD INPUT -------------------------------------------------------------------------------------


BAD_ACTIONS = [
    # (path, body, status, field, words in the error or the expectation)
    ("/halt", {}, 400, "symbol", "one of PRB"),
    ("/halt", {"symbol": "ESZ6"}, 400, "symbol", "one of PRB"),
    ("/halt", {"symbol": "PRB", "reson": "x"}, 400, "reson", "did you mean 'reason'"),
    ("/halt", {"symbol": "PRB", "reason": "a\x01b"}, 400, "reason", "printable ASCII"),
    ("/halt", {"symbol": ["PRB"]}, 400, "symbol", "must be a string"),
    ("/resume", {"symbol": "PRB"}, 409, "symbol", "only a halted or paused symbol"),
    ("/kill-switch", {}, 400, "firm", "exactly one of firm or session"),
    ("/kill-switch", {"firm": "Z"}, 400, "firm", "one of A, B"),
    ("/kill-switch", {"firm": "A", "session": "FIX.4.4:VENUE->A"}, 400, "firm", "exactly one"),
    ("/kill-switch", {"session": "A"}, 400, "session", "FIX.4.4:VENUE->A"),
    ("/change-instrument", {"symbol": "PRB"}, 400, "tick_size", "nothing to change"),
    ("/change-instrument", {"symbol": "PRB", "tick_size": 0.25}, 400, "tick_size", "decimal string"),
    ("/change-instrument", {"symbol": "PRB", "tick_size": "-1"}, 400, "tick_size", "positive"),
    ("/change-instrument", {"symbol": "PRB", "lot_size": 0}, 400, "lot_size", "positive"),
    ("/change-instrument", {"symbol": "PRB", "tick_size": "0.05", "at": "tomorrow"}, 400, "at", "+SECONDS"),
    ("/change-instrument", {"symbol": "PRB", "tick_size": "0.05", "at": "2020-01-01T00:00:00Z"}, 400, "at",
     "in the past"),
    ("/add-instrument", {"symbol": "XYZ", "tick_size": "0.05"}, 400, "reference_price", "required"),
    ("/add-instrument", {"symbol": "XYZ", "tick_size": "0.05", "reference_price": "25.01"}, 400,
     "reference_price", "tick grid"),
    ("/add-instrument", {"symbol": "XYZ", "tick_size": "0.05", "reference_price": "25", "lot_size": "1"}, 400,
     "lot_size", "integer"),
    ("/add-instrument", {"symbol": "PRB", "tick_size": "0.05", "reference_price": "25"}, 409, "symbol", "already"),
    ("/remove-instrument", {"symbol": "NOPE"}, 400, "symbol", "one of PRB"),
]


@bounded(15)
async def test_bad_input_is_a_4xx_naming_the_field_and_changes_nothing(tmp_path, capsys):
    async with exchange(tmp_path, capsys) as ex:
        port = ex.admin_port
        for path, body, status, field, words in BAD_ACTIONS:
            got, answer, _ = await http(port, "POST", path, body)
            assert (got, answer["ok"], answer.get("field")) == (status, False, field), (path, body, answer)
            assert words in answer["error"] + " " + answer.get("expected", ""), (path, body, answer)
        # Malformed requests: every answer is JSON, never a traceback.
        http_cases: list[tuple[dict[str, Any], int]] = [
            (dict(method="POST", path="/halt", body=b"{not json"), 400),
            (dict(method="POST", path="/halt", body=b"[1, 2]"), 400),
            (dict(method="POST", path="/halt", body=b'{"symbol": "PRB", "symbol": "PRB"}'), 400),
            (dict(method="POST", path="/halt", body=b'{"symbol": NaN}'), 400),
            (dict(method="POST", path="/halt", body=b"\xff\xfe"), 400),
            (dict(method="GET", path="/nowhere"), 404),
            (dict(method="GET", path="/halt"), 405),
            (dict(method="POST", path="/status", body={}), 405),
            (dict(method="GET", path="/status?verbose=1"), 400),
            (dict(method="POST", path="/halt", body={"symbol": "PRB"}, headers={"Content-Type": "text/plain"}), 415),
            (dict(method="POST", path="/halt", body={"symbol": "PRB"}, headers={"Content-Length": None}), 411),
            (dict(method="POST", path="/halt", headers={"Content-Length": str(2 << 20)}), 413),
            (dict(method="POST", path="/halt", headers={"Content-Length": "-1"}), 400),
            (dict(method="POST", path="/halt", body={"symbol": "PRB"}, headers={"Transfer-Encoding": "chunked"}), 501),
            (dict(method="POST", path="/halt", body={"symbol": "PRB"}, headers={"Origin": "http://evil.example"}), 403),
            (dict(method="POST", path="/halt", body={"symbol": "PRB"}, headers={"X-Actor": "eve smith"}), 400),
            (dict(method="GET", path="/status", headers={"X-Big": "a" * 20_000}), 431),
            (dict(method="GET", path="/status", raw=b"GET /status HTTP/2.0\r\n\r\n"), 505),
            (dict(method="GET", path="/status", raw=b"GARBAGE\r\n\r\n"), 400),
        ]
        for kwargs, status in http_cases:
            got, answer, _ = await http(port, **kwargs)
            assert (got, answer["ok"]) == (status, False), (kwargs, answer)
        status, answer, _ = await http(port, "GET", "/changes")
        assert status == 200 and answer["changes"] == []
        assert (await http(port, "GET", "/status"))[1]["phases"] == {"PRB": "continuous"}


# -- CONFIGURATION AND TOKENS ----------------------------------------------------------------------


@pytest.mark.parametrize(("table", "message"), [
    ({"port": 1, "tokn": "x"}, "unknown key 'tokn' (did you mean 'token'?)"),
    ({"port": 1, "host": "0.0.0.0"}, "listens on 127.0.0.1 only"),
    ({"token": TOKEN}, "required key 'port' is missing"),
    ({"port": "9890"}, "port must be an integer"),
    ({"port": 70000}, "port must be 0..65535"),
    ({"port": 1, "token": "short"}, "at least 16"),
    ({"port": 1, "token": "has a space in it, long"}, "without spaces"),
    ({"port": 1, "token": TOKEN, "token_file": "t"}, "not both"),
    ("yes", "must be a table"),
])
def test_a_bad_admin_table_is_refused_naming_the_key(table, message):
    with pytest.raises(VenueConfigError) as error:
        venue_config_from_dict({**_dict_config(), "admin": table}, source="v.toml")
    assert error.value.args[0].startswith("v.toml: [admin]") and message in error.value.args[0]


def test_an_admin_table_with_enabled_false_serves_nothing():
    assert venue_config_from_dict({**_dict_config(), "admin": {"enabled": False}}).admin is None
    assert venue_config_from_dict(_dict_config()).admin is None


def test_a_token_file_readable_by_others_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "admin.token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    config = venue_config_from_dict({**_dict_config(), "admin": {"port": 0, "token_file": "admin.token"}},
                                    base=tmp_path).admin
    with pytest.raises(VenueConfigError, match="readable by other users; chmod 600"):
        server_token(config)
    path.chmod(0o600)
    assert server_token(config) == (TOKEN, f"token in {path}")
    monkeypatch.setenv("MARKETDRILL_ADMIN_TOKEN", "short")
    assert server_token(config)[0] == TOKEN  # a configured token_file wins over the environment


@bounded(10)
async def test_without_a_configured_token_one_is_generated_into_a_private_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MARKETDRILL_ADMIN_TOKEN", raising=False)
    async with exchange(tmp_path, capsys, token_line="") as ex:
        path = tmp_path / "venue.admin-token"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = path.read_text().strip()
        assert len(token) >= 32 and token not in ex.output()  # the banner says where, not what
        assert f"token generated into {path} (mode 0600)" in ex.output()
        assert (await http(ex.admin_port, "GET", "/status", token=token))[0] == 200
        # The CLI finds the same file through the venue config (the port was picked: --port).
        code, out, _ = await cli(capsys, "--config", str(ex.config_path), "--port", str(ex.admin_port), "status")
        assert code == 0 and "PRB" in out and "continuous" in out


# -- THE CLI ---------------------------------------------------------------------------------------


async def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``marketdrill admin ARGV`` (its blocking urllib in a thread: the endpoint runs on this loop)."""
    capsys.readouterr()
    args = build_parser().parse_args(["admin", *argv])
    code = await asyncio.to_thread(admin_cli.run, args)
    captured = capsys.readouterr()
    # The exchange shares this process's stdout: drop its venue log lines, keep what the CLI printed.
    out = "".join(line for line in captured.out.splitlines(keepends=True) if not line.startswith("admin: "))
    return code, out, captured.err


@bounded(15)
async def test_the_cli_round_trips_against_the_live_endpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MARKETDRILL_ADMIN_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    async with exchange(tmp_path, capsys) as ex:
        where = ["--port", str(ex.admin_port), "--token-file", str(token_file), "--actor", "ops1"]
        (a,) = await logged_on(ex.fix_port, "A")
        try:
            code, out, err = await cli(capsys, *where, "halt", "PRB", "--reason", "cli drill")
            assert (code, out.strip(), err) == (0, "PRB halted (was continuous)", "")
            assert f(of_type(await drain(a), "f")[0], 326) == "2"
            code, out, _ = await cli(capsys, *where, "status")
            assert code == 0 and re.search(r"PRB\s+halted\s+tick 0.01", out)
            code, out, _ = await cli(capsys, *where, "resume", "PRB")
            assert code == 0 and "now continuous" in out
            code, out, _ = await cli(capsys, *where, "kill-switch", "--firm", "A", "--reason", "drill")
            assert code == 0 and out.strip() == "kill switch engaged for firm A: 0 open orders cancelled"
            code, out, _ = await cli(capsys, *where, "release-kill-switch", "--firm", "A")
            assert code == 0 and "released" in out
            code, out, _ = await cli(capsys, *where, "change-instrument", "PRB", "--tick-size", "0.05", "--at", "+30")
            assert code == 0 and "scheduled" in out
            code, out, _ = await cli(capsys, *where, "add-instrument", "XYZ", "--tick-size", "0.05",
                                     "--reference-price", "25.00")
            assert code == 0 and "XYZ listed" in out
            code, out, _ = await cli(capsys, *where, "remove-instrument", "XYZ")
            assert code == 0
            code, out, _ = await cli(capsys, *where, "--json", "changes")
            changes = json.loads(out)["changes"]
            assert [(c["actor"], c["what"]) for c in changes] == [
                ("admin:ops1", "halt"), ("admin:ops1", "resume"), ("admin:ops1", "kill_switch"),
                ("admin:ops1", "release_kill_switch"), ("admin:ops1", "add_instrument"),
                ("admin:ops1", "remove_instrument")]
            code, out, _ = await cli(capsys, *where, "changes")
            assert code == 0 and "admin:ops1" in out and "cli drill" in out
            # Refusals: one line on stderr, non-zero status.
            code, _, err = await cli(capsys, *where, "halt", "ESZ6")
            assert code == 1 and err.strip() == ("marketdrill admin: unknown symbol 'ESZ6' "
                                                 "[symbol: expected one of PRB]")
            code, _, err = await cli(capsys, "--port", str(ex.admin_port), "--token", "wrong-wrong-wrong-wrong",
                                     "status")
            assert code == 1 and err.startswith("marketdrill admin: the admin endpoint refused the token")
            code, _, err = await cli(capsys, "--port", str(ex.admin_port), "status")
            assert code == 2 and "no admin token" in err
            code, _, err = await cli(capsys, "--url", "http://192.0.2.1:80", "--token", TOKEN, "status")
            assert code == 2 and "loopback" in err
            monkeypatch.setenv("MARKETDRILL_ADMIN_TOKEN", TOKEN)  # the environment works as a token source
            code, out, _ = await cli(capsys, "--url", f"http://127.0.0.1:{ex.admin_port}", "status")
            assert code == 0
        finally:
            await a.close()
        closed_port = ex.admin_port
    code, _, err = await cli(capsys, "--port", str(closed_port), "--token", TOKEN, "status")
    assert code == 2 and err.strip() == (f"marketdrill admin: no admin endpoint at http://127.0.0.1:{closed_port}: "
                                         "is `marketdrill exchange` running with [admin] enabled?")
