"""The hand-off loop: scenarios, durable timers, inactivity, the SLA and the lost cool-off.

Two entry points, both pure:

* `after_event` (called by `apply_event` when an event can matter to the loop): starts
  and cancels timers, fires undelayed scenarios, records hand-offs and feedback;
* `fire_due(state, rules, now)`: fires every timer due at `now`, in due order.

Timers are in event time and live in the lead's state, so they survive restarts: a
worker that was down fires them at its next tick, late but not lost, and exactly once
(the fired timer leaves the state in the same update that carries its outputs, whose ids
are deterministic). Everything a timer decides is evaluated as of its due time (scores
with `score_at(state, due)`, decisions stamped `decided_at = due`), never as of `now`,
so firing at t1 then t2 gives what firing at t2 directly gives.

Semantics worth knowing:

* Event triggers fire on applied events only (duplicates, refused and too-late events
  never trigger). A state trigger (stage/score) is checked after each event that
  changed the score or the stage, and fires while it holds, subject to the repeat policy.
* Repeat policy (`Scenario.cooldown`, `Scenario.repeat`): with a cooldown, again once
  the cooldown has passed since the last firing (from the last firing's time to the new
  trigger's due time); without, once per lead per lifecycle cycle (recycling starts a
  new cycle) or, with `repeat` once, once per lead ever. A trigger while the
  scenario's own timer is pending is ignored. A trigger that is cancelled or whose
  conditions fail at the due time does not count as a firing.
* `unless` cancels a pending trigger when a matching event's time lies in
  [trigger time, due time]; a matching event after the due time changes nothing. The
  latest matching time is remembered, so a trigger that arrives after the cancelling
  event (a late event) is cancelled too.
* Inactivity: the clock starts at a lead's first event and moves with every activity
  event (`inactivity.activity`). Activity only moves `last_active_at`; the single
  inactivity timer is re-armed lazily when it comes due, which keeps activity events as
  cheap as any other. The lead goes cold once per inactive stretch; activity warms it up.
* SLA: every hand-off (an alert of a threshold that moves the lead to mql) starts a
  deadline (per team). The first accepted/rejected feedback at or before it stops it;
  otherwise an `sla_breached` alert `lead:<id>:sla:<n>` escalates (n = hand-off number).
  A newer hand-off replaces the previous deadline.
* Lost with `lifecycle.lost_cool_off`: the lead stays lost, then a timer recycles it
  (engagement discounted, thresholds re-armed, a new cycle), as a rejection does at once.
* Held feedback (`feedback.py`): a hand-off releases it (`release_held`); otherwise its
  timer, at its time plus `timing.allowed_lateness`, applies it as a jump.
* `require` and state triggers read the stage as of their moment in event time
  (`timers.stage_at` over the lead's recent stage moves), so the order topics are read
  in does not decide whether a scenario fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from scorer.core.cool_off import cool_off_due
from scorer.core.events import Event
from scorer.core.held_feedback import release
from scorer.core.inactivity import inactivity_due, rearmed_alone
from scorer.core.lead_state import LeadState, LeadUpdate, Outcome, with_loop
from scorer.core.lifecycle import Transition
from scorer.core.migrate import migrate_lead
from scorer.core.rules import (
    Rules,
)
from scorer.core.scenarios import LoopWork, cancelled, copy_marks
from scorer.core.sla import sla_due
from scorer.core.timers import (
    COOL_OFF,
    HELD,
    INACTIVITY,
    SCENARIO,
    SLA,
    ScenarioMark,
    Timer,
    spent,
    without,
)

__all__ = ["after_cancels", "after_event", "fire_due", "next_due", "release_held"]


def next_due(state: LeadState) -> float | None:
    """The earliest due time of the lead's timers (what a scheduler keys the lead by)."""
    timers = state.timers
    return timers[0].due_at if timers else None


def fire_due(state: LeadState, rules: Rules, now: float) -> LeadUpdate:
    """Fire every timer due at `now` (event-time seconds), in due order.

    Returns the new state with the fired timers gone and their outputs (actions,
    `sla_breached` alerts, went-cold marking, lost → recycled). With nothing due it
    returns the same state object and no outputs (unless `rules` is a new version: then
    the migrated state), so calling it again at the same `now` is harmless.
    """
    if state.rules_version != rules.version:
        # New rules can move due times (a shorter inactivity period): migrate first.
        state = migrate_lead(state, rules)
    timers = state.timers
    if not timers or timers[0].due_at > now:
        return LeadUpdate(state, Outcome.APPLIED)
    rearmed = rearmed_alone(state, rules, now)
    if rearmed is not None:
        return rearmed
    loop = LoopWork.of(state, rules)
    while loop.timers and loop.timers[0].due_at <= now:
        timer = loop.timers.pop(0)
        kind = timer.kind
        if kind == INACTIVITY:
            inactivity_due(loop, timer)
        elif kind == SCENARIO:
            loop.scenario_due(timer)
        elif kind == SLA:
            sla_due(loop, timer)
        elif kind == COOL_OFF:
            cool_off_due(loop, timer)
        elif kind == HELD:
            release(loop, timer.due_at)
    return loop.finish(state, None)


