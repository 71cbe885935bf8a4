"""A lead's state and `apply_event`, the one entry point that scores an event.

`apply_event(state, event, rules, now)` is pure: same inputs, same `LeadUpdate`. The state
keeps (see `timeline.py`) the settled summary plus the events still inside the allowed
lateness, so out-of-order events produce the same scores as in-order ones.

Dedup: the last `rules.explain.recent_event_ids` (default 128) applied event ids per lead
are remembered (as 8-byte digests, see `dedup.py`); an event id among them is a
`duplicate` and changes nothing. Older repeats are caught by lateness only when they
are also old in event time.

Order independence (what "shuffling events within the allowed lateness changes nothing"
means, and how it holds):

* Scores: a lead's score at any time is a function of the SET of its accepted events.
  Decay uses event time; caps and once-only rules share points out in event-time order
  (ties by event id, see `engagement.py`); profile updates apply in event-time order;
  a late event is inserted at its place and the trajectory after it is recomputed.
* Alerts: thresholds are crossings of that event-time trajectory, numbered per threshold
  (alert id `lead:<lead>:<threshold>:<n>`). With `timing.alert_hold` equal to the allowed
  lateness a crossing is emitted only once no acceptable event can still precede it, so
  the set of alert ids is exactly the same for every in-lateness arrival order. With the
  default hold of 0 a crossing is emitted the moment it is seen (real-time hand-off):
  every alert of the in-order run is still emitted, and never twice, but a late event
  that removes a crossing cannot take back an alert already sent.
* Sales feedback is held until the lead's hand-off and scenario conditions read the
  stage as of the event's time (see `feedback.py`, `timers.stage_at`), so reading the
  input topics in another order gives the same stages and actions.
* Not covered: account (MQA) alerts are evaluated as lead signals arrive (the account
  *score* itself is order-independent: it is recomputed from the members' latest
  signals).

The hand-off loop (scenarios, timers, SLA, inactivity; see `scenarios.py`) runs after an
event only when the event can matter to it: a feedback, a hand-off alert, a lead's first
event, activity of a cold lead, or an event a scenario trigger / cancel condition
matches. Every other event pays a couple of set lookups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from math import floor
from types import MappingProxyType
from typing import TypeVar

from scorer.core.account import LeadSignal
from scorer.core.actions import Action
from scorer.core.alerts import Alert, lead_alert_id
from scorer.core.decay import decay_factor
from scorer.core.dedup import NO_RECENT_IDS, RecentIds, event_digest
from scorer.core.engagement import (
    COMPACT_ABOVE,
    CapEntry,
    appended_award,
    compact_cap_log,
    prune_cap_log,
    reallocate,
)
from scorer.core.events import Event, EventKind, FieldValue
from scorer.core.explain import (
    Reason,
    ScoreChange,
    negative_reasons,
    ranked,
    ranked_negative,
    top_reasons,
)
from scorer.core.fit import (
    company_fit_score,
    company_part,
    fit_contributions,
    matched_fit_rules,
)
from scorer.core.frozen import fast_init, fast_new
from scorer.core.grade import grade as grade_of
from scorer.core.lifecycle import BEFORE_HANDOFF, FEEDBACK_KINDS, Transition
from scorer.core.routing import route
from scorer.core.rules import NEVER_LATE, AwardPlan, EngagementRule, Rules, Stage
from scorer.core.timecheck import age_problem, future_problem, lateness_problem
from scorer.core.timeline import (
    Award,
    Point,
    Settled,
    attributes_before,
    contributions_at,
    decayed,
    empty_settled,
    insert_index,
    interned_fields,
    recompute,
    settle,
    step_gates,
    with_values,
)
from scorer.core.timers import (
    NO_LOOP,
    Handoff,
    HandoffLoop,
    ScenarioMark,
    StageMove,
    Timer,
    moved,
    spent,
)


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"
    TOO_FAR_IN_FUTURE = "too_far_in_future"
    INVALID_TRANSITION = "invalid_transition"
    TOO_OLD = "too_old"
    RATE_LIMITED = "rate_limited"


# A NamedTuple's own `__new__` is a Python function; building the per-event records with
# every field through `tuple.__new__` costs half as much.
_tuple_new = tuple.__new__

# Enum members used on every event, bound once: `Stage.NEW` is an enum-metaclass lookup.
_APPLIED = Outcome.APPLIED
_NEW, _ENGAGED = Stage.NEW, Stage.ENGAGED
_PROFILE_UPDATED = EventKind.PROFILE_UPDATED


@dataclass(frozen=True, slots=True)
class Score:
    """A lead's score read at time `at` (decayed)."""

    at: float
    fit: float
    engagement: float
    total: float
    grade: str
    by_category: tuple[tuple[str, float], ...]


@fast_init
@dataclass(frozen=True, slots=True)
class LeadState:
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
    caps: Mapping[str, tuple[CapEntry, ...]] = field(default_factory=lambda: MappingProxyType({}))
    once: Mapping[str, tuple[float, str]] = field(default_factory=lambda: MappingProxyType({}))
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
    # `_rate_after`. None before the first counted event.
    rate: tuple[float, int] | None = None

    @classmethod
    def new(cls, lead_id: str, rules: Rules) -> LeadState:
        if cls is not LeadState:
            return cls._blank(lead_id, rules)
        blank: LeadState | None = rules.blank_lead
        if blank is None:
            # Every new lead of these rules starts from the same values: built once.
            blank = cls._blank(lead_id, rules)
            object.__setattr__(rules, "blank_lead", blank)
        return _new_state(
            lead_id,
            blank.rules_version,
            blank.settled,
            blank.stage,
            blank.stage_reason,
            blank.account_id,
            blank.account_at,
            blank.last_event_at,
            blank.fit,
            blank.grade,
            blank.open,
            blank.caps,
            blank.once,
            blank.emitted,
            blank.threshold_names,
            blank.category_names,
            blank.recent_ids,
            blank.changes,
            blank.seq,
            blank.last_engaged_at,
            blank.product,
            blank.role,
            blank.company_fit,
            blank.fit_rules,
            blank.last_active_at,
            blank.loop,
            blank.rate,
        )

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


