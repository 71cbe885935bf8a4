"""Field tests and conditions: every kind of test, case folding, Japanese text."""

from __future__ import annotations

import pytest

from scorer.core import Condition
from tests.unit.core.builders import ft

CASES = [
    # (id, test kwargs, value, expected)
    ("equals-hit", {"equals": ("manufacturing",)}, "Manufacturing", True),
    ("equals-miss", {"equals": ("manufacturing",)}, "retail", False),
    ("equals-any-of", {"equals": ("製造業", "manufacturing")}, "製造業", True),
    ("equals-bool-true", {"equals": (True,)}, True, True),
    ("equals-bool-not-int", {"equals": (True,)}, 1, False),
    ("equals-int-not-bool", {"equals": (1,)}, True, False),
    ("glob-prefix", {"globs": ("/pricing*",)}, "/pricing/enterprise", True),
    ("glob-exact-base", {"globs": ("/pricing*",)}, "/pricing", True),
    ("glob-case-insensitive", {"globs": ("/pricing*",)}, "/Pricing", True),
    ("glob-not-prefix", {"globs": ("/pricing*",)}, "/blog/pricing", False),
    ("glob-question-mark", {"globs": ("/case-??",)}, "/case-01", True),
    ("contains-japanese", {"contains": ("部長",)}, "製造本部 部長", True),
    ("contains-japanese-compound", {"contains": ("部長",)}, "事業部長", True),
    ("contains-english-ci", {"contains": ("head of",)}, "Head of IT", True),
    ("contains-miss", {"contains": ("部長",)}, "課長", False),
    ("regex-search", {"regex": r"\bIT\b"}, "Head of IT operations", True),
    ("regex-word-boundary", {"regex": r"\bIT\b"}, "Digital", False),
    ("min-inclusive", {"min": 100}, 100, True),
    ("min-just-below", {"min": 100}, 99, False),
    ("max-inclusive", {"min": 100, "max": 999}, 999, True),
    ("max-just-above", {"min": 100, "max": 999}, 1000, False),
    ("range-rejects-text", {"min": 100}, "500", False),
    ("range-rejects-bool", {"min": 0}, True, False),
    ("present-true", {"present": True}, "x", True),
    ("present-false-on-value", {"present": False}, "x", False),
    ("bare-test-needs-value", {}, "anything", True),
    ("negate", {"equals": ("student",), "negate": True}, "staff", True),
    ("negate-hit", {"equals": ("student",), "negate": True}, "student", False),
]


@pytest.mark.parametrize(
    ("kwargs", "value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_field_test(kwargs: dict[str, object], value: object, expected: bool) -> None:
    assert ft("f", **kwargs).matches({"f": value}) is expected  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"equals": ("x",)}, False),
        ({"present": False}, True),
        ({"present": True}, False),
        ({"equals": ("x",), "negate": True}, True),
    ],
    ids=["absent-fails-equals", "absent-is-not-present", "absent-fails-present", "negated"],
)
def test_missing_field(kwargs: dict[str, object], expected: bool) -> None:
    assert ft("f", **kwargs).matches({}) is expected


def test_condition_all_and_any() -> None:
    condition = Condition(
        all_of=(ft("country", equals=("JP",)),),
        any_of=((ft("title", contains=("部長",)),), (ft("seniority", equals=("vp",)),)),
    )
    assert condition.matches({"country": "jp", "title": "営業部長"})
    assert condition.matches({"country": "JP", "seniority": "vp"})
    assert not condition.matches({"country": "US", "seniority": "vp"})
    assert not condition.matches({"country": "JP", "title": "担当"})


def test_empty_condition_always_matches() -> None:
    assert Condition().matches({})
