"""How a state cache's changes reach its table and the table's changelog.

A checkpoint writes its changed keys through a `TableWriter`: in bulk for the worker's
Faust tables (workarounds/bulk_changelog.py: the changelog records produced in batches,
the store written once the broker acknowledged them), a key at a time into a plain
mapping in tests. A record reaches the table only once the changelog holds it, so a
killed worker's local store is never ahead of its changelog; until then the state
cache's reads see the state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

Record = tuple[bytes, bytes | None]  # (key, encoded state); None deletes the key


class TableWriter(Protocol):
    """How a cache's changes reach its table and the table's changelog."""

    def write(self, records: Iterable[Record]) -> None:
        """Stage the records: the table gets them once the changelog acknowledged them
        (a table without a changelog: at once)."""

    async def send(self) -> None:
        """Hand the records written so far to the changelog's producer, in order."""

    async def flush(self) -> None:
        """Send, then wait until every record written so far is on the changelog and
        in the table."""


@dataclass(slots=True)
class MappingWriter:
    """Writes a key at a time into a mapping (a table without a changelog, in tests)."""

    table: Any

    def write(self, records: Iterable[Record]) -> None:
        table = self.table
        for key, value in records:
            if value is None:
                del table[key]
            else:
                table[key] = value

    async def send(self) -> None:
        return None

    async def flush(self) -> None:
        return None
