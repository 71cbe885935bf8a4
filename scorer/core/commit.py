"""Committing a planned step: the new trajectory, alerts, stage, state and outputs of one
event (the hand-off loop runs after it: `lead.py`)."""

from __future__ import annotations

from scorer.core import fast_paths
from scorer.core.alerts import Alert
from scorer.core.audit import score_changes
from scorer.core.decay import decayed_engagement
from scorer.core.dedup import event_digest
from scorer.core.emission import emit_alerts
from scorer.core.events import Event
from scorer.core.explain import ScoreChange
from scorer.core.fit import (
    company_part,
    matched_fit_rules,
)
from scorer.core.grade import grade as grade_of
from scorer.core.lead_reads import buying_role
from scorer.core.lead_signal import LeadSignal
from scorer.core.lead_state import (
    LeadState,
    LeadUpdate,
    Outcome,
)
from scorer.core.ledger import settle
from scorer.core.placement import (
    append_in_order,
    not_before,
    place,
    profiles_beyond,
    settle_count_at,
)
from scorer.core.rules import Rules, Stage
from scorer.core.step import Step
from scorer.core.timeline import (
    Point,
    Settled,
    attributes_before,
)
from scorer.core.timers import (
    HandoffLoop,
    StageMove,
    moved,
)

_APPLIED = Outcome.APPLIED
_NEW, _ENGAGED = Stage.NEW, Stage.ENGAGED


