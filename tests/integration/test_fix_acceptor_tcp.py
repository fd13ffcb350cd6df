"""The standalone fix-acceptor over real TCP: the connection-level rules a FIX client relies on.

Configured exactly as examples/fix-acceptor-conformance.toml (CompID ISLD; TW42/TW44/TW sessions).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sim.fix.echo import EchoApplication
from sim.fix.settings import load_settings
from sim.fix.standalone import build_sessions
from sim.fix.timestamps import format_utc_timestamp
from sim.fix.transport import FixAcceptor
from tests.integration.rawfix import RawFixClient

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "fix-acceptor-conformance.toml"


@pytest.fixture
async def acceptor_port():
    settings = load_settings(CONFIG, port=0)
    acceptor = FixAcceptor(build_sessions(settings, EchoApplication(), now_ns=time.time_ns), now_ns=time.time_ns)
    port = await acceptor.start("127.0.0.1", 0)
    yield port
    await acceptor.stop()


async def _closed(client: RawFixClient, timeout: float = 5.0) -> bool:
    """True if the server closes the connection within the timeout."""
    assert client.stream_reader is not None
    try:
        while True:
            data = await asyncio.wait_for(client.stream_reader.read(65536), timeout)
            if not data:
                return True
    except TimeoutError:
        return False


async def test_each_configured_session_logs_on_with_its_begin_string(acceptor_port):
    for begin, comp in (("FIX.4.2", "TW42"), ("FIX.4.4", "TW44"), ("FIX.4.2", "TW"), ("FIX.4.4", "TW")):
        client = RawFixClient(comp, "ISLD", begin)
        await client.connect(acceptor_port)
        reply = await client.logon()
        assert reply.get(8) == begin.encode() and reply.get(49) == b"ISLD" and reply.get(56) == comp.encode()
        await client.close()


async def test_an_unknown_session_is_refused_by_closing_the_connection(acceptor_port):
    client = RawFixClient("NOBODY", "ISLD")
    await client.connect(acceptor_port)
    client.send("A", [(98, 0), (108, 30), (141, "Y")])
    assert await _closed(client)


async def test_a_first_message_that_is_not_a_logon_closes_the_connection(acceptor_port):
    client = RawFixClient("TW44", "ISLD")
    await client.connect(acceptor_port)
    client.send("0")
    assert await _closed(client)


async def test_a_logon_with_a_stale_sending_time_closes_the_connection(acceptor_port):
    client = RawFixClient("TW44", "ISLD")
    await client.connect(acceptor_port)
    from sim.fix.codec import encode

    assert client.writer is not None
    client.writer.write(encode(b"FIX.4.4", b"A", [(34, 1), (49, "TW44"), (52, format_utc_timestamp(
        time.time_ns() - 200 * 10**9)), (56, "ISLD"), (98, 0), (108, 30), (141, "Y")]))
    assert await _closed(client)


async def test_a_second_connection_for_a_logged_on_session_is_refused_and_the_first_goes_on(acceptor_port):
    first = RawFixClient("TW44", "ISLD")
    await first.connect(acceptor_port)
    await first.logon()
    second = RawFixClient("TW44", "ISLD")
    await second.connect(acceptor_port)
    second.send("A", [(98, 0), (108, 30), (141, "Y")])
    assert await _closed(second)
    first.send("1", [(112, "STILL-HERE")])
    heartbeat = await first.expect("0", skip=())
    assert heartbeat.get(112) == b"STILL-HERE" and heartbeat.get(34) == b"2"
    await first.close()


async def test_a_connection_opened_and_closed_silently_is_harmless_and_a_reconnect_logs_on(acceptor_port):
    silent = RawFixClient("TW44", "ISLD")
    await silent.connect(acceptor_port)
    await silent.close()
    client = RawFixClient("TW44", "ISLD")
    await client.connect(acceptor_port)
    await client.logon()
    await client.close()
    await asyncio.sleep(0.05)  # the conformance harness reconnects ~50 ms after a close
    again = RawFixClient("TW44", "ISLD")
    await again.connect(acceptor_port)
    reply = await again.logon()
    assert reply.get(34) == b"1"
    await again.close()


async def test_a_garbled_frame_is_dropped_and_the_next_message_is_served(acceptor_port):
    client = RawFixClient("TW44", "ISLD")
    await client.connect(acceptor_port)
    await client.logon()
    from sim.fix.codec import encode

    assert client.writer is not None
    bad = encode(b"FIX.4.4", b"0", [(34, 2), (49, "TW44"), (52, format_utc_timestamp(time.time_ns())),
                                    (56, "ISLD")])
    client.writer.write(bad[:-4] + b"000\x01")  # wrong checksum: discarded, sequence number not consumed
    client.send("1", [(112, "AFTER")])  # MsgSeqNum 2: the bad frame did not count
    heartbeat = await client.expect("0", skip=())
    assert heartbeat.get(112) == b"AFTER"
    await client.close()
