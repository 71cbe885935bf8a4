"""Faust codecs that keep live core objects in memory and flat JSON in changelogs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson
from faust.serializers.codecs import Codec


class _Recordable(Protocol):
    def to_record(self) -> dict[str, Any]: ...


class RecordCodec(Codec):  # type: ignore[misc]
    """(De)serialises a core state via its versioned flat record."""

    def __init__(self, from_record: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__()
        self._from_record = from_record

    def _dumps(self, obj: _Recordable) -> bytes:
        return orjson.dumps(obj.to_record())

    def _loads(self, s: bytes) -> Any:
        return self._from_record(orjson.loads(s))