# Long only because the two record constructions (one field a line) take half of it.
def commit(
    state: LeadState,
    event: Event,
    step: Step,
    rules: Rules,
    remember: bool = True,
) -> LeadUpdate:
    """Apply a planned step at the event's time: trajectory, alerts, stage, outputs.

    The hand-off loop is not run here: `lead.apply_event` runs it after, and `fire_due`
    (which also recycles through here, with a synthetic event it does not `remember`)
    runs it itself.
    """
    t = event.occurred_at
    last_event_at = state.last_event_at
    # max(last_event_at, t), keeping the first of equal values like `max` does.
    watermark = t if last_event_at is None or t > last_event_at else last_event_at
    new_point = step.new_point
    points, index = _placed(state, step, event, watermark, rules)
    # Every point is at or before the watermark, so the last one holds the current values.
    last = points[-1] if points else state.settled
    last_t, last_engagement, fit_now = last.t, last.engagement, last.fit
    engagement_now = decayed_engagement(last_t, last_engagement, watermark, rules)
    _engage(step, points[index] if step.engaged else None, rules)
    settle_count = _settle_count(points, new_point, watermark, rules)
    emitted, alerts = emit_alerts(state, step, points, index, watermark, settle_count, rules)
    settled, open_points = state.settled, points
    if settle_count:
        settled = settle(settled, points, settle_count, rules)
        open_points = points[settle_count:]
    account_id, account_at = _account_of(state, event)
    if step.engaged:
        last_engaged_at, product = interest(state, step, t)
    else:
        last_engaged_at, product = state.last_engaged_at, state.product
    recent = state.recent_ids
    if remember:
        # Feedback and released held feedback come with no digest from `apply_event`.
        digest = step.digest or event_digest(event.event_id)
        recent = recent.add_digest(digest, rules.explain.recent_event_ids)
    last_active_at = state.last_active_at
    if event.kind in rules.activity_kinds and last_active_at is not None and t > last_active_at:
        last_active_at = t
    role, company_fit, fit_rules = state.role, state.company_fit, state.fit_rules
    if new_point is not None and new_point.profile is not None:
        role, company_fit, fit_rules = _profile_reads(settled, open_points, rules)
    changes = score_changes(
        state, event, step, watermark, fit_now + engagement_now, fit_rules, rules
    )
    kept = _kept_changes(state.changes, changes, rules) if changes else state.changes
    stage = step.stage.value
    seq = state.seq + 1
    loop_now = state.loop
    if stage != state.stage:
        loop_now = _with_stage_move(state, step, alerts, t)
    # positional, in field order: keywords cost about 1 µs more per event (bench_core)
    next_state = LeadState(
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
        # What `lead_signal(new_state, event)` builds, from the values at hand: the last open
        # point (or, with none left open, the settled summary) is `last`.
        # positional, in field order: keywords cost about 1 µs more per event (bench_core)
        signal = LeadSignal(
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
    # positional, in field order: keywords cost about 1 µs more per event (bench_core)
    return LeadUpdate(
        next_state,
        _APPLIED,
        step.transition.reason if step.transition is not None else None,
        changes,
        alerts,
        (before_stage, stage) if stage != before_stage else None,
        signal,
    )


def _engage(step: Step, point: Point | None, rules: Rules) -> None:
    """A new lead whose positive event takes it to `engaged_min_points` is engaged. Read
    just after the event, at its own time (not at the watermark): a positive event read
    after a later negative one engages the lead as in time order."""
    if (
        point is not None
        and step.stage is _NEW
        and sum(point.engagement) >= rules.lifecycle.engaged_min_points
    ):
        step.stage = _ENGAGED
        step.stage_reason = "engaged"


def _settle_count(
    points: tuple[Point, ...], new_point: Point | None, watermark: float, rules: Rules
) -> int:
    """How many leading points settle after the event (`placement.settle_count_at`)."""
    count = settle_count_at(points, watermark, rules)
    if new_point is not None and new_point.profile is not None:  # a profile update
        # Open profile updates keep their fields (each up to 2 KB): bounded apart, by
        # field count. Only a profile update adds fields, so only one needs the check.
        beyond = profiles_beyond(points, rules.timing.max_open_profile_fields)
        count = max(count, beyond)
    return count


def _account_of(state: LeadState, event: Event) -> tuple[str | None, float | None]:
    """The lead's account and since when: the latest (in event time) event naming one."""
    account_id, account_at = state.account_id, state.account_at
    t = event.occurred_at
    if event.account_id is not None and (account_at is None or t >= account_at):
        account_id, account_at = event.account_id, t
    return account_id, account_at


def _profile_reads(
    settled: Settled, open_points: tuple[Point, ...], rules: Rules
) -> tuple[str | None, float, tuple[str, ...]]:
    """Buying role, company fit and matched fit rules after a profile update."""
    attributes_after = attributes_before(settled, open_points, len(open_points))
    fit_rules = matched_fit_rules(attributes_after, rules)
    return buying_role(attributes_after, rules), company_part(fit_rules, rules), fit_rules


def _kept_changes(
    kept: tuple[ScoreChange, ...], changes: tuple[ScoreChange, ...], rules: Rules
) -> tuple[ScoreChange, ...]:
    """The lead's last `explain.last_changes` audit records, with the event's added."""
    keep_changes = rules.explain.last_changes
    if keep_changes <= 0:
        return ()
    kept += changes
    return kept[-keep_changes:] if len(kept) > keep_changes else kept


def _with_stage_move(
    state: LeadState, step: Step, alerts: tuple[Alert, ...], t: float
) -> HandoffLoop:
    """The loop memory with the stage move recorded, in event time (so scenario conditions
    read the stage as of an event's time): at the event, or at its latest crossing when a
    threshold moved the stage."""
    moved_at = t
    if step.transition is None and alerts:
        moved_at = max(alert.occurred_at for alert in alerts)
    loop = state.loop
    move = StageMove(moved_at, state.stage, step.stage.value)
    return loop._replace(stages=moved(loop.stages, move))


def _placed(
    state: LeadState, step: Step, event: Event, watermark: float, rules: Rules
) -> tuple[tuple[Point, ...], int]:
    """The open points with the event's point placed, and its index."""
    new_point = step.new_point
    if (
        new_point is not None
        and new_point.profile is None
        and new_point.recycle_factor is None
        and not step.shifted
        and fast_paths.IN_ORDER_SHORTCUT
        and (not state.open or not_before(event.occurred_at, event.event_id, state.open[-1]))
    ):
        # An in-order event with awards, the common case: what `place` and `with_values`
        # compute for it, in one go.
        points = append_in_order(state, step, new_point, watermark, rules)
        return points, len(points) - 1
    return place(state, step, event, watermark, rules)


def interest(state: LeadState, step: Step, t: float) -> tuple[float | None, str | None]:
    """Last positive engagement time, and the product named by the latest (in event time)
    positively scored event that named one: a cheap routing hint for account alerts. Lead
    alerts route by the exact decayed product interest at the crossing instead."""
    last_engaged_at = state.last_engaged_at
    product = state.product
    point = step.new_point
    if point is not None and step.engaged:
        if last_engaged_at is None or t >= last_engaged_at:
            for award in point.awards:
                award_product = award.product
                if award_product is not None:
                    product = award_product or product
                    break
        if last_engaged_at is None or t > last_engaged_at:  # max(), keeping the first of ties
            last_engaged_at = t
    return last_engaged_at, product
