"""Decoding of raw input messages, with a dead-letter verdict for bad ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from scorer.contracts.events import MODEL_BY_SCHEMA
from scorer.contracts.topics import TopicSpec
from scorer.core.events import Event, EventKind

_KNOWN_TYPES = frozenset(k.value for k in EventKind)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message goes to the dead-letter topic. Never carries message content."""

    reason: str  # metric label: not_json, schema, unknown_type, oversized, ...
    detail: str  # short, human; names fields, never their values
    error_class: str


class EventDecoder:
    """Turns raw bytes of one input topic into a core `Event` or a `Rejection`."""

    def __init__(self, spec: TopicSpec, max_bytes: int) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(MODEL_BY_SCHEMA[spec.schema])
        self._max_bytes = max_bytes

    def decode(self, value: bytes | None) -> Event | Rejection:  # noqa: PLR0911 - one exit per verdict
        if not value:
            return Rejection("empty", "0 bytes (null or empty value)", "InputSize")
        if len(value) > self._max_bytes:
            detail = f"{len(value)} bytes, over the {self._max_bytes} byte limit"
            return Rejection("oversized", detail, "InputSize")
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return Rejection(
                "not_json", f"value is not JSON (at byte {exc.pos})", "JSONDecodeError"
            )
        if not isinstance(data, dict):
            return Rejection("schema", "value is not a JSON object", "ValidationError")
        kind = data.get("type")
        if kind not in _KNOWN_TYPES:
            # The value itself is not echoed: it is producer input and could be anything.
            detail = "missing 'type'" if kind is None else "'type' is not a known event type"
            return Rejection("unknown_type", detail, "UnknownType")
        try:
            model = self._adapter.validate_python(data)
        except ValidationError as exc:
            return Rejection("schema", _describe(exc), "ValidationError")
        event: Event = model.to_core()
        return event


def _describe(exc: ValidationError) -> str:
    # errors() messages name the field and the rule, not the offending value.
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "value"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"
