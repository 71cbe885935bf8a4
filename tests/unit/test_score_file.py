"""`scorer score-file` on tests/data/sample-events.jsonl reproduces the alerts computed by
hand in tests/unit/core/test_sample_scenario.py (see that test's docstring), and on
tests/data/scenario-events.jsonl the scenario actions and SLA escalations listed in
`test_score_file_decides_the_seed_scenarios`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.unit.core.test_sample_scenario import HAND_COMPUTED_ALERTS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "sample-events.jsonl"


def _score_file(*args: str) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "scorer", "score-file", *args],
        capture_output=True, text=True, timeout=60, check=True, cwd=ROOT,
    )  # fmt: skip
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_score_file_reproduces_the_hand_computed_alerts() -> None:
    records = _score_file(str(SAMPLE), "--rules", str(ROOT / "rules" / "default.yaml"))
    assert [r["alert_id"] for r in records if r["type"] == "alert"] == HAND_COMPUTED_ALERTS
    rejected = {r["event_id"]: r["outcome"] for r in records if r["type"] == "rejected"}
    assert rejected == {
        "globex-04": "duplicate",
        "globex-09": "too_late",
    }
    leads = {r["lead_id"]: r for r in records if r["type"] == "lead_score"}
    assert leads["kobayashi"]["total"] < 0, "a student on free mail scores negative"
    accounts = {r["account_id"]: r for r in records if r["type"] == "account_score"}
    assert set(accounts["acct-acme"]["engaged_contacts"]) == {"tanaka", "suzuki", "sato"}


def test_invalid_lines_are_reported_with_their_line_number(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:3]
    events.write_text(
        "\n".join([lines[0], '{"type": "web.page_view"}', "not json", lines[1]]) + "\n"
    )
    records = _score_file(str(events))
    invalid = [r for r in records if r["type"] == "invalid"]
    assert [r["line"] for r in invalid] == [2, 3]
    assert all(r["error"] for r in invalid)


def test_a_bad_rules_file_is_one_line_naming_field_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    text = (ROOT / "rules" / "default.yaml").read_text(encoding="utf-8")
    rules.write_text(text.replace("points:", "pointz:", 1), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "scorer", "rules", "check", str(rules)],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "points:" in row)
    typo = next(row for row in result.stderr.splitlines() if "pointz" in row)
    assert f"rules.yaml:{line}:" in typo
    assert "unknown field (did you mean 'points'?)" in typo
    assert "Traceback" not in result.stderr


SCENARIOS = ROOT / "tests" / "data" / "scenario-events.jsonl"


def _jst(text: str, plus_s: float = 0.0) -> str:
    """A JST wall time as score-file prints times: RFC 3339, UTC, milliseconds."""
    instant = datetime.fromisoformat(text + "+09:00").timestamp() + plus_s
    return datetime.fromtimestamp(instant, UTC).isoformat(timespec="milliseconds")


def _unix(text: str) -> float:
    return datetime.fromisoformat(text + "+09:00").timestamp()


def test_score_file_decides_the_seed_scenarios() -> None:
    """tests/data/scenario-events.jsonl with rules/default.yaml (times JST, 2026).

    hayashi  page view 03-02 09:00 (email opens are not visits), then nothing
             -> cold 90 days later, 05-31 09:00: 業界トレンドレポート + re-engagement
                (fired when the replay's clock passes it, at yamada's first event)
    yamada   /pricing 06-01 10:00, no case study downloaded
             -> 2 days later, 06-03 10:00: 導入事例集 mail
    kimura   /pricing/enterprise 06-01 11:00, case study downloaded 06-02 11:00
             -> cancelled, no mail
    inoue    product-a whitepaper 06-01 13:00 -> assigned to inside-sales-product-a at once
    sasaki   MQL 06-02 10:00 (product-b team), no feedback
             -> SLA 4h: lead:sasaki:sla:1 at 14:00, naming lead:sasaki:mql:1
    takahashi MQL 06-02 12:20, accepted 13:00 -> no escalation
    kato     MQL 06-03 09:20, rejected 10:00 (recycled, engagement halved), seminars and a
             case study 06-04 -> a second hand-off lead:kato:mql:2, accepted in time
    nobody   feedback for a lead never seen (06-04 12:00) -> held; no hand-off within the
             6 h of lateness: the lead jumps to sal, marked never handed off
    The run ends at 06-05 09:00 (ogawa's visit): no other timer is due by then.
    """
    records = _score_file(str(SCENARIOS), "--rules", str(ROOT / "rules" / "default.yaml"))
    actions = [
        (r["action_id"], r["params"], r["team"], r["decided_at"])
        for r in records
        if r["type"] == "action"
    ]
    assert actions == [
        ("action:hayashi:dormant_reengagement:1:send_email",
         {"template": "industry-trend-report"}, "inside-sales", _jst("2026-05-31T09:00:00")),
        ("action:hayashi:dormant_reengagement:1:enroll_nurture",
         {"program": "re-engagement"}, "inside-sales", _jst("2026-05-31T09:00:00")),
        ("action:inoue:product_a_assign:1:assign",
         {"team": "inside-sales-product-a"}, "inside-sales-product-a", _jst("2026-06-01T13:00:00")),
        ("action:yamada:pricing_case_study_mail:1:send_email",
         {"template": "case-study-collection"}, "inside-sales", _jst("2026-06-03T10:00:00")),
    ]  # fmt: skip
    alerts = {r["alert_id"]: r for r in records if r["type"] == "alert"}
    assert [a for a in alerts if ":mql:" in a or ":sla:" in a] == [
        "lead:sasaki:mql:1",
        "lead:takahashi:mql:1",
        "lead:sasaki:sla:1",
        "lead:kato:mql:1",
        "lead:kato:mql:2",
    ]
    breach = alerts["lead:sasaki:sla:1"]
    assert breach["kind"] == "sla_breached"
    assert (breach["handoff_alert_id"], breach["team"]) == (
        "lead:sasaki:mql:1",
        "inside-sales-product-b",
    )
    assert breach["deadline"] == breach["occurred_at"] == _jst("2026-06-02T14:00:00")
    rejected = {
        r["event_id"]: (r["outcome"], r["reason"]) for r in records if r["type"] == "rejected"
    }
    assert rejected == {}
    leads = {r["lead_id"]: r for r in records if r["type"] == "lead_score"}
    stages = {lead: r["stage"] for lead, r in leads.items()}
    assert (stages["kato"], stages["takahashi"], stages["sasaki"]) == ("sal", "sal", "mql")
    assert (stages["nobody"], leads["nobody"].get("never_handed_off")) == ("sal", True)
    assert [lead for lead, r in leads.items() if r.get("never_handed_off")] == ["nobody"]


def test_until_fires_later_timers() -> None:
    records = _score_file(str(SCENARIOS), "--until", "2026-09-01T00:00:00+09:00")
    cold = {r["lead_id"] for r in records if r["type"] == "action" and r["trigger"] == "went_cold"}
    # Silent for 90 days by then, and not with sales (sasaki waits in mql, kato and
    # takahashi are SAL); ogawa's visit on 06-05 is too recent.
    assert cold == {"hayashi", "yamada", "kimura", "inoue"}
    scores = [r for r in records if r["type"] == "lead_score"]
    assert {r["at"] for r in scores} == {_jst("2026-09-01T00:00:00")}
    unix = _score_file(str(SCENARIOS), "--until", str(_unix("2026-09-01T00:00:00")))
    assert unix == records


def test_time_scale_runs_days_as_seconds() -> None:
    """With --time-scale 1/86400, "2 days" is 2 seconds: kimura's case study a day later no
    longer cancels her mail, every 4h SLA (10 s) is breached, everyone goes cold after 90 s
    of silence; scores do not change."""
    scale = str(1 / 86400)
    fast = _score_file(str(SCENARIOS), "--time-scale", scale)
    real = _score_file(str(SCENARIOS))
    mails = {
        r["lead_id"]: r["decided_at"]
        for r in fast
        if r["type"] == "action"
        and r["kind"] == "send_email"
        and r["scenario_id"] == "pricing_case_study_mail"
    }
    assert mails == {
        "yamada": _jst("2026-06-01T10:00:00", plus_s=2),
        "kimura": _jst("2026-06-01T11:00:00", plus_s=2),
    }
    breaches = [r["alert_id"] for r in fast if r["type"] == "alert" and r["kind"] == "sla_breached"]
    assert breaches == [
        "lead:sasaki:sla:1",
        "lead:takahashi:sla:1",
        "lead:kato:sla:1",
        "lead:kato:sla:2",
    ]
    totals = {r["lead_id"]: r["total"] for r in real if r["type"] == "lead_score"}
    assert {r["lead_id"]: r["total"] for r in fast if r["type"] == "lead_score"} == totals


def test_a_bad_until_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scorer", "score-file", str(SCENARIOS), "--until", "next week"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--until: expected an RFC 3339 time or unix seconds" in result.stderr
    assert "Traceback" not in result.stderr


def test_score_file_refuses_too_old_and_rate_limited_events(tmp_path: Path) -> None:
    """The default rules' horizons, offline: an event over 400 days before the replay's
    processing time (`--at` here, so the test does not depend on the day it runs) is
    `too_old`; beyond 600 events of one lead in a minute of event time the rest are
    `rate_limited`."""

    def page(event_id: str, lead: str, at: str) -> str:
        return json.dumps(
            {"event_id": event_id, "lead_id": lead, "type": "web.page_view",
             "occurred_at": at, "url": "/"}
        )  # fmt: skip

    lines = [page("now", "recent", "2026-11-24T10:00:00+00:00")]
    lines.append(page("epoch", "ancient", "1970-01-01T00:00:00+00:00"))
    lines.append(page("401d", "old", "2025-10-19T10:00:00+00:00"))
    lines.append(page("399d", "oldish", "2025-10-21T10:00:00+00:00"))
    lines += [
        page(f"c{i:03d}", "crawler", f"2026-11-24T10:00:{i * 0.08:06.3f}+00:00") for i in range(700)
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    records = _score_file(
        str(events), "--rules", str(ROOT / "rules" / "default.yaml"),
        "--at", "2026-11-24T10:01:00+00:00",
    )  # fmt: skip
    rejected = [r for r in records if r["type"] == "rejected"]
    by_outcome: dict[object, list[object]] = {}
    for r in rejected:
        by_outcome.setdefault(r["outcome"], []).append(r["lead_id"])
    assert by_outcome.pop("too_old") == ["ancient", "old"]
    assert by_outcome.pop("rate_limited") == ["crawler"] * 100
    assert by_outcome == {}
    leads = {r["lead_id"] for r in records if r["type"] == "lead_score"}
    assert leads == {"recent", "oldish", "crawler"}
