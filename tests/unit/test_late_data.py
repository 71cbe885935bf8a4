"""Late data by source (`timing.allowed_lateness` per input kind) on `scorer score-file`:
a nightly CRM sync of profile updates and a rejection sales enters the next morning,
both hours behind the lead's web activity, are scored, not refused as too late."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scorer.replay_file import replay_file
from scorer.rules import RulesError, parse_rules

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "default.yaml"
NOW = 1_796_000_000.0  # after every event below


def _event(n: int, kind: str, at: str, **fields: object) -> dict[str, object]:
    return {
        "event_id": f"nak-{n:02d}", "lead_id": "nakamura", "account_id": "acct-tohoku",
        "type": kind, "occurred_at": f"2026-06-{at}+09:00", **fields,
    }  # fmt: skip


# File order is arrival order. Day one: the lead reads, asks for a demo and becomes an
# MQL. The CRM's nightly sync (02:00) brings the morning's profile edit (11:00, a
# promotion to 部長); sales enter yesterday's 17:00 rejection at 09:00, after the lead's
# early visit. Both are far more than the 6 h of web lateness behind the lead's latest event.
NIGHTLY_SYNC = [
    _event(1, "profile.updated", "10T08:00:00", title="生産技術課 主任", employee_count=400,
           industry="製造業", country="JP"),
    _event(2, "web.page_view", "10T09:00:00", url="/pricing"),
    _event(3, "web.form_submit", "10T13:00:00", form_id="demo-request"),
    _event(4, "seminar.attended", "10T14:00:00", webinar_id="dx-summit"),
    _event(5, "web.content_download", "10T15:00:00", asset_id="case-1", asset_type="case_study"),
    _event(6, "web.page_view", "10T18:00:00", url="/pricing/enterprise"),
    _event(7, "profile.updated", "10T11:00:00", title="生産技術部 部長"),  # synced 02:00
    _event(8, "web.page_view", "11T08:30:00", url="/blog/iot"),
    _event(9, "feedback.rejected", "10T17:00:00", reason="no budget this year"),  # entered 09:00
]  # fmt: skip


def _replay(tmp_path: Path, rules: Path = RULES) -> list[dict[str, object]]:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in NIGHTLY_SYNC) + "\n", encoding="utf-8")
    return [json.loads(line) for line in replay_file(path, rules, clock=lambda: NOW)]


def _rules_with(tmp_path: Path, lateness: str) -> Path:
    text = RULES.read_text(encoding="utf-8")
    start = text.index("  allowed_lateness:")
    end = text.index("  future_skew:")
    path = tmp_path / "rules.yaml"
    path.write_text(text[:start] + lateness + text[end:], encoding="utf-8")
    return path


def test_a_nightly_sync_and_a_next_morning_rejection_are_scored(tmp_path: Path) -> None:
    records = _replay(tmp_path)
    assert [r for r in records if r["type"] == "rejected"] == []
    [lead] = [r for r in records if r["type"] == "lead_score"]
    assert lead["stage"] == "recycled"
    changes = [a for a in records if a["type"] == "alert"]
    assert "lead:nakamura:mql:1" in [a["alert_id"] for a in changes]


def test_one_lateness_for_every_kind_refuses_them(tmp_path: Path) -> None:
    """What a single allowed lateness did before: both CRM inputs refused as too late."""
    rules = _rules_with(tmp_path, "  allowed_lateness: {default: 6h, profile: 6h, feedback: 6h}\n")
    refused = {
        r["event_id"]: r["outcome"] for r in _replay(tmp_path, rules) if r["type"] == "rejected"
    }
    assert refused == {"nak-07": "too_late", "nak-09": "too_late"}


def test_the_reason_names_the_kind_and_its_lateness(tmp_path: Path) -> None:
    rules = _rules_with(tmp_path, "  allowed_lateness: {default: 6h, profile: 3h}\n")
    [refused] = [r for r in _replay(tmp_path, rules) if r["type"] == "rejected"]
    assert refused["event_id"] == "nak-07"
    assert "allowed lateness of profile 10800s" in str(refused["reason"])


@pytest.mark.parametrize(
    ("timing", "expected"),
    [
        ("{allowed_lateness: 2h}", {"web": 7200.0, "profile": 172800.0, "feedback": float("inf")}),
        (
            "{allowed_lateness: {default: 1h, email: 1d, profile: 3d, feedback: 12h}}",
            {"web": 3600.0, "email": 86400.0, "seminar": 3600.0, "profile": 259200.0,
             "feedback": 43200.0},
        ),
    ],
)  # fmt: skip
def test_lateness_per_kind_in_the_rules_file(timing: str, expected: dict[str, float]) -> None:
    rules = parse_rules(f"version: t\ntiming: {timing}\n", "t.yaml")
    by_category = {kind.category: value for kind, value in rules.lateness_s_of.items()}
    assert {k: by_category[k] for k in expected} == expected


def test_only_feedback_may_never_be_late() -> None:
    with pytest.raises(RulesError, match=r"timing\.allowed_lateness\.profile"):
        parse_rules("version: t\ntiming: {allowed_lateness: {profile: never}}\n", "t.yaml")
