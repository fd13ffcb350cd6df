"""Venue hardening over real TCP on 127.0.0.1: logon authentication and isolation between firms.

Two firms, A (with a password) and B, on FIX 4.4.  Authentication: only the right Password(554)
logs on, a wrong or missing one is refused with a Logout whose Text says why and the connection
closes, and the password never reaches the QuickFIX-style message log.  Isolation: firm B can
neither cancel, replace, mass-cancel nor ask the status of firm A's orders, never receives A's
execution reports, and market data names no firm.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.isolation_helpers import (
    IDENTITY_TAGS,
    PASSWORD_A,
    PASSWORD_B,
    T,
    body,
    bounded,
    drain,
    f,
    of_type,
    read_until_closed,
    running_venue,
)
from tests.integration.rawfix import RawFixClient


async def _logon(client: RawFixClient, port: int, password: str | None) -> None:
    await client.connect(port)
    fields: list[tuple[int, object]] = [(98, 0), (108, 30), (141, "Y")]
    if password is not None:
        fields.append((554, password))
    client.send("A", fields)


async def _refused(port: int, comp_id: str, password: str | None) -> str:
    """Log on with ``password``; assert a Logout then a closed connection; return the Logout's Text."""
    client = RawFixClient(comp_id, "VENUE")
    try:
        await _logon(client, port, password)
        got = await read_until_closed(client)
        assert [m.msg_type() for m in got] == [b"5"], f"expected only a Logout, got {[m.fields for m in got]}"
        return f(got[0], 58) or ""
    finally:
        await client.close()


# -- AUTHENTICATION -----------------------------------------------------------------------------


@bounded(10)
async def test_only_the_right_password_logs_on_and_it_never_reaches_the_log(tmp_path: Path):
    async with running_venue(tmp_path, log_dir="fixlogs") as running:
        # A wrong password and a missing one are refused, each with its reason, then disconnected.
        assert await _refused(running.port, "A", "not-the-password") == "Invalid password"
        assert await _refused(running.port, "A", None) == "Password required"
        # An empty 554 is a malformed Logon ("Tag specified without a value"): QuickFIX-style, the
        # venue cannot Reject before logon, so it just disconnects; no session either way.
        empty = RawFixClient("A", "VENUE")
        try:
            await _logon(empty, running.port, "")
            assert not [m for m in await read_until_closed(empty) if m.msg_type() == b"A"]
        finally:
            await empty.close()
        # A refused logon leaves nothing behind: the session is free and not logged on.
        assert not running.acceptor.active
        assert not any(s.logged_on for s in running.venue.sessions)
        # The right one logs on (the refusals did not lock the session out) and can trade.
        a = RawFixClient("A", "VENUE")
        try:
            await _logon(a, running.port, PASSWORD_A)
            reply = await a.expect("A")
            assert (f(reply, 34), f(reply, 108)) == ("1", "30")
            assert reply.get(554) is None  # the venue does not echo the password back
            a.send("D", [(11, "a1"), (21, 1), (55, "PRB"), (54, 2), (60, T), (38, 10), (40, 2), (44, "100.05")])
            assert f(await a.expect("8"), 150) == "0"
        finally:
            await a.close()
        # Firm B (no password configured) logs on without one.
        b = RawFixClient("B", "VENUE")
        try:
            await _logon(b, running.port, None)
            assert f(await b.expect("A"), 34) == "1"
        finally:
            await b.close()

        running.flush_logs()
        log_dir = tmp_path / "fixlogs"
        messages = log_dir / "FIX.4.4-VENUE-A.messages.current.log"
        assert messages.exists(), sorted(p.name for p in log_dir.iterdir())
        text = messages.read_bytes()
        # All four Logons A sent were logged, each with its password masked.
        logons = [line for line in text.split(b"\n") if b"\x0135=A\x01" in line and b"\x0149=A\x01" in line]
        assert len(logons) == 4, text
        assert sum(b"\x01554=***\x01" in line for line in logons) == 3  # wrong, empty, right (missing has none)
        # The refusals' Logouts are logged with their reasons.
        assert b"\x0135=5\x01" in text and b"58=Invalid password" in text and b"58=Password required" in text
        # Neither the right nor the wrong password appears in any file of the log directory.
        for path in log_dir.iterdir():
            content = path.read_bytes()
            assert PASSWORD_A.encode() not in content, path.name
            assert b"not-the-password" not in content, path.name


