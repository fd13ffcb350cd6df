"""Frames: assembling FIX bytes by hand (any BodyLength/CheckSum), fences, garbage and chunking."""

from __future__ import annotations

import random
import re

SOH = b"\x01"
NS = 1_000_000_000
T0 = 1_767_346_200_000_000_000   # 2026-01-02 09:30:00 UTC
ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CODEC_MAX_BODY = 8192            # the codec target's FrameReader limit (small, so resync paths run)
MAX_EXAMPLES = 3                 # examples kept per distinct finding

Fields = list[tuple[bytes, bytes]]  # (tag spelling, value) after BodyLength, MsgType first




def assemble(begin: bytes, fields: Fields, *, body_length: bytes | None = None,
             checksum: bytes | None = None) -> bytes:
    """A frame from byte fields (MsgType included), with BodyLength and CheckSum computed here.

    Independent of :func:`sim.fix.codec.encode` on purpose (plain ``sum``), so the campaign also
    cross-checks the encoder; tags are spellings, so non-integer or non-canonical tags can be sent.
    """
    body = b"".join([t + b"=" + v + SOH for t, v in fields])
    head = b"8=" + begin + SOH + b"9=" + (b"%d" % len(body) if body_length is None else body_length) + SOH + body
    return head + b"10=" + (b"%03d" % (sum(head) % 256) if checksum is None else checksum) + SOH


def claimed_lengths(raw: bytes, limit: int) -> int:
    """The largest BodyLength (up to ``limit``) that any ``8=FIX`` start in ``raw`` claims.

    Mirrors FrameReader's rule: the first SOH within 64 bytes of the start must be followed by
    ``9=``; the digits may run to the end of ``raw`` (the next SOH may come later).  Claims above
    ``limit`` are not waited for (the reader resynchronises), so they need no filler.
    """
    best = 0
    at = raw.find(b"8=FIX")
    while at >= 0:
        soh1 = raw.find(SOH, at, at + 64)
        if soh1 >= 0 and raw.startswith(b"9=", soh1 + 1):
            digits = _LEADING_DIGITS.match(raw, soh1 + 3, soh1 + 24).group()
            if digits and int(digits) <= limit:
                best = max(best, int(digits))
        at = raw.find(b"8=FIX", at + 1)
    return best


_LEADING_DIGITS = re.compile(rb"[0-9]*")


def fence(raw: bytes, limit: int) -> bytes:
    """Bytes that end any frame ``raw`` left open: filler as long as any BodyLength it claims, then a trailer.

    FIX framing (QuickFIX's rule) lets an oversized BodyLength swallow what follows; a counterparty
    that sent such a frame loses the next bytes too.  The campaign closes it off deliberately so
    the *next* good message is judged on its own.  The filler has no ``=``, so what it closes is
    always garbled.
    """
    return b"\x01" + b"x" * (claimed_lengths(raw, limit) + 64) + b"\x0110=000\x01"


def random_bytes(rng: random.Random, n: int) -> bytes:
    """``n`` random bytes."""
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def garbage(rng: random.Random, lo: int = 1, hi: int = 40) -> bytes:
    """Random bytes that cannot start a frame (no ``8=F``), as a broken line would deliver between messages."""
    data = random_bytes(rng, rng.randint(lo, hi))
    return data.replace(b"8=F", b"8-F")


def chunks(rng: random.Random, data: bytes, most: int = 4) -> list[bytes]:
    """``data`` cut at random points, as TCP may deliver it."""
    if len(data) < 2 or most < 2:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, most - 1))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
