"""Lift intervals, capacity parsing and the threshold suggestion, table-driven."""

from __future__ import annotations

import math

import pytest

from scorer.calibrate.lift import risk_ratio
from scorer.calibrate.thresholds import Row, parse_capacity, suggest


@pytest.mark.parametrize(
    ("a", "n1", "c", "n0", "ratio", "low", "high"),
    [
        # 20% vs 10%: ratio 2, Katz interval from the log standard error
        (20, 100, 10, 100, 2.0, 0.987, 4.054),
        (10, 100, 10, 100, 1.0, 0.435, 2.297),
        # an empty cell gets 0.5 added everywhere instead of an infinite ratio
        (0, 50, 10, 100, 0.0943, 0.0056, 1.578),
    ],
)
def test_risk_ratio(
    a: int, n1: int, c: int, n0: int, ratio: float, low: float, high: float
) -> None:
    got = risk_ratio(a, n1, c, n0)
    assert got[0] == pytest.approx(ratio, abs=0.005)
    assert got[1] == pytest.approx(low, abs=0.005)
    assert got[2] == pytest.approx(high, abs=0.005)


def test_risk_ratio_without_a_comparison_group_says_nothing() -> None:
    assert risk_ratio(5, 10, 0, 0) == (1.0, 0.0, math.inf)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["inside-sales=40/week"], {"inside-sales": 40.0}),
        (["a=10", "b = 2.5/w"], {"a": 10.0, "b": 2.5}),
    ],
)
def test_parse_capacity(args: list[str], expected: dict[str, float]) -> None:
    assert parse_capacity(args) == expected


@pytest.mark.parametrize("bad", ["inside-sales", "=4", "a=zero", "a=-1/week"])
def test_parse_capacity_names_the_bad_value(bad: str) -> None:
    with pytest.raises(ValueError, match="--capacity"):
        parse_capacity([bad])


def _row(t: float, recall: float, load: float) -> Row:
    return Row(t, int(load * 50), load * 4, recall, 0.5, 10.0, {"inside-sales": load})


ROWS = [_row(40, 0.95, 30), _row(60, 0.85, 18), _row(80, 0.6, 8), _row(100, 0.3, 2)]


@pytest.mark.parametrize(
    ("capacity", "threshold", "words"),
    [
        ({}, 60, "80% recall"),  # highest threshold keeping 80% recall
        ({"inside-sales": 20}, 60, "capacity"),  # lowest within capacity
        ({"inside-sales": 10}, 80, "below the 80% target"),  # capacity binds, said plainly
        ({"inside-sales": 1}, None, "no candidate"),
    ],
)
def test_suggested_threshold(
    capacity: dict[str, float], threshold: float | None, words: str
) -> None:
    suggestion = suggest(ROWS, capacity)
    assert suggestion.threshold == threshold
    assert words in suggestion.rule + suggestion.why
