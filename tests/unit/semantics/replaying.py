"""Run `scorer score-file` in-process (through its command line) on a small rules file
and a list of events."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from click.testing import CliRunner

from scorer.cli import cli

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def at(days: float = 0.0, hours: float = 0.0) -> str:
    return (T0 + timedelta(days=days, hours=hours)).isoformat()


def event(n: int, kind: str, when: str, lead: str = "L1", **fields: object) -> dict[str, object]:
    if kind == "web.page_view":
        fields.setdefault("url", "/")
    return {"event_id": f"e{n}", "lead_id": lead, "type": kind, "occurred_at": when, **fields}


def score_file(
    tmp_path: Path, rules_yaml: str, events: Iterable[dict[str, object]], **options: str
) -> list[dict[str, object]]:
    """The output records; `options` are score-file's (`at="..."` is `--at ...`)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_yaml, encoding="utf-8")
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    args = ["score-file", str(path), "--rules", str(rules)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def of_type(records: list[dict[str, object]], kind: str) -> list[dict[str, object]]:
    return [r for r in records if r["type"] == kind]
