"""Input partitions that stopped being fetched are noticed and fetched again (issue 4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from scorer.stream.stall_guard import StallGuard, describe, refetch


class TP(NamedTuple):
    topic: str
    partition: int


WEB = TP("leads.web-events.v1", 0)
EMAIL = TP("leads.email-events.v1", 0)


@dataclass
class FakeConsumer:
    """Faust's consumer as far as the guard looks at it."""

    highwaters: dict[TP, int]
    positions: dict[TP, int]
    _active_partitions: set[TP] = field(default_factory=set)
    _paused_partitions: set[TP] = field(default_factory=set)
    _buffered_partitions: set[TP] = field(default_factory=set)
    resumed: list[TP] = field(default_factory=list)

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


def test_refetch_puts_the_partition_back_unless_faust_paused_it() -> None:
    consumer = FakeConsumer({WEB: 100, EMAIL: 100}, {WEB: 40, EMAIL: 40})
    consumer._buffered_partitions.add(WEB)
    consumer._paused_partitions.add(EMAIL)
    assert "fetched=False paused=False buffer_full=True" in describe(consumer, WEB)
    refetch(consumer, WEB)
    refetch(consumer, EMAIL)
    assert consumer._active_partitions == {WEB}
    assert consumer._buffered_partitions == set()
    assert consumer.resumed == [WEB]