def release_held(before: LeadState, update: LeadUpdate, rules: Rules) -> LeadUpdate:
    """`update` handed the lead off: apply the feedback held for that (`feedback.py`)."""
    loop = LoopWork.of(update.state, rules)
    loop.alerts.extend(update.alerts)
    loop.actions.extend(update.actions)
    loop.feedback_after_s = update.feedback_after_s
    release(loop)
    return loop.finish(before, update)


def after_event(
    before: LeadState,
    update: LeadUpdate,
    event: Event,
    transition: Transition | None,
    rules: Rules,
) -> LeadUpdate:
    """The loop's part of an applied event (see the module doc); `update` is what the
    scoring part produced from `before`."""
    loop = LoopWork.of(update.state, rules)
    loop.alerts.extend(update.alerts)
    t = event.occurred_at
    kind = event.kind
    trigger = f"{kind}:{event.event_id}"  # a StrEnum formats as its value
    if before.last_active_at is None and rules.inactivity is not None:
        loop.last_active_at = t
        loop.started_at = t
        loop.arm_inactivity(trigger)
    elif loop.started_at is not None and t < loop.started_at and rules.inactivity is not None:
        # An event before the lead's first one (topics are read independently): the clock
        # starts there, unless activity after the old start already moved it.
        if loop.last_active_at is None or loop.last_active_at <= loop.started_at:
            loop.last_active_at = t
            loop.timers = without(loop.timers, INACTIVITY)
            if loop.cold_since is None:
                loop.arm_inactivity(trigger)
        loop.started_at = t
    elif loop.cold_since is not None and kind in rules.activity_kinds:
        loop.cold_since = None
        loop.arm_inactivity(trigger)
    if transition is not None:
        loop.feedback(kind, transition, t, trigger)
    for alert in update.alerts:
        loop.hand_off(alert)
    fields = event.fields
    cancels = rules.unless_memos.get(kind)
    if cancels is not None:
        for scenario_id in cancels.matching(fields):
            loop.cancel(scenario_id, t)
    triggers = rules.trigger_memos.get(kind)
    if triggers is not None:
        product = fields.get("product")
        hint = product if isinstance(product, str) and product else None
        for scenario in triggers.matching(fields):
            loop.trigger(scenario, t, trigger, hint)
    if rules.state_scenarios and (update.changes or update.stage_change is not None):
        loop.state_triggers(t, trigger)
    return loop.finish(before, update)


def after_cancels(before: LeadState, update: LeadUpdate, event: Event, rules: Rules) -> LeadUpdate:
    """`after_event` for an event whose only part in the loop is to match `unless`
    conditions: every scenario it triggers is `spent` (`lead._hand_to_loop` checks), so only the
    cancelled scenarios' marks and timers change. What `after_event` returns for it,
    without its working copy of the whole loop (every case-study download comes here)."""
    state = update.state
    loop = state.loop
    t = event.occurred_at
    marks: Mapping[str, ScenarioMark] = loop.marks
    timers: tuple[Timer, ...] | list[Timer] = loop.timers
    own_marks: dict[str, ScenarioMark] | None = None
    own_timers: list[Timer] | None = None
    fields = event.fields
    for scenario_id in rules.unless_memos[event.kind].matching(fields):
        mark, index = cancelled(marks, timers, scenario_id, t)
        if mark is not None:
            if own_marks is None:
                marks = own_marks = copy_marks(marks)
            own_marks[scenario_id] = mark
        if index >= 0:
            if own_timers is None:
                timers = own_timers = list(timers)
            del own_timers[index]
    if own_marks is None and own_timers is None:
        return update
    changed = loop._replace(
        timers=tuple(timers),
        marks=loop.marks if own_marks is None else MappingProxyType(own_marks),
    )
    triggers = rules.trigger_memos.get(event.kind)
    if own_timers is not None and triggers is not None:
        for scenario in triggers.matching(fields):
            if not spent(changed, scenario, state.stage, t):
                # A cancelled timer frees its scenario to trigger again: the full loop.
                return after_event(before, update, event, None, rules)
    return LeadUpdate(
        state=with_loop(state, state.last_active_at, changed),
        outcome=Outcome.APPLIED,
        reason=update.reason,
        changes=update.changes,
        alerts=update.alerts,
        stage_change=update.stage_change,
        account_signal=update.account_signal,
    )
