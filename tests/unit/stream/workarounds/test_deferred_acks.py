"""Canary of workarounds/deferred_acks.py: take_events on a real Faust stream.

Fails when take_events' own ack marks a held event safe to commit (Faust changed how it
acks a batch), or when the checkpoint's release does not.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from scorer.stream.workarounds.deferred_acks import hold_ack, release_ack


async def test_take_events_leaves_a_held_event_unacknowledged_until_released() -> None:
    app: Any = faust.App("canary", autodiscover=False)
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.flow_control.resume()
    channel: Any = app.channel()
    stream = channel.stream()  # before sending: it reads its own copy of the channel
    for n in range(4):
        await channel.send(value=f"v{n}".encode())
    batches: list[list[Any]] = []
    async for events in stream.take_events(2, within=0.05):
        for event in events:
            # What Faust's conductor does for each stream it delivers a consumed message
            # to (a channel's own sends start at zero).
            event.message.incref()
        batches.append(list(events))
        if len(batches) == 1:
            hold_ack(events[0])
        else:
            break  # asking for the second batch acknowledged the first one
    held, other = batches[0]
    assert other.message.acked, "take_events no longer acks a batch when the next is asked for"
    assert not held.message.acked, "take_events acked an event held for the checkpoint"
    release_ack(held)
    assert held.message.acked
