"""Bad input: one clear message per problem with its line number, counts printed,
never a traceback, nothing dropped silently."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from scorer.cli import cli

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = str(ROOT / "rules" / "default.yaml")


def _event(n: int, lead: str, kind: str, at: str, **fields: object) -> bytes:
    value = {"event_id": f"e-{n}", "lead_id": lead, "type": kind, "occurred_at": at, **fields}
    return orjson.dumps(value)


def _history(path: Path, *, wins: bool = True) -> Path:
    lines = [
        _event(1, "lead-1", "profile.updated", "2026-01-01T00:00:00Z", industry="manufacturing"),
        _event(2, "lead-1", "web.page_view", "2026-01-02T00:00:00Z", url="/pricing"),
        b'{"event_id": "e-3", "lead_id": ',  # line 3: not JSON
        _event(4, "lead-2", "web.page_view", "2026-01-03T00:00:00Z"),  # line 4: no url
        _event(5, "lead-2", "profile.updated", "2026-01-03T00:00:00Z", title="CEO"),
        _event(6, "lead-1", "web.page_view", "2026-01-01T01:00:00Z", url="/"),  # line 6: 23 h late
        _event(7, "lead-1", "feedback.won" if wins else "feedback.lost", "2026-01-10T00:00:00Z"),
        _event(8, "lead-2", "feedback.rejected", "2026-01-11T00:00:00Z"),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_history_with_bad_lines_is_read_with_one_message_per_problem(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl")
    code, output = _run("backtest", str(history), "--rules", DEFAULT)
    assert code == 0, output
    assert "Traceback" not in output
    assert f"{history}:3: not JSON" in output
    assert f"{history}:4: not a valid event: web.page_view.url: Field required" in output
    assert (
        f"{history}:6: out of order: 2026-01-01 01:00:00Z is 23.0 h before this lead's event on line 2"
        in output
    )
    assert (
        "8 lines, 6 events used, 1 not JSON and 1 invalid (skipped), 1 out of order (kept)"
        in output
    )
    assert "1 won, 0 lost, 1 rejected/disqualified" in output


def test_unknown_leads_and_bad_rows_in_the_outcomes_csv(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl")
    outcomes = tmp_path / "crm.csv"
    outcomes.write_text(
        "lead_id,outcome,decision_date\n"
        "lead-1,won,2026-01-09\n"
        "lead-404,won,2026-01-09\n"  # line 3: not in the history
        "lead-2,maybe,2026-01-09\n"  # line 4
        "lead-2,lost,last tuesday\n"  # line 5
        "lead-1,lost,2026-01-09\n",  # line 6: repeated
        encoding="utf-8",
    )
    code, output = _run("backtest", str(history), "--rules", DEFAULT, "--outcomes", str(outcomes))
    assert code == 0, output
    assert "Traceback" not in output
    assert f"{outcomes}:3: lead_id not in the history" in output
    assert f"{outcomes}:4: outcome must be one of" in output
    assert f"{outcomes}:5: decision_date is not a date" in output
    assert f"{outcomes}:6: lead already given on line 2" in output
    assert f"{outcomes}: 4 lines skipped" in output
    assert "outcomes from" in output
    assert "1 won" in output


def test_an_outcomes_csv_without_the_columns_names_them(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl")
    outcomes = tmp_path / "crm.csv"
    outcomes.write_text("id,result\nlead-1,won\n", encoding="utf-8")
    code, output = _run("calibrate", str(history), "--out", str(tmp_path / "p.yaml"),
                        "--outcomes", str(outcomes))  # fmt: skip
    assert code == 2
    assert "Traceback" not in output
    assert "missing column(s) lead_id, outcome, decision_date" in output


def test_no_wins_at_all_stops_with_one_line(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl", wins=False)
    code, output = _run("calibrate", str(history), "--out", str(tmp_path / "p.yaml"))
    assert code == 2
    assert "Traceback" not in output
    assert "scorer: error: no won deals in the outcomes" in output
    assert "0 won, 1 lost" in output  # the counts came first
    assert not (tmp_path / "p.yaml").exists()


def test_backtest_without_wins_still_compares_hand_offs(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl", wins=False)
    code, output = _run("backtest", str(history), "--rules", DEFAULT, "--rules", DEFAULT)
    assert code == 0, output
    assert "no won deals in the outcomes (feedback events): hand-offs are compared" in output
    assert "0 differences" in output


def test_too_few_wins_proposes_nothing_it_cannot_back(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl")
    out = tmp_path / "p.yaml"
    code, output = _run("calibrate", str(history), "--out", str(out), "--rules", DEFAULT)
    assert code == 0, output
    assert "too little data to fit a model: 1 won deals among the older leads" in output
    text = out.read_text(encoding="utf-8")
    assert "calibrate: kept at 10, too little data" in text
    assert "NEW rule" not in text
    assert "NOT SUPPORTED" not in text


def test_a_bad_capacity_is_one_line(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl")
    code, output = _run("calibrate", str(history), "--out", str(tmp_path / "p.yaml"),
                        "--capacity", "inside-sales")  # fmt: skip
    assert code == 2
    assert "--capacity 'inside-sales': expected TEAM=LEADS/week" in output


def test_an_out_file_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl")
    code, output = _run("calibrate", str(history), "--out", str(tmp_path / "no" / "p.yaml"))
    assert code == 2
    assert (
        f"--out {tmp_path / 'no' / 'p.yaml'}: directory {tmp_path / 'no'} does not exist" in output
    )


def test_a_report_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    history = _history(tmp_path / "history.jsonl")
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    code, output = _run(
        "backtest", str(history), "--rules", DEFAULT, "--report", str(blocker / "r")
    )
    assert code == 2
    assert "Traceback" not in output
    assert f"--report {blocker / 'r'}: cannot write" in output
