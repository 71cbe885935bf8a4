"""`scorer score-file`: replay a JSONL file of events through the core, offline.

Lines are validated with the same models the worker uses; a line that fails validation
is reported as an `invalid` record (with its line number) instead of stopping the run,
just as the worker would dead-letter it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from scorer.contracts.events import parse_event
from scorer.core import Event, replay
from scorer.rules import load_rules
from scorer.settings import ConfigError


def read_events(path: Path) -> tuple[list[Event], list[dict[str, object]]]:
    events: list[Event] = []
    invalid: list[dict[str, object]] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(parse_event(line))
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(p) for p in first["loc"]) or "value"
                invalid.append(
                    {"type": "invalid", "line": number, "error": f"{where}: {first['msg']}"}
                )
    return events, invalid


def replay_file(path: Path, rules_path: Path, as_of: str | None = None) -> Iterator[str]:
    """JSON lines: lead scores, account scores, alerts, rejected and invalid events."""
    rules = load_rules(rules_path)
    at = None
    if as_of is not None:
        try:
            at = datetime.fromisoformat(as_of).timestamp()
        except ValueError:
            raise ConfigError(f"--at: expected an RFC 3339 time, got {as_of!r}") from None
    events, invalid = read_events(path)
    result = replay(events, rules)
    for record in result.to_records(at):
        yield orjson.dumps(record).decode()
    for record in invalid:
        yield orjson.dumps(record).decode()
