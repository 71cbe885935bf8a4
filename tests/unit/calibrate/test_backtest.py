"""`scorer backtest`: the same rules twice differ nowhere, and its hand-offs are exactly
`scorer score-file`'s alerts (the same engine)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
from click.testing import CliRunner

from scorer.cli import cli
from scorer.replay_file import replay_file

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = ROOT / "rules" / "default.yaml"


def test_backtest_of_the_same_rules_twice_and_score_file_agree(
    history_file: Callable[[int, int], Path],
) -> None:
    history = history_file(400, 11)
    result = CliRunner().invoke(
        cli, ["backtest", str(history), "--rules", str(DEFAULT), "--rules", str(DEFAULT), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document["comparisons"][0]["differences"] == 0
    assert document["comparisons"][0]["leads"] == []
    first, second = document["runs"]
    assert first["thresholds"] == second["thresholds"]
    assert first["handoffs"] > 10, "the history must hand some leads off to mean anything"

    records = [orjson.loads(line) for line in replay_file(history, DEFAULT)]
    alerts = [r for r in records if r["type"] == "alert"]
    handoffs = [a for a in alerts if a["kind"] == "mql" and a["lead_id"] is not None]
    assert first["handoffs"] == len(handoffs)
    assert first["alerts"] == len(alerts)


def test_backtest_handoffs_are_score_file_alerts_one_by_one(
    history_file: Callable[[int, int], Path],
) -> None:
    from scorer.calibrate.backtest import run_rules
    from scorer.calibrate.history import read_history
    from scorer.contracts.outputs import readable
    from scorer.rules import load_rules

    history = history_file(400, 11)
    run = run_rules(read_history(history).events, load_rules(DEFAULT), str(DEFAULT))
    records = [orjson.loads(line) for line in replay_file(history, DEFAULT)]
    expected = sorted(
        (r["alert_id"], r["occurred_at"], r["score"])
        for r in records
        if r["type"] == "alert" and r["kind"] == "mql" and r["lead_id"] is not None
    )
    # As score-file prints them: RFC 3339 times, scores rounded (see `readable`).
    printed = (
        readable({"alert_id": a.alert_id, "occurred_at": a.occurred_at, "score": a.score})
        for v in run.handoffs.values()
        for a in v
    )
    got = sorted((r["alert_id"], r["occurred_at"], r["score"]) for r in printed)
    assert got == expected
    assert run.alert_ids == [r["alert_id"] for r in records if r["type"] == "alert"]


def test_a_leads_handoffs_depend_only_on_its_own_events(
    history_file: Callable[[int, int], Path],
) -> None:
    """calibrate replays only the held-out leads' events; their hand-offs and score
    trajectories must be those of the full replay."""
    from scorer.calibrate.backtest import run_rules
    from scorer.calibrate.history import read_history
    from scorer.rules import load_rules

    events = read_history(history_file(400, 11)).events
    rules = load_rules(DEFAULT)
    full = run_rules(events, rules, str(DEFAULT))
    some = {e.lead_id for e in events if int(e.lead_id[-1]) % 3 == 0}
    part = run_rules([e for e in events if e.lead_id in some], rules, str(DEFAULT))
    assert part.handoffs == {k: v for k, v in full.handoffs.items() if k in some}
    assert part.handoffs
    assert {k: (t.times, t.peaks) for k, t in part.trajectories.items()} == {
        k: (t.times, t.peaks) for k, t in full.trajectories.items() if k in some
    }


def test_a_history_in_several_files_is_merged_by_event_time(
    history_file: Callable[[int, int], Path], tmp_path: Path
) -> None:
    """One dump per input topic replays like the single file (same hand-offs), and each
    file's problems keep their own line numbers."""
    whole = history_file(400, 11)
    lines = whole.read_bytes().splitlines()
    feedback = [x for x in lines if b'"feedback.' in x]
    rest = [x for x in lines if b'"feedback.' not in x]
    (tmp_path / "feedback.jsonl").write_bytes(b"\n".join([*feedback, b"{oops"]) + b"\n")
    (tmp_path / "rest.jsonl").write_bytes(b"\n".join(rest) + b"\n")
    one = CliRunner().invoke(cli, ["backtest", str(whole), "--rules", str(DEFAULT), "--json"])
    two = CliRunner().invoke(
        cli,
        ["backtest", str(tmp_path / "rest.jsonl"), str(tmp_path / "feedback.jsonl"),
         "--rules", str(DEFAULT), "--json"],
    )  # fmt: skip
    assert two.exit_code == 0, two.output
    a, b = orjson.loads(one.stdout), orjson.loads(two.stdout)
    assert b["runs"][0]["thresholds"] == a["runs"][0]["thresholds"]
    assert b["runs"][0]["handoffs"] == a["runs"][0]["handoffs"]
    assert b["outcomes"] == a["outcomes"]
    assert f"{tmp_path / 'feedback.jsonl'}:{len(feedback) + 1}: not JSON" in two.stderr