@bounded(10)
async def test_a_firms_password_does_not_log_on_another_firm(tmp_path: Path):
    async with running_venue(tmp_path, password_b=PASSWORD_B) as running:
        assert await _refused(running.port, "B", PASSWORD_A) == "Invalid password"
        assert await _refused(running.port, "A", PASSWORD_B) == "Invalid password"
        b = RawFixClient("B", "VENUE")
        try:
            await _logon(b, running.port, PASSWORD_B)
            assert f(await b.expect("A"), 34) == "1"
        finally:
            await b.close()


@bounded(10)
async def test_a_refused_logon_never_opens_order_entry(tmp_path: Path):
    """Orders pipelined right behind a refused Logon reach nothing: no report, no order in the book."""
    async with running_venue(tmp_path) as running:
        client = RawFixClient("A", "VENUE")
        try:
            await _logon(client, running.port, "wrong")
            client.send("D", [(11, "sneak"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 1), (40, 2),
                              (44, "100.00")])
            got = await read_until_closed(client)
            assert [m.msg_type() for m in got] == [b"5"]
        finally:
            await client.close()
        assert not running.venue.exchange.orders


# -- ISOLATION ----------------------------------------------------------------------------------


def _new(client: RawFixClient, cl_ord_id: str, side: int, qty: int, price: str, tif: int = 0) -> None:
    client.send("D", [(11, cl_ord_id), (21, 1), (55, "PRB"), (54, side), (60, T), (38, qty), (40, 2),
                      (44, price), (59, tif)])


