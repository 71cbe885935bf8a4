"""Canaries: each fails when faust-streaming or aiokafka changes what a workaround relies on.

One section per module of scorer/stream/workarounds/ (test_recovery.py holds the
recovery's own). When one fails after an upgrade, read the module's docstring: adapt the
workaround, or delete it if upstream fixed the cause.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiokafka
import faust
import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.subscription_state import SubscriptionState
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.producer import ProducerBuffer

from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.workarounds.consumer_offsets import consumed_up_to
from scorer.stream.workarounds.fetch_wait import apply_fetch_max_wait
from scorer.stream.workarounds.producer_buffer import DrainingProducerBuffer
from scorer.stream.workarounds.recovery import SeekFirstRecovery


@pytest.fixture
async def faust_app(tmp_path: Path) -> Any:
    """The scorer's Faust app, finalized but not started (no broker needed)."""
    settings = load_settings({}, partitions=1, data_dir=tmp_path, topic_prefix="unit.")
    app: Any = create_app(settings, load_rules(settings.rules_file)).app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    return app


# -- consumer_offsets, stall_guard, recovery: Faust's consumer --------------------------

FAUST_CONSUMER_FIELDS = (
    "_read_offset", "_committed_offset", "_paused_partitions", "_buffered_partitions",
    "_unacked_messages", "_active_partitions",
)  # fmt: skip
FAUST_CONSUMER_METHODS = (
    "_get_active_partitions", "highwater", "assignment", "pause_partitions",
    "resume_partitions", "stop_flow", "resume_flow", "perform_seek",
)  # fmt: skip


async def test_faust_s_consumer_still_has_the_fields_the_workarounds_read(faust_app: Any) -> None:
    consumer = faust_app.consumer
    for name in FAUST_CONSUMER_FIELDS:
        assert hasattr(consumer, name), name
    for name in FAUST_CONSUMER_METHODS:
        assert callable(getattr(consumer, name, None)), name
    assert isinstance(consumer._thread, AIOKafkaConsumerThread)
    assert callable(consumer._thread._ensure_consumer)
    assert callable(consumer._thread.call_thread)
    assert callable(faust_app._fetcher.maybe_start)


async def test_the_table_manager_still_builds_its_recovery_lazily(faust_app: Any) -> None:
    # ScorerTableManager.recovery fills Faust's `_recovery` slot with SeekFirstRecovery.
    assert faust_app.tables._recovery is None
    assert isinstance(faust_app.tables.recovery, SeekFirstRecovery)


async def test_read_and_committed_offsets_are_still_what_faust_keeps(faust_app: Any) -> None:
    consumer = faust_app.consumer
    tp = faust.types.TP("unit.leads.web-events.v1", 0)
    assert consumed_up_to(consumer, tp) == 0
    consumer._committed_offset[tp] = 40
    assert consumed_up_to(consumer, tp) == 40
    consumer._read_offset[tp] = 41  # the last offset handed to an agent
    assert consumed_up_to(consumer, tp) == 42


# -- stall_guard: aiokafka's consumer -------------------------------------------------


async def test_aiokafka_s_partition_state_still_has_the_fields_the_guard_reads() -> None:
    tp = TopicPartition("t", 0)
    subscription = SubscriptionState()
    subscription.assign_from_user({tp})
    state = subscription.subscription.assignment.state_value(tp)
    state.reset_to(7)
    assert (state._position, state._status.name, state._paused) == (7, "CONSUMING", False)
    client = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    assert isinstance(client._subscription, SubscriptionState)
    assert client._fetcher is None  # set by start()
    init = inspect.getsource(Fetcher.__init__)
    for name in ("self._records =", "self._pending_tasks =", "self._fetch_waiters ="):
        assert name in init, name


# -- producer_buffer ------------------------------------------------------------------


def test_the_methods_the_draining_buffer_overrides_still_exist() -> None:
    assert callable(ProducerBuffer._send_pending)
    assert callable(faust.App._new_producer)
    # The background task sends every record through `_send_pending`.
    assert "self._send_pending" in inspect.getsource(ProducerBuffer)


async def test_the_app_s_producer_gets_the_draining_buffer(faust_app: Any) -> None:
    assert isinstance(faust_app.producer.buffer, DrainingProducerBuffer)


async def test_faust_s_own_flush_still_returns_with_a_record_in_hand() -> None:
    """When this fails, Faust's flush waits for the record in hand: the buffer can go."""
    sent: list[int] = []

    async def slow_publish(fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(0.25)  # longer than the 0.1 s Faust's flush waits
        sent.append(fut.number)

    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        channel = SimpleNamespace(publish_message=slow_publish)
        buffer.put(SimpleNamespace(number=1, message=SimpleNamespace(channel=channel)))  # type: ignore[arg-type]
        await asyncio.wait_for(buffer.flush(), timeout=5)
        assert sent == []
    finally:
        await buffer.stop()


# -- fetch_wait -----------------------------------------------------------------------


def test_faust_still_hard_codes_the_fetch_wait() -> None:
    source = inspect.getsource(AIOKafkaConsumerThread._create_worker_consumer)
    assert "fetch_max_wait_ms=1500" in source
    assert "fetch_max_wait_ms" in inspect.signature(aiokafka.AIOKafkaConsumer).parameters


@pytest.fixture
def restored_consumer_init() -> Iterator[None]:
    original = aiokafka.AIOKafkaConsumer.__init__
    yield
    aiokafka.AIOKafkaConsumer.__init__ = original  # type: ignore[method-assign]


async def test_the_fetch_wait_reaches_every_consumer(restored_consumer_init: None) -> None:
    apply_fetch_max_wait(20)
    apply_fetch_max_wait(30)  # once only: the first wrapping stays
    client = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=1500)
    assert client._fetch_max_wait_ms == 20
