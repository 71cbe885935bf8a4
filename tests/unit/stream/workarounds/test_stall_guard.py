"""Input partitions that stopped being fetched are noticed and fetched again (issue 4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

from scorer.stream.workarounds.stall_guard import StallGuard, describe, refetch


class TP(NamedTuple):
    topic: str
    partition: int


WEB = TP("leads.web-events.v1", 0)
EMAIL = TP("leads.email-events.v1", 0)


@dataclass
class FakeClient:
    """aiokafka's consumer as far as the guard looks at it."""

    positions: dict[TP, int]
    seeks: list[tuple[TP, int]] = field(default_factory=list)

    def assignment(self) -> set[TP]:
        return set(self.positions)

    @property
    def _subscription(self) -> Any:
        def state_value(tp: TP) -> Any:
            return SimpleNamespace(_position=self.positions[tp])

        return SimpleNamespace(
            subscription=SimpleNamespace(assignment=SimpleNamespace(state_value=state_value))
        )

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset


@dataclass
class FakeThread:
    client: FakeClient

    def _ensure_consumer(self) -> FakeClient:
        return self.client

    async def call_thread(self, fun: Any) -> Any:
        return await fun()


@dataclass
class FakeConsumer:
    """Faust's consumer as far as the guard looks at it."""

    highwaters: dict[TP, int]
    positions: dict[TP, int]
    client_positions: dict[TP, int] = field(default_factory=dict)
    _read_offset: dict[TP, int] = field(default_factory=dict)
    _committed_offset: dict[TP, int] = field(default_factory=dict)
    _unacked_messages: set[object] = field(default_factory=set)
    _active_partitions: set[TP] = field(default_factory=set)
    _paused_partitions: set[TP] = field(default_factory=set)
    _buffered_partitions: set[TP] = field(default_factory=set)
    resumed: list[TP] = field(default_factory=list)

    @property
    def _thread(self) -> FakeThread:
        return FakeThread(FakeClient(self.client_positions))

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters.get(tp)

    def _get_active_partitions(self) -> set[TP]:
        return self._active_partitions

    def resume_partitions(self, tps: set[TP]) -> None:
        self.resumed.extend(tps)


def guard() -> StallGuard:
    return StallGuard(stall_after_s=15.0, position_of=lambda c, tp: c.positions[tp])


def test_a_partition_with_records_waiting_and_no_progress_is_stalled() -> None:
    consumer = FakeConsumer({WEB: 100, EMAIL: 50}, {WEB: 40, EMAIL: 50})
    g = guard()
    assert g.stalled(consumer, {WEB, EMAIL}, now=0.0) == []
    assert g.stalled(consumer, {WEB, EMAIL}, now=14.0) == []
    assert g.stalled(consumer, {WEB, EMAIL}, now=15.0) == [WEB]  # EMAIL is caught up
    # Judged afresh after a report: the repair gets time to work.
    assert g.stalled(consumer, {WEB, EMAIL}, now=20.0) == []


def test_progress_resets_the_clock() -> None:
    consumer = FakeConsumer({WEB: 100}, {WEB: 40})
    g = guard()
    g.stalled(consumer, {WEB}, now=0.0)
    consumer.positions[WEB] = 41
    assert g.stalled(consumer, {WEB}, now=15.0) == []
    assert g.stalled(consumer, {WEB}, now=29.0) == []
    assert g.stalled(consumer, {WEB}, now=30.0) == [WEB]


def test_a_rebalance_forgets_what_was_seen() -> None:
    consumer = FakeConsumer({WEB: 100}, {WEB: 40})
    g = guard()
    g.stalled(consumer, {WEB}, now=0.0)
    g.forget()
    assert g.stalled(consumer, {WEB}, now=15.0) == []


async def test_refetch_puts_the_partition_back_unless_faust_paused_it() -> None:
    consumer = FakeConsumer({WEB: 100, EMAIL: 100}, {WEB: 40, EMAIL: 40})
    consumer._buffered_partitions.add(WEB)
    consumer._paused_partitions.add(EMAIL)
    assert "fetched=False paused=False buffer_full=True" in describe(consumer, WEB, 40)
    await refetch(consumer, WEB)
    await refetch(consumer, EMAIL)
    assert consumer._active_partitions == {WEB}
    assert consumer._buffered_partitions == set()
    assert consumer.resumed == [WEB]


async def test_a_client_ahead_of_faust_is_sought_back_to_faust_s_read_offset() -> None:
    # The client fetched up to the high watermark; Faust delivered nothing past 40.
    consumer = FakeConsumer({WEB: 100}, {WEB: 40}, client_positions={WEB: 100})
    consumer._committed_offset[WEB] = 40
    await refetch(consumer, WEB)
    assert consumer.client_positions == {WEB: 40}


async def test_a_client_not_ahead_is_left_where_it_is() -> None:
    consumer = FakeConsumer({WEB: 100}, {WEB: 40}, client_positions={WEB: 41})
    consumer._read_offset[WEB] = 41
    await refetch(consumer, WEB)
    assert consumer.client_positions == {WEB: 41}


async def test_a_busy_agent_is_not_fed_the_same_records_again() -> None:
    consumer = FakeConsumer({WEB: 100}, {WEB: 40}, client_positions={WEB: 100})
    consumer._committed_offset[WEB] = 40
    consumer._unacked_messages.add(object())
    await refetch(consumer, WEB)
    assert consumer.client_positions == {WEB: 100}
