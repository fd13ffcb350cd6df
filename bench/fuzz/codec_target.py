"""The codec target: byte streams through FrameReader and decode."""

from __future__ import annotations

import random
import traceback
from collections import deque

from bench.fuzz.frames import CODEC_MAX_BODY, Fields, assemble, chunks, fence, garbage
from bench.fuzz.messages import MessageFactory, assemble_mutated, mutate_bytes, mutate_fields
from bench.fuzz.results import Progress, TargetResult, exception_site
from sim.fix.codec import (
    _DATA_LENGTH_TAGS,
    DATA_FIELDS,
    FixMessage,
    FrameReader,
    GarbledFrame,
    _split_slow,
    decode,
    encode,
)
from sim.fix.dictionary import Dictionary


def run_codec(count: int, seed: int, shard: int = 0, *, every_s: float = 5.0, window: int = 20_000,
              quiet: bool = False) -> TargetResult:
    """Generated and mutated byte streams through FrameReader and decode (see the module docstring)."""
    rng = random.Random(f"{seed}:codec:{shard}")
    result = TargetResult("codec")
    progress = Progress(result, count, f"codec {shard}", every_s, window, quiet)
    factories = [MessageFactory(Dictionary.for_begin_string(b)) for b in ("FIX.4.2", "FIX.4.4")]
    reader = FrameReader(max_body_length=CODEC_MAX_BODY)
    pool: deque[tuple[bytes, Fields, MessageFactory]] = deque(maxlen=64)
    sentinel_seq = 0
    while result.inputs < count:
        r = rng.random()
        if not pool or r < 0.15:
            pool.append(_generated(rng, rng.choice(factories)))
            base_raw, base_fields, factory = pool[-1]
        else:
            base_raw, base_fields, factory = rng.choice(pool)
        if r < 0.15:
            kind, raw, good = "generated", base_raw, True
        elif r < 0.55:
            op, fields = mutate_fields(rng, base_fields, factory)
            kind, raw, good = f"field:{op}", assemble_mutated(factory.begin, fields), False
            if rng.random() < 0.1:  # and a byte-level defect on top
                kind, raw = kind + "+bytes", mutate_bytes(rng, raw, [p[0] for p in pool])[1]
        else:
            op, raw = mutate_bytes(rng, base_raw, [p[0] for p in pool])
            kind, good = f"bytes:{op}", False
        result.cases[kind.split("+")[0]] += 1
        result.inputs += 1
        result.probes += 1  # the good frame framed after every input
        sentinel_seq += 1
        sentinel = encode(b"FIX.4.4", b"1", [(34, sentinel_seq), (49, b"S"), (52, b"20260102-09:30:00"),
                                             (56, b"T"), (112, b"SENTINEL")])
        try:
            _codec_one(rng, result, reader, raw, good, kind, base_fields, sentinel)
        except Exception as exc:  # noqa: BLE001 - whatever raised (a check of ours included) is reported, not fatal
            result.record("escape", f"{kind}: {exception_site(exc)}", f"{kind}: {raw!r}\n{traceback.format_exc(limit=-3)}")
            reader.__init__(max_body_length=CODEC_MAX_BODY)
        progress.tick()
    progress.finish()
    return result


def _generated(rng: random.Random, factory: MessageFactory) -> tuple[bytes, Fields, MessageFactory]:
    """A random valid message (header + body) of any type of the factory's dictionary."""
    msg_type = rng.choice(factory.all_types)
    fields: Fields = [(b"35", msg_type), (b"49", b"SNDR"), (b"56", b"TGT"), (b"34", b"%d" % rng.randint(1, 10**6)),
                      (b"52", b"20260102-09:30:00.000")]
    fields += factory.body(rng, msg_type)
    return assemble(factory.begin, fields), fields, factory


def _codec_one(rng: random.Random, result: TargetResult, reader: FrameReader, raw: bytes, good: bool, kind: str,
               base_fields: Fields, sentinel: bytes) -> None:
    """Decode ``raw`` alone, then frame [garbage] raw [fence] sentinel in random chunks; check the properties."""
    example = f"{kind}: {raw!r}"
    try:
        msg = decode(raw)
    except GarbledFrame:
        msg = None
        if good:
            result.record("mismatch", "a generated (valid) frame was judged garbled", example)
    except Exception as exc:  # noqa: BLE001 - the property under test: nothing but GarbledFrame leaves decode
        result.record("escape", f"decode raised {exception_site(exc)}", example)
        msg = None
    if msg is not None:
        _check_decoded(result, raw, msg, good, base_fields, example)
    stream = (garbage(rng) if rng.random() < 0.3 else b"") + raw
    if not good:
        stream += fence(raw, CODEC_MAX_BODY)
    stream += (garbage(rng) if rng.random() < 0.3 else b"") + sentinel
    frames: list[bytes] = []
    try:
        for piece in chunks(rng, stream):
            reader.feed(piece)
            frames.extend(reader)
    except Exception as exc:  # noqa: BLE001 - the FrameReader must never raise
        result.record("escape", f"FrameReader raised {exception_site(exc)}", example)
        reader.__init__(max_body_length=CODEC_MAX_BODY)
        return
    for frame in frames:
        if frame is sentinel or frame == sentinel or (good and frame == raw):
            continue
        try:
            other = decode(frame)
        except GarbledFrame:
            continue
        except Exception as exc:  # noqa: BLE001 - as above
            result.record("escape", f"decode raised {exception_site(exc)}", f"{kind}: frame {frame!r}")
            continue
        _check_decoded(result, frame, other, False, base_fields, f"{kind}: frame {frame!r}")
    if not frames or frames[-1] != sentinel:
        result.record("mismatch", "the good frame after a mutated one was not recovered", example)
    elif good and raw not in frames:
        result.record("mismatch", "a generated frame was not framed", example)
    if reader.buffered():
        result.record("mismatch", "bytes left in the reader after a complete frame", example)
        reader.__init__(max_body_length=CODEC_MAX_BODY)


def _check_decoded(result: TargetResult, raw: bytes, msg: FixMessage, good: bool, base_fields: Fields,
                   example: str) -> None:
    """A decoded frame: fast path == exact slow path; re-encoding is idempotent; a generated one round-trips."""
    try:
        slow = _split_slow(raw, DATA_FIELDS, _DATA_LENGTH_TAGS)  # the exact reference the fast path must match
    except GarbledFrame:
        result.record("mismatch", "decode accepted a frame the exact splitter calls garbled", example)
        return
    if slow != msg.fields:
        result.record("mismatch", "decode's fast path disagrees with the exact splitter", example)
        return
    again = encode(msg.fields[0][1], msg.fields[2][1], msg.fields[3:-1])
    try:
        redecoded = decode(again).fields
    except GarbledFrame as exc:
        result.record("mismatch", f"encode(decode(frame)) is garbled: {exc.reason[:40]}", example)
        return
    if redecoded[2:-1] != msg.fields[2:-1]:
        result.record("mismatch", "decode(encode(decode(frame))) differs from decode(frame)", example)
    if good:
        if again != raw:
            result.record("mismatch", "encode differs from the independent assembler", example)
        if [(b"%d" % t, v) for t, v in msg.fields[2:-1]] != base_fields:
            result.record("mismatch", "decoded fields differ from the generated ones", example)
