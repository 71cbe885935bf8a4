"""The bounded memory of event ids a lead has already applied.

Ids are kept in blocks: full blocks are frozensets (a lookup costs one hash probe, not a
scan of 128 strings) and the block being filled is a short tuple. With `limit` ids
configured (`explain.recent_event_ids`, default 128) and blocks of b = min(16, limit),
the last `limit` ids are always remembered and at most `limit + b - 1` are: the oldest
block is dropped whole when a new one fills up.
"""

from __future__ import annotations

from dataclasses import dataclass

from scorer.core.frozen import fast_init, fast_new

MAX_BLOCK = 16


@fast_init
@dataclass(frozen=True, slots=True)
class RecentIds:
    blocks: tuple[frozenset[str], ...] = ()
    current: tuple[str, ...] = ()

    def __contains__(self, event_id: object) -> bool:
        if event_id in self.current:
            return True
        for block in self.blocks:  # noqa: SIM110 - a plain loop is cheaper than any(...)
            if event_id in block:
                return True
        return False

    def add(self, event_id: str, limit: int) -> RecentIds:
        block = MAX_BLOCK if limit >= MAX_BLOCK else max(1, limit)
        current = (*self.current, event_id)
        if len(current) < block:
            return _new_ids(self.blocks, current)
        keep = -(-limit // block)  # ceil: enough full blocks to hold `limit` ids
        return _new_ids((*self.blocks, frozenset(current))[-keep:], ())

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks) + len(self.current)

    def to_record(self) -> dict[str, object]:
        return {"blocks": [sorted(b) for b in self.blocks], "current": list(self.current)}

    @classmethod
    def from_record(cls, raw: object) -> RecentIds:
        if not isinstance(raw, dict):
            raise ValueError("recent_ids must be an object with blocks and current")
        blocks = raw.get("blocks", [])
        current = raw.get("current", [])
        if not isinstance(blocks, list) or not isinstance(current, list):
            raise ValueError("recent_ids.blocks and .current must be lists")
        return cls(
            tuple(frozenset(str(i) for i in b) for b in blocks), tuple(str(i) for i in current)
        )


_new_ids = fast_new(RecentIds)  # one per scored event
NO_RECENT_IDS = RecentIds()
