"""Canary of workarounds/eager_delivery.py: Faust's consumer loop is the one copied, and
a delivery started in place behaves as the same coroutine run in a task."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from pathlib import Path
from typing import Any

import pytest
from faust.transport.consumer import Consumer

from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.workarounds.eager_delivery import EagerDeliveryConsumer, start_in_place

# sha256 of faust-streaming 0.15.3's `Consumer._drain_messages` source. When it changes,
# compare the new loop with EagerDeliveryConsumer's copy (or drop the copy if upstream
# stopped racing every delivery in four tasks).
FAUST_DRAIN_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


def test_faust_s_consumer_loop_is_the_one_the_copy_follows() -> None:
    source = inspect.getsource(Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_DRAIN_SHA256


async def test_the_app_s_consumer_delivers_in_place(tmp_path: Path) -> None:
    settings = load_settings({}, partitions=1, data_dir=tmp_path, topic_prefix="unit.")
    app: Any = create_app(settings, load_rules(settings.rules_file)).app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    assert isinstance(app.consumer, EagerDeliveryConsumer)


async def test_a_delivery_that_does_not_wait_finishes_in_place() -> None:
    delivered: list[int] = []

    async def deliver() -> None:
        delivered.append(1)

    assert start_in_place(deliver()) is None
    assert delivered == [1]  # no turn of the event loop in between


async def test_a_delivery_that_waits_is_finished_by_a_task_with_its_result() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def deliver() -> str:
        steps.append("started")
        value = await gate
        await asyncio.sleep(0)  # a bare yield too
        steps.append(value)
        return value

    rest = start_in_place(deliver())
    assert rest is not None
    assert steps == ["started"]
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result("finished")
    assert await asyncio.wait_for(task, 5) == "finished"
    assert steps == ["started", "finished"]


async def test_cancelling_the_task_cancels_the_waiting_delivery() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def deliver() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    rest = start_in_place(deliver())
    assert rest is not None
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]
    assert gate.cancelled()


async def test_a_failing_delivery_raises_before_and_after_waiting() -> None:
    async def fails_at_once() -> None:
        raise ValueError("first step")

    with pytest.raises(ValueError, match="first step"):
        start_in_place(fails_at_once())

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("after waiting")

    rest = start_in_place(fails_later())
    assert rest is not None
    with pytest.raises(ValueError, match="after waiting"):
        await asyncio.ensure_future(rest)
