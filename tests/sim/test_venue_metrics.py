"""The venue's Prometheus endpoint over real HTTP: serve_venue with ``[venue] metrics_port``, orders over FIX."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sim.venue import serve_venue
from sim.venue_config import VenueConfigError, load_venue_config, venue_config_from_dict
from tests.integration.isolation_helpers import bounded, drain, f, of_type
from tests.integration.rawfix import RawFixClient

T = "20260102-09:30:00"
VENUE_TOML = """\
[venue]
comp_id = "VENUE"
port = 0
metrics_port = 0

[[instrument]]
symbol = "PRB"
tick_size = "0.01"
reference_price = "100.00"

[[firm]]
id = "A"

[[firm]]
id = "B"

[[firm]]
id = "C"

[protections]
max_order_qty = 100

[agents]
enabled = false
"""


def scrape(url: str) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """GET the endpoint: (content type, {(sample name, sorted labels): value})."""
    with urllib.request.urlopen(url, timeout=5) as reply:
        content_type, text = reply.headers["Content-Type"], reply.read().decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    return content_type, samples


async def logged_on(port: int, comp_id: str) -> RawFixClient:
    client = RawFixClient(comp_id, "VENUE")
    await client.connect(port)
    await client.logon()
    return client


def order(client: RawFixClient, cl_ord_id: str, side: int, qty: int, price: str, symbol: str = "PRB") -> None:
    client.send("D", [(11, cl_ord_id), (21, 1), (55, symbol), (54, side), (60, T), (38, qty), (40, 2), (44, price)])


@bounded(15)
async def test_the_metrics_endpoint_counts_orders_rejects_trades_open_orders_and_sessions(tmp_path: Path, capsys):
    path = tmp_path / "venue.toml"
    path.write_text(VENUE_TOML)
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve_venue(load_venue_config(path), ready=ready.set_result, stop=stop,
                                           status_every_s=60))
    try:
        done, _ = await asyncio.wait([task, ready], timeout=5, return_when=asyncio.FIRST_COMPLETED)
        assert ready in done, f"the exchange did not start: {task.exception() if task.done() else 'timeout'}"
        match = re.search(r"metrics endpoint (http://127\.0\.0\.1:(\d+)/metrics)", capsys.readouterr().out)
        assert match, "serve_venue did not print where the metrics endpoint listens"
        url = match.group(1)
        a, b = await logged_on(ready.result(), "A"), await logged_on(ready.result(), "B")
        try:
            order(a, "A1", 1, 5, "100.00")      # rests
            order(a, "A2", 1, 500, "100.00")    # over [protections] max_order_qty
            order(a, "A3", 1, 5, "1.00", "NOPE")  # unknown symbol
            a.send("F", [(11, "A4"), (41, "NOT-AN-ORDER"), (54, 1), (55, "PRB"), (60, T), (38, 5)])
            answered = await drain(a)
            assert [f(m, 150) for m in of_type(answered, "8")] == ["0", "8", "8"] and of_type(answered, "9")
            order(b, "B1", 2, 3, "100.00")      # trades 3 against A1
            assert [f(m, 150) for m in of_type(await drain(b), "8")] == ["0", "F"]
            await drain(a)

            content_type, samples = await asyncio.to_thread(scrape, url)
            assert content_type.startswith("text/plain") and "version=" in content_type

            def value(name: str, **labels: str) -> float | None:
                return samples.get((f"marketdrill_venue_{name}", tuple(sorted(labels.items()))))

            assert value("orders_received_total", firm="A") == 3  # one acknowledged, two rejected
            assert value("orders_received_total", firm="B") == 1
            assert value("order_rejects_total", firm="A", request="new", code="max_order_qty") == 1
            assert value("order_rejects_total", firm="A", request="new", code="unknown_symbol") == 1
            assert value("order_rejects_total", firm="A", request="cancel", code="unknown_order") == 1
            assert (value("trades_total", symbol="PRB"), value("traded_quantity_total", symbol="PRB")) == (1, 3)
            assert value("open_orders", firm="A") == 1 and value("open_orders", firm="B") == 0
            assert value("open_orders", firm="C") == 0  # every configured firm from the start
            assert [value("sessions_logged_on", firm=x) for x in "ABC"] == [1, 1, 0]
            assert value("messages_received_total") == 5
            assert not [key for key in samples if key[0].endswith("_created")]  # no wall-clock series
        finally:
            await a.close()
            await b.close()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    with pytest.raises(urllib.error.URLError):  # stopped with the venue: the port is closed
        await asyncio.to_thread(urllib.request.urlopen, url, None, 2)


def test_metrics_port_is_checked_like_every_venue_key():
    base = {"instrument": [{"symbol": "PRB", "tick_size": "0.01", "reference_price": "100"}], "firm": [{"id": "A"}]}
    assert venue_config_from_dict(base).metrics_port is None
    assert venue_config_from_dict({**base, "venue": {"metrics_port": 9891}}).metrics_port == 9891
    with pytest.raises(VenueConfigError, match=r"\[venue\] metrics_port must be 0\.\.65535"):
        venue_config_from_dict({**base, "venue": {"metrics_port": 70000}})
    with pytest.raises(VenueConfigError, match="metrics_port must be an integer"):
        venue_config_from_dict({**base, "venue": {"metrics_port": "9891"}})
    with pytest.raises(VenueConfigError, match="did you mean 'metrics_port'"):
        venue_config_from_dict({**base, "venue": {"metric_port": 9891}})
