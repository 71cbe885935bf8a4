"""Loading rules files: the shipped files load; every problem names file, field, line."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.core import EventKind, Stage
from scorer.rules import RulesError, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[3]

MINIMAL = """\
version: "t.1"
engagement:
  rules:
    - id: web.pricing
      on: web.page_view
      when: {url: {glob: "/pricing*"}}
      points: 5
"""


@pytest.mark.parametrize("name", ["default.yaml", "example-en.yaml"])
def test_shipped_rules_load(name: str) -> None:
    rules = load_rules(ROOT / "rules" / name)
    assert rules.version
    assert rules.fit
    assert rules.engagement
    assert rules.thresholds
    assert rules.account.thresholds


def test_default_rules_encode_the_article() -> None:
    rules = load_rules(ROOT / "rules" / "default.yaml")
    mql = {t.name: t for t in rules.thresholds}["mql"]
    assert (mql.value, mql.moves_to) == (80, Stage.MQL)
    assert {t.name: t.value for t in rules.thresholds}["warm"] == 50
    fit = {r.id: r for r in rules.fit}
    assert fit["fit.title.manager_plus"].points == 10
    assert fit["fit.title.manager_plus"].when.matches({"title": "事業部長"})
    assert fit["fit.title.manager_plus"].when.matches({"title": "Head of Engineering"})
    assert fit["fit.employees.100_plus"].when.matches({"employee_count": 100})
    assert fit["fit.industry.manufacturing"].when.matches({"industry": "製造業"})
    engagement = {r.id: r for r in rules.engagement}
    assert engagement["web.pricing_view"].points == 5
    assert engagement["web.pricing_view"].when.matches({"url": "/pricing/enterprise"})
    assert engagement["web.case_study_download"].points == 15
    page = engagement["web.page_view"]
    assert page.cap is not None
    assert (page.cap.points, page.cap.window_s) == (10, 86400)
    half_lives = {c.name: c.half_life_s for c in rules.categories}
    assert half_lives["web"] == 14 * 86400
    assert half_lives["email"] == 30 * 86400
    assert half_lives["penalty"] is None
    assert rules.routing.by_product["product-a"] == "inside-sales-product-a"


def test_minimal_file_gets_defaults() -> None:
    rules = parse_rules(MINIMAL, "min.yaml")
    assert rules.version == "t.1"
    (rule,) = rules.engagement
    assert rule.on == frozenset({EventKind.PAGE_VIEW})
    assert rules.timing.allowed_lateness_s == 3600


def test_yaml_11_booleans_are_not_applied() -> None:
    """`on:` stays a key and the country code NO stays a string (YAML 1.2 booleans)."""
    text = (
        MINIMAL + "fit:\n  rules:\n    - id: fit.no\n      points: 1\n      when: {country: NO}\n"
    )
    rules = parse_rules(text)
    assert rules.fit[0].when.matches({"country": "NO"})


ERRORS = [
    (
        "typo-field",
        MINIMAL.replace("points: 5", "pointz: 5"),
        [
            "x.yaml:4: engagement.rules[0].points: required field is missing",
            "x.yaml:7: engagement.rules[0].pointz: unknown field (did you mean 'points'?)",
        ],
    ),
    (
        "typo-top-level",
        MINIMAL + "thresholdz: []\n",
        ["x.yaml:8: thresholdz: unknown field (did you mean 'thresholds'?)"],
    ),
    (
        "typo-in-field-test",
        MINIMAL.replace('{glob: "/pricing*"}', '{globb: "/pricing*"}'),
        ["x.yaml:6: engagement.rules[0].when.url.globb: unknown field (did you mean 'glob'?)"],
    ),
    (
        "unknown-event-type",
        MINIMAL.replace("on: web.page_view", "on: web.pageview"),
        ["x.yaml:5: engagement.rules[0].on[0]: unknown or non-scoring event type 'web.pageview'"],
    ),
    (
        "bad-duration",
        MINIMAL + "timing:\n  allowed_lateness: 3 days\n",
        ["x.yaml:9: timing.allowed_lateness: not a duration: '3 days'"],
    ),
    (
        "missing-version",
        MINIMAL.replace('version: "t.1"\n', ""),
        ["x.yaml:1: version: required field is missing"],
    ),
    (
        "duplicate-rule-id",
        MINIMAL + "    - id: web.pricing\n      on: web.page_view\n      points: 1\n",
        ["x.yaml:8: engagement.rules[1].id: duplicate rule id 'web.pricing'"],
    ),
    (
        "duplicate-key",
        MINIMAL + "version: again\n",
        ["x.yaml:8: duplicate key 'version'"],
    ),
    (
        "rearm-above-value",
        MINIMAL + "thresholds:\n  - {name: mql, value: 80, rearm_below: 90}\n",
        ["x.yaml:9: thresholds[0]: rearm_below must not be above value"],
    ),
    (
        "unknown-category",
        MINIMAL.replace("points: 5", "points: 5\n      category: webb"),
        ["x.yaml:8: engagement.rules[0].category: unknown category 'webb'"],
    ),
    (
        "yaml-syntax",
        MINIMAL + "  - [unclosed\n",
        ["x.yaml:"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_problems_name_file_line_and_field(text: str, expected: list[str]) -> None:
    with pytest.raises(RulesError) as raised:
        parse_rules(text, "x.yaml")
    lines = str(raised.value).splitlines()
    assert len(lines) == len(expected), lines
    for line, prefix in zip(lines, expected, strict=True):
        assert line.startswith(prefix), line


def test_typo_in_a_real_file_reports_its_path_and_line(tmp_path: Path) -> None:
    text = (ROOT / "rules" / "default.yaml").read_text(encoding="utf-8")
    original = "      cap: {points: 10, window: 24h}"
    broken = text.replace(original, "      cap: {pointz: 10, window: 24h}", 1)
    line_number = next(
        i for i, line in enumerate(text.splitlines(), start=1) if line.startswith(original)
    )
    target = tmp_path / "broken.yaml"
    target.write_text(broken, encoding="utf-8")
    with pytest.raises(RulesError) as raised:
        load_rules(target)
    problems = raised.value.problems
    assert (
        f"{target}:{line_number}: engagement.rules[1].cap.pointz: unknown field (did you mean 'points'?)"
        in problems
    )


def test_unreadable_file() -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(ROOT / "rules" / "does-not-exist.yaml")


@pytest.mark.parametrize(
    ("extra", "rate_limit", "max_age"),
    [
        ("", (600, 60.0), 400 * 86400.0),
        ("rate_limit: {max_events: 50, per: 10s}\n", (50, 10.0), 400 * 86400.0),
        ("rate_limit: {max_events: 50}\n", (50, 60.0), 400 * 86400.0),
        ("rate_limit: null\n", None, 400 * 86400.0),
        ("timing: {max_age: 30d}\n", (600, 60.0), 30 * 86400.0),
        ("timing: {max_age: null}\n", (600, 60.0), None),
        ("timing: {max_open_profile_fields: 30}\n", (600, 60.0), 400 * 86400.0),
    ],
    ids=["defaults", "both-keys", "per-default", "rate-off", "max-age", "max-age-off", "profiles"],
)
def test_rate_limit_and_max_age(
    extra: str, rate_limit: tuple[int, float] | None, max_age: float | None
) -> None:
    rules = parse_rules(MINIMAL + extra)
    limit = rules.rate_limit
    assert (None if limit is None else (limit.max_events, limit.per_s)) == rate_limit
    assert rules.timing.max_age_s == max_age
    assert rules.timing.max_open_profile_fields == (30 if "profile_fields" in extra else 256)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("rate_limit: {max_events: 0}\n", "x.yaml:8: rate_limit.max_events:"),
        ("rate_limit: {max_events: 5, per: 0s}\n", "x.yaml:8: rate_limit.per:"),
        ("rate_limit: {max_event: 5}\n", "x.yaml:8: rate_limit.max_event: unknown field"),
        ("timing: {max_age: -1d}\n", "x.yaml:8: timing.max_age:"),
    ],
    ids=["zero-events", "zero-per", "typo", "negative-age"],
)
def test_bad_rate_limit_and_max_age_name_the_field(extra: str, expected: str) -> None:
    with pytest.raises(RulesError) as raised:
        parse_rules(MINIMAL + extra, "x.yaml")
    assert str(raised.value).splitlines()[0].startswith(expected), str(raised.value)
