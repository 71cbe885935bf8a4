"""The lead lifecycle: new → engaged → mql → sal → sql → won / lost, plus recycling.

Sales feedback is a fact about the lead (see `feedback.py` for when it is applied): a
feedback that fits the stage moves it (`decide_feedback`); one that does not fit a lead
already handed off makes the lifecycle jump (`jump`: e.g. mql → sql when sales qualified
without accepting first), and one that finds a lead before any hand-off is held and,
if no hand-off comes, jumps too (the lead is marked never handed off). Score-driven moves
(new → engaged, → mql) happen when the engine emits the matching alert; lost → recycled
after `lifecycle.lost_cool_off` happens when that timer fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from scorer.core.events import EventKind
from scorer.core.rules import Lifecycle, Stage

FEEDBACK_KINDS = frozenset(
    {
        EventKind.FEEDBACK_ACCEPTED,
        EventKind.FEEDBACK_REJECTED,
        EventKind.FEEDBACK_QUALIFIED,
        EventKind.FEEDBACK_WON,
        EventKind.FEEDBACK_LOST,
    }
)

TERMINAL = frozenset({Stage.WON, Stage.DISQUALIFIED})

# feedback kind -> (stages it may come from, stage it leads to)
FEEDBACK_TRANSITIONS: Mapping[EventKind, tuple[frozenset[Stage], Stage]] = MappingProxyType(
    {
        EventKind.FEEDBACK_ACCEPTED: (frozenset({Stage.MQL}), Stage.SAL),
        EventKind.FEEDBACK_REJECTED: (frozenset({Stage.MQL, Stage.SAL}), Stage.RECYCLED),
        EventKind.FEEDBACK_QUALIFIED: (frozenset({Stage.SAL}), Stage.SQL),
        EventKind.FEEDBACK_WON: (frozenset({Stage.SQL}), Stage.WON),
        EventKind.FEEDBACK_LOST: (frozenset({Stage.SAL, Stage.SQL}), Stage.LOST),
    }
)

ENGAGED_FROM = frozenset({Stage.NEW})

# Stages before a hand-off in the current cycle: feedback finding a lead here is held.
BEFORE_HANDOFF = frozenset({Stage.NEW.value, Stage.ENGAGED.value, Stage.RECYCLED.value})


@dataclass(frozen=True, slots=True)
class Transition:
    """A decided feedback transition. `recycle` means: discount engagement and re-arm."""

    before: Stage
    after: Stage
    reason: str
    recycle: bool


def decide_feedback(
    stage: Stage, kind: EventKind, reason: str | None, lifecycle: Lifecycle
) -> Transition | str:
    """The transition for a feedback event, or a short human reason why it is refused."""
    said = f" ({reason})" if reason else ""
    if (
        kind is EventKind.FEEDBACK_REJECTED
        and reason is not None
        and reason.casefold() in lifecycle.disqualify_reasons
    ):
        if stage in TERMINAL:
            return f"cannot disqualify a lead in stage {stage.value}"
        return Transition(stage, Stage.DISQUALIFIED, f"disqualified{said}", recycle=False)
    allowed_from, target = FEEDBACK_TRANSITIONS[kind]
    if stage not in allowed_from:
        expected = " or ".join(sorted(s.value for s in allowed_from))
        return f"{kind.value} needs stage {expected}, lead is {stage.value}"
    if target is Stage.RECYCLED:
        return Transition(stage, Stage.RECYCLED, f"rejected by sales{said}", recycle=True)
    if target is Stage.LOST and lifecycle.recycle_lost:
        # With a cool-off it stays lost until a timer recycles it (handoff_loop.fire_due).
        at_once = lifecycle.lost_cool_off_s <= 0.0
        return Transition(
            stage,
            Stage.RECYCLED if at_once else Stage.LOST,
            f"lost{said}, recycled" if at_once else f"lost{said}",
            recycle=at_once,
        )
    return Transition(stage, target, f"{kind.value.partition('.')[2]}{said}", recycle=False)


def jump(
    stage: Stage, kind: EventKind, reason: str | None, lifecycle: Lifecycle, unhanded: bool
) -> Transition | None:
    """The transition of a feedback that does not fit `stage`: straight to its target
    stage (`unhanded`: the lead was never handed off in this cycle, which the reason
    says), or None from a final stage (won, disqualified), which nothing moves."""
    decided = decide_feedback(stage, kind, reason, lifecycle)
    if isinstance(decided, Transition):
        if unhanded:
            return Transition(
                decided.before,
                decided.after,
                f"{decided.reason} (never handed off)",
                decided.recycle,
            )
        return decided
    if stage in TERMINAL:
        return None
    target = FEEDBACK_TRANSITIONS[kind][1]
    said = f" ({reason})" if reason else ""
    note = " (never handed off)" if unhanded else f" (from {stage.value})"
    if target is Stage.RECYCLED:
        return Transition(stage, Stage.RECYCLED, f"rejected by sales{said}{note}", recycle=True)
    if target is Stage.LOST and lifecycle.recycle_lost:
        at_once = lifecycle.lost_cool_off_s <= 0.0
        return Transition(
            stage,
            Stage.RECYCLED if at_once else Stage.LOST,
            f"lost{said}{', recycled' if at_once else ''}{note}",
            recycle=at_once,
        )
    return Transition(stage, target, f"{kind.value.partition('.')[2]}{said}{note}", recycle=False)
