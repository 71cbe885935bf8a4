"""Read a history (JSONL events, as `scorer score-file` reads them) keeping line numbers.

Nothing is dropped silently: a line that is not JSON or not a valid event is a `Problem`
with its line number and counted; an event more than the allowed lateness older than an
earlier event of the same lead is reported as out of order (the scorer would refuse it as
too late), and kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from scorer.calibrate.batch import paused_gc
from scorer.contracts.events import parse_event
from scorer.core import Event


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    kind: str  # malformed | invalid | out_of_order | unknown_lead | bad_outcome ...
    message: str
    source: str | None = None  # the file, when a history has several

    def text(self, source: str) -> str:
        return f"{self.source or source}:{self.line}: {self.message}"


@dataclass(slots=True)
class History:
    source: str
    events: list[Event] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line of each event (in its file)
    problems: list[Problem] = field(default_factory=list)
    lines_read: int = 0
    blank: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def summary(self) -> str:
        malformed, invalid = self.count("malformed"), self.count("invalid")
        late = self.count("out_of_order")
        return (
            f"{self.source}: {self.lines_read:,} lines, {len(self.events):,} events used, "
            f"{malformed:,} not JSON and {invalid:,} invalid (skipped), "
            f"{late:,} out of order (kept)"
        )


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def read_history(path: Path, allowed_lateness: float = 0.0) -> History:
    with paused_gc():
        return _read(path, allowed_lateness)


def read_histories(paths: Sequence[Path], allowed_lateness: float = 0.0) -> History:
    """One history from several files (e.g. one dump per input topic): each file is
    checked on its own (its line numbers), and their events are merged by event time,
    keeping each file's order (ties: the earlier file first)."""
    if len(paths) == 1:
        return read_history(paths[0], allowed_lateness)
    with paused_gc():
        parts = [_read(path, allowed_lateness) for path in paths]
        merged = History(source=", ".join(str(p) for p in paths))
        for part in parts:
            merged.problems += [replace(p, source=part.source) for p in part.problems]
            merged.lines_read += part.lines_read
            merged.blank += part.blank
        streams = [zip(part.events, part.lines, strict=True) for part in parts]
        for event, line in heapq.merge(*streams, key=lambda pair: pair[0].occurred_at):
            merged.events.append(event)
            merged.lines.append(line)
        return merged


def _read(path: Path, allowed_lateness: float) -> History:
    history = History(source=str(path))
    latest: dict[str, tuple[float, int]] = {}
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            history.lines_read = number
            if not raw.strip():
                history.blank += 1
                continue
            try:
                event = parse_event(raw)
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                if first["type"] == "json_invalid":
                    history.problems.append(
                        Problem(number, "malformed", f"not JSON ({first['msg']})")
                    )
                    continue
                where = ".".join(str(p) for p in first["loc"]) or "event"
                history.problems.append(
                    Problem(number, "invalid", f"not a valid event: {where}: {first['msg']}")
                )
                continue
            seen = latest.get(event.lead_id)
            if seen is not None and event.occurred_at < seen[0] - allowed_lateness:
                hours = (seen[0] - event.occurred_at) / 3600.0
                history.problems.append(
                    Problem(
                        number,
                        "out_of_order",
                        f"out of order: {iso(event.occurred_at)} is {hours:.1f} h before "
                        f"this lead's event on line {seen[1]} (sort the history by occurred_at)",
                    )
                )
            else:
                latest[event.lead_id] = (event.occurred_at, number)
            history.events.append(event)
            history.lines.append(number)
    return history