@fast_init
@dataclass(frozen=True, slots=True)
class LeadUpdate:
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


# Built for every scored event: see `frozen.fast_new`.
_new_state = fast_new(LeadState)
_new_update = fast_new(LeadUpdate)
_new_signal = fast_new(LeadSignal)
_new_change = fast_new(ScoreChange)


def _last_values(
    state_settled: Settled, points: Sequence[Point], t: float
) -> tuple[float | None, tuple[float, ...], float]:
    """(reference time, engagement vector, fit) of the last point at or before `t`."""
    for point in reversed(points):
        if point.t <= t:
            return point.t, point.engagement, point.fit
    return state_settled.t, state_settled.engagement, state_settled.fit


def _engagement(ref: float | None, vector: tuple[float, ...], t: float, rules: Rules) -> float:
    if ref is None or t <= ref:
        return sum(vector)
    total = 0.0
    for value in decayed(vector, t - ref, rules):  # added up in category order
        total += value
    return total


def score_at(state: LeadState, t: float, rules: Rules) -> Score:
    """Fit, engagement (decayed to `t`), total and grade of a lead at time `t`."""
    ref, vector, fit = _last_values(state.settled, state.open, t)
    half_lives = rules.half_lives
    elapsed = 0.0 if ref is None else t - ref
    by_category = tuple(
        (rules.categories[i].name, v * decay_factor(elapsed, half_lives[i]))
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


def top_reasons_at(state: LeadState, t: float, rules: Rules) -> tuple[Reason, ...]:
    """The lead's biggest contributors at time `t` ("why is this lead hot?"), bounded by
    `explain.top_reasons`; `state.changes` holds the last `explain.last_changes` changes."""
    by_rule = contributions(state, t, rules)
    labels = {rule_id: rules.rule_label(rule_id) for rule_id in by_rule}
    return top_reasons(by_rule, labels, rules.explain.top_reasons)


def negative_reasons_at(state: LeadState, t: float, rules: Rules) -> tuple[Reason, ...]:
    """The lead's biggest negative contributors at time `t`, most negative first."""
    by_rule = contributions(state, t, rules)
    labels = {rule_id: rules.rule_label(rule_id) for rule_id in by_rule}
    return negative_reasons(by_rule, labels, rules.explain.top_reasons)


def contributions(state: LeadState, t: float, rules: Rules) -> dict[str, float]:
    """Points per rule id at time `t` (fit rules and decayed engagement rules); their sum
    equals `score_at(state, t, rules).total` (up to float rounding)."""
    upto = len(state.open)
    while upto > 0 and state.open[upto - 1].t > t:
        upto -= 1
    by_rule, _ = contributions_at(state.settled, state.open, upto, t, rules)
    attributes = attributes_before(state.settled, state.open, upto)
    for rule_id, points in fit_contributions(attributes, rules):
        by_rule[rule_id] = by_rule.get(rule_id, 0.0) + points
    return by_rule


def _rejected(state: LeadState, outcome: Outcome, reason: str) -> LeadUpdate:
    return LeadUpdate(state=state, outcome=outcome, reason=reason)


@dataclass(slots=True)
class _Step:
    """Scratch for one `apply_event` call: what the event does, before the state is built."""

    stage: Stage
    stage_reason: str | None
    caps: Mapping[str, tuple[CapEntry, ...]]
    once: Mapping[str, tuple[float, str]]
    transition: Transition | None = None
    new_point: Point | None = None
    shifted: tuple[tuple[CapEntry, str, float, str], ...] = ()
    # Whether the new point awards positive points (set with `new_point`).
    engaged: bool = False
    # The score just before the event, read at the new watermark, when placing the event
    # already computed it (an in-order event at the watermark); else `_changes` reads it.
    score_before: float | None = None
    # The event id's digest, remembered by `_commit` (computed once, for `_screen`).
    digest: bytes = b""
    # The lead's rate window after the event (`_rate_after`); None: unchanged.
    rate: tuple[float, int] | None = None


def _new_step(
    stage: Stage,
    stage_reason: str | None,
    caps: Mapping[str, tuple[CapEntry, ...]],
    once: Mapping[str, tuple[float, str]],
) -> _Step:
    """`_Step(stage, stage_reason, caps, once)`, without the class call (once per event)."""
    step = _new_object(_Step)
    step.stage = stage
    step.stage_reason = stage_reason
    step.caps = caps
    step.once = once
    step.transition = None
    step.new_point = None
    step.shifted = ()
    step.engaged = False
    step.score_before = None
    step.digest = b""
    step.rate = None
    return step


_new_object = object.__new__


def apply_event(state: LeadState | None, event: Event, rules: Rules, now: float) -> LeadUpdate:
    """Score one event for its lead. `now` is processing time, used only for future skew.

    Timers are not fired here (see `scenarios.fire_due`), so an update never depends on
    when it is processed beyond the future-skew check.
    """
    if state is None:
        # (Feedback for a lead never seen is held until the lead's events come: see
        # `feedback.py`.)
        state = LeadState.new(event.lead_id, rules)
    elif state.rules_version != rules.version:
        from scorer.core.migrate import migrate_lead

        state = migrate_lead(state, rules)
    digest = event_digest(event.event_id)
    rejection = _screen(state, event, rules, now, digest)
    if rejection is not None:
        return rejection
    settled_until = state.settled[0]  # .t
    if settled_until is not None and event.occurred_at <= settled_until:
        # Only a kind never refused for lateness (feedback) gets here: the history before
        # the settled summary is final, so it takes effect at the summary's end.
        event = Event(
            event.event_id,
            event.lead_id,
            event.kind,
            settled_until,
            event.account_id,
            event.fields,
        )
    if event.kind in FEEDBACK_KINDS:
        return _feedback.receive(state, event, rules)
    rate = _rate_after(state, event, rules)
    if isinstance(rate, str):
        return _rejected(state, Outcome.RATE_LIMITED, rate)
    step = _plan(state, event, rules)
    step.digest = digest
    step.rate = rate
    update = _commit(state, event, step, rules)
    if update.state.loop[6] and update.state.stage not in BEFORE_HANDOFF:  # .held
        # The lead was handed off: the feedback that waited for it applies now.
        return _loop.release_held(state, update, rules)
    return update


def _commit(  # noqa: PLR0912, PLR0915 - one pass over the event: this is the hot path
    state: LeadState,
    event: Event,
    step: _Step,
    rules: Rules,
    remember: bool = True,
    loop: bool = True,
) -> LeadUpdate:
    """Apply a planned step at the event's time: trajectory, alerts, stage, outputs.

    `fire_due` also recycles through here, with a synthetic event it neither remembers
    (`remember`) nor hands to the loop (`loop`: it runs the loop itself).
    """
    t = event.occurred_at
    last_event_at = state.last_event_at
    # max(last_event_at, t), keeping the first of equal values like `max` does.
    watermark = t if last_event_at is None or t > last_event_at else last_event_at
    new_point = step.new_point
    last_t: float | None
    if (
        new_point is not None
        and new_point[3] is None  # .profile
        and new_point[4] is None  # .recycle_factor
        and not step.shifted
        and _IN_ORDER_SHORTCUT
        and (not state.open or _not_before(t, event.event_id, state.open[-1]))
    ):
        # An in-order event with awards, the common case: what `_place` and `with_values`
        # compute for it, in one go.
        points, last_engagement, engagement_after = _append(
            state, step, new_point, watermark, rules
        )
        index = len(points) - 1
        last_t, fit_now = t, points[-1][6]  # the new point's .t and .fit
        if watermark <= t:  # the event's own point: no decay yet
            engagement_now = engagement_after  # (sum(last_engagement), already added up)
        else:
            engagement_now = _engagement(t, last_engagement, watermark, rules)
    else:
        points, index = _place(state, step, event, watermark, rules)
        # Every point is at or before the watermark, so the last one holds the current values.
        if points:
            last = points[-1]
            # last.t, .engagement, .fit (by index: attribute access on a NamedTuple is slower)
            last_t, last_engagement, fit_now = last[0], last[5], last[6]
        else:
            last_t, last_engagement, fit_now = (
                state.settled.t,
                state.settled.engagement,
                state.settled.fit,
            )
        if last_t is not None and watermark <= last_t:  # the event's own point: no decay yet
            engagement_now = sum(last_engagement)  # (what `_engagement` returns, without a call)
        else:
            engagement_now = _engagement(last_t, last_engagement, watermark, rules)
    if (
        step.stage is _NEW
        and step.engaged
        and sum(points[index][5]) >= rules.lifecycle.engaged_min_points  # .engagement
    ):
        # Read just after the event, at its own time (not at the watermark): a positive
        # event read after a later negative one engages the lead as in time order.
        step.stage = _ENGAGED
        step.stage_reason = "engaged"
    size = len(points)
    if size < SETTLE_BATCH and size <= rules.timing.max_open_events:
        settle_count = 0  # (what `_settle_count` returns for fewer points than a batch)
    else:
        settle_count = _settle_count(points, watermark, rules)
    if new_point is not None and new_point[3] is not None:  # .profile: a profile update
        # Open profile updates keep their fields (each up to 2 KB): bounded apart, by
        # field count. Only a profile update adds fields, so only one needs the check.
        beyond = _profiles_beyond(points, rules.timing.max_open_profile_fields)
        settle_count = max(settle_count, beyond)
    alerts: tuple[Alert, ...]
    if (
        rules.effective_hold <= 0.0
        and new_point is not None
        and index == size - 1
        and not points[index][8]  # .fires
    ):
        emitted, alerts = state.emitted, ()  # (what `_emit` returns: nothing fired)
    else:
        emitted, alerts = _emit(state, step, points, index, watermark, settle_count, rules)
    settled, open_points = state.settled, points
    if settle_count:
        settled = settle(settled, points, settle_count, rules)
        open_points = points[settle_count:]
    account_id, account_at = state.account_id, state.account_at
    if event.account_id is not None and (account_at is None or t >= account_at):
        account_id, account_at = event.account_id, t
    if step.engaged:
        last_engaged_at, product = _interest(state, step, t)
    else:
        last_engaged_at, product = state.last_engaged_at, state.product
    recent = (
        # Feedback and released held feedback come with no digest from `apply_event`.
        state.recent_ids.add_digest(
            step.digest or event_digest(event.event_id), rules.explain.recent_event_ids
        )
        if remember
        else state.recent_ids
    )
    kind = event.kind
    last_active_at = state.last_active_at
    activity = kind in rules.activity_kinds
    if activity and last_active_at is not None and t > last_active_at:
        last_active_at = t

    role, company_fit, fit_rules = state.role, state.company_fit, state.fit_rules
    if new_point is not None and new_point[3] is not None:  # .profile
        attributes_after = attributes_before(settled, open_points, len(open_points))
        role = buying_role(attributes_after, rules)
        fit_rules = matched_fit_rules(attributes_after, rules)
        company_fit = company_part(fit_rules, rules)
    changes = _changes(state, event, step, watermark, fit_now + engagement_now, fit_rules, rules)
    kept = state.changes
    if changes:
        keep_changes = rules.explain.last_changes
        if keep_changes > 0:
            kept += changes
            if len(kept) > keep_changes:
                kept = kept[-keep_changes:]
        else:
            kept = ()
    stage = _STAGE_VALUES[step.stage]
    seq = state.seq + 1
    loop_now = state.loop
    if stage != state.stage:
        # Kept in event time, so scenario conditions read the stage as of an event's time.
        moved_at = t
        if step.transition is None and alerts:
            moved_at = max(alert.occurred_at for alert in alerts)
        loop_now = loop_now._replace(
            stages=moved(loop_now.stages, StageMove(moved_at, state.stage, stage))
        )
    new_state = _new_state(
        state.lead_id,
        rules.version,
        settled,
        stage,
        step.stage_reason,
        account_id,
        account_at,
        watermark,
        fit_now,
        grade_of(fit_now, engagement_now, rules.grades),
        open_points,
        step.caps,
        step.once,
        emitted,
        state.threshold_names,
        state.category_names,
        recent,
        kept,
        seq,
        last_engaged_at,
        product,
        role,
        company_fit,
        fit_rules,
        last_active_at,
        loop_now,
        state.rate if step.rate is None else step.rate,
    )
    signal = None
    if account_id is not None:
        # What `_signal(new_state, event)` builds, from the values at hand: the last open
        # point (or, with none left open, the settled summary) is `last`.
        signal = _new_signal(
            account_id,
            state.lead_id,
            seq,
            watermark,
            event.event_id,
            last_t,
            last_engagement,
            fit_now,
            company_fit,
            role,
            last_engaged_at,
            stage,
            product,
            rules.version,
        )
    before_stage = state.stage
    update = _new_update(
        new_state,
        _APPLIED,
        step.transition.reason if step.transition is not None else None,
        changes,
        alerts,
        (before_stage, stage) if stage != before_stage else None,
        signal,
    )
    if not loop:
        return update
    if (
        kind in FEEDBACK_KINDS
        or alerts
        or (state.last_active_at is None and rules.inactivity is not None)
        or ((started := state.loop[9]) is not None and t < started)  # .started_at
        or (activity and state.loop[3] is not None)  # .cold_since
        or (rules.state_scenarios and (step.new_point is not None or stage != before_stage))
    ):
        return _loop.after_event(state, update, event, step.transition, rules)
    memo = rules.loop_memos.get(kind)
    if memo is not None:
        cancels = False
        for scenario in memo.matching(event.fields):
            if scenario is None:
                if not _CANCEL_SHORTCUT:
                    return _loop.after_event(state, update, event, step.transition, rules)
                cancels = True
            elif not spent(loop_now, scenario, stage, t):
                return _loop.after_event(state, update, event, step.transition, rules)
        if cancels:
            return _loop.after_cancels(state, update, event, rules)
    return update


def _screen(
    state: LeadState, event: Event, rules: Rules, now: float, digest: bytes
) -> LeadUpdate | None:
    """Reject duplicates and events outside the time tolerances, before any work."""
    t = event.occurred_at
    event_id = event.event_id
    open_points = state.open
    recent = state.recent_ids
    # `event_id in recent`, without the method call
    seen = digest in recent.current
    if not seen:
        for block in recent.blocks:
            if digest in block:
                seen = True
                break
    if seen or (
        open_points and t <= open_points[-1][0] and _is_open_point(open_points, t, event_id)
    ):
        return _rejected(state, Outcome.DUPLICATE, "event id already applied")
    timing = rules.timing
    if t > now + timing.future_skew:
        return _rejected(state, Outcome.TOO_FAR_IN_FUTURE, str(future_problem(t, now, timing)))
    watermark = state.last_event_at
    settled_until = state.settled[0]  # .t
    lateness = rules.lateness_of[event.kind]
    if (watermark is not None and t < watermark - lateness) or (
        settled_until is not None and t <= settled_until and lateness != NEVER_LATE
    ):
        reason = lateness_problem(t, watermark, settled_until, lateness, event.kind.category)
        return _rejected(state, Outcome.TOO_LATE, str(reason))
    max_age = timing.max_age
    if max_age is not None and t < now - max_age:
        return _rejected(state, Outcome.TOO_OLD, str(age_problem(t, now, timing)))
    return None


def _rate_after(state: LeadState, event: Event, rules: Rules) -> tuple[float, int] | str | None:
    """The lead's rate window after counting the event, None if it does not count (no
    limit, or sales feedback), or why it is refused.

    The window is the `per`-second slot of event time (floor(t / per) * per) of the
    latest counted event. An event in a later slot opens a new window; any other (the
    same slot, or a late event from an earlier one) counts in the current window. An
    event that would make the window count more than `max_events` is refused and does
    not count. Only the lead's own events decide, in arrival order: the worker and
    `score-file` agree.
    """
    limit = rules.rate_limit
    if limit is None or event.kind in FEEDBACK_KINDS:
        return None
    start = floor(event.occurred_at / limit.per) * limit.per
    rate = state.rate
    if rate is None or start > rate[0]:
        return (start, 1)
    if rate[1] >= limit.max_events:
        return (
            f"lead over its rate limit: {limit.max_events} events in the {limit.per:.0f}s "
            f"window starting {rate[0]:.0f} (event time)"
        )
    return (rate[0], rate[1] + 1)


_STAGES = {stage.value: stage for stage in Stage}
# `Stage.value` is a descriptor call; these lookups are plain dict hits.
_STAGE_VALUES = {stage: stage.value for stage in Stage}


def _is_open_point(points: tuple[Point, ...], t: float, event_id: str) -> bool:
    """An event still on the open trajectory is a duplicate even if the recent-id memory
    (smaller than the open window) has forgotten it."""
    if not points or t > points[-1].t:
        return False
    index = insert_index(points, t, event_id)
    return index < len(points) and points[index].event_id == event_id and points[index].t == t


def _feedback_step(state: LeadState, event: Event, decided: Transition, rules: Rules) -> _Step:
    """The step of a decided feedback transition (see `feedback.py`)."""
    step = _new_step(_STAGES[state.stage], state.stage_reason, state.caps, state.once)
    step.transition = decided
    step.stage = decided.after
    step.stage_reason = decided.reason
    if decided.recycle:
        point = Point(
            event.occurred_at, event.event_id, recycle_factor=rules.lifecycle.recycle_factor
        )
        step.new_point = point
    return step


def _plan(state: LeadState, event: Event, rules: Rules) -> _Step:
    """What a scoring event does: a profile change or awards (feedback: `feedback.py`)."""
    step = _new_step(_STAGES[state.stage], state.stage_reason, state.caps, state.once)
    kind = event.kind
    t = event.occurred_at
    if kind is _PROFILE_UPDATED:
        step.new_point = Point(t, event.event_id, profile=interned_fields(event.fields))
    else:
        awards = _awards(state, event, rules, step)
        if awards:
            step.new_point = _tuple_new(
                Point, (t, event.event_id, awards, None, None, (), 0.0, (), ())
            )
            for award in awards:
                if award[3] > 0.0:  # award.points
                    step.engaged = True
                    break
    return step


# `_append` (and `_place`, for a recycling point) compute an in-order event's point
# directly instead of through `recompute`; tests/property/test_fast_paths.py switches this
# off to compare both ways.
_IN_ORDER_SHORTCUT = True
# `_commit` hands an event that only cancels scenarios to `scenarios.after_cancels`
# instead of the full `after_event`; the same tests switch this off to compare.
_CANCEL_SHORTCUT = True


def _place(
    state: LeadState, step: _Step, event: Event, watermark: float, rules: Rules
) -> tuple[tuple[Point, ...], int]:
    """Insert the event's point at its event-time place and recompute from there.

    Returns the open points with the new one and its index (len(open) if it adds none).
    """
    open_points = state.open
    new_point = step.new_point
    index = len(open_points)
    if new_point is None:
        return open_points, index
    key = (event.occurred_at, event.event_id)
    in_order = not open_points or not key < (open_points[-1].t, open_points[-1].event_id)
    if in_order and not step.shifted and new_point.profile is None and _IN_ORDER_SHORTCUT:
        # The point goes last and no earlier point changes, so only its own values are
        # computed from the last point's, as `recompute` would (`advance`). The decayed
        # values also give the score just before the event, for `_changes`. (Awards-only
        # points, the common case, take `_append` instead: this is a recycling point's.)
        last = open_points[-1] if open_points else state.settled
        t = new_point.t
        if last.t is None or t <= last.t:
            values = list(last.engagement)
            engagement_before = sum(values)
        else:
            values = decayed(last.engagement, t - last.t, rules)
            engagement_before = 0.0
            for value in values:  # added up in category order, as `_engagement` does
                engagement_before += value
        if t == watermark:
            step.score_before = last.fit + engagement_before
        point = with_values(new_point, values, last.fit, last.gates, last.fit, rules)
        return (*open_points, point), index
    points = list(open_points)
    if not in_order:
        index = insert_index(points, *key)
    for entry, rule_id, _, _ in step.shifted:
        _shift_award(points, entry, rule_id)
    points.insert(index, new_point)
    recompute(state.settled, points, index, rules)
    return tuple(points), index


def _not_before(t: float, event_id: str, point: Point) -> bool:
    """not (t, event_id) < (point.t, point.event_id), without building the tuples."""
    at = point[0]
    return t > at or (t == at and not event_id < point[1])


def _append(
    state: LeadState, step: _Step, new_point: Point, watermark: float, rules: Rules
) -> tuple[tuple[Point, ...], tuple[float, ...], float]:
    """The open points with an in-order awards-only `new_point` placed last, with its
    values computed from the last point's (`_place`'s shortcut and `with_values` in one
    function: this runs for most events); also its engagement vector and their sum.
    Sets `step.score_before` as `_place` does."""
    open_points = state.open
    last_t: float | None
    if open_points:
        previous = open_points[-1]
        # previous.t, .engagement, .fit, .gates (by index: see `timeline.with_values`)
        last_t, engagement, fit, gates = previous[0], previous[5], previous[6], previous[7]
    else:
        settled = state.settled
        last_t, engagement, fit, gates = settled.t, settled.engagement, settled.fit, settled.gates
    t = new_point[0]
    if last_t is None or t <= last_t:
        values = list(engagement)
        engagement_before = sum(values)
    else:
        values = decayed(engagement, t - last_t, rules)
        engagement_before = 0.0
        for value in values:  # added up in category order, as `_engagement` does
            engagement_before += value
    if t == watermark:
        step.score_before = fit + engagement_before
    # with_values(new_point, values, fit, gates, fit, rules), for a point with awards only
    before = sum(values)
    awards = new_point[2]
    category_index = rules.category_index
    for award in awards:
        values[category_index[award[1]]] += award[3]  # award.category, award.points
    after = sum(values)
    new_gates, fires = step_gates(gates, rules.thresholds, t, fit, before, fit, after, False)
    vector = tuple(values)
    point = _tuple_new(Point, (t, new_point[1], awards, None, None, vector, fit, new_gates, fires))
    return (*open_points, point), vector, after


SETTLE_BATCH = 8


def _settle_count(points: Sequence[Point], watermark: float, rules: Rules) -> int:
    """How many leading points to fold into the settled summary now.

    Points older than the lateness horizon are final; they are folded in batches of
    `SETTLE_BATCH` (folding costs a ledger rebuild, and a final point left open changes
    nothing: no acceptable late event can be inserted before it). Beyond
    `max_open_events` the oldest points are folded regardless.
    """
    size = len(points)
    overflow = size - rules.timing.max_open_events
    horizon = watermark - rules.open_window
    if size < SETTLE_BATCH or not points[SETTLE_BATCH - 1].t < horizon:
        # Points are in time order: fewer than a batch are final. Settle only the overflow.
        return overflow if overflow > 0 else 0
    count = SETTLE_BATCH
    while count < size and points[count].t < horizon:
        count += 1
    return max(count, overflow)


def _profiles_beyond(points: Sequence[Point], limit: int) -> int:
    """How many leading points to settle so that the open profile updates hold at most
    `limit` fields together: up to and including the newest profile update that would
    take them over it (counting from the newest)."""
    fields = 0
    for index in range(len(points) - 1, -1, -1):
        profile = points[index][3]  # .profile
        if profile is not None:
            fields += len(profile)
            if fields > limit:
                return index + 1
    return 0


def _emit(
    state: LeadState,
    step: _Step,
    points: Sequence[Point],
    index: int,
    watermark: float,
    settle_count: int,
    rules: Rules,
) -> tuple[tuple[int, ...], tuple[Alert, ...]]:
    """Alerts for crossings not emitted yet whose hold has passed (or that settle now).

    Per threshold only crossings with an epoch above the last emitted one are emitted, so a
    crossing recomputed after a late event never produces a second alert with the same id.
    A crossing in a stage where the threshold does not alert is consumed silently.
    """
    hold = rules.effective_hold
    size = len(points)
    if hold > 0.0:
        scan_from = 0
    elif step.new_point is None:
        return state.emitted, ()
    else:
        # With no hold, crossings before the new point were emitted when they happened.
        scan_from = index
    if scan_from == size - 1:
        if not points[scan_from].fires:
            return state.emitted, ()
    elif not any(p.fires for p in points[scan_from:]):
        return state.emitted, ()
    emitted = list(state.emitted)
    alerts: list[Alert] = []
    for j in range(scan_from, size):
        point = points[j]
        if not point.fires or (j >= settle_count and not _released(point.t, watermark, hold)):
            continue
        for threshold_index in point.fires:
            epoch = point.gates[threshold_index].epoch
            if epoch <= emitted[threshold_index]:
                continue
            emitted[threshold_index] = epoch
            threshold = rules.thresholds[threshold_index]
            if step.stage not in threshold.alert_in_stages:
                continue
            if threshold.moves_to is not None and step.stage is not threshold.moves_to:
                step.stage = threshold.moves_to
                step.stage_reason = f"{threshold.name} threshold crossed"
            alerts.append(_lead_alert(state, points, j, threshold_index, epoch, step.stage, rules))
    return tuple(emitted), tuple(alerts)


def _released(at: float, watermark: float, hold: float) -> bool:
    """Whether a crossing at event time `at` may be emitted now.

    With a hold, strictly older than watermark - hold: an event exactly at the lateness
    horizon is still accepted and could sort before the crossing (ties go by event id).
    """
    if hold <= 0.0:
        return at <= watermark
    return at < watermark - hold


def _interest(state: LeadState, step: _Step, t: float) -> tuple[float | None, str | None]:
    """Last positive engagement time, and the product named by the latest (in event time)
    positively scored event that named one: a cheap routing hint for account alerts. Lead
    alerts route by the exact decayed product interest at the crossing instead."""
    last_engaged_at = state.last_engaged_at
    product = state.product
    point = step.new_point
    if point is not None and step.engaged:
        if last_engaged_at is None or t >= last_engaged_at:
            for award in point[2]:  # .awards
                award_product = award[4]  # .product
                if award_product is not None:
                    product = award_product or product
                    break
        if last_engaged_at is None or t > last_engaged_at:  # max(), keeping the first of ties
            last_engaged_at = t
    return last_engaged_at, product


def _awards(  # noqa: PLR0912, PLR0915 - one pass over the matched rules: this is the hot path
    state: LeadState, event: Event, rules: Rules, step: _Step
) -> tuple[Award, ...]:
    """The event's awards; sets the step's cap logs, once-only holders and shifted awards."""
    plans = rules.kind_plans.get(event.kind)
    if plans is None:
        return ()
    fields = event.fields
    matched = plans.matching(fields)
    if not matched:
        return ()
    product_field = fields.get("product")
    product = product_field if isinstance(product_field, str) and product_field else None
    t = event.occurred_at
    event_id = event.event_id
    last_event_at = state.last_event_at
    # max(last_event_at, t), keeping the first of equal values like `max` does.
    watermark = t if last_event_at is None or t > last_event_at else last_event_at
    horizon = watermark - rules.open_window
    awards: list[Award] = []
    caps: dict[str, tuple[CapEntry, ...]] | None = None
    once: dict[str, tuple[float, str]] | None = None
    shifted: list[tuple[CapEntry, str, float, str]] | None = None
    alone: tuple[Award] | None = None
    for plan in matched:
        rule, category = plan[0], plan[2]  # (by index: see `timeline.with_values`)
        points = rule.points
        if rule.once:
            if once is None:
                once = _thaw(state.once)
            if shifted is None:
                shifted = []
            points = _once_only(once, rule, t, event_id, shifted)
        elif rule.cap is not None:
            if caps is None:
                caps = _thaw(state.caps)
            cap = rule.cap
            rule_id = rule.id
            log = caps.get(rule_id, ())
            if log and not _after(t, event_id, log[-1]):
                log, points, changed = reallocate(log, t, event_id, points, cap)
                for other, previous in changed:
                    if shifted is None:
                        shifted = []
                    shifted.append((other, rule_id, other.points - previous, "cap_shifted"))
            else:
                # In order (the common case): what `reallocate` does for the last place.
                points = appended_award(log, t, points, cap)
                log = (*log, _tuple_new(CapEntry, (t, event_id, rule.points, points)))
            if len(log) > COMPACT_ABOVE:
                # A long log (a burst of events): drop what no acceptable event can need.
                log = compact_cap_log(log, horizon, state.settled[0], cap.window)
            else:
                keep_after = horizon - cap.window
                if log[0][0] <= keep_after:  # log[0].occurred_at: what prune_cap_log checks
                    log = prune_cap_log(log, keep_after)
            caps[rule_id] = log
        if product is None and points == rule.points != 0.0:
            # The rule's full points and no product (most awards): the same Award for
            # every lead, built once per plan, instead of one more tuple per point.
            shared = _FULL_AWARDS.get(id(plan))
            if shared is None or shared[0] is not plan:
                shared = _full_award(plan)
            award = shared[1]
            alone = shared[2]
        else:
            award = _tuple_new(Award, (rule.id, category, rule.points, points, product))
        awards.append(award)
    if caps is not None:
        step.caps = MappingProxyType(caps)
    if once is not None:
        step.once = MappingProxyType(once)
    if shifted:
        step.shifted = tuple(shifted)
    if len(awards) == 1 and alone is not None and awards[0] is alone[0]:
        return alone  # (award,): shared as well
    return tuple(awards)


# id(plan) -> (plan, kept alive so that its id stays unique; its full award; (award,)).
_FULL_AWARDS: dict[int, tuple[AwardPlan, Award, tuple[Award]]] = {}


def _full_award(plan: AwardPlan) -> tuple[AwardPlan, Award, tuple[Award]]:
    rule = plan[0]
    award = Award(rule.id, plan[2], rule.points, rule.points, None)
    if len(_FULL_AWARDS) >= 4096:  # only if rules are reloaded again and again
        _FULL_AWARDS.clear()
    shared = _FULL_AWARDS[id(plan)] = (plan, award, (award,))
    return shared


def _after(t: float, event_id: str, entry: CapEntry) -> bool:
    """(t, event_id) > (entry.occurred_at, entry.event_id), without building the tuples."""
    at = entry[0]
    return t > at or (t == at and event_id > entry[1])


def _once_only(
    once: dict[str, tuple[float, str]],
    rule: EngagementRule,
    t: float,
    event_id: str,
    shifted: list[tuple[CapEntry, str, float, str]],
) -> float:
    """The points of a once-only rule: all of them if the event is the rule's earliest
    (taking them from the previous holder), else none."""
    holder = once.get(rule.id)
    if holder is None:
        once[rule.id] = (t, event_id)
    elif (t, event_id) < holder:
        once[rule.id] = (t, event_id)
        loser = CapEntry(holder[0], holder[1], rule.points, 0.0)
        shifted.append((loser, rule.id, -rule.points, "once_shifted"))
    else:
        return 0.0
    return rule.points


K = TypeVar("K")
V = TypeVar("V")


def _thaw(mapping: Mapping[K, V]) -> dict[K, V]:
    """A mutable copy; `MappingProxyType.copy` copies the dict underneath at C speed."""
    return mapping.copy() if isinstance(mapping, MappingProxyType) else dict(mapping)


def _shift_award(points: list[Point], entry: CapEntry, rule_id: str) -> None:
    """Set the award of `rule_id` on the point of `entry` to `entry.points`."""
    index = insert_index(points, entry.occurred_at, entry.event_id)
    if index >= len(points) or points[index].event_id != entry.event_id:
        return
    point = points[index]
    awards = tuple(
        Award(a.rule_id, a.category, a.raw, entry.points, a.product) if a.rule_id == rule_id else a
        for a in point.awards
    )
    points[index] = Point(point.t, point.event_id, awards, point.profile, point.recycle_factor)


def _primary_product(by_product: dict[str, float]) -> str | None:
    best = max(
        ((points, name) for name, points in by_product.items() if points > 0.0), default=None
    )
    return None if best is None else best[1]


def _lead_alert(
    state: LeadState,
    points: Sequence[Point],
    index: int,
    threshold_index: int,
    epoch: int,
    stage: Stage,
    rules: Rules,
) -> Alert:
    point = points[index]
    threshold = rules.thresholds[threshold_index]
    by_rule, by_product = contributions_at(state.settled, points, index + 1, point.t, rules)
    attributes = attributes_before(state.settled, points, index + 1)
    for rule_id, fit_points in fit_contributions(attributes, rules):
        by_rule[rule_id] = by_rule.get(rule_id, 0.0) + fit_points
    n = rules.explain.top_reasons
    reasons = tuple(
        Reason(rule_id, rules.rule_label(rule_id), points) for rule_id, points in ranked(by_rule, n)
    )
    negatives = tuple(
        Reason(rule_id, rules.rule_label(rule_id), points)
        for rule_id, points in ranked_negative(by_rule, n)
    )
    engagement = sum(point.engagement)
    product = _primary_product(by_product)
    team = route(rules.routing, product, attributes)
    return Alert(
        alert_id=lead_alert_id(state.lead_id, threshold.name, epoch),
        kind=threshold.name,
        subject="lead",
        lead_id=state.lead_id,
        account_id=state.account_id,
        score=point.fit + engagement,
        fit=point.fit,
        engagement=engagement,
        grade=grade_of(point.fit, engagement, rules.grades),
        stage=stage.value,
        threshold=threshold.name,
        threshold_value=threshold.value,
        epoch=epoch,
        reasons=reasons,
        rules_version=rules.version,
        occurred_at=point.t,
        event_id=point.event_id,
        team=team,
        product=product,
        contacts=(state.lead_id,),
        negative_reasons=negatives,
    )


def _changes(
    old: LeadState,
    event: Event,
    step: _Step,
    as_of: float,
    after: float,
    fit_rules: tuple[str, ...],
    rules: Rules,
) -> tuple[ScoreChange, ...]:
    """The audit records of one event: one per rule it moved (including shifted caps)."""
    new_point = step.new_point
    if new_point is None:
        return ()
    before = step.score_before
    if before is None:
        # `as_of` is the new watermark: the old state's last point holds its values before.
        last = old.open[-1] if old.open else old.settled
        before = last.fit + _engagement(last.t, last.engagement, as_of, rules)
    lead_id = old.lead_id
    version = rules.version
    changes: list[ScoreChange] = []
    event_id, t = event.event_id, event.occurred_at
    elapsed = as_of - t
    for award in new_point[2]:  # .awards
        rule_id, category, raw, points = award[0], award[1], award[2], award[3]
        note = None
        if points != raw:
            rule = rules.rule_by_id.get(rule_id)
            note = "once_only" if rule is not None and rule.once else "capped"
        factor = 1.0 if elapsed <= 0.0 else _decay_of(rules, category, elapsed)
        changes.append(
            _new_change(
                lead_id,
                event_id,
                rule_id,
                version,
                category,
                raw,
                points,
                factor,
                points * factor,
                before,
                after,
                t,
                as_of,
                note,
            )
        )
    for entry, rule_id, delta, note in step.shifted:
        rule = rules.rule_by_id.get(rule_id)
        category = (rule.category if rule is not None else None) or event.kind.category
        factor = _decay_of(rules, category, as_of - entry.occurred_at)
        changes.append(
            _new_change(
                lead_id,
                entry.event_id,
                rule_id,
                version,
                category,
                entry.raw,
                delta,
                factor,
                delta * factor,
                before,
                after,
                entry.occurred_at,
                as_of,
                note,
            )
        )
    if new_point[3] is not None and fit_rules != old.fit_rules:  # .profile
        changes.extend(_fit_changes(old, event, fit_rules, before, after, as_of, rules))
    transition = step.transition
    if transition is not None and transition.recycle:
        delta = after - before
        changes.append(
            _new_change(
                lead_id,
                event.event_id,
                "lifecycle.recycle",
                version,
                "lifecycle",
                rules.lifecycle.recycle_factor,
                delta,
                1.0,
                delta,
                before,
                after,
                event.occurred_at,
                as_of,
                transition.reason,
            )
        )
    return tuple(changes)


def _decay_of(rules: Rules, category: str, elapsed: float) -> float:
    index = rules.category_index.get(category)
    return decay_factor(elapsed, rules.half_lives[index] if index is not None else None)


def _fit_changes(
    old: LeadState,
    event: Event,
    fit_rules: tuple[str, ...],
    before: float,
    after: float,
    as_of: float,
    rules: Rules,
) -> list[ScoreChange]:
    """A profile update replaces fit: one change per fit rule that started or stopped
    matching (+points / -points), never a re-add of rules that still match."""
    was, now = set(old.fit_rules), set(fit_rules)
    changes = []
    for rule_id in sorted(was ^ now):
        rule = rules.fit_by_id.get(rule_id)
        if rule is None:
            continue
        delta = rule.points if rule_id in now else -rule.points
        changes.append(
            _new_change(
                old.lead_id,
                event.event_id,
                rule_id,
                rules.version,
                "fit",
                rule.points,
                delta,
                1.0,
                delta,
                before,
                after,
                event.occurred_at,
                as_of,
                "fit_matched" if rule_id in now else "fit_unmatched",
            )
        )
    return changes


def buying_role(attributes: Mapping[str, FieldValue], rules: Rules) -> str | None:
    """The first buying-group role (in rules order) whose condition the lead matches."""
    roles = rules.role_memo.matching(attributes)
    return roles[0] if roles else None


def _signal(state: LeadState, event: Event) -> LeadSignal:
    assert state.account_id is not None  # noqa: S101 - guarded by the caller
    ref: float | None = state.settled.t
    vector = state.settled.engagement
    if state.open:
        ref, vector = state.open[-1].t, state.open[-1].engagement
    return _new_signal(
        state.account_id,
        state.lead_id,
        state.seq,
        state.last_event_at if state.last_event_at is not None else event.occurred_at,
        event.event_id,
        ref,
        vector,
        state.fit,
        state.company_fit,
        state.role,
        state.last_engaged_at,
        state.stage,
        state.product,
        state.rules_version,
    )


def restated_signal(state: LeadState, event: Event) -> LeadSignal | None:
    """The lead's current contribution to its account, restated for a duplicate event.

    After a crash a lead's state can be persisted while the signal that carried it to the
    account was lost; the re-processed event is then a duplicate and would emit nothing.
    Restating heals that, and the account fold ignores a signal whose sequence it has
    already seen, so restating is harmless otherwise.
    """
    return _signal(state, event) if state.account_id is not None else None


def with_loop(state: LeadState, last_active_at: float | None, loop: HandoffLoop) -> LeadState:
    """`state` with other loop fields: `dataclasses.replace` without its per-field
    getattr and keyword overhead (the loop runs this for every event it handles)."""
    return _new_state(
        state.lead_id,
        state.rules_version,
        state.settled,
        state.stage,
        state.stage_reason,
        state.account_id,
        state.account_at,
        state.last_event_at,
        state.fit,
        state.grade,
        state.open,
        state.caps,
        state.once,
        state.emitted,
        state.threshold_names,
        state.category_names,
        state.recent_ids,
        state.changes,
        state.seq,
        state.last_engaged_at,
        state.product,
        state.role,
        state.company_fit,
        state.fit_rules,
        last_active_at,
        loop,
        state.rate,
    )


def route_lead(state: LeadState, rules: Rules) -> str | None:
    """The team a lead belongs to now: its current hand-off's team, else where the
    routing rules send its latest product interest and attributes."""
    if state.handoff is not None:
        return state.team
    return route(rules.routing, state.product, state.attributes)


# The loop and feedback modules import this one; bound last so either can be imported first.
import scorer.core.feedback as _feedback  # noqa: E402
import scorer.core.scenarios as _loop  # noqa: E402
