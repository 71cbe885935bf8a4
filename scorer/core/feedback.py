"""Sales feedback received by a lead: applied, held for a hand-off, or refused.

Feedback is a fact sales report about a lead, judged so that a backlog gives what the
same events in file order give, whatever order the input topics are read in:

* A lead already handed off in this cycle (mql, sal, sql, lost): a feedback that fits
  the stage moves it (`lifecycle.decide_feedback`); one that does not makes the
  lifecycle jump to the feedback's stage (`lifecycle.jump`: qualified for an mql goes to
  sql) unless it contradicts a later known outcome: a feedback-driven stage move dated
  after it, or a final stage (won, disqualified). Only that is refused
  (`invalid_transition`, with the reason).
* A lead before any hand-off in this cycle (new, engaged, recycled), or one the scorer
  has never seen: the feedback may have overtaken the activity that hands the lead off
  (topics are read independently), or sales may have found the lead on their own. It
  is *held* in the lead's state (at most MAX_HELD, in arrival order) and applied when
  the lead is handed off (it then fits, or jumps as above), or, when the lead's clock
  passes the feedback's time plus `timing.allowed_lateness` without a hand-off, as a
  jump that marks the lead never handed off (`HandoffLoop.unhanded`, the
  `feedback_without_handoff` metric): a deal won from a lead marketing never
  qualified, a lead disqualified before any hand-off.

A held feedback does not move the lead's watermark (the lead's events before it are not
late because of it) and is remembered as seen, so a redelivery is a duplicate.
"""

from __future__ import annotations

from scorer.core.commit import commit
from scorer.core.events import Event
from scorer.core.lead_state import LeadState, LeadUpdate, Outcome, rejected
from scorer.core.lifecycle import BEFORE_HANDOFF, TERMINAL, Transition, decide_feedback, jump
from scorer.core.rules import Rules, Stage
from scorer.core.step import feedback_step
from scorer.core.timers import HELD, Held, StageMove, Timer, add_timer

MAX_HELD = 16

# Stages only feedback (or its cool-off) leads to: a later move to one is a known outcome.
_OUTCOMES = frozenset(
    s.value
    for s in (Stage.SAL, Stage.SQL, Stage.WON, Stage.LOST, Stage.RECYCLED, Stage.DISQUALIFIED)
)


def receive(state: LeadState, event: Event, rules: Rules) -> tuple[LeadUpdate, Transition | None]:
    """Apply, hold or refuse a feedback event (screened for duplicates and time).

    The transition is returned when the feedback was applied: the hand-off loop runs
    after it (`lead.apply_event`)."""
    loop = state.loop
    kind = event.kind
    reason_field = event.fields.get("reason")
    reason = None if reason_field is None else str(reason_field)
    if loop.held or state.stage in BEFORE_HANDOFF:
        return _hold(state, event, reason, rules), None
    stage = Stage(state.stage)
    decided = decide_feedback(stage, kind, reason, rules.lifecycle)
    if isinstance(decided, str):
        later = _later_outcome(loop.stages, event.occurred_at)
        if later is not None:
            return rejected(
                state,
                Outcome.INVALID_TRANSITION,
                f"{kind.value} contradicts a later outcome: the lead moved to {later.after} "
                f"at {later.t:.0f}, after this feedback",
            ), None
        if stage in TERMINAL:
            return rejected(state, Outcome.INVALID_TRANSITION, f"{decided} (a final outcome)"), None
        jumped = jump(stage, kind, reason, rules.lifecycle, unhanded=False)
        if jumped is None:  # (final stages are refused above)
            return rejected(state, Outcome.INVALID_TRANSITION, f"lead is {stage.value}"), None
        decided = jumped
    return commit(state, event, feedback_step(state, event, decided, rules), rules), decided


def _later_outcome(stages: tuple[StageMove, ...], t: float) -> StageMove | None:
    for move in reversed(stages):
        if move.t <= t:
            return None
        if move.after in _OUTCOMES:
            return move
    return None


def _hold(state: LeadState, event: Event, reason: str | None, rules: Rules) -> LeadUpdate:
    loop = state.loop
    if len(loop.held) >= MAX_HELD:
        return rejected(
            state,
            Outcome.INVALID_TRANSITION,
            f"{MAX_HELD} feedback events of this lead already wait for its hand-off",
        )
    t = event.occurred_at
    timers = loop.timers
    if not loop.held:
        due = t + rules.timing.allowed_lateness_s
        pending = list(timers)
        add_timer(pending, Timer(due, HELD, "", 0, t, f"{event.kind}:{event.event_id}"))
        timers = tuple(pending)
    held = (*loop.held, Held(t, event.event_id, event.kind.value, reason))
    new_state = state._replace(
        recent_ids=state.recent_ids.add(event.event_id, rules.explain.recent_event_ids),
        loop=loop._replace(timers=timers, held=held),
    )
    return LeadUpdate(
        state=new_state,
        outcome=Outcome.APPLIED,
        reason=f"held until the lead's hand-off (at most {rules.timing.allowed_lateness_s:.0f}s "
        "of its event time)",
    )
