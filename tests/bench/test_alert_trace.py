"""The latency phase's trace hook wraps the checkpoint without changing what it does."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.alert_trace import _trace_checkpoints
from scorer.stream.checkpointer import Checkpointer
from tests.unit.stream.test_state_cache import Event, Table, _cache


def test_a_traced_whole_checkpoint_still_writes_acknowledges_and_is_recorded() -> None:
    originals = Checkpointer.checkpoint, Checkpointer.checkpoint_in_slices
    records: list[dict[str, Any]] = []
    try:
        _trace_checkpoints(records.append)
        log: list[str] = []
        cache = _cache(Table(log))
        checkpoints = Checkpointer((cache,), interval_s=1.0)
        event = Event("e1", log)
        checkpoints.hold([event])  # type: ignore[list-item]
        event.ack()  # take_events' own ack: the checkpoint's release acknowledges it
        cache.put(b"a", 1, event)  # type: ignore[arg-type]
        checkpoints.finished([event])  # type: ignore[list-item]
        asyncio.run(checkpoints.checkpoint())
    finally:
        Checkpointer.checkpoint, Checkpointer.checkpoint_in_slices = originals  # type: ignore[method-assign]
    assert log == ["write a", "ack e1"]
    assert [(r["type"], r["keys"]) for r in records] == [("checkpoint", 1)]
