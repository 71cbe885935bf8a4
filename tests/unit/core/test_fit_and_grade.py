"""Fit rules (Japanese/English titles, ranges, industry, BANT, custom, negative), fit
replacement on profile updates, grade bands."""

from __future__ import annotations

import pytest

from scorer.core import EventKind, FitLevel, FitRule, GradeBands, score_at
from scorer.core.fit import company_fit_score, fit_contributions, fit_score, merge_attributes
from scorer.core.grade import engagement_band, fit_letter, grade
from tests.unit.core.builders import BASE_RULES, T0, ev, ft, rules_with, run, when

FIT_CASES = [
    ("ja-bucho", {"title": "営業部 部長"}, 10),
    ("ja-yakuin", {"title": "執行役員"}, 10),
    ("en-director", {"title": "Director of Sales"}, 10),
    ("en-head-of", {"title": "Head of Procurement"}, 10),
    ("seniority-enum", {"seniority": "vp"}, 10),
    ("staff-no-points", {"title": "担当", "seniority": "staff"}, 0),
    ("employees-exactly-100", {"employee_count": 100}, 10),
    ("employees-99", {"employee_count": 99}, 0),
    ("manufacturing-ja", {"industry": "製造業"}, 10),
    ("manufacturing-en", {"industry": "Manufacturing"}, 10),
    ("article-segment", {"title": "部長", "employee_count": 300, "industry": "製造業"}, 30),
    ("student-negative", {"seniority": "student"}, -50),
]


@pytest.mark.parametrize(
    ("attributes", "expected"), [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES]
)
def test_fit_rules(attributes: dict[str, object], expected: float) -> None:
    assert fit_score(attributes, BASE_RULES) == expected  # type: ignore[arg-type]


EXTRA_FIT = (
    FitRule("bant.budget", 5, when(ft("budget", equals=(True,)))),
    FitRule("bant.timeframe", 10, when(ft("timeframe", equals=("0-3m",)))),
    FitRule("region", 5, when(ft("country", equals=("JP", "日本"))), level=FitLevel.COMPANY),
    FitRule("custom.target", 10, when(ft("custom.target_account", equals=(True,)))),
    FitRule("freemail", -20, when(ft("email_domain", equals=("gmail.com", "yahoo.co.jp")))),
    FitRule("competitor", -100, when(ft("email_domain", equals=("rival.example.com",)))),
)

EXTRA_CASES = [
    ("bant-budget", {"budget": True}, 5),
    ("bant-budget-false", {"budget": False}, 0),
    ("bant-timeframe", {"timeframe": "0-3m"}, 10),
    ("bant-timeframe-later", {"timeframe": "6-12m"}, 0),
    ("country", {"country": "日本"}, 5),
    ("custom-field", {"custom.target_account": True}, 10),
    ("free-mail", {"email_domain": "Gmail.com"}, -20),
    ("competitor", {"email_domain": "rival.example.com"}, -100),
]


@pytest.mark.parametrize(
    ("attributes", "expected"), [c[1:] for c in EXTRA_CASES], ids=[c[0] for c in EXTRA_CASES]
)
def test_more_fit_rule_kinds(attributes: dict[str, object], expected: float) -> None:
    rules = rules_with(fit=EXTRA_FIT)
    assert fit_score(attributes, rules) == expected  # type: ignore[arg-type]


def test_company_fit_counts_company_rules_only() -> None:
    attributes = {"title": "部長", "employee_count": 500, "industry": "製造業"}
    assert company_fit_score(attributes, BASE_RULES) == 20  # type: ignore[arg-type]


def test_contributions_list_matching_rules() -> None:
    assert fit_contributions({"title": "Director", "employee_count": 5}, BASE_RULES) == (
        ("fit.title", 10),
    )


def test_merge_replaces_named_attributes_and_none_removes() -> None:
    merged = merge_attributes(
        {"title": "担当", "industry": "IT"}, {"title": "部長", "industry": None}
    )
    assert merged == {"title": "部長"}


def test_profile_update_replaces_fit_instead_of_adding() -> None:
    state, updates = run(
        [
            ev("p1", EventKind.PROFILE_UPDATED, T0, title="部長", employee_count=500),
            ev("p2", EventKind.PROFILE_UPDATED, T0 + 10, title="部長", employee_count=500),
            ev("p3", EventKind.PROFILE_UPDATED, T0 + 20, title="担当"),
        ]
    )
    assert state is not None
    assert [u.state.fit for u in updates] == [20, 20, 10]
    assert updates[1].changes == ()  # nothing changed: no fit points re-added
    (change,) = updates[2].changes
    assert (change.rule_id, change.points_awarded, change.note) == (
        "fit.title",
        -10,
        "fit_unmatched",
    )
    assert score_at(state, T0 + 20, BASE_RULES).fit == 10


BANDS = GradeBands()


@pytest.mark.parametrize(
    ("fit", "letter"),
    [(40, "A"), (39.99, "B"), (25, "B"), (10, "C"), (9.99, "D"), (-50, "D")],
    ids=["A-at-min", "B-just-below-A", "B-at-min", "C-at-min", "D-below-C", "D-negative"],
)
def test_fit_letter_bands(fit: float, letter: str) -> None:
    assert fit_letter(fit, BANDS) == letter


@pytest.mark.parametrize(
    ("engagement", "band"),
    [(60, "1"), (59.9, "2"), (30, "2"), (10, "3"), (0, "4"), (-5, "4")],
    ids=["1-at-min", "2-just-below-1", "2-at-min", "3-at-min", "4-zero", "4-negative"],
)
def test_engagement_bands(engagement: float, band: str) -> None:
    assert engagement_band(engagement, BANDS) == band


@pytest.mark.parametrize(
    ("fit", "engagement", "expected"),
    [(45, 70, "A1"), (0, 0, "D4"), (26, 11, "B3"), (12, 35, "C2")],
    ids=["A1", "D4", "B3", "C2"],
)
def test_grade_matrix(fit: float, engagement: float, expected: str) -> None:
    assert grade(fit, engagement, BANDS) == expected


def test_grade_matrix_is_configurable() -> None:
    bands = GradeBands(
        fit=(("S", 50.0), ("A", 20.0)),
        fallback_fit="B",
        engagement=(("hot", 40.0),),
        fallback_engagement="cold",
    )
    assert grade(55, 41, bands) == "Shot"
    assert grade(10, 0, bands) == "Bcold"
