from __future__ import annotations

import orjson
import pytest

from scorer.contracts.topics import topic_spec
from scorer.core.events import Event, EventKind
from scorer.stream.dead_letters import EventDecoder, Rejection

VALID = {
    "event_id": "e-1", "lead_id": "lead-1", "type": "web.page_view",
    "occurred_at": "2026-05-01T09:00:00+09:00", "url": "/pricing",
}  # fmt: skip


def _with(**changes: object) -> bytes:
    return orjson.dumps({**VALID, **changes})


@pytest.mark.parametrize(
    ("raw", "reason", "detail_part"),
    [
        (b"not json", "not_json", "not JSON"),
        (b"", "empty", "0 bytes"),
        (b"[1, 2]", "schema", "not a JSON object"),
        (_with(type="web.teleport"), "unknown_type", "not a known event type"),
        (_with(type=None), "unknown_type", "/type: missing"),
        (_with(type="email.open"), "schema", "does not match"),
        (_with(url=None), "schema", "/url: "),
        (_with(occurred_at="2026-05-01T09:00:00"), "schema", "occurred_at"),
        (_with(extra_field=1), "schema", "/*: a field the schema does not declare"),
        (_with(lead_id="someone@example.com"), "schema", "not an email address"),
        (_with(url="/" + "x" * 3000), "schema", "url"),
        (_with(url="/" + "x" * 70_000), "oversized", "bytes"),
    ],
    ids=["not-json", "empty", "array", "unknown-type", "no-type", "wrong-topic",
         "missing-field", "naive-time", "extra-field", "email-as-id", "long-string", "oversized"],
)  # fmt: skip
def test_bad_input_is_rejected_with_a_reason(raw: bytes, reason: str, detail_part: str) -> None:
    decoded = EventDecoder(topic_spec("leads.web-events.v1"), 65536).decode(raw)
    assert isinstance(decoded, Rejection)
    assert decoded.reason == reason
    assert detail_part in decoded.detail


def test_rejection_detail_never_echoes_personal_data() -> None:
    raw = _with(lead_id="taro.yamada@example.co.jp", url=None)
    decoded = EventDecoder(topic_spec("leads.web-events.v1"), 65536).decode(raw)
    assert isinstance(decoded, Rejection)
    assert "@" not in decoded.detail
    assert "yamada" not in decoded.detail


PROFILE = {
    "event_id": "e-2", "lead_id": "lead-2", "type": "profile.updated",
    "occurred_at": "2026-05-01T09:00:00+09:00",
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"hanako.sato@example.com": "x"}, "/*: "),
        ({"custom": {"hanako.sato@example.com": [1]}}, "/custom/*/"),
        ({"custom.hanako.sato@example.com": [1]}, "/custom/*/"),
        ({"employee_count": "+81-3-1234-5678"}, "/employee_count: "),
    ],
    ids=["undeclared-field", "custom-field", "flat-custom-field", "bad-value"],
)
def test_details_name_schema_locations_never_input_keys_or_values(
    changes: dict[str, object], location: str
) -> None:
    raw = orjson.dumps({**PROFILE, **changes})
    decoded = EventDecoder(topic_spec("leads.profile-updates.v1"), 65536).decode(raw)
    assert isinstance(decoded, Rejection)
    assert decoded.detail.startswith(location), decoded.detail
    assert "sato" not in decoded.detail
    assert "1234" not in decoded.detail


def test_valid_event_becomes_a_core_event() -> None:
    decoded = EventDecoder(topic_spec("leads.web-events.v1"), 65536).decode(_with(utm_source="ads"))
    assert decoded == Event(
        event_id="e-1", lead_id="lead-1", kind=EventKind.PAGE_VIEW,
        occurred_at=1777593600.0, fields={"url": "/pricing", "utm_source": "ads"},
    )  # fmt: skip
