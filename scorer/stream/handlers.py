"""What the agents do with a batch of messages: decode, score with the core, store, emit.

Kept out of the agent bodies so they stay a few lines long and so every decision is made
by the pure core; this module only moves data between Kafka, the tables and the core.

A batch is handled in three phases, the way Kafka Streams' record cache coalesces:
1. score every message in order against the batch's own latest state per key (pure);
2. publish the batch's alerts and actions (the outputs that must not be lost or
   duplicated, see `ledger.py`): acknowledged by the broker before the checkpoint that
   writes the batch's states, while the agent goes on (batches in order, one in flight);
3. hand each key's final state to its state cache, and send the rest with `send_soon`:
   audit changes and the latest account signal per lead, each as one message per
   partition (see `_send_grouped`), and the read-model staging. Nothing else awaits I/O.
   The caches write each changed key to its table once per checkpoint, before the
   offsets of the events it covers are committed (see state_cache.py).
A lead batch goes through phases 2 and 3 after every FINISH_AFTER_EVENTS decoded events
too (between messages), so a batch of envelopes sends its outputs while it is read.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import faust
import orjson
from faust.types import EventT, Message

from scorer.contracts import topics as contract
from scorer.contracts.events import EVENT_BATCH_SCHEMA
from scorer.contracts.outputs import (
    account_signals_message,
    action_message,
    alert_message,
    event_score_changes,
    score_changes_message,
)
from scorer.contracts.topics import input_topics
from scorer.core.account import AccountState, apply_lead_signal, remove_lead
from scorer.core.actions import Action
from scorer.core.alerts import Alert
from scorer.core.events import Event
from scorer.core.explain import ScoreChange
from scorer.core.handoff_loop import fire_due, next_due
from scorer.core.identity import Visitor, is_anonymous, quiet
from scorer.core.lead import apply_event
from scorer.core.lead_reads import restated_signal
from scorer.core.lead_signal import LeadSignal
from scorer.core.lead_state import LeadState, LeadUpdate, Outcome
from scorer.core.rules import Rules
from scorer.serving.metrics import ScorerMetrics
from scorer.serving.read_model import RedisReadModel
from scorer.settings import Settings
from scorer.stream import envelope_routing, erasure, identity
from scorer.stream.admin import client_options
from scorer.stream.checkpointer import Checkpointer
from scorer.stream.codecs import (
    ACCOUNT_CODEC,
    LEAD_CODEC,
    VISITOR_CODEC,
    StateCodec,
    lead_next_due,
    visitor_last_seen,
)
from scorer.stream.dead_letters import Decoded, EventDecoder, Rejection, tick_rejection
from scorer.stream.kpis import record_kpis
from scorer.stream.ledger import AlertLedger
from scorer.stream.metric_children import child
from scorer.stream.partitioning import owner_partition
from scorer.stream.publisher import AckedPublisher, OutputRecord, PublishFailed
from scorer.stream.resync import ReadModelResync
from scorer.stream.state_cache import StateCache
from scorer.stream.store_options import table_options
from scorer.stream.timer_index import TimerIndexBuilder
from scorer.stream.timers import DueIndex
from scorer.stream.views import account_fields, is_hot, staged_lead
from scorer.stream.workarounds.bulk_changelog import BulkChangelogWriter

log = logging.getLogger(__name__)

_SOURCE_HEADER = "scorer.source-topic"
_MAX_RETRY_DELAY_S = 30.0
_PUBLISH_TIMEOUT_S = 15.0
_BACKLOG_IDLE_S = 2.0
_YIELD_AFTER_S = 0.05  # longest stretch of scoring without letting other tasks run
# A lead (or account) batch is finished (alerts published, states to the caches, outputs sent) after
# every message that brings its decoded events to this many: a batch of 500 envelopes
# holds up to 50,000 events, and nothing of it would go out for seconds otherwise.
FINISH_AFTER_EVENTS = 500
# Largest grouped output message (score changes, account signals): far below Kafka's 1 MB
# default message.max.bytes and aiokafka's max_request_size, whatever a batch holds.
MAX_GROUPED_BYTES = 256 * 1024

# Outcomes the core refuses to apply, and the dead-letter reason each one gets.
_DEAD_LETTER_OUTCOMES = {
    Outcome.TOO_LATE: "too_late",
    Outcome.TOO_FAR_IN_FUTURE: "future_timestamp",
    Outcome.INVALID_TRANSITION: "invalid_transition",
    Outcome.TOO_OLD: "too_old",
    Outcome.RATE_LIMITED: "rate_limited",
}


async def _nothing_to_flush() -> None:
    return None


def _observe_checkpoint(metrics: ScorerMetrics, records: int, seconds: float) -> None:
    metrics.checkpoint_records.inc(records)
    metrics.checkpoint_seconds.observe(seconds)


@dataclass(slots=True)
class Batch:
    """Phase-1 results of one batch: final states, alerts and the buffered outputs."""

    states: dict[bytes, Any] = field(default_factory=dict)
    last_event: dict[bytes, EventT[bytes]] = field(default_factory=dict)  # per key
    alerts: list[tuple[bytes, int, Alert]] = field(default_factory=list)
    actions: list[tuple[bytes, int, Action]] = field(default_factory=list)
    partitions: dict[bytes, int] = field(default_factory=dict)  # owner partition per key
    events: int = 0  # decoded events, ticks or signals taken in: see FINISH_AFTER_EVENTS
    changes: list[tuple[bytes, Event, tuple[ScoreChange, ...]]] = field(default_factory=list)
    signals: dict[str, LeadSignal] = field(default_factory=dict)  # latest per lead
    leads_to_stage: dict[str, LeadState] = field(default_factory=dict)
    hot_before: dict[str, bool] = field(default_factory=dict)  # per lead, before the batch
    accounts_to_stage: dict[str, AccountState] = field(default_factory=dict)


class _MessageScope(NamedTuple):
    """What every event of one input message is scored with."""

    source: str  # the input topic the events were first published to
    now: float  # the wall clock when the message is handled
    rules: Rules  # history rules for a visitor's history, else the worker's


@dataclass(frozen=True, slots=True)
class Output:
    """An alert or action to publish once: its id, its kind (a metric label), its record."""

    output_id: str
    kind: str
    record: OutputRecord


@dataclass(slots=True)
class ScorerContext:
    settings: Settings
    rules: Rules
    metrics: ScorerMetrics
    read_model: RedisReadModel
    clock: Callable[[], float]
    lead_events: faust.TopicT
    account_signals: faust.TopicT
    rekeyed_events: faust.TopicT
    timer_ticks: faust.TopicT
    actions: faust.TopicT
    handoff_alerts: faust.TopicT
    score_changes: faust.TopicT
    dead_letters: faust.TopicT
    erase_requests: faust.TopicT
    erasures: faust.TopicT
    # The tables hold encoded states; agents read and change them through these caches.
    lead_state_by_id: StateCache[LeadState]
    visitor_by_id: StateCache[Visitor]  # anonymous visitors (see identity.py)
    account_state_by_id: StateCache[AccountState]
    checkpoints: Checkpointer
    decoders: dict[str, EventDecoder]
    ledger: AlertLedger
    action_ledger: AlertLedger
    erasure_ledger: AlertLedger
    publisher: AckedPublisher
    due_index: DueIndex
    timer_index: TimerIndexBuilder[LeadState]  # builds `due_index` from the table, in slices
    visitor_expiry: DueIndex  # see identity.py
    visitor_expiry_index: TimerIndexBuilder[Visitor]  # builds `visitor_expiry`, in slices
    resync: ReadModelResync
    # Messages not yet consumed on a partition's input topics (set by the agents module).
    # Per input topic of a partition, the messages not consumed yet (only those waiting).
    backlog: Callable[[int], dict[str, int]] = lambda partition: {}
    # Waits until every changelog record handed to the producer is on the broker (set by
    # the agents module; see erasure.py).
    flush_changelog: Callable[[], Awaitable[None]] = field(default=_nothing_to_flush)
    event_time_by_partition: dict[int, float] = field(default_factory=dict)
    # The latest event time read per (input topic, partition): see `partition_clock`.
    event_time_by_input: dict[tuple[str, int], float] = field(default_factory=dict)
    scored_at_by_partition: dict[int, float] = field(default_factory=dict)  # wall clock
    # The offset after the last message the lead agent handled, per (topic, partition).
    handled_up_to: dict[tuple[str, int], int] = field(default_factory=dict)

    @classmethod
    def declare(
        cls,
        app: faust.App,
        settings: Settings,
        rules: Rules,
        metrics: ScorerMetrics,
        read_model: RedisReadModel,
        clock: Callable[[], float],
    ) -> ScorerContext:
        def topic(name: str) -> faust.TopicT:
            return app.topic(settings.topic(name), internal=False)

        def table(name: str, codec: StateCodec[Any]) -> StateCache[Any]:
            # use_partitioner: a key's changelog partition is murmur2(key), the partition
            # that owns the key (see partitioning.py), whichever event of a batch wrote it.
            # Values are the changelog records' bytes ("raw"), decoded by the cache.
            faust_table = app.Table(
                name, default=None, key_type=bytes, value_type=bytes,
                partitions=settings.partitions, use_partitioner=True,
                options=table_options(settings),
            )  # fmt: skip
            # Checkpoints write the table in bulk (workarounds/bulk_changelog.py).
            return StateCache(
                faust_table, codec.writing(settings.state_compression), settings.partitions,
                settings.state_cache_keys, lazy_keys=settings.store.startswith("rocksdb"),
                writer=BulkChangelogWriter(faust_table, settings.partitions),
            )  # fmt: skip

        inputs = input_topics()
        rekeyed = settings.topic(contract.REKEYED_EVENTS)
        ticks = settings.topic(contract.TIMER_TICKS)
        erase = settings.topic(contract.ERASE_REQUESTS)
        links = settings.topic(contract.IDENTITY_LINKS)
        lead_state_by_id: StateCache[LeadState] = table("lead-state", LEAD_CODEC)
        account_state_by_id: StateCache[AccountState] = table("account-state", ACCOUNT_CODEC)
        visitor_by_id: StateCache[Visitor] = table("visitor-state", VISITOR_CODEC)
        due_index, visitor_expiry = DueIndex(), DueIndex()
        lookback_s = rules.identity.lookback_s

        def visitor_expires_at(last_seen: float | None) -> float | None:
            return None if last_seen is None else last_seen + lookback_s

        return cls(
            settings=settings,
            rules=rules,
            metrics=metrics,
            read_model=read_model,
            clock=clock,
            lead_events=app.topic(
                *(settings.topic(s.name) for s in inputs), rekeyed, ticks, erase, links
            ),
            erase_requests=app.topic(erase),
            erasures=topic(contract.ERASURES),
            rekeyed_events=app.topic(rekeyed),
            timer_ticks=app.topic(ticks),
            actions=topic(contract.ACTIONS),
            account_signals=topic(contract.ACCOUNT_SIGNALS),
            handoff_alerts=topic(contract.HANDOFF_ALERTS),
            score_changes=topic(contract.SCORE_CHANGES),
            dead_letters=topic(contract.DEAD_LETTERS),
            lead_state_by_id=lead_state_by_id,
            account_state_by_id=account_state_by_id,
            visitor_by_id=visitor_by_id,
            checkpoints=Checkpointer(
                (lead_state_by_id, account_state_by_id, visitor_by_id),
                settings.checkpoint_interval_s,
                on_checkpoint=lambda keys, events, seconds: _observe_checkpoint(
                    metrics, keys, seconds
                ),
            ),
            decoders={
                settings.topic(s.name): EventDecoder(s, settings.max_event_bytes) for s in inputs
            },
            ledger=AlertLedger(settings.topic(contract.HANDOFF_ALERTS), client_options(settings)),
            action_ledger=AlertLedger(
                settings.topic(contract.ACTIONS), client_options(settings), "action_id", "action:"
            ),
            erasure_ledger=AlertLedger(
                settings.topic(contract.ERASURES), client_options(settings), "erasure_id", "-"
            ),
            due_index=due_index,
            timer_index=TimerIndexBuilder(
                index=due_index,
                states=lead_state_by_id,
                due_of_value=lead_next_due,
                due_of_state=next_due,
                slice_s=_YIELD_AFTER_S,
            ),
            visitor_expiry=visitor_expiry,
            visitor_expiry_index=TimerIndexBuilder(
                index=visitor_expiry,
                states=visitor_by_id,
                due_of_value=lambda raw: visitor_expires_at(visitor_last_seen(raw)),
                due_of_state=lambda visitor: visitor_expires_at(visitor.last_seen),
                slice_s=_YIELD_AFTER_S,
                what="visitor expiry",
            ),
            publisher=AckedPublisher(
                client_options(settings), settings.kafka_max_batch_bytes, _PUBLISH_TIMEOUT_S
            ),
            resync=ReadModelResync(
                lead_state_by_id,
                account_state_by_id,
                rules,
                read_model,
                settings.partitions,
                clock,
            ),
        )

    # -- batches -------------------------------------------------------------------------

    async def handle_lead_batch(self, events: Iterable[EventT[bytes]]) -> None:
        batch, pending = Batch(), list[EventT[bytes]]()
        ticks = self.timer_ticks.get_topic_name()
        yielded_at = time.perf_counter()
        for event in events:
            if time.perf_counter() - yielded_at > _YIELD_AFTER_S:
                # A batch of envelopes can hold 50,000 events: let the worker's web
                # answers (/ready, /metrics) and timers in now and then. The batch's
                # states stay in `batch` until phase 3, as across its other awaits.
                await asyncio.sleep(0)
                yielded_at = time.perf_counter()
            if self._is_erase_request(event.message):
                # An erasure is a batch of its own, in order: what came before it is
                # stored and published first, what comes after it starts afresh.
                await self._finish_or_dead_letter(batch, self.lead_state_by_id, pending)
                batch, pending = Batch(), list[EventT[bytes]]()
                try:
                    await erasure.erase_lead(self, event)
                except Exception as exc:
                    self._record_failed(event, exc)
                self._handled(event.message)
                continue
            if self._is_identity_link(event.message):
                # The same for an identity link: it moves a visitor's history, acknowledged.
                await self._finish_or_dead_letter(batch, self.lead_state_by_id, pending)
                batch, pending = Batch(), list[EventT[bytes]]()
                try:
                    await identity.handle_link(self, event)
                except Exception as exc:
                    self._record_failed(event, exc)
                self._handled(event.message)
                continue
            pending.append(event)
            with self._guard(event, batch):
                if event.message.topic == ticks:
                    self._tick(event, batch)
                else:
                    self._score_lead_message(event, batch)
            self._handled(event.message)
            if batch.events >= FINISH_AFTER_EVENTS:
                # Finished between messages, like before an erasure: the batch's events
                # stay held until the checkpoint after the whole batch (agents.py), so
                # an early finish only makes its outputs and states go out sooner.
                await self._finish_or_dead_letter(batch, self.lead_state_by_id, pending)
                batch, pending = Batch(), list[EventT[bytes]]()
        await self._finish_or_dead_letter(batch, self.lead_state_by_id, pending)

    def _handled(self, message: Message) -> None:
        # After the message, not before: while it is scored its topic still waits, so its
        # own partition's clock cannot jump to the wall clock ahead of it.
        self.handled_up_to[(message.topic, message.partition)] = message.offset + 1

    async def handle_account_batch(self, events: Iterable[EventT[bytes]]) -> None:
        batch, pending = Batch(), list[EventT[bytes]]()
        yielded_at = time.perf_counter()
        for event in events:
            if time.perf_counter() - yielded_at > _YIELD_AFTER_S:
                # A batch of signal envelopes can hold 250,000 signals (as for leads).
                await asyncio.sleep(0)
                yielded_at = time.perf_counter()
            pending.append(event)
            with self._guard(event, batch):
                for key in self._fold_account_message(event.message, batch):
                    batch.last_event[key] = event
            if batch.events >= FINISH_AFTER_EVENTS:
                # As for lead batches: the events stay held until the checkpoint after
                # the whole batch (agents.py); the finish only sends outputs sooner.
                await self._finish_or_dead_letter(batch, self.account_state_by_id, pending)
                batch, pending = Batch(), list[EventT[bytes]]()
        await self._finish_or_dead_letter(batch, self.account_state_by_id, pending)

    @contextmanager
    def _guard(self, event: EventT[bytes], batch: Batch) -> Iterator[None]:
        """Handle one record; whatever it raises, dead-letter it whole and go on.

        The one guard around every record of every agent, whatever the failure (a record
        that is not ours, a bug in a rule, a broken internal message): the agents'
        batches (`take_batches`, as Faust's take_events) acknowledge a batch in a
        `finally`, so an exception escaping the
        batch would lose every event in it, and re-raising would crash the worker on the
        same record after every restart. What the record changed in the batch before it
        failed stays (a replay of the dead letter is deduplicated by event id).
        """
        try:
            yield
        except Exception as exc:
            self._record_failed(event, exc)
            # A state the record changed needs an event of its key to be written with.
            for key in batch.states.keys() - batch.last_event.keys():
                batch.last_event[key] = event

    def _record_failed(self, event: EventT[bytes], exc: Exception) -> None:
        # The class and the code location only: an exception's message can quote input.
        log.error(
            "a record of %s[%d] failed (%s at %s); dead-lettered, the batch goes on",
            event.message.topic, event.message.partition, type(exc).__name__, _where(exc),
        )  # fmt: skip
        self.dead_letter(
            event.message, Rejection("internal_error", type(exc).__name__, type(exc).__name__)
        )

    def _is_erase_request(self, message: Message) -> bool:
        """Whether the record is an erase request (outside the guard, so it never raises:
        a record it cannot judge is judged, and dead-lettered, by the guarded path)."""
        erase = self.erase_requests.get_topic_name()
        try:
            if message.topic == self.rekeyed_events.get_topic_name():
                return self._source_topic(message) == erase
        except Exception:
            return False
        return bool(message.topic == erase)

    def _is_identity_link(self, message: Message) -> bool:
        try:
            rekeyed = message.topic == self.rekeyed_events.get_topic_name()
            return identity.is_link(self, message, self._source_topic(message) if rekeyed else None)
        except Exception:
            return False

    async def _finish_or_dead_letter(
        self, batch: Batch, cache: StateCache[Any], events: Sequence[EventT[bytes]]
    ) -> None:
        """Publish and store a batch; if that fails, dead-letter the batch's records.

        Phase 2 and 3 do not raise by design (publishing retries until acknowledged);
        this is the net under that promise, so that a failure there costs no event.
        """
        try:
            await self._finish(batch, cache)
        except Exception as exc:
            ticks = self.timer_ticks.get_topic_name()
            records = [e for e in events if e.message.topic != ticks]
            log.error(
                "storing a batch failed (%s at %s); its %d records are dead-lettered",
                type(exc).__name__, _where(exc), len(records),
            )  # fmt: skip
            rejection = Rejection("batch_error", type(exc).__name__, type(exc).__name__)
            for event in records:
                self.dead_letter(event.message, rejection)

    async def _finish(self, batch: Batch, cache: StateCache[Any]) -> None:
        alerts = self._alert_outputs(batch.alerts) if batch.alerts else []
        actions = self._action_outputs(batch.actions) if batch.actions else []
        if alerts or actions:
            # Acknowledged before the checkpoint that writes the states below, not
            # before the next batch is scored (see Checkpointer.publish_then).
            await self.checkpoints.publish_then(self._publish_outputs(alerts, actions))
        for key, state in batch.states.items():
            # Written as the key's own last event (on its owner partition): a store may
            # shard by the event's partition (RocksDB keeps one database per partition).
            cache.put(key, state, batch.last_event[key])
            if key in batch.partitions:
                self.due_index.set(batch.partitions[key], key, next_due(state))
        if batch.changes:
            self._send_grouped(
                self.score_changes,
                (
                    (key, event_score_changes(event.lead_id, event.event_id, changes))
                    for key, event, changes in batch.changes
                ),
                lambda entries: score_changes_message(self.rules.version, entries),
            )
            self.metrics.score_changes.inc(sum(len(c) for _, _, c in batch.changes))
        if batch.signals:
            self._send_grouped(
                self.account_signals,
                ((s.account_id.encode(), s.to_record()) for s in batch.signals.values()),
                account_signals_message,
            )
        now = self.clock()
        for lead_id, lead in batch.leads_to_stage.items():
            was_hot = batch.hot_before.get(lead_id, True)
            staged = staged_lead(lead, self.rules, now, was_hot)
            if staged.hot and not was_hot:
                self.metrics.leads_became_hot.inc()
            self.read_model.stage_lead(lead_id, staged)
        for account_id, account in batch.accounts_to_stage.items():
            self.read_model.stage_account(account_id, account_fields(account, self.rules, now))

    def _send_grouped(
        self,
        topic: faust.TopicT,
        entries: Iterable[tuple[bytes, dict[str, object]]],
        envelope: Callable[[list[dict[str, object]]], dict[str, object]],
    ) -> None:
        """Send (key, record) entries as one message per owner partition, in order.

        Each Kafka message costs Faust and aiokafka far more than its bytes (a future, a
        buffer slot, a record in a batch), and a batch's entries are mostly for distinct
        keys, so grouping by key alone saves little. Grouping by the keys' owner
        partition keeps what keying by entity gave: every entry lands on the partition
        that owns its key (explicit partition=, and the first entry's key hashes there
        too), in the order it was produced.
        """
        groups: dict[int, tuple[bytes, list[bytes]]] = {}
        partitions = self.settings.partitions
        for key, record in entries:
            partition = owner_partition(key, partitions)
            group = groups.get(partition)
            if group is None:
                groups[partition] = (key, [orjson.dumps(record)])
            else:
                group[1].append(orjson.dumps(record))
        # The entries are spliced into the envelope's list (its last field) so that a big
        # group can be split: a message must stay well under Kafka's 1 MB default limit.
        frame = orjson.dumps(envelope([]))
        if not frame.endswith(b"[]}"):
            raise ValueError("the envelope's list must be its last field")
        head = frame[:-2]
        for partition, (first_key, parts) in groups.items():
            chunk: list[bytes] = []
            size = len(frame)
            for part in parts:
                if chunk and size + len(part) + 1 > MAX_GROUPED_BYTES:
                    self._send_chunk(topic, first_key, partition, head, chunk)
                    chunk, size = [], len(frame)
                chunk.append(part)
                size += len(part) + 1
            self._send_chunk(topic, first_key, partition, head, chunk)

    @staticmethod
    def _send_chunk(
        topic: faust.TopicT, key: bytes, partition: int, head: bytes, parts: list[bytes]
    ) -> None:
        value = b"".join((head, b",".join(parts), b"]}"))
        topic.send_soon(key=key, value=value, partition=partition)

    def _alert_outputs(self, alerts: list[tuple[bytes, int, Alert]]) -> list[Output]:
        """The batch's alerts as records for their owner partitions."""
        now = self.clock()
        topic = self.handoff_alerts.get_topic_name()
        return [
            Output(
                alert.alert_id,
                alert.kind,
                OutputRecord(topic, partition, key, orjson.dumps(alert_message(alert, now))),
            )
            for key, partition, alert in alerts
        ]

    def _action_outputs(self, actions: list[tuple[bytes, int, Action]]) -> list[Output]:
        """Like alerts: acknowledged before the state that records them, once per id."""
        now = self.clock()
        topic = self.actions.get_topic_name()
        return [
            Output(
                action.action_id,
                action.kind,
                OutputRecord(topic, partition, key, orjson.dumps(action_message(action, now))),
            )
            for key, partition, action in actions
        ]

    async def _publish_outputs(self, alerts: list[Output], actions: list[Output]) -> None:
        """Publish and wait for the broker's acknowledgement, skipping published ids.

        The acknowledgement comes before the state that records a crossing is written:
        after a crash either the state is older (the event is scored again, the same
        alert id comes out and the ledger drops it) or the alert is already out.
        """
        if alerts:
            metrics = self.metrics
            await self.publish_acked(self.ledger, alerts, metrics.alerts, metrics.alerts_suppressed)
        if actions:
            await self.publish_acked(
                self.action_ledger, actions, self.metrics.actions, self.metrics.actions_suppressed
            )

    async def publish_acked(
        self, ledger: AlertLedger, outputs: list[Output], published: Any, suppressed: Any
    ) -> None:
        """Send what the ledger has not seen; retry until the broker acknowledges it.

        Never raises: an exception here would make Faust acknowledge the batch's events
        (the agents' batches ack in a `finally`) with their state unwritten, losing them. So a
        broker that does not answer stalls the partition, loudly, until it does.
        """
        attempt = 0
        while True:
            fresh = []
            for output in outputs:
                partition = output.record.partition
                await ledger.ensure(partition)
                if ledger.seen(partition, output.output_id):
                    if attempt == 0:
                        suppressed.inc()
                    continue
                fresh.append(output)
            if not fresh:
                return
            try:
                await self.publisher.send_all([o.record for o in fresh])
            except PublishFailed as exc:
                attempt += 1
                self.metrics.publish_retries.inc()
                delay = min(_MAX_RETRY_DELAY_S, 0.5 * 2**attempt)
                log.warning(
                    "hand-off outputs not acknowledged (%s); retry %d in %.0f s",
                    exc, attempt, delay,
                )  # fmt: skip
                # Some may have landed: read those partitions' ledgers again before resending.
                ledger.forget({o.record.partition for o in fresh})
                await asyncio.sleep(delay)
                continue
            for output in fresh:
                ledger.record(output.record.partition, output.output_id)
                published.labels(output.kind).inc()
            return

    # -- leads ---------------------------------------------------------------------------

    def _score_lead_message(self, event: EventT[bytes], batch: Batch) -> None:
        """Score one message (a single event or an envelope); events of leads another
        partition owns are forwarded there (see envelope_routing.py)."""
        message = event.message
        source = self._source_topic(message)
        if isinstance(source, Rejection):
            self.dead_letter(message, source)
            return
        items = self.decoders[source].decode_message(message.value)
        batch.events += len(items)
        items = envelope_routing.keep_owned(self, message, source, items)
        limited: list[Decoded] = []
        # Read once per message, not per event: an envelope's events are scored together.
        scope = _MessageScope(source, self.clock(), identity.rules_for(self, message))
        for item in items:
            if isinstance(item.result, Rejection):
                self.dead_letter(message, item.result, item)
                continue
            if is_anonymous(item.result.lead_id) and identity.route_visitor_event(
                self, event, item.result
            ):
                continue  # a linked visitor's event: forwarded to its lead
            changed = self._score_event(event, item.result, item, scope, batch, limited)
            if changed is not None:
                batch.last_event[changed] = event
        if limited:
            self._dead_letter_limited(message, limited)

    def _score_event(
        self,
        event: EventT[bytes],
        decoded: Event,
        item: Decoded,
        scope: _MessageScope,
        batch: Batch,
        limited: list[Decoded],
    ) -> bytes | None:
        """Score one decoded event into the batch; the key whose state it changed, if any.
        A rate-limited event of an envelope joins `limited` (one dead letter per message)."""
        started = time.perf_counter()
        message = event.message
        key = decoded.lead_id.encode()
        now = scope.now
        if key in batch.states:
            state = batch.states[key]
        else:
            state = self.lead_state_by_id.get(key)
            if decoded.lead_id not in batch.hot_before:  # (once per lead: a flood's refused
                # events leave no state in the batch and come here every time)
                batch.hot_before[decoded.lead_id] = is_hot(state, self.rules)
        partition = message.partition
        if decoded.occurred_at <= now + self.rules.timing.future_skew_s:
            # An event the core refuses as too far in the future must not move the
            # backlog's clock (it would fire every timer of the partition up to its date).
            seen = self.event_time_by_partition.get(partition, decoded.occurred_at)
            self.event_time_by_partition[partition] = max(seen, decoded.occurred_at)
            where = (message.topic, partition)
            seen = self.event_time_by_input.get(where, decoded.occurred_at)
            self.event_time_by_input[where] = max(seen, decoded.occurred_at)
        self.scored_at_by_partition[partition] = now
        if (
            state is not None
            and (due := next_due(state)) is not None
            # The partition clock is never past `now`, and reading it asks the consumer
            # for its backlog (costly): a timer not due by `now` is not due by it either.
            and due <= now
            and due <= (clock := self.partition_clock(partition, now))
        ):
            # Timers due before this event fire first, as in the offline replay, so the
            # event is judged against the state the timers left (e.g. recycled, cold).
            fired = fire_due(state, self.rules, clock)
            self._absorb(key, message.partition, state, fired, batch)
            batch.last_event[key] = event
            state = fired.state
        try:
            update = apply_event(state, decoded, scope.rules, now)
        except Exception as exc:
            # Faust would ack and skip an event whose handler raises: route it instead.
            log.exception("scoring failed for an event of %s", message.topic)
            self.dead_letter(
                message, Rejection("scoring_error", type(exc).__name__, "ScoringError"), item
            )
            return None
        if update.outcome is Outcome.RATE_LIMITED and item.index is not None:
            limited.append(item)
            return None
        reason = _DEAD_LETTER_OUTCOMES.get(update.outcome)
        if reason is not None:
            self.dead_letter(message, Rejection(reason, update.reason or reason, "Rejected"), item)
            return None
        child(self.metrics.events, scope.source, update.outcome.value).inc()
        self.metrics.processing_seconds.observe(time.perf_counter() - started)
        self.metrics.event_lag_seconds.observe(max(0.0, now - decoded.occurred_at))
        if update.outcome is Outcome.DUPLICATE:
            self._restate(key, update.state, decoded, batch)
            return None
        self._absorb(key, message.partition, state, update, batch)
        if update.changes:
            batch.changes.append((key, decoded, update.changes))
        return key

    def _absorb(
        self, key: bytes, partition: int, before: LeadState | None, update: LeadUpdate, batch: Batch
    ) -> None:
        """Take an applied update (of an event or of due timers) into the batch."""
        update = quiet(update)  # an anonymous lead: no alert, action or account signal
        batch.states[key] = update.state
        batch.partitions[key] = partition
        batch.alerts.extend((key, partition, alert) for alert in update.alerts)
        batch.actions.extend((key, partition, action) for action in update.actions)
        if update.account_signal is not None:
            batch.signals[update.account_signal.lead_id] = update.account_signal
        batch.leads_to_stage[update.state.lead_id] = update.state
        record_kpis(self.metrics, before, update, self.rules)

    def partition_clock(self, partition: int, now: float) -> float:
        """The time timers of a partition fire at: the wall clock when the partition is
        caught up, else the event time it has reached.

        Catching up after downtime, the backlog holds the answers to deadlines that passed
        meanwhile (sales accepted the MQL an hour after the hand-off, while the worker was
        down); firing at the wall clock would escalate every one of them before reading
        the answer. So a lagging partition's deadlines fire in event time, as the offline
        replay does, and switch to the wall clock once the backlog is read.
        """
        idle = now - self.scored_at_by_partition.get(partition, 0.0) > _BACKLOG_IDLE_S
        if idle:
            # A partition that reports a backlog but scores nothing is not catching up (an
            # end offset can be stale); its clock must not stand still.
            return now
        waiting = self.backlog(partition)
        if not waiting:
            return now
        # The input topics are read independently: the backlog has reached only the
        # event time every topic still waiting has reached (the minimum over inputs, as
        # stream processors take it), so a topic read ahead (all the feedback first)
        # does not fire deadlines and held feedback whose events another topic holds.
        reached = min(now, self.event_time_by_partition.get(partition, now))
        for topic in waiting:
            seen = self.event_time_by_input.get((topic, partition))
            if seen is None:
                return float("-inf")  # not read at all yet: nothing is due
            reached = min(reached, seen)
        return reached

    def _tick(self, event: EventT[bytes], batch: Batch) -> None:
        message = event.message
        batch.events += 1
        rejection = tick_rejection(message.value, message.partition)
        if rejection is not None:
            self.dead_letter(message, rejection)
            return
        self._fire_due_timers(message.partition, batch, event)
        identity.expire_visitors(self, message.partition, event, batch.states.keys())

    def _fire_due_timers(self, partition: int, batch: Batch, event: EventT[bytes]) -> None:
        """A tick for `partition`: fire what is due there, as the partition's owner."""
        self.timer_index.advance(partition)  # the index is built in slices from here on
        now = self.partition_clock(partition, self.clock())
        for key in self.due_index.pop_due(partition, now):
            state = batch.states[key] if key in batch.states else self.lead_state_by_id.get(key)
            if state is None:
                continue
            update = fire_due(state, self.rules, now)
            if update.state is state:  # woken early: nothing due yet (see DueIndex)
                self.due_index.set(partition, key, next_due(state))
                continue
            batch.hot_before.setdefault(state.lead_id, is_hot(state, self.rules))
            batch.last_event[key] = event
            self._absorb(key, partition, state, update, batch)
        self.metrics.timers_pending.set(self.due_index.pending())

    def _restate(self, key: bytes, state: LeadState, event: Event, batch: Batch) -> None:
        """Publish again what a duplicate event derived (all idempotent downstream).

        A duplicate after a crash can be an event whose state was persisted while its
        buffered outputs were lost; re-publishing them is what keeps the audit stream,
        the account and the read model whole (at-least-once, deduplicable by id).
        """
        restated = tuple(c for c in state.changes if c.event_id == event.event_id)
        if restated:
            batch.changes.append((key, event, restated))
        signal = None if is_anonymous(state.lead_id) else restated_signal(state, event)
        if signal is not None:
            batch.signals.setdefault(signal.lead_id, signal)
        batch.leads_to_stage.setdefault(state.lead_id, state)

    def _source_topic(self, message: Message) -> str | Rejection:
        """The input topic an event was first published to (re-keyed ones say it)."""
        if message.topic != self.rekeyed_events.get_topic_name():
            return message.topic
        headers: Any = message.headers
        pairs = headers.items() if isinstance(headers, dict) else headers or ()
        for name, value in pairs:
            if name != _SOURCE_HEADER:
                continue
            if not value:
                return Rejection("bad_header", f"{_SOURCE_HEADER}: empty", "ValueError")
            try:
                source = bytes(value).decode()
            except UnicodeDecodeError:
                return Rejection("bad_header", f"{_SOURCE_HEADER}: not UTF-8", "UnicodeDecodeError")
            if source in self.decoders or source in (
                self.erase_requests.get_topic_name(),
                self.settings.topic(contract.IDENTITY_LINKS),
            ):
                return source
            return Rejection(
                "bad_header", f"{_SOURCE_HEADER}: not an input topic of this scorer", "ValueError"
            )
        return Rejection("bad_header", f"{_SOURCE_HEADER}: header missing", "KeyError")

    # -- accounts ------------------------------------------------------------------------

    def _fold_account_message(self, message: Message, batch: Batch) -> list[bytes]:
        """Fold every signal of a message; the keys whose state changed.

        A message is a `lead_signals` envelope (one lead batch's signals for accounts of
        this partition) or, from workers before the envelope, one `lead_signal`; a
        rolling upgrade has both on the topic. Signals fold in message order, so each
        account sees its leads' signals in the order they were produced.
        """
        try:
            data = orjson.loads(message.value or b"null")
        except orjson.JSONDecodeError as exc:
            reason = f"value is not JSON (at byte {exc.pos})"
            self.dead_letter(message, Rejection("not_json", reason, "JSONDecodeError"))
            return []
        envelope = isinstance(data, dict) and data.get("type") == "lead_signals"
        records = data.get("signals") if envelope else [data]
        if not isinstance(records, list):
            detail = "signals: must be a list"
            self.dead_letter(message, Rejection("schema", detail, "ValidationError"))
            return []
        keys: list[bytes] = []
        batch.events += len(records)
        for index, record in enumerate(records):
            try:
                if isinstance(record, dict) and record.get("type") == "lead_erased":
                    key = self._unfold_lead(
                        str(record["account_id"]), str(record["lead_id"]), batch
                    )
                    keys.extend(() if key is None else (key,))
                    continue
                signal = LeadSignal.from_record(record)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # Internal, so a bug rather than bad producer input: kept, not skipped.
                where = f"signals[{index}]: " if envelope else ""
                rejection = Rejection("schema", where + type(exc).__name__, "ValidationError")
                item = Decoded(rejection, index, orjson.dumps(record)) if envelope else None
                self.dead_letter(message, rejection, item)
                continue
            key = self._fold_signal(signal, message.partition, batch)
            if key is not None:
                keys.append(key)
        return keys

    def _fold_signal(self, signal: LeadSignal, partition: int, batch: Batch) -> bytes | None:
        key = signal.account_id.encode()
        state = batch.states[key] if key in batch.states else self.account_state_by_id.get(key)
        update = apply_lead_signal(state, signal, self.rules, self.clock())
        if not update.applied:
            return None  # a signal already folded in (restated or re-delivered)
        batch.states[key] = update.state
        batch.alerts.extend((key, partition, alert) for alert in update.alerts)
        batch.accounts_to_stage[signal.account_id] = update.state
        return key

    def _unfold_lead(self, account_id: str, lead_id: str, batch: Batch) -> bytes | None:
        """An erased lead leaves its account (see erasure.py)."""
        key = account_id.encode()
        state = batch.states[key] if key in batch.states else self.account_state_by_id.get(key)
        update = remove_lead(state, lead_id, self.rules)
        if not update.applied:
            return None
        batch.states[key] = update.state
        batch.accounts_to_stage[account_id] = update.state
        return key

    # -- dead letters --------------------------------------------------------------------

    def dead_letter(
        self, message: Message, rejection: Rejection, item: Decoded | None = None
    ) -> None:
        """Send the message (or one event of an envelope, with its index) to dead letters."""
        headers: list[tuple[str, bytes]] = [
            ("scorer.error.topic", message.topic.encode()),
            ("scorer.error.partition", str(message.partition).encode()),
            ("scorer.error.offset", str(message.offset).encode()),
            ("scorer.error.class", rejection.error_class.encode()),
            ("scorer.error.reason", rejection.reason.encode()),
            ("scorer.error.detail", rejection.detail.encode()[:512]),
        ]
        value = message.value
        if item is not None and item.index is not None:
            headers.append(("scorer.error.index", str(item.index).encode()))
            value = item.value
        self.dead_letters.send_soon(key=message.key, value=value, headers=headers)
        child(self.metrics.dead_letters, rejection.reason).inc()
        child(self.metrics.events, message.topic, "dead_letter").inc()

    def _dead_letter_limited(self, message: Message, limited: list[Decoded]) -> None:
        """The rate-limited events of one envelope as ONE dead letter: an event-batch
        envelope of them (replayable as it is), `scorer.error.index` listing their
        positions as ranges ("3-250"), `scorer.error.count` their number. One dead letter
        per event would make a flooding lead cost the worker a message per event."""
        events = b",".join(item.value or b"null" for item in limited)
        value = b'{"schema":"' + EVENT_BATCH_SCHEMA.encode() + b'","events":[' + events + b"]}"
        count = len(limited)
        headers: list[tuple[str, bytes]] = [
            ("scorer.error.topic", message.topic.encode()),
            ("scorer.error.partition", str(message.partition).encode()),
            ("scorer.error.offset", str(message.offset).encode()),
            ("scorer.error.class", b"Rejected"),
            ("scorer.error.reason", b"rate_limited"),
            ("scorer.error.detail", f"{count} events over the lead's rate limit".encode()),
            ("scorer.error.index", _ranges([item.index or 0 for item in limited]).encode()),
            ("scorer.error.count", str(count).encode()),
        ]
        self.dead_letters.send_soon(key=message.key, value=value, headers=headers)
        self.metrics.dead_letters.labels("rate_limited").inc(count)
        self.metrics.events.labels(message.topic, "dead_letter").inc(count)

    def table_sizes(self) -> tuple[int, int]:
        """Leads and accounts tracked (RocksDB: its estimate, see workarounds/table_size.py):
        read every 5 s, so never by iterating every key."""
        return self.lead_state_by_id.tracked()[0], self.account_state_by_id.tracked()[0]


def _where(exc: BaseException) -> str:
    """file:line where an exception was raised (for logs that must not quote input)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


def _ranges(indices: list[int]) -> str:
    """Ascending positions as ranges: [3, 4, 5, 9] -> "3-5,9"."""
    parts: list[str] = []
    start = previous = indices[0]
    for index in indices[1:]:
        if index != previous + 1:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = index
        previous = index
    parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)
