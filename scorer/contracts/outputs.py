"""Messages the scorer publishes, as models (for the JSON Schemas) and builders.

Core records carry epoch seconds; on the wire, times are RFC 3339 strings so every
consumer can read them without guessing the unit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scorer.core.actions import Action
from scorer.core.alerts import Alert
from scorer.core.explain import ScoreChange


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonModel(_Message):
    rule_id: str
    label: str
    points: float = Field(description="Points this rule contributes now (engagement decayed).")
    contact: str | None = Field(
        default=None, description="Accounts: the lead (contact) these points came from."
    )


class HandoffAlert(_Message):
    """A lead (MQL) or account (MQA) crossed a hand-off threshold upward, or a hand-off
    got no sales feedback before its SLA deadline (kind `sla_breached`)."""

    type: Literal["alert"]
    alert_id: str = Field(
        description=(
            "Deterministic: subject + threshold + crossing epoch; for sla_breached "
            "lead:<id>:sla:<n>, n = the lead's hand-off number."
        )
    )
    kind: str = Field(description="Threshold name (mql, mqa, warm, ...) or sla_breached.")
    subject: str = Field(description="lead:<id> or account:<id>")
    lead_id: str | None
    account_id: str | None
    score: float
    fit: float
    engagement: float
    grade: str = Field(description="Fit letter x engagement band, e.g. A1.")
    stage: str
    threshold: str
    threshold_value: float
    epoch: int = Field(description="How many times this threshold has been crossed.")
    reasons: list[ReasonModel] = Field(
        description="The biggest positive contributors, biggest first: what pushed it over."
    )
    negative_reasons: list[ReasonModel] = Field(
        default_factory=list,
        description="The biggest negative contributors, most negative first.",
    )
    rules_version: str
    occurred_at: str = Field(description="Event time of the crossing, RFC 3339.")
    emitted_at: str = Field(description="When the worker published this alert, RFC 3339.")
    event_id: str = Field(description="The event that crossed the threshold.")
    team: str | None = Field(description="Inside-sales team from the routing rules.")
    product: str | None = Field(description="Product interest that drove the score.")
    contacts: list[str] = Field(description="Lead ids that contributed (accounts).")
    engaged_contacts: int
    roles: list[str] = Field(description="Buying-group roles covered (accounts).")
    handoff_alert_id: str | None = Field(
        default=None, description="sla_breached: the hand-off (MQL) alert that went unanswered."
    )
    deadline: str | None = Field(
        default=None, description="sla_breached: the follow-up deadline (event time), RFC 3339."
    )


class ActionMessage(_Message):
    """A scenario action the scorer decided; downstream tools execute it and dedupe by id.

    Delivery is at-least-once (a worker restart may publish an action again, with the
    same `action_id`).
    """

    type: Literal["action"]
    action_id: str = Field(
        description="Deterministic: action:<lead_id>:<scenario_id>:<n>:<kind>, n = nth trigger."
    )
    kind: Literal["send_email", "assign", "notify", "enroll_nurture"]
    lead_id: str
    account_id: str | None
    scenario_id: str
    params: dict[str, str] = Field(
        description="The action's settings: template, team, queue, channel or program."
    )
    team: str | None = Field(description="Inside-sales team the lead routes to (assign: target).")
    decided_at: str = Field(
        description="Event time the decision is as of (trigger or due time), RFC 3339."
    )
    emitted_at: str = Field(description="When the worker published this action, RFC 3339.")
    rules_version: str
    reason: str = Field(description="The scenario's label.")
    trigger: str = Field(
        description="What started it: <event type>:<event id>, went_cold or cool_off."
    )


class TimerTick(_Message):
    """Internal: a worker's clock tick for one of its lead partitions (fires due timers)."""

    v: Literal[1]
    partition: int = Field(ge=0)
    now: float = Field(description="Wall clock of the sending worker, unix seconds.")


class RuleChange(_Message):
    """One rule's effect on the lead's score."""

    type: Literal["score_change"]
    lead_id: str
    event_id: str = Field(description="The event the points belong to (cap_shifted: another).")
    rule_id: str
    rules_version: str
    category: str
    points_raw: float
    points_awarded: float = Field(description="After caps and once-only rules.")
    capped: bool
    decay_factor: float
    points_now: float
    score_before: float
    score_after: float
    occurred_at: str
    as_of: str
    note: str | None


class EventScoreChanges(_Message):
    """Why one event moved one lead's score: every rule change it caused."""

    lead_id: str
    event_id: str = Field(description="The event that caused these changes; dedupe by it.")
    score_before: float
    score_after: float
    changes: list[RuleChange]


