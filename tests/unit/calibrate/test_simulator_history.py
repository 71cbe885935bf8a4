"""`scorer simulate --history`: a deterministic year with every kind of outcome."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
from click.testing import CliRunner

from scorer.cli import cli
from scorer.simulator_history import TRUE_MODEL, simulate_history


def test_history_has_every_kind_of_outcome_and_is_deterministic() -> None:
    events = simulate_history(400, 12, seed=3)
    assert [e.value for e in events] == [e.value for e in simulate_history(400, 12, seed=3)]
    times = [e.at for e in events]
    assert times == sorted(times)
    kinds = Counter(e.value["type"] for e in events)
    for kind in ("feedback.won", "feedback.lost", "feedback.rejected", "feedback.qualified"):
        assert kinds[kind] > 0, kind
    by_lead: dict[str, list[str]] = {}
    for e in events:
        by_lead.setdefault(e.key, []).append(e.value["type"])
    sales_sourced = [
        k for k, v in by_lead.items() if "feedback.won" in v and "feedback.accepted" not in v
    ]
    assert sales_sourced, "wins sales found without a hand-off"
    portal = [e for e in events if e.value.get("url") == TRUE_MODEL.post_win_url]
    won_at = {e.key: e.at for e in events if e.value["type"] == "feedback.won"}
    assert portal
    assert all(e.key in won_at and e.at > won_at[e.key] for e in portal)
    assert TRUE_MODEL.weights()[TRUE_MODEL.irrelevant_rule] == 0.0


def test_simulate_history_cli(tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl"
    result = CliRunner().invoke(cli, ["simulate", "--history", "--leads", "50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().splitlines()
    assert result.output == f"wrote {len(lines)} events to {out}\n"
    assert orjson.loads(lines[0])["type"] == "profile.updated"
    missing = CliRunner().invoke(cli, ["simulate", "--history"])
    assert missing.exit_code == 2
    assert "--history writes a file: give --out FILE" in missing.output
