"""Offline replay: the same core calls the streaming worker makes, in file order.

For every event: `apply_event` on its lead, then, when the update carries an account
signal, `apply_lead_signal` on that account. With `now=None` the processing time of each
event is the latest event time seen so far (offline, time comes from the events), so a
file replays identically anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scorer.core.account import AccountScore, AccountState, apply_lead_signal
from scorer.core.alerts import Alert
from scorer.core.events import Event
from scorer.core.explain import ScoreChange
from scorer.core.lead import LeadState, Outcome, Score, apply_event, score_at
from scorer.core.rules import Rules


@dataclass(frozen=True, slots=True)
class Rejection:
    event_id: str
    lead_id: str
    outcome: Outcome
    reason: str | None

    def to_record(self) -> dict[str, object]:
        return {
            "type": "rejected",
            "event_id": self.event_id,
            "lead_id": self.lead_id,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }


@dataclass(slots=True)
class ReplayResult:
    rules: Rules
    leads: dict[str, LeadState] = field(default_factory=dict)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    changes: list[ScoreChange] = field(default_factory=list)
    last_event_at: float | None = None

    def scores_at(self, t: float | None = None) -> dict[str, Score]:
        """Every lead's score at `t` (default: the latest event time replayed)."""
        at = self._at(t)
        return {lead_id: score_at(s, at, self.rules) for lead_id, s in sorted(self.leads.items())}

    def account_scores_at(self, t: float | None = None) -> dict[str, AccountScore]:
        at = self._at(t)
        return {
            account_id: s.score_at(at, self.rules)
            for account_id, s in sorted(self.accounts.items())
        }

    def alert_ids(self) -> list[str]:
        return [a.alert_id for a in self.alerts]

    def to_records(self, t: float | None = None) -> list[dict[str, object]]:
        """Final lead scores, account scores and alerts as JSON-ready dicts."""
        at = self._at(t)
        records: list[dict[str, object]] = []
        for lead_id, score in self.scores_at(at).items():
            state = self.leads[lead_id]
            records.append(
                {
                    "type": "lead_score",
                    "lead_id": lead_id,
                    "account_id": state.account_id,
                    "at": at,
                    "fit": score.fit,
                    "engagement": score.engagement,
                    "total": score.total,
                    "grade": score.grade,
                    "stage": state.stage,
                    "rules_version": self.rules.version,
                }
            )
        for account_id, account in self.account_scores_at(at).items():
            records.append(
                {
                    "type": "account_score",
                    "account_id": account_id,
                    "at": at,
                    "fit": account.fit,
                    "engagement": account.engagement,
                    "total": account.total,
                    "engaged_contacts": list(account.engaged_contacts),
                    "roles": list(account.roles),
                    "stage": self.accounts[account_id].stage,
                    "rules_version": self.rules.version,
                }
            )
        records.extend(a.to_record() for a in self.alerts)
        records.extend(r.to_record() for r in self.rejected)
        return records

    def _at(self, t: float | None) -> float:
        if t is not None:
            return t
        return 0.0 if self.last_event_at is None else self.last_event_at


def replay(events: Iterable[Event], rules: Rules, now: float | None = None) -> ReplayResult:
    result = ReplayResult(rules=rules)
    latest: float | None = None
    for event in events:
        latest = event.occurred_at if latest is None else max(latest, event.occurred_at)
        processing_time = latest if now is None else now
        update = apply_event(result.leads.get(event.lead_id), event, rules, processing_time)
        if update.outcome is not Outcome.APPLIED:
            result.rejected.append(
                Rejection(event.event_id, event.lead_id, update.outcome, update.reason)
            )
            continue
        result.last_event_at = (
            event.occurred_at
            if result.last_event_at is None
            else max(result.last_event_at, event.occurred_at)
        )
        result.leads[event.lead_id] = update.state
        result.alerts.extend(update.alerts)
        result.changes.extend(update.changes)
        signal = update.account_signal
        if signal is not None:
            account_update = apply_lead_signal(
                result.accounts.get(signal.account_id), signal, rules, processing_time
            )
            result.accounts[signal.account_id] = account_update.state
            result.alerts.extend(account_update.alerts)
    return result