class ScoreChangesMessage(_Message):
    """The score changes of one worker batch for the leads of one partition.

    One Kafka message per (partition, batch) instead of one per event: the per-message
    cost of producing dominated the worker. Every lead in one message is owned by the
    message's partition (the key is the first lead's id), so a lead's changes stay in
    order on its partition. Delivery is at-least-once (a worker restart may publish an
    event's changes again); consumers dedupe by `events[].event_id`.
    """

    type: Literal["score_changes"]
    v: Literal[2]
    rules_version: str
    events: list[EventScoreChanges] = Field(description="In the order the worker scored them.")


class AccountSignalMessage(BaseModel):
    """Internal: a lead's current contribution to its account (the core's record)."""

    model_config = ConfigDict(extra="allow")

    v: int
    type: Literal["lead_signal"]
    account_id: str
    lead_id: str
    seq: int = Field(description="Per-lead sequence; older signals are ignored.")


class LeadErased(_Message):
    """Internal: a lead was erased; its account drops it from its contacts."""

    v: Literal[1]
    type: Literal["lead_erased"]
    account_id: str
    lead_id: str


class AccountSignalsMessage(_Message):
    """Internal: the latest signals of one lead batch for the accounts of one partition.

    Every account in one message is owned by the message's partition (the key is the
    first signal's account id); the account agent folds them in order. Single
    `lead_signal` messages (the form before this envelope) are read too.
    """

    v: Literal[1]
    type: Literal["lead_signals"]
    signals: list[AccountSignalMessage | LeadErased] = Field(min_length=1)


OUTPUT_MODEL_BY_SCHEMA: dict[str, Any] = {
    "handoff-alert.v1.schema.json": HandoffAlert,
    "action.v1.schema.json": ActionMessage,
    "timer-tick.v1.schema.json": TimerTick,
    "score-change.v2.schema.json": ScoreChangesMessage,
    "account-signal.v1.schema.json": AccountSignalMessage | AccountSignalsMessage,
}


def alert_message(alert: Alert, emitted_at: float) -> dict[str, object]:
    record = alert.to_record()
    record["occurred_at"] = rfc3339(alert.occurred_at)
    record["emitted_at"] = rfc3339(emitted_at)
    if alert.deadline is not None:
        record["deadline"] = rfc3339(alert.deadline)
    return record


def action_message(action: Action, emitted_at: float) -> dict[str, object]:
    record = action.to_record()
    record["decided_at"] = rfc3339(action.decided_at)
    record["emitted_at"] = rfc3339(emitted_at)
    return record


# Keys whose numbers are event times (epoch seconds in core records).
TIME_KEYS = frozenset(
    {"at", "occurred_at", "decided_at", "deadline", "as_of", "due_at", "score_at", "updated_at"}
)
# Decimal places of every other number (scores, points, factors) in readable records.
SCORE_DECIMALS = 4


def readable(record: dict[str, object]) -> dict[str, object]:
    """A core record as `scorer score-file` prints it (and `GET /accounts/{id}` answers):
    times as RFC 3339 (UTC, milliseconds), every other float rounded to SCORE_DECIMALS
    places, nested lists and objects included."""
    out: dict[str, object] = {}
    for key, value in record.items():
        if key in TIME_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = rfc3339(value)
        else:
            out[key] = _rounded(value)
    return out


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, SCORE_DECIMALS) + 0.0  # + 0.0: no "-0.0"
    if isinstance(value, dict):
        return readable(value)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def timer_tick(partition: int, now: float) -> dict[str, object]:
    return {"v": 1, "partition": partition, "now": now}


# Score changes repeat their times (an event's changes share `occurred_at` and `as_of`,
# which is mostly the event's own time), and formatting one costs ~2 µs.
_change_time = lru_cache(maxsize=4096)(rfc3339)


def score_change_message(change: ScoreChange) -> dict[str, object]:
    record = change.to_record()
    record["occurred_at"] = _change_time(change.occurred_at)
    record["as_of"] = _change_time(change.as_of)
    return record


def event_score_changes(
    lead_id: str, event_id: str, changes: tuple[ScoreChange, ...]
) -> dict[str, object]:
    """One entry of a `score_changes` message: one event's changes of one lead."""
    return {
        "lead_id": lead_id,
        "event_id": event_id,
        "score_before": changes[0].score_before,
        "score_after": changes[-1].score_after,
        "changes": [score_change_message(c) for c in changes],
    }


def score_changes_message(rules_version: str, events: list[dict[str, object]]) -> dict[str, object]:
    """A `score_changes` message of entries made by `event_score_changes`."""
    return {"type": "score_changes", "v": 2, "rules_version": rules_version, "events": events}


def lead_erased(account_id: str, lead_id: str) -> dict[str, object]:
    """An entry of a `lead_signals` envelope that removes a lead from its account."""
    return {"v": 1, "type": "lead_erased", "account_id": account_id, "lead_id": lead_id}


def account_signals_message(signals: list[dict[str, object]]) -> dict[str, object]:
    """An internal `lead_signals` envelope of `LeadSignal.to_record()` records."""
    return {"v": 1, "type": "lead_signals", "signals": signals}
