"""How far the worker has read a partition: Faust keeps it, with no public accessor.

Faust's consumer tracks the last offset handed to an agent's stream (`_read_offset`;
the agent may not have handled it yet: it waits in the stream's buffer or in the batch
being scored) and the offset committed or started from (`_committed_offset`) per
partition; lag metrics, the backlog behind a lead partition and the stall guard need
them. No upstream issue asks for an accessor (none found); checked on faust-streaming
0.15.3. The canary (tests/unit/stream/workarounds/test_canaries.py) builds a real Faust
consumer and fails when either mapping is gone.
"""

from __future__ import annotations

from typing import Any


def consumed_up_to(consumer: Any, tp: Any) -> int:
    """The next offset this worker will read on `tp`: after its last read, or the
    committed offset it started from (Faust keeps both, with no public accessor)."""
    read = consumer._read_offset.get(tp)
    committed = consumer._committed_offset.get(tp)
    return max(read + 1 if read is not None else 0, committed or 0)


def committed_start(consumer: Any, tp: Any) -> int:
    """The offset committed on `tp`, or that this worker started from (0 when none)."""
    return consumer._committed_offset.get(tp) or 0
