"""Hand-off alerts (MQL, MQA and other named thresholds) and SLA escalations, with
deterministic ids."""

from __future__ import annotations

from typing import NamedTuple

from scorer.core.explain import Reason


def lead_alert_id(lead_id: str, threshold: str, epoch: int) -> str:
    return f"lead:{lead_id}:{threshold}:{epoch}"


def account_alert_id(account_id: str, threshold: str, epoch: int) -> str:
    return f"account:{account_id}:{threshold}:{epoch}"


SLA_BREACHED = "sla_breached"


def sla_alert_id(lead_id: str, handoff: int) -> str:
    """The escalation of the lead's `handoff`-th hand-off (at most one each)."""
    return f"lead:{lead_id}:sla:{handoff}"


class Alert(NamedTuple):
    """A threshold crossed upward. `epoch` counts the crossings of that threshold.

    `occurred_at` is the event time of the crossing; `event_id` the event that crossed it
    (for accounts: the lead event whose signal crossed it). `contacts` lists the lead ids
    that contributed (the lead itself for a lead alert). `reasons` are the biggest
    positive contributors (what pushed the score over the line), biggest first;
    `negative_reasons` the negative ones, most negative first.

    Kind `sla_breached`: the hand-off `handoff_alert_id` got no accepted/rejected feedback
    by `deadline` (event time); `occurred_at` is the deadline, `epoch` the hand-off number,
    `team` the team that owned it, scores are as of the deadline.
    """

    alert_id: str
    kind: str
    subject: str
    lead_id: str | None
    account_id: str | None
    score: float
    fit: float
    engagement: float
    grade: str
    stage: str
    threshold: str
    threshold_value: float
    epoch: int
    reasons: tuple[Reason, ...]
    rules_version: str
    occurred_at: float
    event_id: str
    team: str | None = None
    product: str | None = None
    contacts: tuple[str, ...] = ()
    engaged_contacts: int = 0
    roles: tuple[str, ...] = ()
    handoff_alert_id: str | None = None
    deadline: float | None = None
    # The biggest negative contributors, most negative first (`reasons` are positive).
    negative_reasons: tuple[Reason, ...] = ()

    def to_record(self) -> dict[str, object]:
        record: dict[str, object] = {
            "type": "alert",
            "alert_id": self.alert_id,
            "kind": self.kind,
            "subject": self.subject,
            "lead_id": self.lead_id,
            "account_id": self.account_id,
            "score": self.score,
            "fit": self.fit,
            "engagement": self.engagement,
            "grade": self.grade,
            "stage": self.stage,
            "threshold": self.threshold,
            "threshold_value": self.threshold_value,
            "epoch": self.epoch,
            "reasons": [r.to_record() for r in self.reasons],
            "negative_reasons": [r.to_record() for r in self.negative_reasons],
            "rules_version": self.rules_version,
            "occurred_at": self.occurred_at,
            "event_id": self.event_id,
            "team": self.team,
            "product": self.product,
            "contacts": list(self.contacts),
            "engaged_contacts": self.engaged_contacts,
            "roles": list(self.roles),
        }
        if self.handoff_alert_id is not None:
            # Only escalations carry these; threshold alerts stay as they always were.
            record["handoff_alert_id"] = self.handoff_alert_id
            record["deadline"] = self.deadline
        return record
