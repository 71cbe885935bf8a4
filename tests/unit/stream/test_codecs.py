"""The table codecs: compressed and JSON records both decode to the state encoded."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from scorer.contracts.events import parse_event
from scorer.core.lead import apply_event
from scorer.core.lead_state import LeadState
from scorer.rules import load_rules
from scorer.settings import DEFAULT_RULES_FILE
from scorer.stream.codecs import DICTIONARY_FILE, LEAD_CODEC, record_json

# Records compressed with the dictionary name it by their first byte: it never changes.
DICTIONARY_SHA256 = "7c31d8fb3df9f1c55c9a4676f6d7aef0f1588e7a047a3b6561bf4054bf0f6b23"


def _lead(events: int) -> LeadState:
    rules = load_rules(DEFAULT_RULES_FILE)
    state = None
    for i in range(events):
        event = parse_event(orjson.dumps({
            "event_id": f"ev-{i}", "lead_id": "lead-1", "account_id": "acc-1",
            "type": "web.page_view", "occurred_at": f"2026-11-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "url": "/products/product-a",
        }))  # fmt: skip
        state = apply_event(state, event, rules, 1.8e9).state
    assert state is not None
    return state


def test_the_dictionary_is_the_frozen_one() -> None:
    assert hashlib.sha256(DICTIONARY_FILE.read_bytes()).hexdigest() == DICTIONARY_SHA256


@pytest.mark.parametrize("events", [1, 3, 130])
@pytest.mark.parametrize("compressed", [True, False])
def test_a_record_decodes_to_the_state_encoded(events: int, compressed: bool) -> None:
    state = _lead(events)
    codec = LEAD_CODEC.writing(compressed)
    encoded = codec.encode(state)
    assert encoded[:1] == (b"\x01" if compressed else b"{")
    assert codec.decode(encoded) == state
    # Either codec reads either encoding (a rolling upgrade has both in one changelog).
    assert LEAD_CODEC.writing(not compressed).decode(encoded) == state
    assert record_json(encoded) == orjson.dumps(state.to_record())


def test_compression_makes_a_heavy_lead_smaller() -> None:
    state = _lead(130)
    assert len(LEAD_CODEC.encode(state)) * 2 < len(LEAD_CODEC.writing(False).encode(state))


def test_an_unknown_encoding_is_named() -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        LEAD_CODEC.decode(b"\x07garbage")
