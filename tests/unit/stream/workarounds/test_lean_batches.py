"""Canary of workarounds/lean_batches.py: the per-event steps copied from Faust's stream
iterator, run on a real Faust app's channel."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import AsyncIterator
from typing import Any

import faust
import pytest
from faust.streams import Stream
from faust.types.tuples import ConsumerMessage

from scorer.stream.workarounds.deferred_acks import hold_ack, release_ack
from scorer.stream.workarounds.lean_batches import take_batches

# sha256 of faust-streaming 0.15.3's sources whose per-event steps take_batches repeats:
# the stream iterator (skip, track, sensors) and `Stream.ack`. When one changes, compare.
FAUST_SOURCES_SHA256 = {
    "_py_aiter": "3a48ee257a65435b482d51edb74f2993a67867949b1ef89b49fea893769e0614",
    "ack": "32d7171a89b0931d806a87dc81dcba5673dd9702f8a6add8426e0e236b9e8fef",
}


@pytest.mark.parametrize("name", sorted(FAUST_SOURCES_SHA256))
def test_faust_s_stream_steps_are_the_ones_copied(name: str) -> None:
    source = inspect.getsource(getattr(Stream, name))
    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_SOURCES_SHA256[name]


@pytest.fixture
async def app() -> Any:
    app: Any = faust.App("canary-lean", autodiscover=False)
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.flow_control.resume()
    return app


async def _send(app: Any, channel: Any, values: list[bytes]) -> list[Any]:
    """Events on `channel` as the conductor delivers consumed messages (one reference
    for the one stream), each a message of the acking topic "in"."""
    events = []
    for value in values:
        message = ConsumerMessage(
            "in", 0, len(events), 0.0, 0, None, None, value, None,
            generation_id=app.consumer_generation_id,
        )  # fmt: skip
        message.incref()
        event = await channel.decode(message)
        await channel.put(event)
        events.append(event)
    return events


async def test_batches_track_acknowledge_and_end_as_faust_s_stream_does(app: Any) -> None:
    app.topics._acking_topics.add("in")
    stream = app.channel().stream()
    sent = await _send(app, stream.channel, [b"a", b"b", b"c", b"d"])
    batches: AsyncIterator[list[Any]] = take_batches(stream, max_events=3)
    first = await anext(batches)
    assert [e.value for e in first] == [b"a", b"b", b"c"]
    # Tracked: Faust waits for these before it gives their partitions up.
    assert all(e.message in app.consumer.unacked and e.message.tracked for e in first)
    assert not sent[3].message.tracked  # not taken yet
    hold_ack(first[0])  # the scorer's checkpoint holds its events
    second = await anext(batches)  # asking for it acknowledged the first batch
    assert [e.value for e in second] == [b"d"]
    assert first[1].message.acked
    assert first[2].message.acked
    assert not first[0].message.acked, "acknowledged an event held for the checkpoint"
    release_ack(first[0])
    assert first[0].message.acked
    await stream.channel.throw(StopAsyncIteration())
    with pytest.raises(StopAsyncIteration):
        await anext(batches)
    assert second[0].message.acked


async def test_an_event_of_an_older_generation_is_skipped_and_acknowledged(app: Any) -> None:
    stream = app.channel().stream()
    stale, _current = await _send(app, stream.channel, [b"stale", b"current"])
    stale.message.generation_id = app.consumer_generation_id - 1
    batch = await anext(take_batches(stream, max_events=10))
    assert [e.value for e in batch] == [b"current"]
    assert stale.message.acked


async def test_a_lone_event_goes_at_once_and_a_linger_collects_more(app: Any) -> None:
    stream = app.channel().stream()
    await _send(app, stream.channel, [b"lone"])
    batch = await asyncio.wait_for(anext(take_batches(stream, max_events=10)), 1.0)
    assert [e.value for e in batch] == [b"lone"]

    lingering = take_batches(stream, max_events=10, linger_s=0.2)
    await _send(app, stream.channel, [b"first"])
    taking = asyncio.ensure_future(anext(lingering))
    await asyncio.sleep(0.05)
    await _send(app, stream.channel, [b"later"])
    assert [e.value for e in await asyncio.wait_for(taking, 1.0)] == [b"first", b"later"]
