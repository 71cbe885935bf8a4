"""Decoding of raw input messages, with a dead-letter verdict for bad ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from scorer.contracts.erasure import EraseRequest
from scorer.contracts.events import (
    EVENT_BATCH_SCHEMA,
    MODEL_BY_SCHEMA,
    ContentDownload,
    FormSubmit,
    PageView,
)
from scorer.contracts.identity import IdentityLink
from scorer.contracts.topics import TopicSpec
from scorer.core.events import Event, EventKind

_KNOWN_TYPES = frozenset(k.value for k in EventKind)
_ENVELOPE_FIELDS = frozenset({"schema", "events"})


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message goes to the dead-letter topic. Never carries message content."""

    reason: str  # metric label: not_json, schema, unknown_type, oversized, ...
    # Short, human; names schema locations (JSON pointers such as /events/2/employee_count),
    # never input keys or values: an undeclared field name can be an email address.
    detail: str
    error_class: str


@dataclass(frozen=True, slots=True)
class Decoded:
    """One event of an input message, or why it cannot be scored.

    `index` is the event's position in an event-batch envelope (None for a single event,
    and for a verdict on the whole message); `value` is what a dead letter carries: the
    message unchanged, or for one bad event of an envelope, that event alone as JSON.
    """

    result: Event | Rejection
    index: int | None = None
    value: bytes | None = None


class EventDecoder:
    """Turns raw bytes of one input topic into core `Event`s or `Rejection`s."""

    def __init__(self, spec: TopicSpec, max_bytes: int) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(MODEL_BY_SCHEMA[spec.schema])
        self._max_bytes = max_bytes

    def decode(self, value: bytes | None) -> Event | Rejection:
        """A single-event message (an envelope is refused here: see `decode_message`)."""
        data = self._load(value)
        if isinstance(data, Rejection):
            return data
        return self._event(data)

    def decode_message(self, value: bytes | None) -> list[Decoded]:
        """Every event of a message: a single event, or each event of an envelope.

        A message that is not an event or an envelope at all gives one rejection (index
        None, the message is dead-lettered unchanged). Inside an envelope every event is
        judged alone, so one bad event does not cost the others.
        """
        data = self._load(value)
        if isinstance(data, Rejection):
            return [Decoded(data, None, value)]
        if "schema" not in data:
            return [Decoded(self._event(data), None, value)]
        envelope = _envelope_events(data)
        if isinstance(envelope, Rejection):
            return [Decoded(envelope, None, value)]
        return self._envelope(envelope)

    def _envelope(self, items: list[Any]) -> list[Decoded]:
        # A partition envelope may hold events of several leads (see envelope_routing.py:
        # each is scored on its own lead's partition); the key only chose the partition.
        decoded = []
        for index, item in enumerate(items):
            raw = orjson.dumps(item)
            if not isinstance(item, dict):
                result: Event | Rejection = Rejection(
                    "schema", f"/events/{index}: not a JSON object", "ValidationError"
                )
            else:
                result = self._event(item, f"/events/{index}")
            decoded.append(Decoded(result, index, raw))
        return decoded

    def _load(self, value: bytes | None) -> dict[str, Any] | Rejection:
        if value is None:
            # Not an erasure: input topics are not compacted, and a producer's null must
            # not delete a lead. Erasure has its own request (leads.erase-requests.v1).
            detail = "null value (a tombstone); to erase a lead, send an erase request"
            return Rejection("tombstone", detail, "Tombstone")
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
            return Rejection("schema", "/: value is not a JSON object", "ValidationError")
        return data

    def _event(self, data: dict[str, Any], where: str = "") -> Event | Rejection:
        kind = data.get("type")
        if kind not in _KNOWN_TYPES:
            # The value itself is not echoed: it is producer input and could be anything.
            detail = "missing" if kind is None else "not a known event type"
            return Rejection("unknown_type", f"{where}/type: {detail}", "UnknownType")
        try:
            model = self._adapter.validate_python(data)
        except ValidationError as exc:
            return Rejection("schema", _describe(exc, where), "ValidationError")
        event: Event = model.to_core()
        return event


