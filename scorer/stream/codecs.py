"""How core states become table values: their versioned flat record as JSON bytes.

The tables hold these bytes (the changelog record itself), not live objects: a tracked
lead costs about its record's size in memory, recovery stores the changelog's bytes as
they are, and a key is decoded when an agent touches it and it is not among the
recently used ones kept decoded (see state_cache.py). The record format is the core's
`to_record` / `from_record`, unchanged from when the tables held live objects (same
changelog bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class StateCodec(Generic[S]):
    """Encodes a core state as its record's JSON and decodes it back."""

    to_record: Callable[[S], Any]
    from_record: Callable[[Any], S]

    def encode(self, state: S) -> bytes:
        return orjson.dumps(self.to_record(state))

    def decode(self, raw: bytes) -> S:
        return self.from_record(orjson.loads(raw))


def _codecs() -> tuple[StateCodec[Any], StateCodec[Any], StateCodec[Any]]:
    from scorer.core.account import AccountState
    from scorer.core.identity import Visitor
    from scorer.core.lead_state import LeadState

    return (
        StateCodec(LeadState.to_record, LeadState.from_record),
        StateCodec(AccountState.to_record, AccountState.from_record),
        StateCodec(Visitor.to_record, Visitor.from_record),
    )


# The tables' codecs: the worker's (handlers.py) and the benchmark's changelog preload.
LEAD_CODEC, ACCOUNT_CODEC, VISITOR_CODEC = _codecs()
