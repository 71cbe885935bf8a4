"""What a lead's state remembers for the hand-off loop: timers, per-scenario marks and
the current hand-off, gathered in one `HandoffLoop` (a single field of `LeadState`, so
the events that never touch the loop do not pay for building it). All NamedTuples
(cheap, immutable, flat in records).

Timers are in event time. A lead holds at most one timer per scenario, one SLA timer,
one inactivity timer, one cool-off timer and one held-feedback timer, kept sorted by
(due_at, kind, ref), so `timers[0]` is the next one due and the tuple stays small
whatever the lead does.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.rules import Repeat, Scenario


class TimerKind(StrEnum):
    SCENARIO = "scenario"  # a delayed scenario; ref = scenario id
    SLA = "sla"  # follow-up deadline of a hand-off; ref = the hand-off alert id
    INACTIVITY = "inactivity"  # the lead goes cold unless active meanwhile; ref = ""
    COOL_OFF = "cool_off"  # a lost lead is recycled; ref = ""
    HELD = "held"  # held feedback is applied without a hand-off; ref = ""


# Bound once: enum member lookups go through the metaclass.
SCENARIO, SLA, INACTIVITY, COOL_OFF, HELD = (
    TimerKind.SCENARIO.value,
    TimerKind.SLA.value,
    TimerKind.INACTIVITY.value,
    TimerKind.COOL_OFF.value,
    TimerKind.HELD.value,
)


class Timer(NamedTuple):
    """Fires once `due_at` (event-time seconds) is reached.

    `seq` is the trigger's sequence number (scenario: the n of its action ids; sla: the
    hand-off number; cool-off: the lifecycle cycle it belongs to). `trigger_at` is the
    event time that started it and `trigger` what did (`<event type>:<event id>`, ...).
    """

    due_at: float
    kind: str
    ref: str
    seq: int
    trigger_at: float
    trigger: str

    def to_list(self) -> list[object]:
        return [*self]

    @classmethod
    def from_list(cls, raw: object) -> Timer:
        if not isinstance(raw, list) or len(raw) != 6:
            raise ValueError("a timer record is [due_at, kind, ref, seq, trigger_at, trigger]")
        due_at, kind, ref, seq, trigger_at, trigger = raw
        if kind not in _KINDS or isinstance(seq, bool) or not isinstance(seq, int):
            raise ValueError(f"bad timer record {raw!r}")
        return cls(float(due_at), str(kind), str(ref), seq, float(trigger_at), str(trigger))


_KINDS = frozenset(k.value for k in TimerKind)


class ScenarioMark(NamedTuple):
    """Per lead and scenario: how many triggers were accepted (`n`), when and in which
    lifecycle cycle it last fired, and the latest event time of an event matching its
    `unless` condition (so a trigger that arrives late is still cancelled)."""

    n: int = 0
    last_fired_at: float | None = None
    fired_cycle: int | None = None
    unless_at: float | None = None

    def to_list(self) -> list[object]:
        return [*self]

    @classmethod
    def from_list(cls, raw: object) -> ScenarioMark:
        if not isinstance(raw, list) or len(raw) != 4:
            raise ValueError("a scenario mark is [n, last_fired_at, fired_cycle, unless_at]")
        n, last, cycle, unless_at = raw
        return cls(
            int(n),
            None if last is None else float(last),
            None if cycle is None else int(cycle),
            None if unless_at is None else float(unless_at),
        )


NO_MARK = ScenarioMark()


class Handoff(NamedTuple):
    """The lead's latest hand-off to sales (an alert of a threshold that moves to mql).

    `n` numbers the lead's hand-offs (the SLA breach id is `lead:<id>:sla:<n>`); `at` is
    the event time of the crossing; `deadline` the SLA due time (None without an SLA);
    `answered_at` the event time of the first accepted/rejected feedback.
    """

    n: int
    alert_id: str
    threshold: str
    team: str | None
    at: float
    event_id: str
    deadline: float | None = None
    answered_at: float | None = None

    def to_record(self) -> dict[str, object]:
        return self._asdict()

    @classmethod
    def from_record(cls, raw: object) -> Handoff:
        if not isinstance(raw, dict):
            raise ValueError("handoff must be an object")
        team, deadline, answered = raw.get("team"), raw.get("deadline"), raw.get("answered_at")
        return cls(
            int(raw["n"]),
            str(raw["alert_id"]),
            str(raw["threshold"]),
            None if team is None else str(team),
            float(raw["at"]),
            str(raw["event_id"]),
            None if deadline is None else float(deadline),
            None if answered is None else float(answered),
        )


def add_timer(timers: list[Timer], timer: Timer) -> None:
    insort(timers, timer)


def without(timers: list[Timer], kind: str, ref: str | None = None) -> list[Timer]:
    return [t for t in timers if not (t.kind == kind and (ref is None or t.ref == ref))]


def pending(timers: list[Timer] | tuple[Timer, ...], kind: str, ref: str) -> bool:
    for timer in timers:  # noqa: SIM110 - a plain loop is cheaper than any(...)
        if timer.ref == ref and timer.kind == kind:
            return True
    return False


class Held(NamedTuple):
    """A sales feedback received before the lead's hand-off, kept until the hand-off
    comes or the lateness passes (see `feedback.py`): its event time, id, type, reason."""

    t: float
    event_id: str
    kind: str
    reason: str | None = None

    def to_list(self) -> list[object]:
        return [*self]

    @classmethod
    def from_list(cls, raw: object) -> Held:
        if not isinstance(raw, list) or len(raw) != 4:
            raise ValueError("held feedback is [t, event_id, kind, reason]")
        t, event_id, kind, reason = raw
        return cls(float(t), str(event_id), str(kind), None if reason is None else str(reason))


class StageMove(NamedTuple):
    """A stage change at event time `t` (the crossing's, the feedback's, the event's)."""

    t: float
    before: str
    after: str

    def to_list(self) -> list[object]:
        return [*self]

    @classmethod
    def from_list(cls, raw: object) -> StageMove:
        if not isinstance(raw, list) or len(raw) != 3:
            raise ValueError("a stage move is [t, before, after]")
        return cls(float(raw[0]), str(raw[1]), str(raw[2]))


# Stage moves kept per lead (the oldest are forgotten: a scenario condition about a time
# before them reads the stage before the oldest kept move).
MAX_STAGE_MOVES = 16


class HandoffLoop(NamedTuple):
    """A lead's hand-off loop memory: `timers` sorted by due time, per-scenario `marks`,
    the lifecycle `cycle` (+1 at every recycle), `cold_since` (event time the lead went
    cold, None while warm), `team` (team of the current hand-off) and `handoff`;
    `held` feedback waiting for a hand-off, `stages` the latest stage moves in event-time
    order (scenario conditions read the stage as of an event's time from them) and
    `unhanded` (feedback was applied to the lead without a hand-off before it),
    `started_at` (the earliest event time: where the inactivity clock starts)."""

    timers: tuple[Timer, ...] = ()
    marks: Mapping[str, ScenarioMark] = MappingProxyType({})
    cycle: int = 0
    cold_since: float | None = None
    team: str | None = None
    handoff: Handoff | None = None
    held: tuple[Held, ...] = ()
    stages: tuple[StageMove, ...] = ()
    unhanded: bool = False
    # The inactivity clock's start: the earliest event time seen (None before it was kept).
    started_at: float | None = None


NO_LOOP = HandoffLoop()


def moved(stages: tuple[StageMove, ...], move: StageMove) -> tuple[StageMove, ...]:
    """`stages` with `move` at its event-time place, bounded to MAX_STAGE_MOVES."""
    index = len(stages)
    while index > 0 and stages[index - 1].t > move.t:
        index -= 1
    result = (*stages[:index], move, *stages[index:])
    return result[-MAX_STAGE_MOVES:] if len(result) > MAX_STAGE_MOVES else result


def stage_at(stages: tuple[StageMove, ...], current: str, t: float) -> str:
    """The lead's stage as of event time `t`: the current one at or after its latest
    move, else the stage the latest move at or before `t` led to (before the oldest
    kept move: the stage that move left)."""
    if not stages or t >= stages[-1].t:
        return current
    for move in reversed(stages):
        if move.t <= t:
            return move.after
    return stages[0].before


def spent(loop: HandoffLoop, scenario: Scenario, stage: str, t: float | None = None) -> bool:
    """Whether a new trigger at event time `t` of `scenario` for a lead now in `stage`
    is certain to be ignored: the stage as of `t` is not one its `require` allows, its
    timer is pending, or it fired in this cycle (or ever, with `repeat` once) and has
    no cooldown (what `LoopWork.trigger` checks first). Such a trigger skips the loop altogether."""
    require = scenario.require
    if t is not None and loop.stages:
        stage = stage_at(loop.stages, stage, t)
    if require is not None and require.stages is not None and stage not in require.stages:
        return True  # (a Stage is a str: the value looks it up)
    if scenario.cooldown_s is None:
        mark = loop.marks.get(scenario.id)
        if mark is not None and (
            mark.fired_cycle == loop.cycle
            or (mark.fired_cycle is not None and scenario.repeat is Repeat.ONCE)
        ):
            return True
    scenario_id = scenario.id
    for timer in loop.timers:  # noqa: SIM110 - a plain loop is cheaper than any(...)
        if timer.ref == scenario_id and timer.kind == SCENARIO:
            return True
    return False
