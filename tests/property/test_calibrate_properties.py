"""Invariants of calibrate's statistics and threshold tables."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from scorer.calibrate.lift import risk_ratio
from scorer.calibrate.outcomes import LeadOutcome
from scorer.calibrate.thresholds import Trajectory, table


@st.composite
def _groups(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n1 = draw(st.integers(1, 500))
    n0 = draw(st.integers(1, 500))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n0)), n0


@given(_groups())
def test_the_interval_holds_the_ratio(groups: tuple[int, int, int, int]) -> None:
    ratio, low, high = risk_ratio(*groups)
    assert 0 <= low <= ratio <= high


_scores = st.lists(st.tuples(st.floats(0, 1e6), st.floats(-50, 200)), min_size=0, max_size=30)


@given(st.lists(st.tuples(_scores, st.booleans()), min_size=1, max_size=20))
def test_raising_the_threshold_never_adds_mqls_or_recall(
    leads: list[tuple[list[tuple[float, float]], bool]],
) -> None:
    trajectories, population = {}, {}
    for i, (changes, won) in enumerate(leads):
        times, peaks = [], []
        for t, score in sorted(changes):
            if not peaks or score > peaks[-1]:
                times.append(t)
                peaks.append(score)
        lead = f"lead-{i}"
        trajectories[lead] = Trajectory(tuple(times), tuple(peaks), "team")
        population[lead] = LeadOutcome(lead, "won" if won else "lost", 5e5, 6e5 if won else None)
    rows = table(trajectories, population, [0, 20, 50, 80, 120, 200], 86400.0 * 365)
    for lower, higher in itertools.pairwise(rows):
        assert higher.mqls <= lower.mqls
        assert higher.recall <= lower.recall
