"""Committing a planned step: the new trajectory, alerts, stage, state and outputs of one
event (the hand-off loop runs after it: `lead.py`)."""

from __future__ import annotations

from scorer.core import fast_paths
from scorer.core.account import new_signal
from scorer.core.audit import score_changes
from scorer.core.decay import decayed_engagement
from scorer.core.dedup import event_digest
from scorer.core.emission import emit_alerts
from scorer.core.events import Event
from scorer.core.fit import (
    company_part,
    matched_fit_rules,
)
from scorer.core.grade import grade as grade_of
from scorer.core.lead_reads import buying_role
from scorer.core.lead_state import (
    LeadState,
    LeadUpdate,
    Outcome,
    new_state,
    new_update,
)
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
    attributes_before,
    settle,
)
from scorer.core.timers import (
    StageMove,
    moved,
)

_APPLIED = Outcome.APPLIED
_NEW, _ENGAGED = Stage.NEW, Stage.ENGAGED


def commit(  # noqa: PLR0912, PLR0915 - one pass over the event: this is the hot path
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
    if (
        step.stage is _NEW
        and step.engaged
        and sum(points[index].engagement) >= rules.lifecycle.engaged_min_points
    ):
        # Read just after the event, at its own time (not at the watermark): a positive
        # event read after a later negative one engages the lead as in time order.
        step.stage = _ENGAGED
        step.stage_reason = "engaged"
    settle_count = settle_count_at(points, watermark, rules)
    if new_point is not None and new_point.profile is not None:  # a profile update
        # Open profile updates keep their fields (each up to 2 KB): bounded apart, by
        # field count. Only a profile update adds fields, so only one needs the check.
        beyond = profiles_beyond(points, rules.timing.max_open_profile_fields)
        settle_count = max(settle_count, beyond)
    emitted, alerts = emit_alerts(state, step, points, index, watermark, settle_count, rules)
    settled, open_points = state.settled, points
    if settle_count:
        settled = settle(settled, points, settle_count, rules)
        open_points = points[settle_count:]
    account_id, account_at = state.account_id, state.account_at
    if event.account_id is not None and (account_at is None or t >= account_at):
        account_id, account_at = event.account_id, t
    if step.engaged:
        last_engaged_at, product = interest(state, step, t)
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
    if new_point is not None and new_point.profile is not None:
        attributes_after = attributes_before(settled, open_points, len(open_points))
        role = buying_role(attributes_after, rules)
        fit_rules = matched_fit_rules(attributes_after, rules)
        company_fit = company_part(fit_rules, rules)
    changes = score_changes(
        state, event, step, watermark, fit_now + engagement_now, fit_rules, rules
    )
    kept = state.changes
    if changes:
        keep_changes = rules.explain.last_changes
        if keep_changes > 0:
            kept += changes
            if len(kept) > keep_changes:
                kept = kept[-keep_changes:]
        else:
            kept = ()
    stage = step.stage.value
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
    next_state = new_state(
        lead_id=state.lead_id,
        rules_version=rules.version,
        settled=settled,
        stage=stage,
        stage_reason=step.stage_reason,
        account_id=account_id,
        account_at=account_at,
        last_event_at=watermark,
        fit=fit_now,
        grade=grade_of(fit_now, engagement_now, rules.grades),
        open=open_points,
        caps=step.caps,
        once=step.once,
        emitted=emitted,
        threshold_names=state.threshold_names,
        category_names=state.category_names,
        recent_ids=recent,
        changes=kept,
        seq=seq,
        last_engaged_at=last_engaged_at,
        product=product,
        role=role,
        company_fit=company_fit,
        fit_rules=fit_rules,
        last_active_at=last_active_at,
        loop=loop_now,
        rate=state.rate if step.rate is None else step.rate,
    )
    signal = None
    if account_id is not None:
        # What `lead_signal(new_state, event)` builds, from the values at hand: the last open
        # point (or, with none left open, the settled summary) is `last`.
        signal = new_signal(
            account_id=account_id,
            lead_id=state.lead_id,
            seq=seq,
            at=watermark,
            event_id=event.event_id,
            ref=last_t,
            engagement=last_engagement,
            fit=fit_now,
            company_fit=company_fit,
            role=role,
            last_engaged_at=last_engaged_at,
            stage=stage,
            product=product,
            rules_version=rules.version,
        )
    before_stage = state.stage
    return new_update(
        state=next_state,
        outcome=_APPLIED,
        reason=step.transition.reason if step.transition is not None else None,
        changes=changes,
        alerts=alerts,
        stage_change=(before_stage, stage) if stage != before_stage else None,
        account_signal=signal,
    )


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
