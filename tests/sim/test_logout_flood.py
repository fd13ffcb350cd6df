"""A client the throttle logged out is not served while it keeps writing, and is hung up on in time."""

from pathlib import Path

from sim.tomlfile import parse_toml
from sim.venue import Venue
from sim.venue_config import VenueConfigError, venue_config_from_dict
from tests.sim.venue_wire import T, Wire

PROBE = Path(__file__).resolve().parents[2] / "examples" / "venue-probe.toml"
T0 = 1_767_346_200_000_000_000


def order(cl_ord_id: str) -> list[tuple[int, object]]:
    return [(11, cl_ord_id), (21, 1), (38, 1), (40, 2), (44, "99.00"), (54, 1), (55, "PRB"), (60, T)]


def test_after_the_throttle_logout_further_orders_are_ignored_and_the_connection_closes():
    data = parse_toml(PROBE.read_text(encoding="utf-8"), str(PROBE), VenueConfigError)
    data["protections"] = {"messages_per_window": 3, "logout_messages_per_window": 5, "window_ms": 3000}
    now = [T0]
    timers: list = []  # the venue's timers, run by hand: the logout follows the reject "after 0 ns"
    venue = Venue(venue_config_from_dict(data, source="flood", base=PROBE.parent), now_ns=lambda: now[0],
                  schedule=lambda delay_ns, callback: timers.append(callback))
    flooder, other = Wire(venue, "A"), Wire(venue, "B")
    flooder.connect_and_logon()
    other.connect_and_logon()
    for n in range(6):
        flooder.send("D", order(f"F{n}"))
    while timers:
        timers.pop(0)()
    flooder.pump()
    replies = flooder.unread()
    assert b"logout limit" in replies[-1].get(58)  # the 6th message: rejected, then the session logged out
    assert flooder.session.sent_logout
    for n in range(6, 50):  # the flood goes on after the Logout
        flooder.send("D", order(f"F{n}"))
    assert flooder.unread() == []  # not served: no order work, no rejects keeping the session busy
    assert venue.gateway.ignored_after_logout[str(flooder.session.session_id)] == 44
    assert not any(o.cl_ord_id.startswith("F") and int(o.cl_ord_id[1:]) >= 6
                   for o in venue.exchange.orders.values())
    other.send("D", order("B1"))
    assert [m.get(150) for m in other.unread()] == [b"0"]  # everyone else is served as usual
    now[0] += 2 * 10**9 + 1  # the logout timeout, counted from the Logout itself
    flooder.session.on_timer()
    assert not flooder.session.connected_now
