"""The bounded memory of event ids a lead has already applied, as compact digests.

An id is remembered as its 8-byte BLAKE2b digest (`event_digest`), not as the id itself:
ids are producer input of up to 128 characters, a digest is 8 bytes in the changelog
record whatever the id. Two different ids share a digest with probability 2^-64 per pair,
so a new event is mistaken for one of the remembered ids with probability about
limit / 2^64 (below 1e-17 for the default 128): negligible next to at-least-once
delivery, and the cost is one dropped event, never a wrong score.

Digests are kept in blocks: full blocks are frozensets (a lookup costs one hash probe,
not a scan of 128 values) and the block being filled is a short tuple. With `limit` ids
configured (`explain.recent_event_ids`, default 128) and blocks of b = min(16, limit),
the last `limit` ids are always remembered and at most `limit + b - 1` are: the oldest
block is dropped whole when a new one fills up.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b

MAX_BLOCK = 16
DIGEST_BYTES = 8


def event_digest(event_id: str) -> bytes:
    """The 8-byte digest an event id is remembered by (the same in every process)."""
    return blake2b(event_id.encode(), digest_size=DIGEST_BYTES).digest()


# A frozen dataclass, not a NamedTuple: `in` and `len` mean remembered ids here, which
# would contradict a tuple's own membership and length.
@dataclass(frozen=True, slots=True)
class RecentIds:
    blocks: tuple[frozenset[bytes], ...] = ()
    current: tuple[bytes, ...] = ()

    def __contains__(self, event_id: object) -> bool:
        """Whether an event id (a str) or a digest (bytes) is remembered."""
        if isinstance(event_id, str):
            return self.has_digest(event_digest(event_id))
        return isinstance(event_id, bytes) and self.has_digest(event_id)

    def has_digest(self, digest: bytes) -> bool:
        """Whether a digest is remembered: what `screen` asks for every event, with the
        digest it already computed (no type test, no `in` dispatch)."""
        if digest in self.current:
            return True
        for block in self.blocks:  # noqa: SIM110 - a plain loop is cheaper than any(...)
            if digest in block:
                return True
        return False

    def add(self, event_id: str, limit: int) -> RecentIds:
        return self.add_digest(event_digest(event_id), limit)

    def add_digest(self, digest: bytes, limit: int) -> RecentIds:
        block = MAX_BLOCK if limit >= MAX_BLOCK else max(1, limit)
        current = (*self.current, digest)
        if len(current) < block:
            return RecentIds(self.blocks, current)
        keep = -(-limit // block)  # ceil: enough full blocks to hold `limit` ids
        return RecentIds((*self.blocks, frozenset(current))[-keep:], ())

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks) + len(self.current)

    @classmethod
    def from_ids(cls, blocks: list[list[str]], current: list[str]) -> RecentIds:
        """The memory of the given ids (as records before digests held them)."""
        return cls(
            tuple(frozenset(event_digest(str(i)) for i in b) for b in blocks),
            tuple(event_digest(str(i)) for i in current),
        )


NO_RECENT_IDS = RecentIds()
