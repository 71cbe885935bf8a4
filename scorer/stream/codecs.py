"""How core states become table values: their versioned record, as JSON or compressed.

The tables hold these bytes (the changelog record itself), not live objects: a tracked
lead costs about its record's size in memory, recovery stores the changelog's bytes as
they are, and a key is decoded when an agent touches it and it is not among the
recently used ones kept decoded (see state_cache.py). The record is the core's
`to_record` / `from_record`.

Two encodings, told apart by the first byte, both always read:

- `{`: the record's JSON (orjson), as every version before compression wrote it.
- `0x01`: that JSON compressed with raw deflate (level 3) primed with the preset
  dictionary `record-dictionary-1.zdict` (bench/record_dictionary.py: records of the
  sample files, so keys, structure and the default rules' names cost a few bits).
  A lead record of the benchmark's history mix shrinks ~4x (2.6 KB of JSON to ~0.6 KB):
  less memory per tracked lead, fewer bytes to write and to recover.

SCORER_STATE_COMPRESSION=false writes JSON (for a rolling upgrade from a version that
reads only JSON: upgrade every worker first, then turn it on).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

S = TypeVar("S")

DICTIONARY_FILE = Path(__file__).resolve().parent / "record-dictionary-1.zdict"
JSON_FIRST = b"{"
DEFLATE_1 = b"\x01"
# Level 3: every record is compressed at every checkpoint that changed it. On 10 KB lead
# records (3,000 simulated leads) 103-139 µs against 194 µs at level 6, for records 12%
# bigger (2,564 B against 2,279 B); on 2.7 KB records 14 µs against 23 µs (level 1 is no
# faster there). Any level reads back the same way.
_LEVEL = 3
_DICTIONARY = DICTIONARY_FILE.read_bytes()
# Primed once; each record works on a copy (priming hashes the whole dictionary).
_COMPRESSOR = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY)
_DECOMPRESSOR = zlib.decompressobj(-15, _DICTIONARY)


def compress(raw: bytes) -> bytes:
    compressor = _COMPRESSOR.copy()
    return DEFLATE_1 + compressor.compress(raw) + compressor.flush()


def record_json(value: bytes) -> bytes:
    """The record's JSON, whichever encoding `value` is in."""
    first = value[:1]
    if first == JSON_FIRST:
        return value
    if first == DEFLATE_1:
        decompressor = _DECOMPRESSOR.copy()
        return decompressor.decompress(value[1:]) + decompressor.flush()
    raise ValueError(f"state record: unknown encoding (first byte {first!r})")


@dataclass(frozen=True, slots=True)
class StateCodec(Generic[S]):
    """Encodes a core state as its record (JSON, or compressed) and decodes either."""

    to_record: Callable[[S], Any]
    from_record: Callable[[Any], S]
    compressed: bool = False

    def encode(self, state: S) -> bytes:
        raw = orjson.dumps(self.to_record(state))
        return compress(raw) if self.compressed else raw

    def decode(self, raw: bytes) -> S:
        return self.from_record(orjson.loads(record_json(raw)))

    def writing(self, compressed: bool) -> StateCodec[S]:
        return dataclasses.replace(self, compressed=compressed)


def lead_next_due(value: bytes) -> float | None:
    """The next due time of the lead a table value holds, without decoding the state
    (the timer index reads every record of a partition: see timer_index.py)."""
    from scorer.core.lead_records import next_due_of_record

    return next_due_of_record(orjson.loads(record_json(value)))


def visitor_last_seen(value: bytes) -> float | None:
    """When the visitor a table value holds was last seen, without building its kept
    events (the visitor-expiry index reads every record of a partition: identity.py)."""
    last_seen = orjson.loads(record_json(value)).get("last_seen")
    return None if last_seen is None else float(str(last_seen))


def _codecs() -> tuple[StateCodec[Any], StateCodec[Any], StateCodec[Any]]:
    from scorer.core.account import AccountState
    from scorer.core.identity import Visitor
    from scorer.core.lead_state import LeadState

    return (
        StateCodec(LeadState.to_record, LeadState.from_record, compressed=True),
        StateCodec(AccountState.to_record, AccountState.from_record, compressed=True),
        StateCodec(Visitor.to_record, Visitor.from_record, compressed=True),
    )


# The tables' codecs (compressed, as SCORER_STATE_COMPRESSION defaults): the worker's
# (handlers.py) and the benchmark's changelog preload.
LEAD_CODEC, ACCOUNT_CODEC, VISITOR_CODEC = _codecs()
