"""What the agents do with one message: decode, score with the core, store, emit.

Kept out of the agent bodies so they stay a few lines long and so every decision is
made by the pure core; this module only moves data between Kafka, the tables and it.
Handlers are synchronous on purpose: outputs go through `send_soon` (buffered by the
producer) and the read model is staged in memory, so no event awaits I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from faust.types import Message, TableT

from scorer.contracts import topics as contract
from scorer.contracts.outputs import alert_message, score_change_message
from scorer.contracts.topics import input_topics
from scorer.core.account import AccountState, LeadSignal, apply_lead_signal
from scorer.core.alerts import Alert
from scorer.core.events import Event
from scorer.core.explain import ScoreChange
from scorer.core.lead import LeadState, LeadUpdate, Outcome, apply_event, restated_signal
from scorer.core.rules import Rules
from scorer.serving.metrics import ScorerMetrics
from scorer.serving.read_model import RedisReadModel
from scorer.settings import Settings
from scorer.stream.admin import client_options
from scorer.stream.codecs import table_value_type
from scorer.stream.dead_letters import EventDecoder, Rejection
from scorer.stream.ledger import AlertLedger
from scorer.stream.partitioning import owner_partition
from scorer.stream.views import account_fields, staged_lead

log = logging.getLogger(__name__)

_SOURCE_HEADER = "scorer.source-topic"

# Outcomes the core refuses to apply, and the dead-letter reason each one gets.
_DEAD_LETTER_OUTCOMES = {
    Outcome.TOO_LATE: "too_late",
    Outcome.TOO_FAR_IN_FUTURE: "future_timestamp",
    Outcome.INVALID_TRANSITION: "invalid_transition",
}


@dataclass(frozen=True, slots=True)
class Step:
    """What is left to do for one scored message, once its alerts are out."""

    table: TableT[bytes, Any]
    key: bytes
    state: Any
    alerts: tuple[Alert, ...]
    partition: int
    then: Callable[[], None]


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
    handoff_alerts: faust.TopicT
    score_changes: faust.TopicT
    dead_letters: faust.TopicT
    lead_state_by_id: TableT[bytes, LeadState]
    account_state_by_id: TableT[bytes, AccountState]
    decoders: dict[str, EventDecoder]
    ledger: AlertLedger

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

        inputs = input_topics()
        rekeyed = settings.topic(contract.REKEYED_EVENTS)
        return cls(
            settings=settings,
            rules=rules,
            metrics=metrics,
            read_model=read_model,
            clock=clock,
            lead_events=app.topic(*(settings.topic(s.name) for s in inputs), rekeyed),
            rekeyed_events=app.topic(rekeyed),
            account_signals=topic(contract.ACCOUNT_SIGNALS),
            handoff_alerts=topic(contract.HANDOFF_ALERTS),
            score_changes=topic(contract.SCORE_CHANGES),
            dead_letters=topic(contract.DEAD_LETTERS),
            lead_state_by_id=app.Table(
                "lead-state",
                default=None,
                key_type=bytes,
                value_type=table_value_type("scorer.lead_state", LeadState.from_record),
                partitions=settings.partitions,
            ),
            account_state_by_id=app.Table(
                "account-state",
                default=None,
                key_type=bytes,
                value_type=table_value_type("scorer.account_state", AccountState.from_record),
                partitions=settings.partitions,
            ),
            decoders={
                settings.topic(s.name): EventDecoder(s, settings.max_event_bytes) for s in inputs
            },
            ledger=AlertLedger(settings.topic(contract.HANDOFF_ALERTS), client_options(settings)),
        )

    # -- leads ---------------------------------------------------------------------------

    async def finish(self, step: Step | None) -> None:
        """Publish a step's alerts durably, then write its state and the rest.

        The broker acknowledges every alert before the state that records its crossing is
        written: after a crash either the state is older (the event is scored again, the
        same alert id comes out and the ledger drops it) or the alert is already out.
        """
        if step is None:
            return
        if step.alerts:
            await self.ledger.ensure(step.partition)
            now = self.clock()
            for alert in step.alerts:
                if self.ledger.seen(step.partition, alert.alert_id):
                    self.metrics.alerts_suppressed.inc()
                    continue
                value = orjson.dumps(alert_message(alert, now))
                sent = await self.handoff_alerts.send(key=step.key, value=value, force=True)
                await sent
                self.ledger.record(step.partition, alert.alert_id)
                self.metrics.alerts.labels(alert.kind).inc()
        step.table[step.key] = step.state
        step.then()

    def handle_lead_message(self, message: Message) -> Step | None:
        started = time.perf_counter()
        source = self._source_topic(message)
        decoded = self.decoders[source].decode(message.value)
        if isinstance(decoded, Rejection):
            self._dead_letter(message, decoded)
            return None
        key = decoded.lead_id.encode()
        owner = owner_partition(key, self.settings.partitions)
        # Never forward twice: a misconfigured partition count must not make a loop.
        if message.partition != owner and source == message.topic:
            self.rekeyed_events.send_soon(
                key=key, value=message.value, partition=owner,
                headers=[(_SOURCE_HEADER, source.encode())],
            )  # fmt: skip
            self.metrics.events.labels(source, "rekeyed").inc()
            return None
        now = self.clock()
        try:
            update = apply_event(self.lead_state_by_id.get(key), decoded, self.rules, now)
        except Exception as exc:
            # Faust would ack and skip an event whose handler raises: route it instead.
            log.exception("scoring failed for an event of %s", message.topic)
            rejection = Rejection("scoring_error", type(exc).__name__, "ScoringError")
            self._dead_letter(message, rejection)
            return None
        reason = _DEAD_LETTER_OUTCOMES.get(update.outcome)
        if reason is not None:
            self._dead_letter(message, Rejection(reason, update.reason or reason, "Rejected"))
            return None
        self.metrics.events.labels(source, update.outcome.value).inc()
        self.metrics.processing_seconds.observe(time.perf_counter() - started)
        self.metrics.event_lag_seconds.observe(max(0.0, now - decoded.occurred_at))
        if update.outcome is Outcome.DUPLICATE:
            self._restate(key, update.state, decoded, now)
            return None
        return Step(
            table=self.lead_state_by_id, key=key, state=update.state, alerts=update.alerts,
            partition=message.partition, then=lambda: self._publish_lead_update(key, update, now),
        )  # fmt: skip

    def _source_topic(self, message: Message) -> str:
        """The input topic an event was first published to (re-keyed ones say it)."""
        if message.topic != self.rekeyed_events.get_topic_name():
            return message.topic
        headers: Any = message.headers
        pairs = headers.items() if isinstance(headers, dict) else headers or ()
        for name, value in pairs:
            source = bytes(value).decode()
            if name == _SOURCE_HEADER and source in self.decoders:
                return source
        raise KeyError(f"re-keyed event without a valid {_SOURCE_HEADER} header")

    def _publish_lead_update(self, key: bytes, update: LeadUpdate, now: float) -> None:
        self._publish_changes(key, update.changes)
        if update.account_signal is not None:
            self._send_signal(update.account_signal)
        self.read_model.stage_lead(update.state.lead_id, staged_lead(update.state, self.rules, now))

    def _restate(self, key: bytes, state: LeadState, event: Event, now: float) -> None:
        """Publish again what a duplicate event derived (all idempotent downstream).

        A duplicate after a crash can be an event whose state was persisted while its
        buffered outputs were lost; re-publishing them is what keeps the audit stream,
        the account and the read model whole (at-least-once, deduplicable by id).
        """
        self._publish_changes(key, tuple(c for c in state.changes if c.event_id == event.event_id))
        signal = restated_signal(state, event)
        if signal is not None:
            self._send_signal(signal)
        self.read_model.stage_lead(state.lead_id, staged_lead(state, self.rules, now))

    def _publish_changes(self, key: bytes, changes: tuple[ScoreChange, ...]) -> None:
        for change in changes:
            self.score_changes.send_soon(key=key, value=orjson.dumps(score_change_message(change)))
        self.metrics.score_changes.inc(len(changes))

    def _send_signal(self, signal: LeadSignal) -> None:
        self.account_signals.send_soon(
            key=signal.account_id.encode(), value=orjson.dumps(signal.to_record())
        )

    # -- accounts ------------------------------------------------------------------------

    def handle_account_message(self, message: Message) -> Step | None:
        signal = LeadSignal.from_record(orjson.loads(message.value or b"null"))
        key = signal.account_id.encode()
        now = self.clock()
        update = apply_lead_signal(self.account_state_by_id.get(key), signal, self.rules, now)
        if not update.applied:
            return None  # a signal already folded in (restated or re-delivered)
        fields = account_fields(update.state, self.rules, now)
        return Step(
            table=self.account_state_by_id, key=key, state=update.state, alerts=update.alerts,
            partition=message.partition,
            then=lambda: self.read_model.stage_account(signal.account_id, fields),
        )  # fmt: skip

    # -- dead letters --------------------------------------------------------------------

    def _dead_letter(self, message: Message, rejection: Rejection) -> None:
        headers: list[tuple[str, bytes]] = [
            ("scorer.error.topic", message.topic.encode()),
            ("scorer.error.partition", str(message.partition).encode()),
            ("scorer.error.offset", str(message.offset).encode()),
            ("scorer.error.class", rejection.error_class.encode()),
            ("scorer.error.reason", rejection.reason.encode()),
            ("scorer.error.detail", rejection.detail.encode()[:512]),
        ]
        self.dead_letters.send_soon(key=message.key, value=message.value, headers=headers)
        self.metrics.dead_letters.labels(rejection.reason).inc()
        self.metrics.events.labels(message.topic, "dead_letter").inc()

    def table_sizes(self) -> tuple[int, int]:
        return len(self.lead_state_by_id), len(self.account_state_by_id)
