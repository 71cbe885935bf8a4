"""Scenarios of the hand-off loop: triggers (event, state, went-cold), the repeat policy,
`require`, firing actions, and `LoopWork`, the working copy of a lead's loop memory that
every part of the loop (`handoff_loop.py`, `inactivity.py`, `sla.py`, `cool_off.py`,
`held_feedback.py`) works on."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from scorer.core.actions import Action, action_id
from scorer.core.alerts import Alert
from scorer.core.events import EventKind
from scorer.core.explain import ScoreChange
from scorer.core.lead_signal import LeadSignal
from scorer.core.lead_state import LeadState, LeadUpdate, Outcome, score_at, with_loop
from scorer.core.lifecycle import Transition
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
from scorer.core.timers import (
    COOL_OFF,
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
    stage_at,
    without,
)

_ANSWERS = frozenset({EventKind.FEEDBACK_ACCEPTED, EventKind.FEEDBACK_REJECTED})
_LEAD_SUBJECT = "lead"


def cancelled(
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


def copy_marks(marks: Mapping[str, ScenarioMark]) -> dict[str, ScenarioMark]:
    # (`dict(proxy)` goes key by key; `proxy.copy()` copies the dict underneath)
    return marks.copy() if isinstance(marks, MappingProxyType) else dict(marks)


class LoopWork:
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
    def of(cls, state: LeadState, rules: Rules) -> LoopWork:
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
            marks = self._marks = copy_marks(self.marks)
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
        add_timer(self.timers, Timer(last + inactivity.after_s, INACTIVITY, "", 0, last, trigger))

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
        if transition.after is Stage.LOST and lifecycle.recycle_lost and lifecycle.lost_cool_off_s:
            self.timers = without(self.timers, COOL_OFF)
            due = t + lifecycle.lost_cool_off_s
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
            deadline = alert.occurred_at + sla.follow_up_s_for(alert.team)
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
        mark, index = cancelled(self.marks, self.timers, scenario_id, t)
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
        due = at + scenario.delay_s
        if not self.may_repeat(scenario, mark, due):
            return
        if scenario.require is not None and not self.holds(scenario.require, at):
            return
        n = mark.n + 1
        self.set_mark(
            scenario_id, ScenarioMark(n, mark.last_fired_at, mark.fired_cycle, mark.unless_at)
        )
        if scenario.delay_s <= 0.0:
            self.fire(scenario, n, at, trigger, product)
            return
        unless_at = mark.unless_at
        if unless_at is not None and at <= unless_at <= due:
            return  # the cancelling event was applied before this (late) trigger
        add_timer(self.timers, Timer(due, SCENARIO, scenario_id, n, at, trigger))

    def may_repeat(self, scenario: Scenario, mark: ScenarioMark, due: float) -> bool:
        """Whether the repeat policy lets `scenario` fire (again) at `due`."""
        cooldown_s = scenario.cooldown_s
        if cooldown_s is not None:
            return mark.last_fired_at is None or due - mark.last_fired_at >= cooldown_s
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

    def scenario_due(self, timer: Timer) -> None:
        scenario = self.rules.scenario_by_id.get(timer.ref)
        if scenario is None:
            return  # removed from the rules while pending
        due = timer.due_at
        if scenario.require is not None and not self.holds(scenario.require, due):
            return
        self.fire(scenario, timer.seq, due, timer.trigger, None)
