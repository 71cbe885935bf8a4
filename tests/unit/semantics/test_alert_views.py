"""Point 8: what alerts and views show: positive reasons first and negatives apart,
account reasons naming their contact, terminal times in a named zone, and one account
record for `score-file` and `GET /accounts/{id}`."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scorer.core import replay
from scorer.devstack.session import display_zone, format_action, format_alert
from scorer.replay_file import parse_time, read_events
from scorer.rules import load_rules
from scorer.stream.views import account_document
from tests.unit.semantics.replaying import at, event, of_type, score_file

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = ROOT / "rules" / "default.yaml"
SAMPLE = ROOT / "tests" / "data" / "sample-events.jsonl"

RULES = """
version: reasons.1
categories: {web: {half_life: never}, email: {half_life: never}}
engagement:
  rules:
    - {id: unsubscribe, label: unsubscribed, on: email.unsubscribe, points: -20}
    - {id: demo, label: demo request, on: web.form_submit, points: 60}
    - {id: visit, label: visit, on: web.page_view, points: 30}
thresholds: [{name: mql, value: 80, rearm_below: 60, moves_to: mql}]
"""


def test_mql_reasons_are_what_pushed_it_over_and_negatives_apart(tmp_path: Path) -> None:
    events = [
        event(1, "email.unsubscribe", at(0), campaign_id="c1"),
        event(2, "web.form_submit", at(0, hours=1), form_id="demo"),
        event(3, "web.page_view", at(0, hours=2)),
        event(4, "web.page_view", at(0, hours=3)),
    ]
    (alert,) = of_type(score_file(tmp_path, RULES, events), "alert")
    assert alert["score"] == 100.0
    assert [(r["rule_id"], r["points"]) for r in alert["reasons"]] == [
        ("demo", 60.0),
        ("visit", 60.0),
    ]
    assert [(r["rule_id"], r["points"]) for r in alert["negative_reasons"]] == [
        ("unsubscribe", -20.0)
    ]


def test_account_alert_reasons_name_their_contacts(tmp_path: Path) -> None:
    rules = DEFAULT.read_text(encoding="utf-8").replace("top_reasons: 5", "top_reasons: 10")
    records = score_file(tmp_path, rules, _sample())
    (mqa,) = [a for a in of_type(records, "alert") if a["kind"] == "mqa"]
    contacts = {r["rule_id"]: r["contact"] for r in mqa["reasons"]}
    assert contacts["lead:tanaka"] == "tanaka"
    assert contacts["account.role:decision_maker"] == "tanaka"
    assert contacts["account.role:technical"] == "suzuki"
    assert contacts["account.role:finance"] == "sato"
    assert contacts["account.fit"] in {"tanaka", "suzuki", "sato"}
    points = [r["points"] for r in mqa["reasons"]]
    assert points == sorted(points, reverse=True)


def _sample() -> list[dict[str, object]]:
    import json

    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


def test_accounts_lookup_answers_the_score_file_record(tmp_path: Path) -> None:
    when = "2026-05-01T12:00:00+09:00"
    records = score_file(tmp_path, DEFAULT.read_text(encoding="utf-8"), _sample(), at=when)
    (printed,) = [r for r in of_type(records, "account_score") if r["account_id"] == "acct-acme"]
    rules = load_rules(DEFAULT)
    result = replay(read_events(SAMPLE)[0], rules)
    served = account_document(result.accounts["acct-acme"], rules, parse_time("--at", when))
    assert served == printed
    assert served["grade"]
    assert served["roles"] == ["decision_maker", "finance", "technical"]
    contributions = served["contributions"]
    assert isinstance(contributions, dict)
    assert sum(contributions.values()) == pytest.approx(served["total"], abs=1e-3)
    reasons = served["reasons"]
    assert isinstance(reasons, list)
    assert reasons
    assert all("contact" in r for r in reasons)


@pytest.mark.parametrize(
    ("zone", "shown"),
    [(ZoneInfo("Asia/Tokyo"), "19:15:00 JST"), (ZoneInfo("UTC"), "10:15:00 UTC")],
)
def test_terminal_shows_times_in_the_zone_with_its_name(zone: ZoneInfo, shown: str) -> None:
    stamp = "2026-11-24T10:15:00.000+00:00"
    assert shown in format_action({"kind": "assign", "emitted_at": stamp}, zone)
    assert shown in format_alert({"kind": "mql", "lead_id": "L1", "emitted_at": stamp}, zone)


def test_terminal_zone_comes_from_the_rules(tmp_path: Path) -> None:
    assert display_zone(DEFAULT) == ZoneInfo("Asia/Tokyo")
    plain = tmp_path / "plain.yaml"
    plain.write_text("version: plain.1\n", encoding="utf-8")
    assert display_zone(plain) is None  # the user's local zone


def test_leads_lookup_lists_negatives_apart() -> None:
    from scorer.stream.views import lead_document

    rules = load_rules(DEFAULT)
    result = replay(read_events(SAMPLE)[0], rules)
    kobayashi = result.leads["kobayashi"]
    document = lead_document(kobayashi, rules, kobayashi.last_event_at or 0.0)
    negatives = document["negative_reasons"]
    assert isinstance(negatives, list)
    assert [r["rule_id"] for r in negatives] == [
        "fit.negative.student",
        "fit.negative.free_mail",
        "web.careers_view",
    ]
    assert document["reasons"] == []  # nothing positive about a student job seeker
