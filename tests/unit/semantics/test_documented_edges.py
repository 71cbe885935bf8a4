"""Point 9: the edge cases README's rules reference answers, pinned on score-file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scorer.rules import parse_rules
from tests.unit.semantics.replaying import at, event, of_type, score_file

RULES = """
version: edges.1
categories: {web: {half_life: never}, email: {half_life: 1d}}
engagement:
  rules:
    - {id: visit, on: web.page_view, points: 10, cap: {points: 25, window: 1d}}
    - {id: open, on: email.open, points: 8}
    - {id: a, on: web.content_download, when: {product: product-a}, points: 20}
    - {id: b, on: web.content_download, when: {product: product-b}, points: 30}
thresholds:
  - {name: mql, value: 80, rearm_below: 60, moves_to: mql, cooldown: 1d}
"""


def _views(*hours: float) -> list[dict[str, object]]:
    return [event(n, "web.page_view", at(hours=h)) for n, h in enumerate(hours)]


def _engagement(records: list[dict[str, object]]) -> float:
    (lead,) = of_type(records, "lead_score")
    value = lead["engagement"]
    assert isinstance(value, float)
    return value


@pytest.mark.parametrize(
    ("hours", "engagement"),
    [
        ((0, 1, 2), 25.0),  # 10 + 10 + 5: the cap awards partially
        ((0, 1, 2, 3), 25.0),
        ((0, 1, 24), 30.0),  # exactly a window later the first award no longer counts
        ((0, 1, 23.5), 25.0),
    ],
)
def test_caps_award_partially_and_the_window_edge_is_outside(
    tmp_path: Path, hours: tuple[float, ...], engagement: float
) -> None:
    assert _engagement(score_file(tmp_path, RULES, _views(*hours))) == engagement


def test_a_rule_without_category_uses_its_event_types(tmp_path: Path) -> None:
    opened = [event(1, "email.open", at(0), campaign_id="c1")]
    # The email category halves in a day (web never decays).
    assert _engagement(score_file(tmp_path, RULES, opened, at=at(1))) == 4.0


def test_reaching_a_threshold_exactly_counts_and_product_drives(tmp_path: Path) -> None:
    downloads = [
        event(11, "web.content_download", at(hours=1), product="product-a", asset_id="x"),
        event(12, "web.content_download", at(hours=2), product="product-b", asset_id="y"),
        event(13, "web.content_download", at(hours=3), product="product-a", asset_id="z"),
    ]
    records = score_file(tmp_path, RULES, [*_views(0, 0.5), *downloads])
    (alert,) = of_type(records, "alert")
    assert alert["score"] == 90.0  # 20 + 20 + 30 + 20 = 90 crosses 80 at the 3rd download
    assert alert["product"] == "product-a"  # 40 points against product-b's 30
    exact = RULES.replace("value: 80", "value: 90")
    (alert,) = of_type(score_file(tmp_path, exact, [*_views(0, 0.5), *downloads]), "alert")
    assert alert["score"] == alert["threshold_value"] == 90.0


def test_time_scale_spares_threshold_cooldowns() -> None:
    rules = parse_rules(RULES, time_scale=0.5)
    assert rules.thresholds[0].cooldown_s == 86400.0


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
SHAPES = {
    "lead_score": {
        "type", "lead_id", "account_id", "at", "fit", "engagement", "total", "grade",
        "stage", "rules_version",
    },
    "alert": {
        "type", "alert_id", "kind", "subject", "lead_id", "account_id", "score", "fit",
        "engagement", "grade", "stage", "threshold", "threshold_value", "epoch", "reasons",
        "negative_reasons", "rules_version", "occurred_at", "event_id", "team", "product",
        "contacts", "engaged_contacts", "roles",
    },
    "rejected": {"type", "event_id", "lead_id", "outcome", "reason"},
    "invalid": {"type", "line", "error"},
}  # fmt: skip


def test_every_output_line_has_its_documented_shape(tmp_path: Path) -> None:
    views = _views(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    events = [*views, views[0], {"type": "web.page_view"}]  # a duplicate, an invalid line
    records = score_file(tmp_path, RULES.replace("points: 25", "points: 100"), events)
    assert [r["type"] for r in records] == ["lead_score", "alert", "rejected", "invalid"]
    for record in records:
        assert set(record) == SHAPES[str(record["type"])]
    lead, alert, rejected, invalid = records
    assert RFC3339.match(str(lead["at"]))
    assert RFC3339.match(str(alert["occurred_at"]))
    assert rejected["outcome"] == "duplicate"
    assert invalid["line"] == 12
    assert str(invalid["error"]).startswith("web.page_view.")


def test_scores_are_rounded_to_four_places(tmp_path: Path) -> None:
    opened = [event(1, "email.open", at(0), campaign_id="c1")]
    value = _engagement(score_file(tmp_path, RULES, opened, at=at(hours=1)))
    assert value == round(8 * 2 ** (-1 / 24), 4)
