"""Point 9: strings compare after NFKC normalisation and case folding, on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.core.conditions import FieldTest
from scorer.core.lead_reads import buying_role
from scorer.rules import load_rules

ROOT = Path(__file__).resolve().parents[3]


def wide(text: str) -> str:
    """The full-width form of ASCII letters and digits (as Japanese forms often send)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("test", "value", "matches"),
    [
        (FieldTest.create("title", contains=("CEO",)), "ceo", True),
        (FieldTest.create("title", contains=("CEO",)), wide("CEO"), True),  # full-width
        (FieldTest.create("title", contains=(wide("CEO"),)), "Ceo", True),  # in the rule too
        (FieldTest.create("title", contains=("エンジニア",)), "ｼｽﾃﾑｴﾝｼﾞﾆｱ", True),  # half-width kana
        (FieldTest.create("title", contains=("部長",)), "課長", False),
        (
            FieldTest.create("industry", equals=("Manufacturing",)),
            wide("MANUFACTURING"),
            True,
        ),
        (FieldTest.create("url", globs=("/pricing*",)), "/PRICING/enterprise", True),
        (FieldTest.create("url", globs=("/pricing*",)), "/docs/pricing", False),  # anchored
        (FieldTest.create("title", regex=r"\bIT\b"), wide("IT") + "課長", False),  # no word break
        (FieldTest.create("title", regex=r"\bIT\b"), wide("IT Manager"), True),
        (FieldTest.create("title", regex=r"\bIT\b"), "Digital", False),
    ],
)
def test_normalised_matching(test: FieldTest, value: str, matches: bool) -> None:
    assert test.matches({test.name: value}) is matches


def test_a_full_width_title_gets_its_role_and_fit() -> None:
    rules = load_rules(ROOT / "rules" / "default.yaml")
    assert buying_role({"title": wide("CTO")}, rules) == "decision_maker"
    assert buying_role({"title": "ｼｽﾃﾑ開発 ｴﾝｼﾞﾆｱ"}, rules) == "technical"
