"""What sales would receive at each candidate threshold, and a suggested threshold.

For every lead of the population we know, from a replay, when its score first reached
each level (its running maximum). A row of the table for threshold t counts:
- MQLs: leads that reached t before their cut-off (a won lead: its win; any other: its
  decision point), per month and per week of the period;
- recall: share of won deals that reached t before they were won;
- precision: share of those MQLs that became opportunities or wins;
- median days from reaching t to the win;
- load per team (leads per week) against `--capacity team=N`.
The suggestion is stated with its rule: the lowest threshold whose weekly load stays
within every stated capacity (most recall sales can handle); without capacities, the
highest threshold that keeps at least 80% recall (fewest MQLs at that recall).
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scorer.calibrate.outcomes import LeadOutcome

WEEK = 7 * 86400.0
MONTH = 30 * 86400.0
TARGET_RECALL = 0.8


@dataclass(frozen=True, slots=True)
class Trajectory:
    """When a lead's score first reached each new maximum: (time, score), increasing."""

    times: tuple[float, ...]
    peaks: tuple[float, ...]
    team: str | None

    def first_reach(self, level: float) -> float | None:
        i = bisect.bisect_left(self.peaks, level)
        return self.times[i] if i < len(self.peaks) else None

    def peak_before(self, t: float) -> float:
        i = bisect.bisect_left(self.times, t)
        return self.peaks[i - 1] if i > 0 else 0.0


def cutoff(outcome: LeadOutcome) -> float:
    if outcome.won and outcome.closed_at is not None:
        return outcome.closed_at
    return outcome.decided_at


@dataclass(frozen=True, slots=True)
class Row:
    threshold: float
    mqls: int
    per_month: float
    recall: float
    precision: float
    median_days_to_win: float | None
    load_per_week: dict[str, float]

    def to_record(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "mqls": self.mqls,
            "mqls_per_month": self.per_month,
            "recall": self.recall,
            "precision": self.precision,
            "median_days_to_win": self.median_days_to_win,
            "load_per_week": self.load_per_week,
        }


def table(
    trajectories: Mapping[str, Trajectory],
    population: Mapping[str, LeadOutcome],
    thresholds: Sequence[float],
    period: float,
) -> list[Row]:
    won = [o for o in population.values() if o.won]
    rows = []
    weeks, months = max(period / WEEK, 1.0), max(period / MONTH, 1.0)
    for t in thresholds:
        mqls, good, days, hits = 0, 0, [], 0
        by_team: dict[str, int] = {}
        for lead_id, outcome in population.items():
            trajectory = trajectories.get(lead_id)
            reached = trajectory.first_reach(t) if trajectory else None
            if reached is None or reached >= cutoff(outcome):
                continue
            mqls += 1
            team = (trajectory.team if trajectory else None) or "(no team)"
            by_team[team] = by_team.get(team, 0) + 1
            if outcome.opportunity or outcome.won:
                good += 1
            if outcome.won:
                hits += 1
                days.append((cutoff(outcome) - reached) / 86400.0)
        rows.append(
            Row(
                t,
                mqls,
                mqls / months,
                hits / len(won) if won else 0.0,
                good / mqls if mqls else 0.0,
                statistics.median(days) if days else None,
                {team: n / weeks for team, n in sorted(by_team.items())},
            )
        )
    return rows


def parse_capacity(values: Sequence[str]) -> dict[str, float]:
    """`team=N/week` (or `team=N`) -> {team: N}; raises ValueError with the bad value."""
    out = {}
    for value in values:
        team, sep, amount = value.partition("=")
        number = amount.strip().removesuffix("/week").removesuffix("/w")
        try:
            per_week = float(number)
        except ValueError:
            per_week = -1.0
        if not sep or not team.strip() or per_week <= 0:
            raise ValueError(
                f"--capacity {value!r}: expected TEAM=LEADS/week, e.g. inside-sales=40/week"
            )
        out[team.strip()] = per_week
    return out


@dataclass(frozen=True, slots=True)
class Suggestion:
    threshold: float | None
    rule: str
    why: str


def suggest(rows: Sequence[Row], capacity: Mapping[str, float]) -> Suggestion:
    ordered = sorted(rows, key=lambda r: r.threshold)
    if capacity:
        rule = "the lowest threshold whose weekly MQLs stay within every team's stated capacity"
        for row in ordered:
            over = [t for t, cap in capacity.items() if row.load_per_week.get(t, 0.0) > cap]
            if not over:
                note = (
                    ""
                    if row.recall >= TARGET_RECALL
                    else (
                        f"; recall is only {row.recall:.0%}, below the {TARGET_RECALL:.0%} target: "
                        "sales capacity, not the rules, is the limit"
                    )
                )
                return Suggestion(
                    row.threshold,
                    rule,
                    f"{row.per_month:.1f} MQLs/month, recall {row.recall:.0%}, "
                    f"precision {row.precision:.0%}{note}",
                )
        return Suggestion(None, rule, "no candidate threshold keeps every team within capacity")
    rule = f"the highest threshold that keeps at least {TARGET_RECALL:.0%} recall"
    keeping = [r for r in ordered if r.recall >= TARGET_RECALL]
    if not keeping:
        return Suggestion(None, rule, f"no candidate threshold reaches {TARGET_RECALL:.0%} recall")
    row = keeping[-1]
    return Suggestion(
        row.threshold,
        rule,
        f"{row.per_month:.1f} MQLs/month, recall {row.recall:.0%}, precision {row.precision:.0%}",
    )


def recall_at_volume(
    trajectories: Mapping[str, Trajectory], population: Mapping[str, LeadOutcome], volume: int
) -> float:
    """Recall if the `volume` leads with the highest score before their cut-off were
    handed off: compares rules files at the same MQL volume."""
    peaks = sorted(
        (
            (trajectories[lead].peak_before(cutoff(o)) if lead in trajectories else 0.0, lead)
            for lead, o in population.items()
        ),
        reverse=True,
    )
    chosen = {lead for _, lead in peaks[:volume]}
    wins = [lead for lead, o in population.items() if o.won]
    return sum(1 for lead in wins if lead in chosen) / len(wins) if wins else 0.0
