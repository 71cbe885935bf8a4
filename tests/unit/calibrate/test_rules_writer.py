"""The proposed file is the user's file with points, version and comments changed and new
rules appended: everything else (ids, labels, caps, decay, scenarios, comments) stays."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from scorer.calibrate.points import (
    NOT_SUPPORTED,
    SUPPORTED,
    TOO_LITTLE,
    NewRule,
    Proposal,
    RuleDecision,
    new_rule_for,
)
from scorer.calibrate.rules_writer import proposed_text
from scorer.rules import load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[3]


def _proposal(path: Path) -> Proposal:
    rules = load_rules(path)
    proposal = Proposal(80.0, 20.0)
    for i, rule in enumerate((*rules.fit, *rules.engagement)):
        section = "fit" if i < len(rules.fit) else "engagement"
        verdict = (SUPPORTED, NOT_SUPPORTED, TOO_LITTLE)[i % 3]
        new = {SUPPORTED: rule.points + 7, NOT_SUPPORTED: 0, TOO_LITTLE: rule.points}[verdict]
        proposal.decisions.append(
            RuleDecision(rule.id, section, rule.label, rule.points, new, verdict, "evidence")
        )
    for feature in ("attr:industry=logistics", "attr:employees=1000-4999", "page:/docs/api",
                    "asset:wp-1", "form:trial", "webinar:w-1:attended"):  # fmt: skip
        made = new_rule_for(feature, 9, set())
        assert made is not None
        section, rule_id, label, spec = made
        proposal.added.append(NewRule(feature, section, rule_id, label, 9, spec, "new evidence"))
    return proposal


@pytest.mark.parametrize("name", ["default.yaml", "example-en.yaml"])
def test_the_proposed_file_keeps_the_users_structure(name: str) -> None:
    path = ROOT / "rules" / name
    original = path.read_text(encoding="utf-8")
    proposal = _proposal(path)
    text = proposed_text(original, proposal, "v-new", ["header line"], {"mql": "calibrate: t"})
    before, after = load_rules(path), parse_rules(text)
    assert after.version == "v-new"
    expected = {d.rule_id: d.new_points for d in proposal.decisions}
    expected.update({n.rule_id: n.points for n in proposal.added})
    got = {r.id: r.points for r in (*after.fit, *after.engagement)}
    assert got == expected
    # Everything but points is as the user wrote it.
    assert [replace(r, points=0) for r in before.fit] == [
        replace(r, points=0) for r in after.fit[: len(before.fit)]
    ]
    assert [replace(r, points=0) for r in before.engagement] == [
        replace(r, points=0) for r in after.engagement[: len(before.engagement)]
    ]
    assert after.scenarios == before.scenarios
    assert after.thresholds == before.thresholds
    assert after.categories == before.categories
    assert after.account == before.account
    # The user's own comments survive; every rule got its evidence comment.
    for line in original.splitlines():
        if line.strip().startswith("#"):
            assert line in text
    assert text.startswith("# header line\n")
    assert text.count("# calibrate: NEW rule the data supports: new evidence") == 6
    assert text.count("# calibrate:") == len(proposal.decisions) + 6 + 1


def test_new_rules_for_a_list_the_file_lacks_go_to_the_header() -> None:
    original = 'version: "1"\nfit:\n  rules:\n    - {id: fit.a, points: 5, when: {industry: x}}\n'
    proposal = Proposal(80.0, 20.0)
    proposal.decisions.append(RuleDecision("fit.a", "fit", "", 5, 8, SUPPORTED, "ev"))
    made = new_rule_for("page:/docs/api", 9, set())
    assert made is not None
    section, rule_id, label, spec = made
    proposal.added.append(NewRule("page:/docs/api", section, rule_id, label, 9, spec, "ev"))
    text = proposed_text(original, proposal, "2", ["head"])
    rules = parse_rules(text)
    assert [(r.id, r.points) for r in rules.fit] == [("fit.a", 8)]
    assert rules.engagement == ()
    assert "# - id: calibrated.page.docs_api" in text
    assert "add by hand" in text