def _envelope_events(data: dict[str, Any]) -> list[Any] | Rejection:
    """The events of an event-batch envelope, or why the envelope as a whole is bad."""
    if data.get("schema") != EVENT_BATCH_SCHEMA:
        return Rejection("schema", "/schema: not a known envelope", "ValidationError")
    if not data.keys() <= _ENVELOPE_FIELDS:
        return Rejection("schema", "/*: unknown field beside schema and events", "ValidationError")
    events = data.get("events")
    if not isinstance(events, list) or not events:
        return Rejection("schema", "/events: must be a non-empty list", "ValidationError")
    return events


def _declared_names() -> frozenset[str]:
    """Names the contract itself declares: field names of every event model, the event
    types (union tags) and pydantic's own union-branch tags. Anything else in an error
    location came from the input (an undeclared field, a custom field's name)."""
    names: set[str] = set(_KNOWN_TYPES) | {"constrained-str", "str", "int", "float", "bool"}
    models = (PageView, ContentDownload, FormSubmit, EraseRequest, IdentityLink)
    for model in (*models, *MODEL_BY_SCHEMA.values()):
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, field in model.model_fields.items():
                names.update(n for n in (name, field.alias) if n)
    return frozenset(names)


_DECLARED_NAMES = _declared_names()


def schema_location(loc: tuple[int | str, ...], where: str = "") -> str:
    """A JSON pointer to where in the event an error is, naming only declared fields;
    input keys (which can be email addresses) become `*`."""
    if loc and loc[0] in _KNOWN_TYPES:
        loc = loc[1:]  # the branch of a union of event models, not a place in the event
    parts = [str(p) if isinstance(p, int) or p in _DECLARED_NAMES else "*" for p in loc]
    return where + ("/" + "/".join(parts) if parts else "") or "/"


def _describe(exc: ValidationError, where: str = "") -> str:
    # errors() messages name the rule, not the offending value; the location is reduced
    # to declared names (see `schema_location`).
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    message, loc = first["msg"], tuple(first["loc"])
    if first["type"] == "union_tag_invalid":
        loc = ("type",)  # a known type on the wrong topic (unknown ones are refused before)
    elif first["type"] == "extra_forbidden":
        message = "a field the schema does not declare (its name is not repeated)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{schema_location(loc, where)}: {message}{more}"


Control = TypeVar("Control", bound=BaseModel)


def parse_control(model: type[Control], value: bytes | None) -> Control | Rejection:
    """A control message (an erase request, an identity link) or why it is not one. The
    detail names schema locations only, like an event's (see `schema_location`)."""
    if not value:
        return Rejection("empty", "0 bytes (null or empty value)", "InputSize")
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        if exc.errors(include_url=False, include_input=False)[0]["type"] == "json_invalid":
            return Rejection("not_json", "value is not JSON", "JSONDecodeError")
        return Rejection("schema", _describe(exc), "ValidationError")


_TICK_FIELDS = frozenset({"v", "partition", "now"})


def tick_rejection(value: bytes | None, partition: int) -> Rejection | None:
    """Why a message on the timer-tick topic is not a worker's tick, or None if it is.

    Ticks are internal, so a bad one is a bug or a stray producer; it is dead-lettered
    rather than allowed to fire timers (or to crash the lead agent).
    """
    if not value:
        return Rejection("empty", "0 bytes (null or empty value)", "InputSize")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejection("not_json", f"value is not JSON (at byte {exc.pos})", "JSONDecodeError")
    if not isinstance(data, dict) or data.keys() != _TICK_FIELDS or data["v"] != 1:
        return Rejection("schema", "not a timer tick (v, partition, now)", "ValidationError")
    now = data["now"]
    if isinstance(now, bool) or not isinstance(now, int | float):
        return Rejection("schema", "now: must be a number", "ValidationError")
    if data["partition"] != partition:
        return Rejection("schema", "partition: not the partition it was sent to", "ValidationError")
    return None
