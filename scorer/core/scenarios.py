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

from scorer.core.account import LeadSignal
from scorer.core.actions import Action, action_id
from scorer.core.alerts import SLA_BREACHED, Alert, sla_alert_id
from scorer.core.commit import commit
from scorer.core.events import Event, EventKind, FieldValue
from scorer.core.explain import ScoreChange
from scorer.core.lead_reads import negative_reasons_at, top_reasons_at
from scorer.core.lead_state import LeadState, LeadUpdate, Outcome, score_at, with_loop
from scorer.core.lifecycle import BEFORE_HANDOFF, Transition, jump
from scorer.core.migrate import migrate_lead
from scorer.core.routing import route
from scorer.core.rules import (
    ActionKind,
    Repeat,
    Rules,
    Scenario,
    ScoreBasis,
    Stage,
    StateCheck,
)
from scorer.core.step import Step, feedback_step
from scorer.core.timeline import Point
from scorer.core.timers import (
    COOL_OFF,
    HELD,
    INACTIVITY,
    NO_MARK,
    SCENARIO,
    SLA,
    Handoff,
    HandoffLoop,
    ScenarioMark,
    Timer,
    add_timer,
    pending,
    spent,
    stage_at,
    without,
)

__all__ = ["after_cancels", "after_event", "fire_due", "next_due", "release_held"]

_ANSWERS = frozenset({EventKind.FEEDBACK_ACCEPTED, EventKind.FEEDBACK_REJECTED})
_LEAD_SUBJECT = "lead"


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
    loop = _Loop.of(state, rules)
    while loop.timers and loop.timers[0].due_at <= now:
        timer = loop.timers.pop(0)
        kind = timer.kind
        if kind == INACTIVITY:
            loop.inactivity_due(timer)
        elif kind == SCENARIO:
            loop.scenario_due(timer)
        elif kind == SLA:
            loop.sla_due(timer)
        elif kind == COOL_OFF:
            loop.cool_off_due(timer)
        elif kind == HELD:
            loop.release(timer.due_at)
    return loop.finish(state, None)


def release_held(before: LeadState, update: LeadUpdate, rules: Rules) -> LeadUpdate:
    """`update` handed the lead off: apply the feedback held for that (`feedback.py`)."""
    loop = _Loop.of(update.state, rules)
    loop.alerts.extend(update.alerts)
    loop.actions.extend(update.actions)
    loop.feedback_after_s = update.feedback_after_s
    loop.release()
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
    loop = _Loop.of(update.state, rules)
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
        mark, index = _cancelled(marks, timers, scenario_id, t)
        if mark is not None:
            if own_marks is None:
                marks = own_marks = _copy(marks)
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


def _cancelled(
    marks: Mapping[str, ScenarioMark],
    timers: tuple[Timer, ...] | list[Timer],
    scenario_id: str,
    t: float,
) -> tuple[ScenarioMark | None, int]:
    """What an event at `t` matching the `unless` of `scenario_id` changes: the scenario's
    new mark (None: unchanged) and the index of the pending timer it drops (-1: none)."""
    mark = marks.get(scenario_id, NO_MARK)
    changed = None
    if mark.unless_at is None or t > mark.unless_at:
        # (NamedTuple._replace costs a microsecond; this runs for every such event.)
        changed = ScenarioMark(mark.n, mark.last_fired_at, mark.fired_cycle, t)
    for index, timer in enumerate(timers):
        if (
            timer.ref == scenario_id
            and timer.kind == SCENARIO
            and timer.trigger_at <= t <= timer.due_at
        ):
            return changed, index  # at most one pending timer per scenario
    return changed, -1


def _copy(marks: Mapping[str, ScenarioMark]) -> dict[str, ScenarioMark]:
    # (`dict(proxy)` goes key by key; `proxy.copy()` copies the dict underneath)
    return marks.copy() if isinstance(marks, MappingProxyType) else dict(marks)