@bounded(15)
async def test_firm_b_cannot_touch_firm_a_orders_nor_see_their_reports(tmp_path: Path):
    async with running_venue(tmp_path) as running:
        a, b = RawFixClient("A", "VENUE"), RawFixClient("B", "VENUE")
        b_cl_ord_ids: set[str] = set()
        b_inbox = []

        def b_new(cl_ord_id: str, side: int, qty: int, price: str, tif: int = 0) -> None:
            b_cl_ord_ids.add(cl_ord_id)
            _new(b, cl_ord_id, side, qty, price, tif)

        try:
            await _logon(a, running.port, PASSWORD_A)
            await a.expect("A")
            await _logon(b, running.port, None)
            await b.expect("A")

            # Firm A rests a sell and a buy; "same" is a ClOrdID firm B will also use.
            _new(a, "a1", 2, 10, "100.05")
            _new(a, "a2", 1, 5, "99.95")
            _new(a, "same", 2, 3, "100.10")
            acks = {f(m, 11): m for m in of_type(await drain(a), "8")}
            assert {k: f(m, 39) for k, m in acks.items()} == {"a1": "0", "a2": "0", "same": "0"}
            a1_id, a2_id, a_same_id = (f(acks[k], 37) for k in ("a1", "a2", "same"))

            # Cancel naming A's OrderID (with A's ClOrdID, then with a made-up one): unknown order.
            b.send("F", [(41, "a1"), (37, a1_id), (11, "b-c1"), (55, "PRB"), (54, 2), (60, T), (38, 10)])
            b.send("F", [(41, "nope"), (37, a1_id), (11, "b-c2"), (55, "PRB"), (54, 2), (60, T), (38, 10)])
            b.send("F", [(41, "a2"), (11, "b-c3"), (55, "PRB"), (54, 1), (60, T), (38, 5)])
            # Replace naming A's order: unknown order too.
            b.send("G", [(41, "a1"), (37, a1_id), (11, "b-r1"), (21, 1), (55, "PRB"), (54, 2), (60, T),
                         (38, 20), (40, 2), (44, "100.06")])
            b.send("G", [(41, "a2"), (11, "b-r2"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 5), (40, 2),
                         (44, "99.90")])
            got = await drain(b)
            b_inbox += got
            rejects = of_type(got, "9")
            assert [f(m, 11) for m in rejects] == ["b-c1", "b-c2", "b-c3", "b-r1", "b-r2"], [m.fields for m in got]
            for reject, response_to in zip(rejects, "11122", strict=True):
                assert (f(reject, 37), f(reject, 58), f(reject, 434), f(reject, 39)) == \
                    ("NONE", "Unknown order", response_to, "8"), reject.fields
                assert f(reject, 102) == "1"  # CxlRejReason 1: unknown order
            assert not of_type(got, "8")

            # Status request for A's ClOrdID (and OrderID): a rejected status report, none of A's details.
            b.send("H", [(11, "a1"), (55, "PRB"), (54, 2)])
            b.send("H", [(11, "a2"), (37, a2_id), (55, "PRB"), (54, 1)])
            got = await drain(b)
            b_inbox += got
            statuses = of_type(got, "8")
            assert len(statuses) == 2, [m.fields for m in got]
            for status, asked in zip(statuses, ("a1", "a2"), strict=True):
                assert (f(status, 150), f(status, 39), f(status, 11), f(status, 58)) == \
                    ("I", "8", asked, "Unknown order"), status.fields
                assert (f(status, 14), f(status, 151)) == ("0", "0")
                assert status.get(44) is None and f(status, 38) in ("0", None)
            assert f(statuses[0], 37) == "NONE"
            assert f(statuses[1], 37) in ("NONE", a2_id)  # at most B's own request echoed back
            # Nothing of A's was touched: A got nothing, all three orders still rest unchanged.
            assert not of_type(await drain(a), "8")

            # B's own order with the same ClOrdID as A's: B cancels its own, A's "same" stays.
            b_new("same", 2, 4, "100.20")
            b_new("b-rest", 1, 2, "99.80")
            got = await drain(b)
            b_inbox += got
            b_same_id = f(next(m for m in of_type(got, "8") if f(m, 11) == "same"), 37)
            assert b_same_id != a_same_id
            b_cl_ord_ids.add("b-c4")
            b.send("F", [(41, "same"), (11, "b-c4"), (55, "PRB"), (54, 2), (60, T), (38, 4)])
            got = await drain(b)
            b_inbox += got
            cancelled = of_type(got, "8")
            assert [(f(m, 150), f(m, 41), f(m, 37)) for m in cancelled] == [("4", "same", b_same_id)]

            # Mass cancel from B, all orders (530=7) then one symbol (530=1): only B's own go.
            b.send("q", [(11, "b-mc1"), (530, 7), (60, T)])
            b.send("q", [(11, "b-mc2"), (530, 1), (55, "PRB"), (60, T)])
            got = await drain(b)
            b_inbox += got
            reports = of_type(got, "r")
            assert [(f(m, 11), f(m, 533)) for m in reports] == [("b-mc1", "1"), ("b-mc2", "0")], \
                [m.fields for m in got]
            assert [(f(m, 11), f(m, 150)) for m in of_type(got, "8")] == [("b-rest", "4")]
            assert not of_type(await drain(a), "8")
            open_a = running.venue.exchange.open_orders.get("A", {})
            assert sorted(o.cl_ord_id for o in open_a.values()) == ["a1", "a2", "same"]
            assert {o.cl_ord_id: o.leaves_qty for o in open_a.values()} == {"a1": 10, "a2": 5, "same": 3}
            # And A still sees them as its own, untouched.
            a.send("H", [(11, "a1"), (55, "PRB"), (54, 2)])
            status = of_type(await drain(a), "8")
            assert [(f(m, 150), f(m, 39), f(m, 37), f(m, 151)) for m in status] == [("I", "0", a1_id, "10")]

            # A trade between them: B lifts A's offer; each gets only its own fill.
            b_new("b-buy", 1, 4, "100.05", tif=3)
            got = await drain(b)
            b_inbox += got
            b_fills = [m for m in of_type(got, "8") if f(m, 150) == "F"]
            assert [(f(m, 11), f(m, 32), f(m, 31)) for m in b_fills] == [("b-buy", "4", "100.05")]
            a_fills = [m for m in of_type(await drain(a), "8") if f(m, 150) == "F"]
            assert [(f(m, 11), f(m, 32), f(m, 151)) for m in a_fills] == [("a1", "4", "6")]
            # A cancels and replaces its own orders; B must see none of it.
            a.send("G", [(41, "a2"), (37, a2_id), (11, "a2r"), (21, 1), (55, "PRB"), (54, 1), (60, T), (38, 7),
                         (40, 2), (44, "99.96")])
            a.send("F", [(41, "same"), (37, a_same_id), (11, "same-x"), (55, "PRB"), (54, 2), (60, T), (38, 3)])
            a_got = of_type(await drain(a), "8")
            assert [(f(m, 11), f(m, 150)) for m in a_got] == [("a2r", "5"), ("same-x", "4")]
            got = await drain(b)
            b_inbox += got

            # Every ExecutionReport B ever got is about one of B's own orders (or B's own failed status query).
            a_order_ids = {a1_id, a2_id, a_same_id}
            for report in of_type(b_inbox, "8"):
                if f(report, 150) == "I" and f(report, 39) == "8":
                    continue  # the rejected status reports checked above
                assert f(report, 11) in b_cl_ord_ids, report.fields
                assert f(report, 37) not in a_order_ids, report.fields
            assert {f(m, 11) for m in of_type(b_inbox, "8") if f(m, 150) != "I"} <= b_cl_ord_ids
        finally:
            await a.close()
            await b.close()


