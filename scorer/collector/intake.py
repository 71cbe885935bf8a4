"""Events posted to the collector: fill in what a browser cannot know, validate each one
with the worker's own models, and say which topic it goes to.

Pure apart from `uuid4` for event ids the sender did not give. Errors name the field,
never its value.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from scorer.collector.identity import anonymous_lead_id, valid_lead_id, valid_visitor_id
from scorer.contracts import topics as contract
from scorer.contracts.events import any_event_adapter
from scorer.contracts.identity import IdentityLink
from scorer.core.identity import is_anonymous

TOPIC_BY_CATEGORY = {
    "web": contract.WEB_EVENTS,
    "email": contract.EMAIL_EVENTS,
    "seminar": contract.SEMINAR_EVENTS,
    "profile": contract.PROFILE_UPDATES,
    "feedback": contract.SALES_FEEDBACK,
}
MAX_EVENTS_PER_REQUEST = 500
# Collector-level fields a sender may add to an event; they never reach the topic.
VISITOR_FIELD = "visitor_id"
# `"link": "email_click"` on an event with a known lead id: the visitor arrived through a
# tracked email link naming the lead, so an identity link (visitor → lead) goes out too.
LINK_FIELD = "link"
LEAD_ID_RULE = "must be 1-128 letters, digits, '.', '_', ':' or '-'"


@dataclass(frozen=True, slots=True)
class Record:
    """One message to produce."""

    topic: str
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event (by its position in the request) was refused."""

    index: int
    field: str
    error: str
    reason: str  # metric label: schema, type_not_accepted, not_an_object, bad_visitor_id

    def to_json(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "error": self.error}


@dataclass(frozen=True, slots=True)
class Sender:
    """What the request tells about who sent the events."""

    visitor_id: str
    now: datetime
    categories: frozenset[str]


def field_of(error: Any) -> str:
    """The dotted field path of a pydantic error, without the discriminator's tag."""
    if str(error.get("type", "")).startswith("union_tag"):
        return "type"
    loc = [str(part) for part in error.get("loc", ())]
    if loc and "." in loc[0] and loc[0].split(".")[0] in TOPIC_BY_CATEGORY:
        loc = loc[1:]  # the union member, e.g. 'web.page_view'
    return ".".join(loc) or "(event)"


def message_of(error: Any) -> str:
    """pydantic's message, except where it would quote the input."""
    kind = error.get("type", "")
    if kind.startswith("union_tag"):
        return "unknown event type"
    if kind == "extra_forbidden":
        return "unknown field"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def schema_rejection(index: int, exc: ValidationError) -> Rejection:
    error = exc.errors(include_input=False, include_url=False)[0]
    return Rejection(index, field_of(error), message_of(error), "schema")


def normalize_event(index: int, raw: Any, sender: Sender) -> Record | Rejection:
    """One posted event → a record for its topic, or why not."""
    if not isinstance(raw, dict):
        return Rejection(index, "(event)", "must be a JSON object", "not_an_object")
    event = dict(raw)
    visitor_id = event.pop(VISITOR_FIELD, None)
    if event.pop(LINK_FIELD, "email_click") != "email_click":
        return Rejection(index, LINK_FIELD, "must be email_click", "schema")
    if visitor_id is not None and not valid_visitor_id(visitor_id):
        return Rejection(
            index, VISITOR_FIELD, "must be 8-64 letters, digits, - or _", "bad_visitor_id"
        )
    kind = event.get("type")
    category = kind.partition(".")[0] if isinstance(kind, str) else ""
    if category not in TOPIC_BY_CATEGORY:
        return Rejection(index, "type", "unknown event type", "schema")
    if category not in sender.categories:
        return Rejection(index, "type", "not accepted on this endpoint", "type_not_accepted")
    if "event_id" not in event:
        event["event_id"] = f"c-{uuid.uuid4().hex}"
    if "occurred_at" not in event:
        event["occurred_at"] = sender.now.isoformat()
    if "lead_id" not in event:
        event["lead_id"] = anonymous_lead_id(visitor_id or sender.visitor_id)
    return _validated(index, event, TOPIC_BY_CATEGORY[category])


def _validated(index: int, event: dict[str, Any], topic: str) -> Record | Rejection:
    try:
        model = any_event_adapter.validate_python(event)
    except ValidationError as exc:
        return schema_rejection(index, exc)
    if not valid_lead_id(model.lead_id):
        return Rejection(index, "lead_id", LEAD_ID_RULE, "bad_lead_id")
    value = model.__pydantic_serializer__.to_json(model, exclude_none=True)
    return Record(topic, model.lead_id, value)


def normalize_events(body: Any, sender: Sender) -> tuple[list[Record], list[Rejection]]:
    """A posted body (one event or an array of them) → records and rejections."""
    items: Iterable[Any] = body if isinstance(body, list) else [body]
    records: list[Record] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(items):
        outcome = normalize_event(index, raw, sender)
        if isinstance(outcome, Record):
            records.append(outcome)
            if raw.get(LINK_FIELD) == "email_click":
                link = email_click_link(raw, outcome, sender)
                if link is not None:
                    records.append(link)
        else:
            rejections.append(outcome)
    return records, rejections


def email_click_link(raw: dict[str, Any], record: Record, sender: Sender) -> Record | None:
    """The identity link of a visitor who arrived through a tracked email link, or None
    when the event's lead is the visitor's anonymous one. Its id is derived from the pair,
    so every later click through such a link repeats the same link (changes nothing)."""
    visitor_id = raw.get(VISITOR_FIELD) or sender.visitor_id
    anonymous = anonymous_lead_id(visitor_id)
    if record.key == anonymous or is_anonymous(record.key):
        return None
    pair = hashlib.sha256(f"{visitor_id}\n{record.key}".encode()).hexdigest()[:32]
    link = IdentityLink(
        type="identity.link", link_id=f"click-{pair}", visitor_id=visitor_id,
        anonymous_lead_id=anonymous, lead_id=record.key, method="email_click",
        occurred_at=sender.now,
    )  # fmt: skip
    value = orjson.dumps(link.model_dump(mode="json", exclude_none=True))
    return Record(contract.IDENTITY_LINKS, record.key, value)
