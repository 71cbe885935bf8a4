"""A lead's state and what one event did to it (`LeadState`, `LeadUpdate`), and its
score read at a time (`score_at`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.actions import Action
from scorer.core.alerts import Alert
from scorer.core.decay import decay_factor
from scorer.core.dedup import NO_RECENT_IDS, RecentIds
from scorer.core.engagement import (
    CapEntry,
)
from scorer.core.events import FieldValue
from scorer.core.explain import (
    ScoreChange,
)
from scorer.core.fit import (
    company_fit_score,
    matched_fit_rules,
)
from scorer.core.grade import grade as grade_of
from scorer.core.lead_signal import LeadSignal
from scorer.core.rules import Rules, Stage
from scorer.core.timeline import (
    Point,
    Settled,
    attributes_before,
    empty_settled,
)
from scorer.core.timers import (
    NO_LOOP,
    Handoff,
    HandoffLoop,
    ScenarioMark,
    Timer,
)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"
    TOO_FAR_IN_FUTURE = "too_far_in_future"
    INVALID_TRANSITION = "invalid_transition"
    TOO_OLD = "too_old"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Score:
    """A lead's score read at time `at` (decayed)."""

    at: float
    fit: float
    engagement: float
    total: float
    grade: str
    by_category: tuple[tuple[str, float], ...]


# The empty cap logs and once-only memory every new lead starts with (shared: read-only).
NO_CAPS: Mapping[str, tuple[CapEntry, ...]] = MappingProxyType({})
NO_ONCE: Mapping[str, tuple[float, str]] = MappingProxyType({})


class LeadState(NamedTuple):
    """A lead's scoring trajectory, lifecycle stage and hand-off loop memory.

    Hand-off loop fields (defaulted, so records written before them still load):
    `last_active_at` (event time of the latest activity: the inactivity clock, tracked
    when the rules set an inactivity period) and `loop` (see `timers.HandoffLoop`), read
    through the properties `timers` (sorted by due time), `scenarios` (per scenario id:
    trigger count, last firing, cancel memory), `cycle` (+1 at every recycle),
    `cold_since`, `team` (team of the current hand-off) and `handoff`.
    """

    lead_id: str
    rules_version: str
    settled: Settled
    stage: str = Stage.NEW.value
    stage_reason: str | None = None
    account_id: str | None = None
    account_at: float | None = None
    last_event_at: float | None = None
    fit: float = 0.0
    grade: str = ""
    open: tuple[Point, ...] = ()
    caps: Mapping[str, tuple[CapEntry, ...]] = NO_CAPS
    once: Mapping[str, tuple[float, str]] = NO_ONCE
    emitted: tuple[int, ...] = ()
    threshold_names: tuple[str, ...] = ()
    category_names: tuple[str, ...] = ()
    recent_ids: RecentIds = NO_RECENT_IDS
    changes: tuple[ScoreChange, ...] = ()
    seq: int = 0
    last_engaged_at: float | None = None
    product: str | None = None
    role: str | None = None
    company_fit: float = 0.0
    fit_rules: tuple[str, ...] = ()
    last_active_at: float | None = None
    loop: HandoffLoop = NO_LOOP
    # The rate limit's window: (its start in event time, events counted in it); see
    # `rate_after`. None before the first counted event.
    rate: tuple[float, int] | None = None

    @classmethod
    def new(cls, lead_id: str, rules: Rules) -> LeadState:
        """A new lead's state (computed once per lead, not per event)."""
        return cls._blank(lead_id, rules)

    @classmethod
    def _blank(cls, lead_id: str, rules: Rules) -> LeadState:
        """A new lead's state, computed."""
        settled = empty_settled(rules)
        return cls(
            lead_id=lead_id,
            rules_version=rules.version,
            settled=settled,
            fit=settled.fit,
            grade=grade_of(settled.fit, 0.0, rules.grades),
            company_fit=company_fit_score(settled.attributes, rules),
            fit_rules=matched_fit_rules(settled.attributes, rules),
            emitted=(0,) * len(rules.thresholds),
            # Shared by every lead (a state copies them into the next one at every event).
            threshold_names=rules.threshold_names,
            category_names=rules.category_names,
        )

    @property
    def watermark(self) -> float | None:
        return self.last_event_at

    @property
    def timers(self) -> tuple[Timer, ...]:
        return self.loop.timers

    @property
    def scenarios(self) -> Mapping[str, ScenarioMark]:
        return self.loop.marks

    @property
    def cycle(self) -> int:
        return self.loop.cycle

    @property
    def cold_since(self) -> float | None:
        return self.loop.cold_since

    @property
    def team(self) -> str | None:
        return self.loop.team

    @property
    def handoff(self) -> Handoff | None:
        return self.loop.handoff

    @property
    def attributes(self) -> Mapping[str, FieldValue]:
        return attributes_before(self.settled, self.open, len(self.open))

    def engagement_at(self, t: float, rules: Rules) -> float:
        return score_at(self, t, rules).engagement

    def score_at(self, t: float, rules: Rules) -> Score:
        return score_at(self, t, rules)

    def to_record(self) -> dict[str, object]:
        from scorer.core.lead_records import lead_to_record

        return lead_to_record(self)

    @classmethod
    def from_record(cls, raw: Mapping[str, object]) -> LeadState:
        from scorer.core.lead_records import lead_from_record

        return lead_from_record(raw)


