"""Acknowledge a batch's events at the checkpoint, not when `take_events` says.

`Stream.take_events` acknowledges every event of a batch as soon as the consumer asks
for the next batch, whatever the stream's `enable_acks` (it turns acks off for the
batch and acks each event itself in a `finally`; `Stream.noack()` does not reach it),
and Faust offers no batching stream with manual acks. The scorer writes states once
per checkpoint, so a batch's events may be committed only after the checkpoint that
writes their states. Faust counts the streams still working on a message
(`Message.refcount`) and marks it safe to commit when the count reaches zero: holding
one more reference makes take_events' ack a decrement, and the checkpoint's `Event.ack`
the final one. The sensors' `on_message_out`, which take_events reports only for a
final ack, is reported then. The agents now take their batches with
`lean_batches.take_batches`, which acknowledges a batch the same way (when the next is
asked for); the hold works alike for both.

Upstream: faust-streaming #189 (noack() streams acked anyway) and PR #192 (a take
with manual acks, open); robinhood/faust #513 (manual acknowledgement for take).
Checked on faust-streaming 0.15.3; the canary
(tests/unit/stream/workarounds/test_deferred_acks.py) runs take_events on a real
stream and fails when an event held here is acknowledged by it anyway, or when a
released one is not.
"""

from __future__ import annotations

from typing import Any

from faust.types import EventT


def hold_ack(event: EventT[Any]) -> None:
    """Keep take_events' own ack from marking `event` safe to commit."""
    event.message.incref()


def release_ack(event: EventT[Any]) -> None:
    """The final ack of a held event: its offset may be committed from now on."""
    message = event.message
    if event.ack():
        event.app.sensors.on_message_out(message.tp, message.offset, message)
