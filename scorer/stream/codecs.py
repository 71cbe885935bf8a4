"""Faust codecs that keep live core objects in memory and flat JSON in changelogs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson
from faust.serializers.codecs import Codec

from scorer.stream.workarounds.table_values import value_type_for_codec


class _Recordable(Protocol):
    def to_record(self) -> dict[str, Any]: ...


class RecordCodec(Codec):
    """(De)serialises a core state via its versioned flat record."""

    def __init__(self, from_record: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__()
        self._from_record = from_record

    def _dumps(self, obj: _Recordable) -> bytes:
        return orjson.dumps(obj.to_record())

    def _loads(self, s: bytes) -> Any:
        return self._from_record(orjson.loads(s))


def table_value_type(codec_name: str, from_record: Callable[[dict[str, Any]], Any]) -> type:
    """A `value_type` for a Faust table that stores core states through `RecordCodec`:
    live core objects in the memory store, flat JSON in the changelog (see
    `workarounds/table_values.py` for how Faust is told)."""
    from faust.serializers import codecs

    codecs.register(codec_name, RecordCodec(from_record))
    return value_type_for_codec(codec_name)