class LeadUpdate(NamedTuple):
    """What one event (or one `fire_due`) did to a lead.

    `alerts` holds threshold alerts and `sla_breached` escalations; `actions` the scenario
    actions decided; `feedback_after_s` is set on the first accepted/rejected feedback
    after a hand-off (event-time seconds since the hand-off); `cold_change` is
    (was cold, is cold) when the lead went cold or warmed up again.
    """

    state: LeadState
    outcome: Outcome
    reason: str | None = None
    changes: tuple[ScoreChange, ...] = ()
    alerts: tuple[Alert, ...] = ()
    stage_change: tuple[str, str] | None = None
    account_signal: LeadSignal | None = None
    actions: tuple[Action, ...] = ()
    feedback_after_s: float | None = None
    cold_change: tuple[bool, bool] | None = None
    # Feedback types applied to a lead never handed off in its cycle (see `feedback.py`).
    unhanded_feedback: tuple[str, ...] = ()


def _last_values(
    state_settled: Settled, points: Sequence[Point], t: float
) -> tuple[float | None, tuple[float, ...], float]:
    """(reference time, engagement vector, fit) of the last point at or before `t`."""
    for point in reversed(points):
        if point.t <= t:
            return point.t, point.engagement, point.fit
    return state_settled.t, state_settled.engagement, state_settled.fit


def score_at(state: LeadState, t: float, rules: Rules) -> Score:
    """Fit, engagement (decayed to `t`), total and grade of a lead at time `t`."""
    ref, vector, fit = _last_values(state.settled, state.open, t)
    half_lives_s = rules.half_lives_s
    elapsed_s = 0.0 if ref is None else t - ref
    by_category = tuple(
        (rules.categories[i].name, v * decay_factor(elapsed_s, half_lives_s[i]))
        for i, v in enumerate(vector)
    )
    engagement = sum(v for _, v in by_category)
    return Score(
        at=t,
        fit=fit,
        engagement=engagement,
        total=fit + engagement,
        grade=grade_of(fit, engagement, rules.grades),
        by_category=by_category,
    )


def rejected(state: LeadState, outcome: Outcome, reason: str) -> LeadUpdate:
    return LeadUpdate(state=state, outcome=outcome, reason=reason)


def with_loop(state: LeadState, last_active_at: float | None, loop: HandoffLoop) -> LeadState:
    """`state` with other hand-off loop fields: every field before them taken by position
    (keywords cost three times as much and `_replace` twice: the loop runs this for every
    event it handles). `last_active_at`, `loop` and `rate` are the last three fields
    (`tests/unit/core/test_lead.py` checks the order)."""
    return LeadState(*state[:24], last_active_at, loop, state.rate)
