"""Thresholds with hysteresis: boundaries, re-arming, cooldown, decay-driven re-arm."""

from __future__ import annotations

import pytest

from scorer.core import (
    Category,
    EngagementRule,
    EventKind,
    Rules,
    ScoreBasis,
    Stage,
    Threshold,
)
from scorer.core.thresholds import Gate, step_gate
from tests.unit.core.builders import DAY, T0, ev, ft, run, when

PAGE = EventKind.PAGE_VIEW
AMOUNTS = {
    "+1": 1.0,
    "+10": 10.0,
    "+50": 50.0,
    "+80": 80.0,
    "-1": -1.0,
    "-10": -10.0,
    "-0.01": -0.01,
    "-20": -20.0,
    "+20": 20.0,
}


def points_rules(**threshold: object) -> Rules:
    """Rules where visiting url "/+10" earns exactly 10 points (no caps)."""
    return Rules(
        version="points.1",
        categories=(Category("web", 14 * DAY),),
        engagement=tuple(
            EngagementRule(
                f"p{name}", frozenset({PAGE}), pts, when(ft("url", equals=(f"/{name}",)))
            )
            for name, pts in AMOUNTS.items()
        ),
        thresholds=(
            Threshold(
                **{
                    "name": "mql",
                    "value": 80,
                    "rearm_below": 60,
                    "moves_to": Stage.MQL,
                    **threshold,
                }
            ),
        ),  # type: ignore[arg-type]
    )


def visits(*amounts: str, start: float = T0, step: float = 0.0) -> list:  # type: ignore[type-arg]
    return [ev(f"e{i:03d}", PAGE, start + i * step, url=f"/{a}") for i, a in enumerate(amounts)]


def alert_ids(updates: list) -> list[str]:  # type: ignore[type-arg]
    return [a.alert_id for u in updates for a in u.alerts]


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        (("+50", "+20", "+10"), ["lead:L1:mql:1"]),
        (("+50", "+20", "+10", "-0.01"), ["lead:L1:mql:1"]),
        (("+50", "+20", "+10", "-0.01", "+1"), ["lead:L1:mql:1"]),
        (("+50", "+20", "+1", "+1", "+1", "+1", "+1", "+1", "+1", "+1", "+1", "-0.01"), []),
        (("+80",), ["lead:L1:mql:1"]),
    ],
    ids=[
        "exactly-80-fires",
        "just-below-after-fire-no-refire",
        "recross-without-rearm",
        "79.99-never-fires",
        "single-jump",
    ],
)
def test_fire_at_exactly_the_threshold(amounts: tuple[str, ...], expected: list[str]) -> None:
    _, updates = run(visits(*amounts), points_rules())
    assert alert_ids(updates) == expected


@pytest.mark.parametrize(
    ("dip", "rearmed"),
    [
        (("-20",), False),  # 80 -> 60: exactly at the re-arm line, not below
        (("-20", "-0.01"), True),  # 59.99: just below the re-arm line
        (("-10", "-10", "-1"), True),  # 59
        (("-10",), False),  # 70
    ],
    ids=["at-rearm-line", "just-below-rearm-line", "well-below", "inside-band"],
)
def test_rearm_only_below_the_line(dip: tuple[str, ...], rearmed: bool) -> None:
    amounts = ("+80", *dip, "+50")
    _, updates = run(visits(*amounts), points_rules())
    expected = ["lead:L1:mql:1", "lead:L1:mql:2"] if rearmed else ["lead:L1:mql:1"]
    assert alert_ids(updates) == expected


def test_oscillating_score_alerts_once_until_rearmed() -> None:
    amounts = ("+80", "-10", "+10", "-10", "+10", "-10", "+10")
    _, updates = run(visits(*amounts), points_rules())
    assert alert_ids(updates) == ["lead:L1:mql:1"]


def test_cooldown_blocks_a_refire_until_it_has_passed() -> None:
    rules = points_rules(cooldown_s=DAY)
    events = [
        *visits("+80", "-20", "-1", start=T0),  # fire, then re-arm (59)
        *visits("+50", start=T0 + 3600),  # back above within the cooldown: no alert
    ]
    events = [ev(f"x{i}", PAGE, e.occurred_at, url=e.fields["url"]) for i, e in enumerate(events)]
    late = ev("after", PAGE, T0 + DAY + 1, url="/+1")  # still above, cooldown over
    _, updates = run([*events, late], rules)
    assert alert_ids(updates) == ["lead:L1:mql:1", "lead:L1:mql:2"]
    assert updates[-1].alerts[0].event_id == "after"


def test_decay_alone_rearms_between_events() -> None:
    """85 points decay below 60 within two half-lives; the next event sees the dip."""
    events = [*visits("+80", start=T0), ev("later", PAGE, T0 + 28 * DAY, url="/+80")]
    _, updates = run(events, points_rules())
    assert alert_ids(updates) == ["lead:L1:mql:1", "lead:L1:mql:2"]


def test_basis_engagement_ignores_fit() -> None:
    rules = points_rules(basis=ScoreBasis.ENGAGEMENT)
    _, updates = run(visits("+50", "+20", "+10"), rules)
    assert alert_ids(updates) == ["lead:L1:mql:1"]


@pytest.mark.parametrize(
    ("gate", "before", "after", "expected_gate", "fired"),
    [
        (Gate(), 0, 79.99, Gate(), False),
        (Gate(), 0, 80, Gate(False, 1, T0), True),
        (Gate(False, 1, 0.0), 70, 90, Gate(False, 1, 0.0), False),
        (Gate(False, 1, 0.0), 59.99, 70, Gate(True, 1, 0.0), False),
        (Gate(False, 1, 0.0), 59.99, 85, Gate(False, 2, T0), True),
    ],
    ids=["below", "at-value", "disarmed-above", "rearm-on-pre-event-dip", "rearm-and-fire"],
)
def test_step_gate(
    gate: Gate, before: float, after: float, expected_gate: Gate, fired: bool
) -> None:
    threshold = Threshold("mql", 80, 60)
    assert step_gate(gate, threshold, T0, before, after) == (expected_gate, fired)


def test_forced_rearm_does_not_fire_on_the_same_event() -> None:
    threshold = Threshold("mql", 80, 60)
    assert step_gate(Gate(False, 1, 0.0), threshold, T0, 90, 90, force_rearm=True) == (
        Gate(True, 1, 0.0),
        False,
    )


def test_several_named_thresholds() -> None:
    rules = Rules(
        version="two.1",
        categories=(Category("web", 14 * DAY),),
        engagement=points_rules().engagement,
        thresholds=(Threshold("warm", 50, 40), Threshold("mql", 80, 60, moves_to=Stage.MQL)),
    )
    _, updates = run(visits("+50", "+20", "+10"), rules)
    assert alert_ids(updates) == ["lead:L1:warm:1", "lead:L1:mql:1"]
    assert updates[0].alerts[0].kind == "warm"
    assert updates[2].stage_change == ("engaged", "mql")
