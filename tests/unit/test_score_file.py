"""`scorer score-file` on tests/data/sample-events.jsonl reproduces the alerts computed by
hand in tests/unit/core/test_sample_scenario.py (see that test's docstring)."""

from __future__ import annotations

import json
import subprocess
import sys
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
        "acme-13": "invalid_transition",
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
