"""The awards an event earns for a lead: matched engagement rules, with caps and once-only
rules applied (their arithmetic: `engagement.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

from scorer.core.engagement import (
    COMPACT_ABOVE,
    CapEntry,
    appended_award,
    compact_cap_log,
    prune_cap_log,
    reallocate,
)
from scorer.core.events import Event, EventKind
from scorer.core.lead_state import (
    LeadState,
)
from scorer.core.rules import Award, EngagementRule, Rules
from scorer.core.step import Step, start_step
from scorer.core.timeline import (
    Point,
    interned_fields,
)


def plan_event(state: LeadState, event: Event, rules: Rules) -> Step:
    """What a scoring event does: a profile change or awards (feedback: `feedback.py`)."""
    step = start_step(state)
    kind = event.kind
    t = event.occurred_at
    if kind is EventKind.PROFILE_UPDATED:
        step.new_point = Point(t, event.event_id, profile=interned_fields(event.fields))
    else:
        awards = awards_of(state, event, rules, step)
        if awards:
            step.new_point = Point(t, event.event_id, awards)
            for award in awards:
                if award.points > 0.0:
                    step.engaged = True
                    break
    return step


def awards_of(  # noqa: PLR0912, PLR0915 - one pass over the matched rules: this is the hot path
    state: LeadState, event: Event, rules: Rules, step: Step
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
    horizon = watermark - rules.open_window_s
    awards: list[Award] = []
    caps: dict[str, tuple[CapEntry, ...]] | None = None
    once: dict[str, tuple[float, str]] | None = None
    shifted: list[tuple[CapEntry, str, float, str]] | None = None
    for plan in matched:
        rule = plan.rule
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
                log = (*log, CapEntry(t, event_id, rule.points, points))
            if len(log) > COMPACT_ABOVE:
                # A long log (a burst of events): drop what no acceptable event can need.
                log = compact_cap_log(log, horizon, state.settled.t, cap.window_s)
            else:
                log = prune_cap_log(log, horizon - cap.window_s)
            caps[rule_id] = log
        if product is None and points == rule.points != 0.0:
            awards.append(plan.full_alone[0])  # (shared: see `AwardPlan`)
        else:
            awards.append(Award(rule.id, plan.category, rule.points, points, product))
    if caps is not None:
        step.caps = MappingProxyType(caps)
    if once is not None:
        step.once = MappingProxyType(once)
    if shifted:
        step.shifted = tuple(shifted)
    if len(awards) == 1 and product is None and awards[0] is matched[0].full_alone[0]:
        return matched[0].full_alone
    return tuple(awards)


def _after(t: float, event_id: str, entry: CapEntry) -> bool:
    """Whether the event sorts after the cap log entry (event time, then event id)."""
    return (t, event_id) > (entry.occurred_at, entry.event_id)


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
