"""Validating models of the input events, and their mapping to the core `Event`.

The JSON Schemas in `topics/schemas/` are generated from these models
(`scorer topics schemas --write`) and a contract test keeps the two identical, so
producers in other languages read the same contract the worker enforces.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from scorer.core.events import Event, EventKind, FieldValue

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(max_length=2048)]
Seniority = Literal["c_level", "vp", "director", "manager", "staff", "student", "other"]
Timeframe = Literal["0-3m", "3-6m", "6-12m", "12m+", "none"]

_ENVELOPE = frozenset({"event_id", "lead_id", "account_id", "occurred_at", "type"})
_CUSTOM_PREFIX = "custom."
_KIND_BY_TYPE = {kind.value: kind for kind in EventKind}


class _EventModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=2048)

    event_id: Id = Field(description="Unique id of this event; repeats are ignored (dedup).")
    lead_id: Id = Field(description="Opaque lead id; the message key. Never an email address.")
    account_id: Id | None = Field(None, description="Account (company) the lead belongs to.")
    occurred_at: AwareDatetime = Field(description="Event time, RFC 3339 with a UTC offset.")

    @field_validator("lead_id", "account_id")
    @classmethod
    def _not_an_email(cls, value: str | None) -> str | None:
        # Ids end up in Redis keys and alerts; an email there would leak personal data.
        if value is not None and "@" in value:
            raise ValueError("must be an opaque id, not an email address")
        return value

    def to_core(self) -> Event:
        """The pure core's view of this event.

        Read from the validated fields directly (once per scored event: `model_dump`
        and the enum's constructor cost more than the rest of this together); every
        field is a plain value or, for `custom`, a dict of them.
        """
        fields: dict[str, FieldValue] = {}
        for key, value in self.__dict__.items():
            if value is None or key in _ENVELOPE:
                continue
            if key == "custom":
                fields.update({_CUSTOM_PREFIX + k: v for k, v in value.items()})
            else:
                fields[key] = value
        return Event(
            event_id=self.event_id,
            lead_id=self.lead_id,
            kind=_KIND_BY_TYPE[self.__dict__["type"]],
            occurred_at=self.occurred_at.timestamp(),
            account_id=self.account_id,
            fields=fields,
        )


class _Utm(BaseModel):
    utm_source: Text | None = None
    utm_medium: Text | None = None
    utm_campaign: Text | None = None


class PageView(_EventModel, _Utm):
    type: Literal["web.page_view"]
    url: Text = Field(description="Path of the page, e.g. /pricing.")
    referrer: Text | None = None
    product: Id | None = Field(None, description="Product the page is about, for routing.")


class ContentDownload(_EventModel, _Utm):
    type: Literal["web.content_download"]
    asset_id: Id
    asset_type: Id | None = Field(None, description="e.g. case_study, whitepaper, ebook.")
    product: Id | None = None
    url: Text | None = None


class FormSubmit(_EventModel, _Utm):
    type: Literal["web.form_submit"]
    form_id: Id
    url: Text | None = None
    product: Id | None = None


class EmailEvent(_EventModel):
    type: Literal[
        "email.delivered", "email.open", "email.click", "email.bounce", "email.unsubscribe"
    ]
    campaign_id: Id
    email_id: Id | None = None
    url: Text | None = Field(None, description="Clicked link (email.click).")
    bounce_type: Literal["hard", "soft"] | None = None


class SeminarEvent(_EventModel):
    type: Literal["seminar.registered", "seminar.attended"]
    webinar_id: Id
    product: Id | None = None


class ProfileUpdate(_EventModel):
    """Attributes named here replace the lead's previous values; absent ones are kept."""

    type: Literal["profile.updated"]
    company: Text | None = None
    employee_count: int | None = Field(None, ge=0)
    industry: Text | None = None
    title: Text | None = None
    seniority: Seniority | None = None
    country: Annotated[str, StringConstraints(max_length=64)] | None = None
    region: Annotated[str, StringConstraints(max_length=64)] | None = None
    email_domain: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        None, description="Domain part only (free-mail and competitor checks)."
    )
    budget: bool | None = None
    authority: bool | None = None
    need: bool | None = None
    timeframe: Timeframe | None = None
    custom: dict[Id, str | int | float | bool] | None = Field(
        None, description='Custom fields; also accepted flat as "custom.<name>" keys.'
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_flat_custom_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k.startswith(_CUSTOM_PREFIX) for k in data):
            data = dict(data)
            custom = dict(data.get("custom") or {})
            for key in [k for k in data if k.startswith(_CUSTOM_PREFIX)]:
                custom[key.removeprefix(_CUSTOM_PREFIX)] = data.pop(key)
            data["custom"] = custom
        return data


class SalesFeedback(_EventModel):
    type: Literal[
        "feedback.accepted",
        "feedback.rejected",
        "feedback.qualified",
        "feedback.won",
        "feedback.lost",
    ]
    reason: Text | None = Field(None, description="Why (rejected, lost); no personal data.")
    team: Id | None = None


WebEvent = Annotated[PageView | ContentDownload | FormSubmit, Field(discriminator="type")]
AnyEvent = Annotated[
    PageView
    | ContentDownload
    | FormSubmit
    | EmailEvent
    | SeminarEvent
    | ProfileUpdate
    | SalesFeedback,
    Field(discriminator="type"),
]

# Which models each input topic accepts, by the topic's schema file.
MODEL_BY_SCHEMA: dict[str, Any] = {
    "web-event.v1.schema.json": WebEvent,
    "email-event.v1.schema.json": EmailEvent,
    "seminar-event.v1.schema.json": SeminarEvent,
    "profile-update.v1.schema.json": ProfileUpdate,
    "sales-feedback.v1.schema.json": SalesFeedback,
}

# Producers may send many events in one message (one Kafka message per event costs the
# worker more than scoring it does). Each event is validated on its own.
EVENT_BATCH_SCHEMA = "leads.event-batch.v1"
EVENT_BATCH_SCHEMA_FILE = "event-batch.v1.schema.json"


class EventBatch(BaseModel):
    """A partition envelope: events of one or several leads in one message, accepted on
    every input topic beside single events. The message key is the first event's
    `lead_id`, and every event's lead should be owned by the partition that key hashes to
    (murmur2(key) % partitions); an event whose lead another partition owns is forwarded
    there by the worker, once. Each event is validated against the topic's event schema
    on its own: a bad one is dead-lettered alone (header `scorer.error.index` = its
    position), the others are scored in order. The whole message counts against
    SCORER_MAX_EVENT_BYTES."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["leads.event-batch.v1"] = Field(
        alias="schema", description="Marks the envelope (a single event has no `schema`)."
    )
    events: list[dict[str, Any]] = Field(
        min_length=1,
        description=(
            "Events of the topic's own schema, in order per lead; their leads should share "
            "the partition of the message key (the first event's lead_id)."
        ),
    )


any_event_adapter: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> Event:
    """Validate one JSON event of any input type; raises pydantic.ValidationError."""
    model: _EventModel = any_event_adapter.validate_json(raw)
    return model.to_core()
