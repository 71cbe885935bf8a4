"""`scorer score-file`: replay a JSONL file of events through the core, offline.

Lines are validated with the same models the worker uses; a line that fails validation
is reported as an `invalid` record (with its line number) instead of stopping the run,
just as the worker would dead-letter it.

The replay clock is the latest accepted event time: scenario timers fire as it passes
them, and at the end up to `--until` (default: `--at`, else that clock). An event dated
beyond `--at` (default: the wall clock when the run starts) plus `timing.future_skew` is
refused as `too_far_in_future`, as the worker refuses it against its clock, and moves
nothing. `--time-scale` scales the hand-off loop's durations as SCORER_TIME_SCALE does
for the worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from scorer.contracts.events import parse_event
from scorer.contracts.identity import parse_link
from scorer.contracts.outputs import readable
from scorer.core import Event, replay
from scorer.core.identity import Link
from scorer.rules import load_rules
from scorer.settings import ConfigError

_LINK_TYPE = b'"identity.link"'


def read_events(path: Path) -> tuple[list[Event | Link], list[dict[str, object]]]:
    """Events and identity links (`type: identity.link`, see docs/identity.md)."""
    events: list[Event | Link] = []
    invalid: list[dict[str, object]] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(parse_link(line) if _LINK_TYPE in line else parse_event(line))
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(p) for p in first["loc"]) or "value"
                invalid.append(
                    {"type": "invalid", "line": number, "error": f"{where}: {first['msg']}"}
                )
    return events, invalid


def parse_time(option: str, value: str) -> float:
    """Unix seconds, or an RFC 3339 time (a time without offset is taken as UTC)."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{option}: expected an RFC 3339 time or unix seconds, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def replay_file(
    path: Path,
    rules_path: Path,
    as_of: str | None = None,
    until: str | None = None,
    time_scale: float = 1.0,
    clock: Callable[[], float] = time.time,
) -> Iterator[str]:
    """JSON lines: lead scores, account scores, alerts, actions, rejected and invalid
    events. Timers fire up to `until` (default: `as_of`, else the latest accepted event
    time); scores are read at `as_of` (default: the time timers were fired up to).
    Events beyond `as_of` (default: `clock()`) plus the future skew are refused."""
    if not time_scale > 0:
        raise ConfigError(f"--time-scale: must be positive, got {time_scale}")
    rules = load_rules(rules_path, time_scale=time_scale)
    at = None if as_of is None else parse_time("--at", as_of)
    fire_until = None if until is None else parse_time("--until", until)
    if fire_until is None:
        fire_until = at
    events, invalid = read_events(path)
    received_by = at if at is not None else clock()
    result = replay(events, rules, until=fire_until, received_by=received_by)
    for record in result.to_records(at):
        yield orjson.dumps(readable(record)).decode()
    for record in invalid:
        yield orjson.dumps(record).decode()
