"""Read-model views: the hot line each rule set gives (remembered per rule set)."""

from __future__ import annotations

import pytest

from scorer.core import Rules, Stage, Threshold
from scorer.stream.views import hot_line


def rules(*values: float) -> Rules:
    return Rules(
        version="t",
        thresholds=tuple(
            Threshold(name=f"t{n}", value=v, rearm_below=v - 1, moves_to=Stage.MQL)
            for n, v in enumerate(values)
        ),
    )


@pytest.mark.parametrize(
    ("values", "line"),
    [((80.0,), 80.0), ((120.0, 60.0, 90.0), 60.0), ((), float("inf"))],
)
def test_the_hot_line_is_the_lowest_threshold(values: tuple[float, ...], line: float) -> None:
    assert hot_line(rules(*values)) == line


def test_each_rule_set_gets_its_own_line_however_many_are_asked_about() -> None:
    sets = [rules(float(n)) for n in range(40)]
    for _ in range(2):
        assert [hot_line(r) for r in sets] == [float(n) for n in range(40)]
