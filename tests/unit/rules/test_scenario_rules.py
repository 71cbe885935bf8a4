"""Scenarios, inactivity, SLA, routing rules and the time scale in rules files."""

from __future__ import annotations

from pathlib import Path

import pytest

from scorer.core import ActionKind, EventKind, Stage, TriggerKind
from scorer.rules import RulesError, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[3]
DAY = 86400.0

BASE = """\
version: "t.1"
thresholds:
  - {name: mql, value: 80, rearm_below: 60, moves_to: mql}
inactivity:
  after: 90d
scenarios:
  - id: follow_up
    trigger:
      event: web.page_view
      when: {url: {glob: "/pricing*"}}
    delay: 2d
    unless:
      - event: web.content_download
        when: {asset_type: case_study}
    actions:
      - send_email: {template: case-study}
"""


def test_default_rules_ship_the_three_scenarios_of_the_article() -> None:
    rules = load_rules(ROOT / "rules" / "default.yaml")
    by_id = rules.scenario_by_id
    pricing = by_id["pricing_case_study_mail"]
    assert pricing.trigger is TriggerKind.EVENT
    assert pricing.event is not None
    assert pricing.event.on == frozenset({EventKind.PAGE_VIEW})
    assert pricing.event.when.matches({"url": "/pricing/enterprise"})
    assert pricing.delay_s == 2 * DAY
    (unless,) = pricing.unless
    assert unless.when.matches({"asset_type": "case_study"})
    assert [(a.kind, dict(a.params)) for a in pricing.actions] == [
        (ActionKind.SEND_EMAIL, {"template": "case-study-collection"})
    ]
    assign = by_id["product_a_assign"]
    assert assign.event is not None
    assert assign.event.when.matches({"product": "product-a"})
    assert [(a.kind, dict(a.params)) for a in assign.actions] == [
        (ActionKind.ASSIGN, {"team": "inside-sales-product-a"})
    ]
    dormant = by_id["dormant_reengagement"]
    assert dormant.trigger is TriggerKind.WENT_COLD
    assert [a.kind for a in dormant.actions] == [ActionKind.SEND_EMAIL, ActionKind.ENROLL_NURTURE]
    assert rules.inactivity is not None
    assert rules.inactivity.after_s == 90 * DAY
    assert EventKind.EMAIL_OPEN not in rules.inactivity.activity  # "no visit to the site"
    assert rules.sla is not None
    assert rules.sla.follow_up_s_for("inside-sales") == 4 * 3600
    assert rules.lifecycle.lost_cool_off_s == 30 * DAY
    assert all(s.label for s in rules.scenarios), "labels in Japanese, like the rest"


def test_a_minimal_scenario_file() -> None:
    rules = parse_rules(BASE, "s.yaml")
    (scenario,) = rules.scenarios
    assert (scenario.id, scenario.delay_s, scenario.cooldown_s) == ("follow_up", 2 * DAY, None)
    assert rules.inactivity is not None
    assert EventKind.EMAIL_OPEN in rules.inactivity.activity  # the default activity kinds
    assert rules.handoff_thresholds == frozenset({"mql"})


def test_every_trigger_and_action_form() -> None:
    text = (
        BASE
        + """\
  - id: hot
    trigger: {stage: [engaged, recycled], score: {min: 60, basis: engagement}}
    cooldown: 7d
    require: {score: {max: 200}}
    actions:
      - notify: "#sdr"
      - assign:
  - id: cold
    trigger: {went_cold: true}
    actions:
      - enroll_nurture: re-engagement
      - assign: {team: nurture, queue: q}
"""
    )
    rules = parse_rules(text, "s.yaml")
    hot, cold = rules.scenario_by_id["hot"], rules.scenario_by_id["cold"]
    assert hot.trigger is TriggerKind.STATE
    assert hot.state is not None
    assert hot.state.stages == frozenset({Stage.ENGAGED, Stage.RECYCLED})
    assert (hot.state.min_score, hot.state.basis.value) == (60, "engagement")
    assert hot.cooldown_s == 7 * DAY
    assert hot.require is not None
    assert hot.require.max_score == 200
    assert [(a.kind, dict(a.params)) for a in hot.actions] == [
        (ActionKind.NOTIFY, {"channel": "#sdr"}),
        (ActionKind.ASSIGN, {}),
    ]
    assert cold.trigger is TriggerKind.WENT_COLD
    assert [dict(a.params) for a in cold.actions] == [
        {"program": "re-engagement"},
        {"team": "nurture", "queue": "q"},
    ]
    assert rules.state_scenarios == (hot,)
    assert rules.cold_scenarios == (cold,)


def test_routing_rules_and_sla_per_team() -> None:
    text = (
        BASE
        + """\
routing:
  default_team: is
  rules:
    - team: west
      product: [product-a]
      when: {region: [関西]}
sla:
  follow_up: 4h
  by_team: {west: 2h}
lifecycle:
  lost_cool_off: 30d
"""
    )
    rules = parse_rules(text, "s.yaml")
    (rule,) = rules.routing.rules
    assert (rule.team, rule.products) == ("west", frozenset({"product-a"}))
    assert rule.when.matches({"region": "関西"})
    assert rules.sla is not None
    assert (rules.sla.follow_up_s_for("west"), rules.sla.follow_up_s_for("is")) == (7200, 14400)


