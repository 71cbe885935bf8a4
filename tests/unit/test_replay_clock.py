"""`scorer score-file`'s clock: `--at`, else the latest accepted event time. An event
dated beyond `--at` (default: the wall clock of the run) plus `timing.future_skew` is
refused as `too_far_in_future`, exactly as the worker refuses it, and moves nothing: no
timer fires up to its date and later real events are not too late."""

from __future__ import annotations

import json
from pathlib import Path

from scorer.replay_file import replay_file

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "data" / "scenario-events.jsonl"
RULES = ROOT / "rules" / "default.yaml"
NOW = 1_796_000_000.0  # 2026-12-02, after every event of the file

FAR_FUTURE = {
    "event_id": "typo-2062", "lead_id": "yamada", "account_id": "acct-tokai",
    "type": "web.page_view", "occurred_at": "2062-06-01T10:00:00+09:00", "url": "/pricing",
}  # fmt: skip


def _records(path: Path, *, at: str | None = None) -> list[dict[str, object]]:
    return [json.loads(line) for line in replay_file(path, RULES, as_of=at, clock=lambda: NOW)]


def _with_far_future_event(tmp_path: Path, position: int) -> Path:
    lines = SCENARIOS.read_text(encoding="utf-8").splitlines()
    lines.insert(position, json.dumps(FAR_FUTURE))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_far_future_event_is_refused_and_moves_nothing(tmp_path: Path) -> None:
    clean = _records(SCENARIOS)
    for position in (0, 5, 12):
        bad = _records(_with_far_future_event(tmp_path, position))
        rejected = [r for r in bad if r["type"] == "rejected" and r["event_id"] == "typo-2062"]
        assert [r["outcome"] for r in rejected] == ["too_far_in_future"]
        assert "ahead of processing time" in str(rejected[0]["reason"])
        # Everything else is what the file says without it: no timer fired up to 2062,
        # no later event came back too late.
        assert [r for r in bad if r.get("event_id") != "typo-2062"] == clean


def test_at_is_the_time_the_input_was_complete(tmp_path: Path) -> None:
    # Seen from 06-02 10:00 JST, yamada's 06-03 events are in the future; the pricing
    # mail is not due yet and scores are read then.
    records = _records(SCENARIOS, at="2026-06-02T10:00:00+09:00")
    refused = {r["event_id"] for r in records if r["type"] == "rejected"}
    assert refused >= {e["event_id"] for e in _events_after("2026-06-02T10:05:00+09:00")}
    assert not [r for r in records if r["type"] == "action" and "pricing" in str(r["action_id"])]
    at = {r["at"] for r in records if r["type"] == "lead_score"}
    assert len(at) == 1


def _events_after(iso: str) -> list[dict[str, object]]:
    from datetime import datetime

    limit = datetime.fromisoformat(iso)
    return [
        e
        for e in map(json.loads, SCENARIOS.read_text(encoding="utf-8").splitlines())
        if datetime.fromisoformat(str(e["occurred_at"])) > limit
    ]
