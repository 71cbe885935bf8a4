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

The hand-off loop (scenarios, timers, SLA, inactivity; see `handoff_loop.py`) runs after an
event only when the event can matter to it: a feedback, a hand-off alert, a lead's first
event, activity of a cold lead, or an event a scenario trigger / cancel condition
matches. Every other event pays a couple of set lookups.
"""

from __future__ import annotations

from scorer.core import fast_paths, feedback, handoff_loop
from scorer.core.awards import plan_event
from scorer.core.commit import commit
from scorer.core.dedup import event_digest
from scorer.core.events import Event
from scorer.core.lead_state import (
    LeadState,
    LeadUpdate,
    Outcome,
    rejected,
)
from scorer.core.lifecycle import BEFORE_HANDOFF, FEEDBACK_KINDS
from scorer.core.migrate import migrate_lead
from scorer.core.rules import Rules
from scorer.core.screening import rate_after, screen
from scorer.core.step import Step
from scorer.core.timers import (
    spent,
)


def apply_event(state: LeadState | None, event: Event, rules: Rules, now: float) -> LeadUpdate:
    """Score one event for its lead. `now` is processing time, used only for future skew.

    Timers are not fired here (see `handoff_loop.fire_due`), so an update never depends on
    when it is processed beyond the future-skew check.
    """
    if state is None:
        # (Feedback for a lead never seen is held until the lead's events come: see
        # `feedback.py`.)
        state = LeadState.new(event.lead_id, rules)
    elif state.rules_version != rules.version:
        state = migrate_lead(state, rules)
    digest = event_digest(event.event_id)
    rejection = screen(state, event, rules, now, digest)
    if rejection is not None:
        return rejection
    settled_until = state.settled.t
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
        update, transition = feedback.receive(state, event, rules)
        if transition is None:
            return update  # held or refused
        return handoff_loop.after_event(state, update, event, transition, rules)
    rate = rate_after(state, event, rules)
    if isinstance(rate, str):
        return rejected(state, Outcome.RATE_LIMITED, rate)
    step = plan_event(state, event, rules)
    step.digest = digest
    step.rate = rate
    update = _hand_to_loop(state, commit(state, event, step, rules), event, step, rules)
    if update.state.loop.held and update.state.stage not in BEFORE_HANDOFF:
        # The lead was handed off: the feedback that waited for it applies now.
        return handoff_loop.release_held(state, update, rules)
    return update


def _hand_to_loop(
    before: LeadState, update: LeadUpdate, event: Event, step: Step, rules: Rules
) -> LeadUpdate:
    """Run the hand-off loop after an applied scoring event, only when the event can matter
    to it (see the module doc); an event that only cancels scenarios takes the cheaper
    `handoff_loop.after_cancels`."""
    t = event.occurred_at
    kind = event.kind
    stage = update.state.stage
    before_stage = before.stage
    loop_now = update.state.loop
    activity = kind in rules.activity_kinds
    if (
        kind in FEEDBACK_KINDS
        or update.alerts
        or (before.last_active_at is None and rules.inactivity is not None)
        or ((started := before.loop.started_at) is not None and t < started)
        or (activity and before.loop.cold_since is not None)
        or (rules.state_scenarios and (step.new_point is not None or stage != before_stage))
    ):
        return handoff_loop.after_event(before, update, event, step.transition, rules)
    memo = rules.loop_memos.get(kind)
    if memo is not None:
        cancels = False
        for scenario in memo.matching(event.fields):
            if scenario is None:
                if not fast_paths.CANCEL_SHORTCUT:
                    return handoff_loop.after_event(before, update, event, step.transition, rules)
                cancels = True
            elif not spent(loop_now, scenario, stage, t):
                return handoff_loop.after_event(before, update, event, step.transition, rules)
        if cancels:
            return handoff_loop.after_cancels(before, update, event, rules)
    return update
