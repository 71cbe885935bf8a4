"""Point 5: a scenario's repeat policy; the 3-month re-engagement of rules/default.yaml
re-contacts a lead that wakes up and goes quiet again."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.rules import RulesError, parse_rules
from tests.unit.semantics.replaying import at, event, of_type, score_file

ROOT = Path(__file__).resolve().parents[3]

RULES = """
version: repeat.1
engagement:
  rules:
    - {id: visit, on: web.page_view, points: 1}
scenarios:
  - id: dormant
    trigger: {went_cold: true}
    %s
    actions: [{send_email: {template: report}}]
inactivity: {after: 90d, activity: [web.page_view]}
"""

# Quiet from day 0 (cold at day 90), active at day 100, quiet again (cold at day 190).
WAKES_AND_SLEEPS = [event(1, "web.page_view", at(0)), event(2, "web.page_view", at(100))]


@pytest.mark.parametrize(
    ("policy", "fired"),
    [
        ("", 1),  # once per lifecycle cycle (the default): no recycling in between
        ("repeat: once_per_cycle", 1),
        ("repeat: once", 1),
        ("repeat: {at_most_once_per: 90d}", 2),  # 100 days apart
        ("repeat: {at_most_once_per: 120d}", 1),
        ("cooldown: 90d", 2),  # the older spelling of at_most_once_per
    ],
)
def test_repeat_policy_of_a_dormant_reengagement(tmp_path: Path, policy: str, fired: int) -> None:
    records = score_file(tmp_path, RULES % policy, WAKES_AND_SLEEPS, until=at(200))
    actions = of_type(records, "action")
    assert [a["action_id"] for a in actions] == [
        f"action:L1:dormant:{n}:send_email" for n in range(1, fired + 1)
    ]


def test_default_rules_recontact_a_lead_that_goes_quiet_again(tmp_path: Path) -> None:
    rules = (ROOT / "rules" / "default.yaml").read_text(encoding="utf-8")
    records = score_file(tmp_path, rules, WAKES_AND_SLEEPS, until=at(200))
    sent = [a for a in of_type(records, "action") if a["kind"] == "send_email"]
    assert [a["action_id"] for a in sent] == [
        "action:L1:dormant_reengagement:1:send_email",
        "action:L1:dormant_reengagement:2:send_email",
    ]


def test_repeat_and_cooldown_together_is_an_error() -> None:
    with pytest.raises(RulesError, match="repeat or cooldown, not both"):
        parse_rules(RULES % "repeat: once\n    cooldown: 30d")


RECYCLED = """
version: repeat.2
categories: {web: {half_life: never}}
engagement:
  rules: [{id: visit, on: web.page_view, points: 50}]
thresholds: [{name: mql, value: 80, rearm_below: 60, moves_to: mql}]
scenarios:
  - id: back_to_nurture
    trigger: {stage: recycled}
    %s
    actions: [{enroll_nurture: {program: recycled}}]
"""


@pytest.mark.parametrize(("policy", "fired"), [("", 2), ("repeat: once", 1)])
def test_once_is_once_per_lead_and_the_default_once_per_cycle(
    tmp_path: Path, policy: str, fired: int
) -> None:
    events = [
        event(1, "web.page_view", at(0)),
        event(2, "web.page_view", at(0, hours=1)),  # 100: mql
        event(3, "feedback.rejected", at(1), reason="later"),  # recycled, engagement reset
        event(4, "web.page_view", at(2)),
        event(5, "web.page_view", at(2, hours=1)),  # 100 again: mql:2
        event(6, "feedback.rejected", at(3), reason="later"),  # recycled again
        event(7, "web.page_view", at(4)),  # a scoring event in the new cycle
    ]
    records = score_file(tmp_path, RECYCLED % policy, events)
    actions = [a["action_id"] for a in of_type(records, "action")]
    assert actions == [f"action:L1:back_to_nurture:{n}:enroll_nurture" for n in range(1, fired + 1)]
