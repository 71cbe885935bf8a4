"""Point 6: exclusive rule groups, and the default rules' careers-page penalty that keeps
a job seeker excluded (no page-view point, no decay)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.semantics.replaying import at, event, of_type, score_file

ROOT = Path(__file__).resolve().parents[3]

RULES = """
version: exclusive.1
categories: {web: {half_life: 14d}, penalty: {half_life: never}}
engagement:
  rules:
    - {id: careers, on: web.page_view, when: {url: {glob: "/careers*"}}, points: -20,
       category: penalty, once: true, exclusive: page}
    - {id: pricing, on: web.page_view, when: {url: {glob: "/pricing*"}}, points: 5}
    - {id: any_page, on: web.page_view, points: 1, exclusive: page}
"""


@pytest.mark.parametrize(
    ("urls", "engagement"),
    [
        (["/blog"], 1.0),
        (["/pricing"], 6.0),  # not exclusive with the pricing rule: both apply
        (["/careers"], -20.0),  # the penalty replaces the page-view point
        (["/careers", "/careers/engineer"], -20.0),  # once spent, it still takes the event
    ],
)
def test_first_matching_rule_of_a_group_replaces_the_others(
    tmp_path: Path, urls: list[str], engagement: float
) -> None:
    events = [event(n, "web.page_view", at(hours=n), url=u) for n, u in enumerate(urls)]
    records = score_file(tmp_path, RULES, events, at=at(hours=len(urls) - 1))
    (lead,) = of_type(records, "lead_score")
    assert lead["engagement"] == pytest.approx(engagement, abs=0.01)


def test_a_job_seeker_stays_excluded_with_the_default_rules(tmp_path: Path) -> None:
    rules = (ROOT / "rules" / "default.yaml").read_text(encoding="utf-8")
    events = [event(n, "web.page_view", at(hours=n), url="/careers") for n in range(5)]
    for day in (0, 90):
        (lead,) = of_type(score_file(tmp_path, rules, events, at=at(day, hours=4)), "lead_score")
        assert lead["engagement"] == pytest.approx(-20.0), f"day {day}: no decay, no page points"
