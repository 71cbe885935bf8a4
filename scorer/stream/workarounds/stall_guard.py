"""Notice input partitions that stopped being fetched, say why, and fetch them again.

Faust consumers are known to stop fetching silently (faust issues #175 and #640). One
cause was found here: after a `kill -9` and a restart, records fetched at the end of the
table recovery were dropped while the client moved past them, so input partitions stood
still at the committed offset with records waiting (fixed in `recovery.py` here). Others
remain possible: Faust drops a partition from the set it fetches when the agent's buffer
is under pressure and adds it back when the buffer drains, and a partition that misses
the way back is never fetched again. This guard is the net for whatever is left.

So every few seconds the worker compares each input partition's read position with its
high watermark. A partition that has records waiting and has not moved for
`stall_after_s`, outside a rebalance, is logged with Faust's view of it (fetched, paused,
buffer-full) and put back in the fetched set; `scorer_stalled_partitions_total` counts it.
Putting back a partition that was only slow is harmless: Faust fetches it once more.

It reads and changes Faust's consumer (`_active_partitions`, `_paused_partitions`,
`_buffered_partitions`, `_read_offset`, `_committed_offset`, `_unacked_messages`, its
consumer thread) and aiokafka's (subscription state, fetcher). Checked on
faust-streaming 0.15.3 with aiokafka 0.14.0; the canaries in
tests/unit/stream/workarounds/test_canaries.py fail when any of them is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StallGuard:
    stall_after_s: float
    position_of: Callable[[Any, Any], int]
    _since: dict[Any, tuple[int, float]] = field(default_factory=dict)

    def stalled(self, consumer: Any, tps: set[Any], now: float) -> list[Any]:
        """Partitions of `tps` with records waiting and no progress for `stall_after_s`."""
        stalled = []
        for tp in tps:
            highwater = consumer.highwater(tp)
            position = self.position_of(consumer, tp)
            if highwater is None or position >= highwater:
                self._since.pop(tp, None)
                continue
            seen = self._since.get(tp)
            if seen is None or seen[0] != position:
                self._since[tp] = (position, now)
            elif now - seen[1] >= self.stall_after_s:
                stalled.append(tp)
                self._since[tp] = (position, now)  # give the repair time to work
        for tp in set(self._since) - tps:
            del self._since[tp]
        return stalled

    def forget(self) -> None:
        """After a rebalance positions restart: judge progress afresh."""
        self._since.clear()


def describe(consumer: Any, tp: Any, position: int) -> str:
    """Faust's view of a partition, for the log (private fields; read only)."""
    active: set[Any] = getattr(consumer, "_active_partitions", None) or set()
    paused: set[Any] = getattr(consumer, "_paused_partitions", set())
    buffered: set[Any] = getattr(consumer, "_buffered_partitions", set())
    return (
        f"{tp.topic}[{tp.partition}]: fetched={tp in active} paused={tp in paused} "
        f"buffer_full={tp in buffered} position={position} highwater={consumer.highwater(tp)}"
        f"{_client_view(consumer, tp)}"
    )


def _client_view(consumer: Any, tp: Any) -> str:
    """aiokafka's own view (private, read from another thread: best effort)."""
    try:
        client = consumer._thread._ensure_consumer()
        state = client._subscription.subscription.assignment.state_value(tp)
        fetcher = client._fetcher
        return (
            f"; client: position={state._position} status={state._status.name} "
            f"paused={state._paused} buffered_records={tp in fetcher._records} "
            f"pending_fetches={len(fetcher._pending_tasks)} waiters={len(fetcher._fetch_waiters)}"
        )
    except Exception as exc:
        return f"; client view unavailable ({type(exc).__name__})"


async def refetch(consumer: Any, tp: Any) -> None:
    """Fetch a partition again from where Faust is.

    Seen after a restart, before `recovery.py`: the client's position had reached the
    high watermark while Faust had delivered nothing past the committed offset, so the
    records in between had been fetched and dropped on the way to the agent and would
    never be fetched again. Seeking the client back to Faust's read offset fetches them
    again (the record at that offset may be delivered twice: the lead state's event-id
    window makes that harmless). A partition Faust paused is left alone.
    """
    if tp in getattr(consumer, "_paused_partitions", set()):
        return
    # Messages in flight or a full buffer mean the agent is still working through what
    # was fetched: fetching it again would only duplicate it.
    busy = bool(getattr(consumer, "_unacked_messages", ())) or tp in consumer._buffered_partitions
    consumer._buffered_partitions.discard(tp)
    consumer._get_active_partitions().add(tp)
    consumer.resume_partitions({tp})
    read = consumer._read_offset.get(tp)
    start = read if read is not None else consumer._committed_offset.get(tp)
    if start is None or busy:
        return
    client = consumer._thread._ensure_consumer()
    if client.assignment() and tp in client.assignment():
        state = client._subscription.subscription.assignment.state_value(tp)
        if state is not None and state._position is not None and state._position > start:

            async def seek_back() -> None:
                client.seek(tp, start)

            await consumer._thread.call_thread(seek_back)
