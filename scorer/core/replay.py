"""Offline replay: the same core calls the streaming worker makes, in file order.

For every event: first `fire_due` on every lead with a timer due at the replay clock
(earliest due first, from a heap of `next_due`), then `apply_event` on the event's lead;
whenever an update carries an account signal, `apply_lead_signal` on that account. At
the end, timers due at `until` (default: the replay clock) fire too.

The replay clock (with `now=None`) is the latest event time *accepted* so far, moved to
an event's own time before it is applied unless the event lies beyond `received_by` plus
`timing.future_skew`: such an event is refused as `too_far_in_future`, exactly as the
worker refuses it against its wall clock, and it moves neither the clock nor any timer.
`received_by` is when the input was complete (`scorer score-file` passes `--at`, else the
wall clock of the run); None judges no event as too far in the future. So a file
replays identically anywhere, and one bad timestamp cannot fire every lead's timers.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from scorer.core.account import AccountScore, AccountState, apply_lead_signal
from scorer.core.account_view import account_record
from scorer.core.actions import Action
from scorer.core.alerts import Alert
from scorer.core.events import Event
from scorer.core.explain import ScoreChange
from scorer.core.handoff_loop import fire_due, next_due
from scorer.core.identity import Link, quiet
from scorer.core.identity_replay import IdentityRouter
from scorer.core.lead import apply_event
from scorer.core.lead_state import LeadState, LeadUpdate, Outcome, Score, score_at
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
    actions: list[Action] = field(default_factory=list)
    last_event_at: float | None = None
    # The time timers were last fired at (the replay's "as of"); None before any.
    until: float | None = None

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

    def action_ids(self) -> list[str]:
        return [a.action_id for a in self.actions]

    def to_records(self, t: float | None = None) -> list[dict[str, object]]:
        """Final lead scores, account scores, alerts, actions and rejected events as
        JSON-ready dicts; scores are read at `t` (default: `until`, else the latest event
        time)."""
        at = self._at(t)
        records: list[dict[str, object]] = []
        for lead_id, score in self.scores_at(at).items():
            state = self.leads[lead_id]
            record: dict[str, object] = {
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
            # Sales feedback on a lead never handed off, and feedback still waiting for a
            # hand-off (see core/feedback.py): only present when true / not empty.
            if state.loop.unhanded:
                record["never_handed_off"] = True
            if state.loop.held:
                record["held_feedback"] = [h.event_id for h in state.loop.held]
            records.append(record)
        # The same record `GET /accounts/{id}` answers with.
        records.extend(account_record(a, at, self.rules) for _, a in sorted(self.accounts.items()))
        records.extend(a.to_record() for a in self.alerts)
        records.extend(a.to_record() for a in self.actions)
        records.extend(r.to_record() for r in self.rejected)
        return records

    def _at(self, t: float | None) -> float:
        if t is not None:
            return t
        if self.until is not None and (
            self.last_event_at is None or self.until > self.last_event_at
        ):
            return self.until
        return 0.0 if self.last_event_at is None else self.last_event_at


class _Timers:
    """Which lead fires next: a heap of (next_due, lead id). A lead's entry is pushed
    whenever its next due time changes; entries that no longer match are skipped."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, str]] = []
        self.due: dict[str, float] = {}

    def track(self, state: LeadState) -> None:
        due = next_due(state)
        if due is None:
            self.due.pop(state.lead_id, None)
        elif self.due.get(state.lead_id) != due:
            self.due[state.lead_id] = due
            heapq.heappush(self.heap, (due, state.lead_id))

    def pop_due(self, now: float) -> str | None:
        heap = self.heap
        while heap and heap[0][0] <= now:
            due, lead_id = heapq.heappop(heap)
            if self.due.get(lead_id) == due:
                del self.due[lead_id]
                return lead_id
        return None


def replay(
    events: Iterable[Event | Link],
    rules: Rules,
    now: float | None = None,
    until: float | None = None,
    received_by: float | None = None,
) -> ReplayResult:
    """Replay `events` in order; `until` is the time timers are fired up to at the end
    (default: the latest accepted event time, or `now` when given). `now` fixes the
    processing time of every event; `received_by` (see the module doc) refuses events
    dated beyond it plus the future skew."""
    result = ReplayResult(rules=rules)
    timers = _Timers()
    heap = timers.heap  # tested before every event: any timer (maybe stale) due?
    leads = result.leads
    latest: float | None = None  # the replay clock: the latest accepted event time
    last_event_at: float | None = None
    skew_s = rules.timing.future_skew_s
    router = IdentityRouter(rules)  # anonymous visitors and links: see core/identity.py
    applied = Outcome.APPLIED
    for event in router.events(events):
        t = event.occurred_at
        if received_by is not None and t > received_by + skew_s:
            # Judged as the worker judges it against its clock; the clock stays put.
            update = apply_event(leads.get(event.lead_id), event, rules, received_by)
            result.rejected.append(
                Rejection(event.event_id, event.lead_id, update.outcome, update.reason)
            )
            continue
        clock = t if latest is None or t > latest else latest
        processing_time = clock if now is None else now
        if heap and heap[0][0] <= processing_time:
            _fire(result, timers, processing_time)
        judged_at = processing_time if received_by is None else max(processing_time, received_by)
        before = leads.get(event.lead_id)
        update = apply_event(before, event, router.rules_for(event), judged_at)
        if update.outcome is not applied:
            result.rejected.append(
                Rejection(event.event_id, event.lead_id, update.outcome, update.reason)
            )
            continue
        latest = clock
        # max(last_event_at, t), keeping the first of equal values as `max` does.
        if last_event_at is None or t > last_event_at:
            last_event_at = t
        result.last_event_at = last_event_at
        _record(result, update, processing_time)
        if before is None or update.state.loop is not before.loop:
            timers.track(update.state)  # (the same loop has the same timers)
    final = until if until is not None else (now if now is not None else latest)
    if final is not None:
        _fire(result, timers, final)
        result.until = final
    return result


def _fire(result: ReplayResult, timers: _Timers, now: float) -> None:
    while (lead_id := timers.pop_due(now)) is not None:
        update = fire_due(result.leads[lead_id], result.rules, now)
        _record(result, update, now)
        timers.track(update.state)


def _record(result: ReplayResult, update: LeadUpdate, processing_time: float) -> None:
    update = quiet(update)
    state = update.state
    result.leads[state.lead_id] = state
    # (most updates carry no alert and no action: no call for them)
    if update.alerts:
        result.alerts.extend(update.alerts)
    if update.changes:
        result.changes.extend(update.changes)
    if update.actions:
        result.actions.extend(update.actions)
    signal = update.account_signal
    if signal is not None:
        accounts = result.accounts
        account_id = signal.account_id
        account_update = apply_lead_signal(
            accounts.get(account_id), signal, result.rules, processing_time
        )
        accounts[account_id] = account_update.state
        if account_update.alerts:
            result.alerts.extend(account_update.alerts)