@bounded(15)
async def test_market_data_names_no_firm(tmp_path: Path):
    async with running_venue(tmp_path) as running:
        a, b = RawFixClient("A", "VENUE"), RawFixClient("B", "VENUE")
        try:
            await _logon(a, running.port, PASSWORD_A)
            await a.expect("A")
            await _logon(b, running.port, None)
            await b.expect("A")
            for client, req in ((a, "mdA"), (b, "mdB")):
                client.send("V", [(262, req), (263, 1), (264, 0), (265, 1), (267, 3), (269, 0), (269, 1),
                                  (269, 2), (146, 1), (55, "PRB")])
            # A builds a book, B trades against it, both amend and cancel.
            _new(a, "a1", 2, 10, "100.05")
            _new(a, "a2", 1, 5, "99.95")
            a_msgs = await drain(a)
            _new(b, "b1", 1, 4, "100.05", tif=3)
            _new(b, "b2", 2, 6, "100.07")
            b_msgs = await drain(b)
            a.send("F", [(41, "a2"), (11, "a3"), (55, "PRB"), (54, 1), (60, T), (38, 5)])
            b.send("q", [(11, "bq"), (530, 7), (60, T)])
            a_msgs += await drain(a)
            b_msgs += await drain(b)
            # A snapshot taken now shows the resting book and still no identity.
            b.send("V", [(262, "snap"), (263, 0), (264, 0), (265, 1), (267, 2), (269, 0), (269, 1), (146, 1),
                         (55, "PRB")])
            b_msgs += await drain(b)

            private = {f(m, 37) for m in of_type(a_msgs + b_msgs, "8")} | {f(m, 17) for m in of_type(
                a_msgs + b_msgs, "8")} | {"a1", "a2", "a3", "b1", "b2", "bq", "A", "B", PASSWORD_A}
            feeds = {"A": of_type(a_msgs, "W") + of_type(a_msgs, "X"),
                     "B": of_type(b_msgs, "W") + of_type(b_msgs, "X")}
            assert feeds["A"] and feeds["B"]
            assert any(b"2" in m.get_all(269) for m in of_type(b_msgs, "X")), "the trade was published"
            for recipient, messages in feeds.items():
                for message in messages:
                    assert f(message, 49) == "VENUE" and f(message, 56) == recipient
                    fields = body(message)
                    leaked = [(t, v) for t, v in fields if t in IDENTITY_TAGS]
                    assert not leaked, f"identity tags in market data to {recipient}: {message.fields}"
                    values = {v.decode("latin-1") for _, v in fields}
                    assert not values & private, f"private values {values & private} in {message.fields}"
            # The snapshot reflects the book with no per-order detail: two levels, prices and sizes only.
            snapshot = of_type(b_msgs, "W")[-1]
            assert f(snapshot, 262) == "snap"
            assert {t for t, _ in body(snapshot)} <= {55, 262, 268, 269, 270, 271}
        finally:
            await a.close()
            await b.close()


@bounded(10)
async def test_the_unknown_order_status_report_to_another_firm_is_well_formed(tmp_path: Path):
    async with running_venue(tmp_path) as running:
        a, b = RawFixClient("A", "VENUE"), RawFixClient("B", "VENUE")
        try:
            await _logon(a, running.port, PASSWORD_A)
            await a.expect("A")
            await _logon(b, running.port, None)
            await b.expect("A")
            _new(a, "a1", 2, 10, "100.05")
            assert f(of_type(await drain(a), "8")[0], 150) == "0"
            b.send("H", [(11, "a1"), (55, "PRB"), (54, 2)])
            (status,) = of_type(await drain(b), "8")
            assert (f(status, 150), f(status, 39)) == ("I", "8")  # holds today
            empty = [tag for tag, value in status.fields if value == b""]
            assert not empty, f"tags without a value: {empty} in {status.fields}"
            assert (f(status, 55), f(status, 54)) == ("PRB", "2"), status.fields
        finally:
            await a.close()
            await b.close()