def test_time_scale_applies_to_the_loop_durations_only() -> None:
    path = ROOT / "rules" / "default.yaml"
    real, fast = load_rules(path), load_rules(path, time_scale=1 / 86400)
    pricing = fast.scenario_by_id["pricing_case_study_mail"]
    assert pricing.delay_s == pytest.approx(2.0)  # "2d" waits two seconds
    assert fast.inactivity is not None
    assert fast.inactivity.after_s == pytest.approx(90.0)
    assert fast.sla is not None
    assert fast.sla.follow_up_s == pytest.approx(4 * 3600 / 86400)
    assert fast.sla.follow_up_s_for("enterprise-sales") == pytest.approx(1.0)
    assert fast.lifecycle.lost_cool_off_s == pytest.approx(30.0)
    # Scoring durations are untouched.
    assert fast.categories == real.categories  # half-lives
    assert [r.cap for r in fast.engagement] == [r.cap for r in real.engagement]
    assert fast.timing == real.timing
    assert fast.thresholds == real.thresholds  # threshold cooldowns
    assert fast.account.engaged_window_s == real.account.engaged_window_s
    with_cooldown = parse_rules(
        BASE.replace("    delay: 2d\n", "    delay: 2d\n    cooldown: 10d\n"), time_scale=0.5
    )
    assert with_cooldown.scenarios[0].cooldown_s == 5 * DAY


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(RulesError, match="time scale must be positive"):
        parse_rules(BASE, "s.yaml", time_scale=0)


ERRORS = [
    (
        "unknown-action-kind",
        BASE.replace("      - send_email:", "      - send_mail:"),
        [
            "s.yaml:16: scenarios[0].actions[0].send_mail: unknown field (did you mean 'send_email'?)"
        ],
    ),
    (
        "bad-duration",
        BASE.replace("delay: 2d", "delay: 2 days"),
        ["s.yaml:11: scenarios[0].delay: not a duration: '2 days'"],
    ),
    (
        "bad-inactivity-period",
        BASE.replace("after: 90d", "after: 0s"),
        ["s.yaml:5: inactivity.after: must be a positive duration"],
    ),
    (
        "missing-template",
        BASE.replace("{template: case-study}", "{}"),
        ["s.yaml:16: scenarios[0].actions[0].send_email.template: required field is missing"],
    ),
    (
        "two-kinds-in-one-action",
        BASE.replace("{template: case-study}", "{template: x}\n        notify: '#c'"),
        ["s.yaml:16: scenarios[0].actions[0]: an action is exactly one of"],
    ),
    (
        "duplicate-action-kind",
        BASE + "      - send_email: other\n",
        ["s.yaml:17: scenarios[0].actions[1].send_email: a scenario has one send_email action"],
    ),
    (
        "unknown-trigger-event",
        BASE.replace("event: web.page_view", "event: web.pageview"),
        ["s.yaml:9: scenarios[0].trigger.event[0]: unknown event type 'web.pageview'"],
    ),
    (
        "two-trigger-kinds",
        BASE.replace(
            "      event: web.page_view", "      went_cold: true\n      event: web.page_view"
        ),
        ["s.yaml:8: scenarios[0].trigger: a trigger is exactly one of"],
    ),
    (
        "unless-without-delay",
        BASE.replace("    delay: 2d\n", ""),
        ["s.yaml:7: scenarios[0]: unless needs a delay"],
    ),
    (
        "went-cold-without-inactivity",
        BASE.replace("inactivity:\n  after: 90d\n", "")
        + "  - id: cold\n    trigger: {went_cold: true}\n    actions: [{notify: '#c'}]\n",
        ["s.yaml:16: scenarios[1].trigger.went_cold: went_cold needs an inactivity period"],
    ),
    (
        "duplicate-scenario-id",
        BASE + "  - id: follow_up\n    trigger: {stage: mql}\n    actions: [{notify: '#c'}]\n",
        ["s.yaml:17: scenarios[1].id: duplicate scenario id 'follow_up'"],
    ),
    (
        "bad-stage",
        BASE + "  - id: s\n    trigger: {stage: hot}\n    actions: [{notify: '#c'}]\n",
        ["s.yaml:18: scenarios[1].trigger.stage[0]: Input should be 'new'"],
    ),
    (
        "no-actions",
        BASE + "  - id: s\n    trigger: {stage: mql}\n    actions: []\n",
        ["s.yaml:19: scenarios[1].actions: List should have at least 1 item"],
    ),
    (
        "bad-sla-deadline",
        BASE + "sla: {follow_up: 4 hours}\n",
        ["s.yaml:17: sla.follow_up: not a duration: '4 hours'"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_scenario_problems_name_file_line_and_field(text: str, expected: list[str]) -> None:
    with pytest.raises(RulesError) as raised:
        parse_rules(text, "s.yaml")
    lines = str(raised.value).splitlines()
    assert len(lines) == len(expected), lines
    for line, prefix in zip(lines, expected, strict=True):
        assert line.startswith(prefix), line


def test_a_typo_in_a_shipped_scenario_names_its_line(tmp_path: Path) -> None:
    text = (ROOT / "rules" / "default.yaml").read_text(encoding="utf-8")
    original = "      - send_email: {template: case-study-collection}"
    line_number = next(i for i, line in enumerate(text.splitlines(), 1) if line == original)
    target = tmp_path / "broken.yaml"
    target.write_text(text.replace(original, original.replace("send_email", "send_emails")))
    with pytest.raises(RulesError) as raised:
        load_rules(target)
    (problem,) = raised.value.problems
    assert problem.startswith(f"{target}:{line_number}: scenarios[0].actions[0].send_emails:")
    assert "did you mean 'send_email'?" in problem
