"""The hand-off loop's lookups, compiled from the scenarios once, when `Rules` is built.

Per event kind: the scenarios an event of that kind can trigger and the ones it can
cancel ("unless ... meanwhile"), with their compiled conditions, plain and through
`MatchMemo`s; the scenarios triggered by a state and by going cold. `Rules` holds them
as its fields of the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from scorer.core.conditions import ALWAYS, Condition
from scorer.core.events import EventKind
from scorer.core.match_memo import Matcher, MatchMemo
from scorer.core.policy import Scenario, TriggerKind


class LoopLookups(NamedTuple):
    scenario_by_id: Mapping[str, Scenario]
    trigger_plans: Mapping[EventKind, tuple[tuple[Scenario, Matcher | None], ...]]
    unless_plans: Mapping[EventKind, tuple[tuple[str, Matcher | None], ...]]
    # Per event kind, every (scenario, matcher) that can send an event to the loop: the
    # scenario of a trigger (to skip one that cannot fire again), None for a cancel.
    loop_matchers: Mapping[EventKind, tuple[tuple[Scenario | None, Matcher | None], ...]]
    # The same through a memo (see `MatchMemo`): the scenarios (None for a cancel) whose
    # trigger or cancel condition an event's fields meet.
    loop_memos: Mapping[EventKind, MatchMemo[Scenario | None]]
    # `trigger_plans` and `unless_plans` through memos: the scenarios an event triggers,
    # the ids of those it cancels.
    trigger_memos: Mapping[EventKind, MatchMemo[Scenario]]
    unless_memos: Mapping[EventKind, MatchMemo[str]]
    state_scenarios: tuple[Scenario, ...]
    cold_scenarios: tuple[Scenario, ...]


def compile_loop_lookups(scenarios: tuple[Scenario, ...], *, has_inactivity: bool) -> LoopLookups:
    """The lookups of `scenarios`; a ValueError names a scenario the rules cannot run."""
    ids = [s.id for s in scenarios]
    if len(set(ids)) != len(ids):
        raise ValueError("scenario ids must be unique")
    triggers: dict[EventKind, list[tuple[Scenario, Matcher | None]]] = {}
    unless: dict[EventKind, list[tuple[str, Matcher | None]]] = {}
    # The same per kind, with the conditions, for the memos (see `MatchMemo`).
    watched: dict[EventKind, list[tuple[Scenario, Matcher | None, Condition]]] = {}
    cancels: dict[EventKind, list[tuple[str, Matcher | None, Condition]]] = {}
    for scenario in scenarios:
        if scenario.trigger is TriggerKind.WENT_COLD and not has_inactivity:
            raise ValueError(f"scenario {scenario.id}: went_cold needs an inactivity period")
        if scenario.unless and scenario.delay_s <= 0.0:
            raise ValueError(f"scenario {scenario.id}: unless needs a delay")
        if scenario.event is not None and scenario.trigger is TriggerKind.EVENT:
            matcher = _matcher(scenario.event.when)
            for kind in sorted(scenario.event.on):
                triggers.setdefault(kind, []).append((scenario, matcher))
                watched.setdefault(kind, []).append((scenario, matcher, scenario.event.when))
        for match in scenario.unless:
            matcher = _matcher(match.when)
            for kind in sorted(match.on):
                unless.setdefault(kind, []).append((scenario.id, matcher))
                cancels.setdefault(kind, []).append((scenario.id, matcher, match.when))
    loop: dict[EventKind, tuple[tuple[Scenario | None, Matcher | None], ...]] = {}
    for kind in {*triggers, *unless}:
        loop[kind] = (
            *triggers.get(kind, ()),
            *((None, matcher) for _, matcher in unless.get(kind, ())),
        )
    loop_memos = {
        kind: MatchMemo(
            (
                *watched.get(kind, ()),
                *((None, matcher, when) for _, matcher, when in cancels.get(kind, ())),
            )
        )
        for kind in loop
    }
    return LoopLookups(
        scenario_by_id=MappingProxyType({s.id: s for s in scenarios}),
        trigger_plans=MappingProxyType({k: tuple(v) for k, v in triggers.items()}),
        unless_plans=MappingProxyType({k: tuple(v) for k, v in unless.items()}),
        loop_matchers=MappingProxyType(loop),
        loop_memos=MappingProxyType(loop_memos),
        trigger_memos=MappingProxyType({k: MatchMemo(tuple(v)) for k, v in watched.items()}),
        unless_memos=MappingProxyType({k: MatchMemo(tuple(v)) for k, v in cancels.items()}),
        state_scenarios=tuple(s for s in scenarios if s.trigger is TriggerKind.STATE),
        cold_scenarios=tuple(s for s in scenarios if s.trigger is TriggerKind.WENT_COLD),
    )


def _matcher(condition: Condition) -> Matcher | None:
    return None if condition is ALWAYS else condition.matcher()
