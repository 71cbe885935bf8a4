"""Point 7: buying-group roles decide seniority before department (`role_precedence`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.core.lead_reads import buying_role
from scorer.rules import RulesError, load_rules, parse_rules
from tests.unit.semantics.replaying import at, event, of_type, score_file

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = load_rules(ROOT / "rules" / "default.yaml")
EXAMPLE = load_rules(ROOT / "rules" / "example-en.yaml")


@pytest.mark.parametrize(
    ("title", "role"),
    [
        ("生産技術部 部長", "decision_maker"),  # seniority before the department (技術)
        ("製造本部 本部長", "decision_maker"),
        ("経理部長", "decision_maker"),
        ("代表取締役社長", "decision_maker"),
        ("CTO", "decision_maker"),
        ("情報システム課長", "technical"),
        ("開発部 主任", "technical"),
        ("経理部 主任", "finance"),
        ("営業部 課長", "champion"),
        ("主任", "champion"),
        ("Director of Engineering", "decision_maker"),
        ("IT Manager", "technical"),
        ("Sales Manager", "champion"),
        ("Procurement Lead", "finance"),
        ("Intern", None),
    ],
)
def test_default_roles(title: str, role: str | None) -> None:
    assert buying_role({"title": title}, DEFAULT) == role


@pytest.mark.parametrize(
    ("attributes", "role"),
    [
        ({"title": "Director of Engineering"}, "decision_maker"),
        ({"title": "VP Finance"}, "decision_maker"),
        ({"title": "Chief Financial Officer"}, "decision_maker"),
        ({"title": "IT Manager", "seniority": "manager"}, "technical"),
        ({"title": "Senior Software Engineer"}, "technical"),
        ({"title": "Financial Controller"}, "finance"),
        ({"title": "Marketing Manager"}, "champion"),
        ({"title": "Engineer", "seniority": "director"}, "decision_maker"),
    ],
)
def test_example_roles(attributes: dict[str, str], role: str) -> None:
    assert buying_role(attributes, EXAMPLE) == role


ROLES = """
version: roles.1
engagement:
  rules: [{id: visit, on: web.page_view, points: 5}]
account:
  roles:
    technical: {when: {title: {contains: [技術]}}}
    decision_maker: {when: {title: {contains: [部長]}}}
  %s
"""


def test_without_precedence_the_file_order_decides(tmp_path: Path) -> None:
    profile = event(1, "profile.updated", at(0), account_id="A1", title="生産技術部 部長")
    visit = event(2, "web.page_view", at(0, hours=1), account_id="A1")
    for precedence, role in [
        ("", "technical"),
        ("role_precedence: [decision_maker, technical]", "decision_maker"),
    ]:
        records = score_file(tmp_path, ROLES % precedence, [profile, visit])
        (account,) = of_type(records, "account_score")
        assert account["roles"] == [role]


@pytest.mark.parametrize(
    ("precedence", "message"),
    [
        ("[technical, cfo]", "unknown role 'cfo'"),
        ("[technical, technical, decision_maker]", "role 'technical' is listed twice"),
        ("[technical]", "missing: decision_maker"),
    ],
)
def test_precedence_names_every_role_once(precedence: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse_rules(ROLES % f"role_precedence: {precedence}")
