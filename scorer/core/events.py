"""The event every scorer input is reduced to, whatever topic it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

FieldValue = str | int | float | bool | None

_NO_FIELDS: Mapping[str, FieldValue] = MappingProxyType({})


class EventKind(StrEnum):
    """Every event type the scorer understands; the value is the wire `type`."""

    PAGE_VIEW = "web.page_view"
    CONTENT_DOWNLOAD = "web.content_download"
    FORM_SUBMIT = "web.form_submit"
    EMAIL_DELIVERED = "email.delivered"
    EMAIL_OPEN = "email.open"
    EMAIL_CLICK = "email.click"
    EMAIL_BOUNCE = "email.bounce"
    EMAIL_UNSUBSCRIBE = "email.unsubscribe"
    SEMINAR_REGISTERED = "seminar.registered"
    SEMINAR_ATTENDED = "seminar.attended"
    PROFILE_UPDATED = "profile.updated"
    FEEDBACK_ACCEPTED = "feedback.accepted"
    FEEDBACK_REJECTED = "feedback.rejected"
    FEEDBACK_QUALIFIED = "feedback.qualified"
    FEEDBACK_WON = "feedback.won"
    FEEDBACK_LOST = "feedback.lost"

    @property
    def category(self) -> str:
        """`web`, `email`, `seminar`, `profile` or `feedback`."""
        return self.value.partition(".")[0]


@dataclass(frozen=True, slots=True)
class Event:
    """One validated lead event.

    `occurred_at` is event time in epoch seconds (UTC); the core never reads a clock.
    `fields` holds the type-specific flat fields of the wire message (url, asset_id,
    form_id, campaign_id, webinar_id, product, utm_*, and for profile updates the
    attributes such as employee_count, industry, title, country, budget ...).
    """

    event_id: str
    lead_id: str
    kind: EventKind
    occurred_at: float
    account_id: str | None = None
    fields: Mapping[str, FieldValue] = field(default_factory=lambda: _NO_FIELDS)