class _Loop:
    """A mutable working copy of a lead's loop fields while one event or one batch of due
    timers is handled; `finish` freezes it back into a `LeadState`."""

    __slots__ = (
        "_marks",
        "actions",
        "alerts",
        "changes",
        "cold_since",
        "cycle",
        "feedback_after_s",
        "handoff",
        "held",
        "last_active_at",
        "marks",
        "rules",
        "signal",
        "stages",
        "started_at",
        "state",
        "team",
        "timers",
        "unhanded",
        "unhanded_feedback",
    )

    def __init__(self, state: LeadState, rules: Rules) -> None:
        loop = state.loop
        self.state = state
        self.rules = rules
        self.timers: list[Timer] = list(loop.timers)
        # The marks are read far more often than written: copied at the first write.
        self.marks: Mapping[str, ScenarioMark] = loop.marks
        self._marks: dict[str, ScenarioMark] | None = None
        self.cycle = loop.cycle
        self.last_active_at = state.last_active_at
        self.cold_since = loop.cold_since
        self.team = loop.team
        self.handoff = loop.handoff
        self.held = loop.held
        self.stages = loop.stages
        self.unhanded = loop.unhanded
        self.started_at = loop.started_at
        self.unhanded_feedback: list[str] = []
        self.actions: list[Action] = []
        self.alerts: list[Alert] = []
        self.changes: list[ScoreChange] = []
        self.signal: LeadSignal | None = None
        self.feedback_after_s: float | None = None

    @classmethod
    def of(cls, state: LeadState, rules: Rules) -> _Loop:
        return cls(state, rules)

    def materialize(self, final: bool = True) -> LeadState:
        """The state with the loop fields as they are now; with `final` False the loop
        goes on afterwards, so its next mark write copies the marks again."""
        state = self.state
        marks = self.marks if self._marks is None else MappingProxyType(self._marks)
        loop = HandoffLoop(
            tuple(self.timers),
            marks,
            self.cycle,
            self.cold_since,
            self.team,
            self.handoff,
            self.held,
            self.stages,
            self.unhanded,
            self.started_at,
        )
        if loop == state.loop and self.last_active_at == state.last_active_at:
            return state
        if not final:
            # The proxy above now owns the dict: the next write copies it again.
            self.marks = marks
            self._marks = None
        return with_loop(state, self.last_active_at, loop)

    def set_mark(self, scenario_id: str, mark: ScenarioMark) -> None:
        marks = self._marks
        if marks is None:
            marks = self._marks = _copy(self.marks)
            self.marks = marks
        marks[scenario_id] = mark

    def finish(self, before: LeadState, update: LeadUpdate | None) -> LeadUpdate:
        state = self.materialize()
        if (
            update is not None
            and state is update.state
            and not self.actions
            and len(self.alerts) == len(update.alerts)
            and self.feedback_after_s is None
            and not self.unhanded_feedback
        ):
            return update  # e.g. a repeated trigger of a scenario that already fired
        was_cold, is_cold = before.cold_since is not None, state.cold_since is not None
        stage_before = before.stage
        changes: tuple[ScoreChange, ...] = tuple(self.changes) if self.changes else ()
        alerts = self.alerts
        signal = self.signal
        reason = None
        if update is not None:
            changes = update.changes + changes if changes else update.changes
            if signal is None:
                signal = update.account_signal
            reason = update.reason
        return LeadUpdate(
            state=state,
            outcome=Outcome.APPLIED,
            reason=reason,
            changes=changes,
            alerts=(
                update.alerts
                if update is not None and len(alerts) == len(update.alerts)
                else tuple(alerts)
            ),
            stage_change=(stage_before, state.stage) if state.stage != stage_before else None,
            account_signal=signal,
            actions=tuple(self.actions) if self.actions else (),
            feedback_after_s=self.feedback_after_s,
            cold_change=(was_cold, is_cold) if was_cold != is_cold else None,
            unhanded_feedback=tuple(self.unhanded_feedback),
        )

    # -- after an event -----------------------------------------------------------------

    def arm_inactivity(self, trigger: str) -> None:
        inactivity = self.rules.inactivity
        last = self.last_active_at
        if inactivity is None or last is None or pending(self.timers, INACTIVITY, ""):
            return
        add_timer(self.timers, Timer(last + inactivity.after, INACTIVITY, "", 0, last, trigger))

    def feedback(self, kind: EventKind, transition: Transition, t: float, trigger: str) -> None:
        handoff = self.handoff
        if kind in _ANSWERS and handoff is not None and handoff.answered_at is None:
            self.handoff = handoff._replace(answered_at=t)
            self.feedback_after_s = max(0.0, t - handoff.at)
            if handoff.deadline is not None and t <= handoff.deadline:
                self.timers = without(self.timers, SLA, handoff.alert_id)
        if transition.recycle:
            self.cycle += 1
        lifecycle = self.rules.lifecycle
        if transition.after is Stage.LOST and lifecycle.recycle_lost and lifecycle.lost_cool_off:
            self.timers = without(self.timers, COOL_OFF)
            due = t + lifecycle.lost_cool_off
            add_timer(self.timers, Timer(due, COOL_OFF, "", self.cycle, t, trigger))

    def hand_off(self, alert: Alert) -> None:
        if alert.subject != _LEAD_SUBJECT or alert.threshold not in self.rules.handoff_thresholds:
            return
        previous = self.handoff
        n = 1 if previous is None else previous.n + 1
        if previous is not None:
            self.timers = without(self.timers, SLA, previous.alert_id)
        sla = self.rules.sla
        deadline = None
        if sla is not None:
            deadline = alert.occurred_at + sla.deadline_for(alert.team)
            add_timer(
                self.timers,
                Timer(deadline, SLA, alert.alert_id, n, alert.occurred_at, alert.event_id),
            )
        self.handoff = Handoff(
            n,
            alert.alert_id,
            alert.threshold,
            alert.team,
            alert.occurred_at,
            alert.event_id,
            deadline,
        )
        self.team = alert.team

    def cancel(self, scenario_id: str, t: float) -> None:
        mark, index = _cancelled(self.marks, self.timers, scenario_id, t)
        if mark is not None:
            self.set_mark(scenario_id, mark)
        if index >= 0:
            del self.timers[index]

    def trigger(self, scenario: Scenario, at: float, trigger: str, product: str | None) -> None:
        """A trigger of `scenario` at event time `at`: fire now, arm a timer, or ignore it
        (pending already, repeat policy, failed requirement)."""
        scenario_id = scenario.id
        if pending(self.timers, SCENARIO, scenario_id):
            return
        mark = self.marks.get(scenario_id, NO_MARK)
        due = at + scenario.delay
        if not self.may_repeat(scenario, mark, due):
            return
        if scenario.require is not None and not self.holds(scenario.require, at):
            return
        n = mark.n + 1
        self.set_mark(
            scenario_id, ScenarioMark(n, mark.last_fired_at, mark.fired_cycle, mark.unless_at)
        )
        if scenario.delay <= 0.0:
            self.fire(scenario, n, at, trigger, product)
            return
        unless_at = mark.unless_at
        if unless_at is not None and at <= unless_at <= due:
            return  # the cancelling event was applied before this (late) trigger
        add_timer(self.timers, Timer(due, SCENARIO, scenario_id, n, at, trigger))

    def may_repeat(self, scenario: Scenario, mark: ScenarioMark, due: float) -> bool:
        """Whether the repeat policy lets `scenario` fire (again) at `due`."""
        cooldown = scenario.cooldown
        if cooldown is not None:
            return mark.last_fired_at is None or due - mark.last_fired_at >= cooldown
        if mark.fired_cycle is None:
            return True
        return mark.fired_cycle != self.cycle and scenario.repeat is not Repeat.ONCE

    def state_triggers(self, at: float, trigger: str) -> None:
        """State-triggered scenarios whose condition holds at `at`; `trigger` names what
        moved the state there."""
        for scenario in self.rules.state_scenarios:
            check = scenario.state
            if check is not None and self.holds(check, at):
                self.trigger(scenario, at, trigger, None)

    def holds(self, check: StateCheck, at: float) -> bool:
        """Whether `check` holds as of event time `at`: the stage then (see
        `timers.stage_at`), the score decayed to then."""
        state = self.state
        if check.stages is not None:
            stage = stage_at(self.stages, state.stage, at)
            if stage not in check.stages:  # Stage is a str
                return False
        if check.min_score is None and check.max_score is None:
            return True
        score = score_at(state, at, self.rules)
        basis = check.basis
        if basis is ScoreBasis.TOTAL:
            value = score.total
        elif basis is ScoreBasis.ENGAGEMENT:
            value = score.engagement
        else:
            value = score.fit
        if check.min_score is not None and value < check.min_score:
            return False
        return check.max_score is None or value <= check.max_score

    def fire(
        self, scenario: Scenario, n: int, at: float, trigger: str, product: str | None
    ) -> None:
        state = self.state
        rules = self.rules
        team = route(rules.routing, product or state.product, state.attributes)
        for spec in scenario.actions:
            kind = spec.kind.value
            params = dict(spec.params)
            action_team = team
            if spec.kind is ActionKind.ASSIGN:
                action_team = params.get("team") or team
                if action_team is not None:
                    params["team"] = action_team
            self.actions.append(
                Action(
                    action_id(state.lead_id, scenario.id, n, kind),
                    kind,
                    state.lead_id,
                    state.account_id,
                    scenario.id,
                    MappingProxyType(params),
                    action_team,
                    at,
                    rules.version,
                    scenario.label or scenario.id,
                    trigger,
                )
            )
        mark = self.marks.get(scenario.id, NO_MARK)
        self.set_mark(scenario.id, ScenarioMark(mark.n, at, self.cycle, mark.unless_at))

    # -- due timers -----------------------------------------------------------------------

    def inactivity_due(self, timer: Timer) -> None:
        inactivity = self.rules.inactivity
        last = self.last_active_at
        if inactivity is None or last is None or self.cold_since is not None:
            return
        target = last + inactivity.after
        if target > timer.due_at:  # active meanwhile: the lazily re-armed clock
            add_timer(self.timers, timer._replace(due_at=target, trigger_at=last))
            return
        due = timer.due_at
        self.cold_since = due
        for scenario in self.rules.cold_scenarios:
            self.trigger(scenario, due, "went_cold", None)

    def scenario_due(self, timer: Timer) -> None:
        scenario = self.rules.scenario_by_id.get(timer.ref)
        if scenario is None:
            return  # removed from the rules while pending
        due = timer.due_at
        if scenario.require is not None and not self.holds(scenario.require, due):
            return
        self.fire(scenario, timer.seq, due, timer.trigger, None)

    def sla_due(self, timer: Timer) -> None:
        handoff = self.handoff
        if handoff is None or handoff.alert_id != timer.ref:
            return
        due = timer.due_at
        if handoff.answered_at is not None and handoff.answered_at <= due:
            return
        state = self.state
        rules = self.rules
        score = score_at(state, due, rules)
        threshold = next((t for t in rules.thresholds if t.name == handoff.threshold), None)
        self.alerts.append(
            Alert(
                alert_id=sla_alert_id(state.lead_id, handoff.n),
                kind=SLA_BREACHED,
                subject=_LEAD_SUBJECT,
                lead_id=state.lead_id,
                account_id=state.account_id,
                score=score.total,
                fit=score.fit,
                engagement=score.engagement,
                grade=score.grade,
                # As of the deadline in event time the lead was still waiting in mql (a
                # later feedback may already be applied when the timer fires late).
                stage=Stage.MQL.value,
                threshold=handoff.threshold,
                threshold_value=threshold.value if threshold is not None else 0.0,
                epoch=handoff.n,
                reasons=top_reasons_at(state, due, rules),
                rules_version=rules.version,
                occurred_at=due,
                event_id=handoff.event_id,
                team=handoff.team,
                product=state.product,
                contacts=(state.lead_id,),
                handoff_alert_id=handoff.alert_id,
                deadline=handoff.deadline,
                negative_reasons=negative_reasons_at(state, due, rules),
            )
        )

    def cool_off_due(self, timer: Timer) -> None:
        if self.state.stage != Stage.LOST.value or timer.seq != self.cycle:
            return  # disqualified (or otherwise moved on) during the cool-off
        state = self.materialize(final=False)
        rules = self.rules
        at = timer.due_at
        settled_at = state.settled.t
        if settled_at is not None and at < settled_at:
            at = settled_at  # a very late tick: history before this is final
        reason = f"{state.stage_reason or 'lost'}, recycled after cool-off"
        event = Event(f"cool-off:{self.cycle + 1}", state.lead_id, EventKind.FEEDBACK_LOST, at)
        step = Step(
            Stage.RECYCLED,
            reason,
            state.caps,
            state.once,
            Transition(Stage.LOST, Stage.RECYCLED, reason, recycle=True),
            Point(at, event.event_id, recycle_factor=rules.lifecycle.recycle_factor),
        )
        update = commit(state, event, step, rules, remember=False)
        self.state = update.state
        self.stages = update.state.loop.stages
        self.cycle += 1
        self.changes.extend(update.changes)
        self.alerts.extend(update.alerts)
        if update.account_signal is not None:
            self.signal = update.account_signal
        for alert in update.alerts:
            self.hand_off(alert)
        if rules.state_scenarios:
            self.state_triggers(at, "cool_off")

    def release(self, due: float | None = None) -> None:
        """Apply the held feedback, in arrival order: as it fits the stage, else as a
        jump (`lifecycle.jump`). One that finds the lead before a hand-off again (a
        rejection recycled it) waits on for the next hand-off, unless its lateness
        passed by `due` (the held timer's time): then it jumps and the lead is marked
        never handed off. A feedback that finds the lead in a final stage changes nothing."""
        held = self.held
        if not held:
            return
        self.timers = without(self.timers, HELD)
        rules = self.rules
        lateness = rules.timing.allowed_lateness
        for index, item in enumerate(held):
            state = self.materialize(final=False)
            kind = EventKind(item.kind)
            unhanded = state.stage in BEFORE_HANDOFF
            if unhanded and (due is None or item.t + lateness > due):
                self.held = held[index:]
                trigger = f"{kind}:{item.event_id}"
                add_timer(self.timers, Timer(item.t + lateness, HELD, "", 0, item.t, trigger))
                return
            self.held = held[index + 1 :]
            transition = jump(Stage(state.stage), kind, item.reason, rules.lifecycle, unhanded)
            if transition is None:
                continue
            at = item.t
            settled_at = state.settled.t
            if settled_at is not None and at < settled_at:
                at = settled_at  # history before this is final (feedback is never too late)
            fields: Mapping[str, FieldValue] = (
                {} if item.reason is None else {"reason": item.reason}
            )
            event = Event(item.event_id, state.lead_id, kind, at, None, MappingProxyType(fields))
            update = commit(
                state, event, feedback_step(state, event, transition, rules), rules,
                remember=False,
            )  # fmt: skip
            self.state = update.state
            self.stages = update.state.loop.stages
            self.changes.extend(update.changes)
            self.alerts.extend(update.alerts)
            if update.account_signal is not None:
                self.signal = update.account_signal
            for alert in update.alerts:
                self.hand_off(alert)
            trigger = f"{kind}:{item.event_id}"
            self.feedback(kind, transition, at, trigger)
            if unhanded:
                self.unhanded = True
                self.unhanded_feedback.append(kind.value)
            if rules.state_scenarios:
                self.state_triggers(at, trigger)
