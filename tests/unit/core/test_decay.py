"""Half-life checkpoints: engagement at t = sum(points_i * 2^(-(t - t_i) / half_life))."""

from __future__ import annotations

import math

import pytest

from scorer.core import EventKind, score_at
from scorer.core.decay import decay_factor
from tests.unit.core.builders import BASE_RULES, DAY, T0, ev, run


@pytest.mark.parametrize(
    ("elapsed", "half_life", "factor"),
    [
        (0.0, 14 * DAY, 1.0),
        (14 * DAY, 14 * DAY, 0.5),
        (28 * DAY, 14 * DAY, 0.25),
        (7 * DAY, 14 * DAY, 2**-0.5),
        (30 * DAY, 30 * DAY, 0.5),
        (90 * DAY, 30 * DAY, 0.125),
        (365 * DAY, None, 1.0),
        (-5.0, 14 * DAY, 1.0),
    ],
    ids=[
        "t0",
        "one-half-life",
        "two-half-lives",
        "half-a-half-life",
        "email-30d",
        "email-90d",
        "never-decays",
        "never-grows-backwards",
    ],
)
def test_decay_factor(elapsed: float, half_life: float | None, factor: float) -> None:
    assert math.isclose(decay_factor(elapsed, half_life), factor, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("kind", "fields", "points", "half_life_days"),
    [
        (EventKind.CONTENT_DOWNLOAD, {"asset_type": "case_study"}, 15, 14),
        (EventKind.EMAIL_CLICK, {"campaign_id": "c1"}, 3, 30),
        (EventKind.SEMINAR_ATTENDED, {"webinar_id": "w1"}, 20, 30),
    ],
    ids=["web-14d", "email-30d", "seminar-30d"],
)
def test_lead_engagement_halves_every_half_life(
    kind: EventKind, fields: dict[str, str], points: float, half_life_days: int
) -> None:
    state, _ = run([ev("e1", kind, T0, **fields)])
    assert state is not None
    for halvings in range(4):
        at = T0 + halvings * half_life_days * DAY
        expected = points * 0.5**halvings
        assert math.isclose(score_at(state, at, BASE_RULES).engagement, expected, rel_tol=1e-12)


def test_penalties_in_a_never_decaying_category_stay() -> None:
    state, _ = run([ev("u1", EventKind.EMAIL_UNSUBSCRIBE, T0, campaign_id="c")])
    assert state is not None
    assert score_at(state, T0 + 400 * DAY, BASE_RULES).engagement == -20


def test_decay_uses_event_time_not_arrival() -> None:
    """An event that happened a day before another decays from its own time."""
    state, _ = run(
        [
            ev("b", EventKind.CONTENT_DOWNLOAD, T0 + DAY, asset_type="case_study"),
            ev("a", EventKind.CONTENT_DOWNLOAD, T0 + DAY - 1800, asset_type="case_study"),
        ]
    )
    assert state is not None
    at = T0 + 15 * DAY
    expected = 15 * 2 ** (-(at - (T0 + DAY)) / (14 * DAY)) + 15 * 2 ** (
        -(at - (T0 + DAY - 1800)) / (14 * DAY)
    )
    assert math.isclose(score_at(state, at, BASE_RULES).engagement, expected, rel_tol=1e-12)
