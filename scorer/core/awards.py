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
from scorer.core.rules import AwardPlan, EngagementRule, Rules
from scorer.core.step import STAGES, Step, new_step
from scorer.core.timeline import (
    Award,
    Point,
    interned_fields,
)

# A NamedTuple's own `__new__` is a Python function; building the per-event records with
# every field through `tuple.__new__` costs half as much.
_tuple_new = tuple.__new__
_PROFILE_UPDATED = EventKind.PROFILE_UPDATED


def plan_event(state: LeadState, event: Event, rules: Rules) -> Step:
    """What a scoring event does: a profile change or awards (feedback: `feedback.py`)."""
    step = new_step(STAGES[state.stage], state.stage_reason, state.caps, state.once)
    kind = event.kind
    t = event.occurred_at
    if kind is _PROFILE_UPDATED:
        step.new_point = Point(t, event.event_id, profile=interned_fields(event.fields))
    else:
        awards = awards_of(state, event, rules, step)
        if awards:
            step.new_point = _tuple_new(
                Point, (t, event.event_id, awards, None, None, (), 0.0, (), ())
            )
            for award in awards:
                if award[3] > 0.0:  # award.points
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
