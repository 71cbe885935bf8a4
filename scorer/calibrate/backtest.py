"""Replay one history through the scoring core once per rules file and compare.

The replay is `scorer.core.replay`, the engine of `scorer score-file`, on the same
events in the same (file) order, so a file's hand-offs here are exactly score-file's
alerts for it, and the worker's. Hand-offs are the lead alerts of the hand-off threshold
(the one that `moves_to: mql`, else the highest).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scorer.calibrate.batch import paused_gc
from scorer.calibrate.outcomes import LeadOutcome
from scorer.calibrate.points import handoff_threshold
from scorer.calibrate.thresholds import Row, Trajectory, cutoff, table
from scorer.core import Alert, Event, ReplayResult, Rules, replay, route_lead


@dataclass(slots=True)
class Run:
    rules_path: str
    rules: Rules
    threshold_name: str
    threshold: float
    handoffs: dict[str, list[Alert]]  # lead -> its hand-off alerts, in order
    alert_ids: list[str]  # every alert of the replay (lead, account, SLA), in order
    trajectories: dict[str, Trajectory]
    refused: int  # events the core refused (duplicates, too late, feedback out of stage)
    seconds: float
    won_contributions: dict[str, float] = field(default_factory=dict)  # rule -> points

    @property
    def label(self) -> str:
        return f"{Path(self.rules_path).name} ({self.rules.version})"


def _progressed(events: Sequence[Event], tick: Callable[[int], None] | None) -> Iterator[Event]:
    if tick is None:
        yield from events
        return
    for i, event in enumerate(events, start=1):
        yield event
        if i % 5000 == 0:
            tick(5000)
    tick(len(events) % 5000)


def run_rules(
    events: Sequence[Event],
    rules: Rules,
    rules_path: str,
    outcomes: Mapping[str, LeadOutcome] | None = None,
    tick: Callable[[int], None] | None = None,
) -> Run:
    name, value = handoff_threshold(rules)
    started = time.perf_counter()
    with paused_gc():
        result = replay(_progressed(events, tick), rules)
        seconds = time.perf_counter() - started
        run = _summarise(result, rules, rules_path, name, value, seconds, outcomes or {})
        # Freed while the collector is paused: resumed with the replay's millions of
        # objects still alive, its first collection would walk them all (4% of a replay).
        del result
    return run


def _summarise(
    result: ReplayResult,
    rules: Rules,
    rules_path: str,
    name: str,
    value: float,
    seconds: float,
    outcomes: Mapping[str, LeadOutcome],
) -> Run:
    handoffs: dict[str, list[Alert]] = {}
    for alert in result.alerts:
        if alert.kind == name and alert.lead_id is not None:
            handoffs.setdefault(alert.lead_id, []).append(alert)
    times: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}
    contributions: dict[str, float] = {}
    for change in result.changes:
        lead_peaks = peaks.setdefault(change.lead_id, [])
        if not lead_peaks or change.score_after > lead_peaks[-1]:
            lead_peaks.append(change.score_after)
            times.setdefault(change.lead_id, []).append(change.occurred_at)
        outcome = outcomes.get(change.lead_id)
        if outcome is not None and outcome.won and change.occurred_at < cutoff(outcome):
            contributions[change.rule_id] = (
                contributions.get(change.rule_id, 0.0) + change.points_awarded
            )
    trajectories = {
        lead: Trajectory(tuple(times[lead]), tuple(p), route_lead(result.leads[lead], rules))
        for lead, p in peaks.items()
    }
    return Run(
        rules_path,
        rules,
        name,
        value,
        handoffs,
        result.alert_ids(),
        trajectories,
        len(result.rejected),
        seconds,
        contributions,
    )


@dataclass(frozen=True, slots=True)
class LeadChange:
    lead_id: str
    change: str  # gained | lost | changed
    outcome: str | None
    reasons: list[str]  # the top contributions of the alert that differs


@dataclass(slots=True)
class Comparison:
    base: Run
    other: Run
    changes: list[LeadChange]

    @property
    def differences(self) -> int:
        return len(self.changes)


def _reasons(alert: Alert) -> list[str]:
    return [f"{r.label or r.rule_id} {r.points:+.0f}" for r in alert.reasons]


def compare(base: Run, other: Run, outcomes: Mapping[str, LeadOutcome]) -> Comparison:
    """Leads that gain or lose a hand-off, or get different ones (time or count)."""
    changes = []
    for lead in sorted(set(base.handoffs) | set(other.handoffs)):
        a, b = base.handoffs.get(lead, []), other.handoffs.get(lead, [])
        label = outcomes[lead].label if lead in outcomes else None
        if a and not b:
            changes.append(LeadChange(lead, "lost", label, _reasons(a[0])))
        elif b and not a:
            changes.append(LeadChange(lead, "gained", label, _reasons(b[0])))
        elif [(x.alert_id, x.occurred_at) for x in a] != [(x.alert_id, x.occurred_at) for x in b]:
            changes.append(LeadChange(lead, "changed", label, _reasons(b[0])))
    return Comparison(base, other, changes)


def candidate_thresholds(runs: Sequence[Run]) -> list[float]:
    levels = {float(v) for v in range(20, 161, 10)}
    levels.update(run.threshold for run in runs)
    return sorted(levels)


def tables(
    runs: Sequence[Run], population: Mapping[str, LeadOutcome], period: float
) -> dict[str, list[Row]]:
    levels = candidate_thresholds(runs)
    return {run.rules_path: table(run.trajectories, population, levels, period) for run in runs}
