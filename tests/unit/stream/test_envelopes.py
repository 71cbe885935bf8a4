"""Event-batch envelopes: decoding each event on its own, and the simulator's producer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from scorer.contracts.topics import topic_spec
from scorer.core.events import Event
from scorer.simulator import SimEvent, envelopes
from scorer.stream.dead_letters import EventDecoder, Rejection

VALID = {
    "event_id": "e-1", "lead_id": "lead-1", "type": "web.page_view",
    "occurred_at": "2026-05-01T09:00:00+09:00", "url": "/pricing",
}  # fmt: skip
DECODER = EventDecoder(topic_spec("leads.web-events.v1"), 65536)


def _envelope(*events: Any, **extra: Any) -> bytes:
    return orjson.dumps({"schema": "leads.event-batch.v1", "events": list(events), **extra})


def test_every_event_of_an_envelope_is_decoded_in_order() -> None:
    second = {**VALID, "event_id": "e-2", "url": "/pricing/enterprise"}
    decoded = DECODER.decode_message(_envelope(VALID, second))
    assert [d.index for d in decoded] == [0, 1]
    assert [d.result.event_id for d in decoded if isinstance(d.result, Event)] == ["e-1", "e-2"]


def test_a_single_event_is_one_item_without_an_index() -> None:
    [decoded] = DECODER.decode_message(orjson.dumps(VALID))
    assert isinstance(decoded.result, Event)
    assert decoded.index is None


@pytest.mark.parametrize(
    ("event", "reason", "detail_part"),
    [
        ({**VALID, "url": None}, "schema", "/events/1/"),
        ({**VALID, "type": "email.open"}, "schema", "/events/1/"),
        ({**VALID, "type": "web.teleport"}, "unknown_type", "/events/1/type: not a known"),
        ({**VALID, "lead_id": "a@example.com"}, "schema", "not an email address"),
        ([1, 2], "schema", "/events/1: not a JSON object"),
    ],
    ids=["missing-field", "wrong-topic", "unknown-type", "email-id", "not-object"],
)
def test_a_bad_event_in_an_envelope_is_rejected_alone(
    event: Any, reason: str, detail_part: str
) -> None:
    third = {**VALID, "event_id": "e-3"}
    first, bad, last = DECODER.decode_message(_envelope(VALID, event, third))
    assert isinstance(first.result, Event)
    assert isinstance(last.result, Event)
    assert isinstance(bad.result, Rejection)
    assert (bad.index, bad.result.reason) == (1, reason)
    assert detail_part in bad.result.detail
    assert "example.com" not in bad.result.detail
    assert orjson.loads(bad.value or b"") == event  # what its dead letter carries


def test_a_partition_envelope_holds_events_of_several_leads() -> None:
    other = {**VALID, "event_id": "e-2", "lead_id": "lead-2"}
    decoded = DECODER.decode_message(_envelope(VALID, other, {**VALID, "event_id": "e-3"}))
    leads = [d.result.lead_id for d in decoded if isinstance(d.result, Event)]
    assert leads == ["lead-1", "lead-2", "lead-1"]


@pytest.mark.parametrize(
    ("value", "detail_part"),
    [
        (orjson.dumps({"schema": "leads.event-batch.v1", "events": []}), "non-empty"),
        (orjson.dumps({"schema": "leads.event-batch.v1", "events": {"a": 1}}), "non-empty"),
        (orjson.dumps({"schema": "leads.event-batch.v1"}), "non-empty"),
        (orjson.dumps({"schema": "leads.event-batch.v9", "events": [VALID]}), "envelope"),
        (_envelope(VALID, note="hi"), "unknown field"),
    ],
    ids=["empty", "not-a-list", "no-events", "unknown-schema", "extra-field"],
)
def test_a_malformed_envelope_is_one_rejection_of_the_whole_message(
    value: bytes, detail_part: str
) -> None:
    [decoded] = DECODER.decode_message(value)
    assert isinstance(decoded.result, Rejection)
    assert decoded.result.reason == "schema"
    assert detail_part in decoded.result.detail
    assert (decoded.index, decoded.value) == (None, value)  # dead-lettered unchanged


def test_the_byte_limit_applies_to_the_whole_envelope() -> None:
    decoder = EventDecoder(topic_spec("leads.web-events.v1"), 200)
    [decoded] = decoder.decode_message(_envelope(VALID, VALID))
    assert isinstance(decoded.result, Rejection)
    assert decoded.result.reason == "oversized"


def _sim(lead: str, at: float, topic: str = "leads.web-events.v1") -> SimEvent:
    return SimEvent(topic, lead, {"event_id": f"{lead}@{at}", "lead_id": lead}, at)


def test_the_simulator_groups_one_leads_events_per_topic_in_order() -> None:
    events = [
        _sim("A", 0), _sim("B", 1), _sim("A", 2), _sim("A", 3, "leads.email-events.v1"),
        _sim("A", 4), _sim("B", 20), _sim("A", 21),
    ]  # fmt: skip
    messages = list(envelopes(events, max_events=10, window_s=10))
    shapes = [
        (m.topic.split(".")[1], m.key, [e["event_id"] for e in m.value.get("events", [m.value])])
        for m in messages
    ]
    assert shapes == [
        ("web-events", "A", ["A@0", "A@2", "A@4"]),  # closed when A@21 came > 10 s later
        ("web-events", "B", ["B@1"]),  # a lone event stays a single event
        ("email-events", "A", ["A@3"]),
        ("web-events", "B", ["B@20"]),
        ("web-events", "A", ["A@21"]),
    ]
    assert messages[0].value["schema"] == "leads.event-batch.v1"
    assert messages[0].at == 10  # sent when the window closed
    assert "schema" not in messages[1].value


def test_the_simulator_closes_a_full_envelope_at_once() -> None:
    events = [_sim("A", t) for t in range(5)]
    sizes = [len(m.value.get("events", [m.value])) for m in envelopes(events, 2, 100)]
    assert sizes == [2, 2, 1]
    with pytest.raises(ValueError, match="at least 1"):
        list(envelopes(events, 0, 1))


def test_simulate_refuses_envelopes_for_a_jsonl_file(tmp_path: Any) -> None:
    from scorer.cli import cli

    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(cli, ["simulate", "--out", str(out), "--envelope-max", "5"])
    assert result.exit_code == 2
    assert "--envelope-max" in result.output
    assert not out.exists()


def test_partition_envelopes_group_every_lead_of_a_partition_per_topic() -> None:
    from scorer.simulator import partition_envelopes
    from scorer.stream.partitioning import owner_partition

    leads = [f"lead-{i}" for i in range(40)]
    events = [_sim(lead, n) for n, lead in enumerate(leads * 3)]
    events.append(_sim("lead-0", 200, "leads.email-events.v1"))
    messages = list(partition_envelopes(events, 4, max_events=25, window_s=1000))
    for message in messages:
        batch = message.value.get("events", [message.value])
        owners = {owner_partition(e["lead_id"].encode(), 4) for e in batch}
        assert owners == {owner_partition(message.key.encode(), 4)}  # the key's partition
        assert message.key == batch[0]["lead_id"]
        assert len(batch) <= 25
    sent = [e["event_id"] for m in messages for e in m.value.get("events", [m.value])]
    assert sorted(sent) == sorted(e.value["event_id"] for e in events)  # each event once
    for lead in leads:  # a lead's events in order
        mine = [i for i in sent if i.startswith(f"{lead}@")]
        assert mine == sorted(mine, key=lambda i: float(i.split("@")[1]))
    assert len(messages) < len(events) / 10
    assert "schema" not in messages[-1].value  # the lone email event stays single


def test_partition_envelopes_stay_under_the_byte_limit() -> None:
    from scorer.simulator import partition_envelopes

    events = [
        SimEvent("leads.web-events.v1", "lead-1", {"event_id": f"e{n}", "pad": "x" * 100}, n)
        for n in range(30)
    ]
    messages = list(partition_envelopes(events, 4, 100, 1000, max_bytes=1000))
    assert all(len(orjson.dumps(m.value)) <= 1000 for m in messages)
    assert sum(len(m.value["events"]) for m in messages) == 30


def _owned_by(partition: int, skip: int = 0) -> str:
    from scorer.stream.partitioning import owner_partition

    leads = (f"lead-{i}" for i in range(1000))
    return [lead for lead in leads if owner_partition(lead.encode(), 4) == partition][skip]


@pytest.mark.parametrize(
    ("leads", "envelope", "local", "forwarded"),
    [
        (["here"], False, 1, []),
        (["there"], False, 0, [(3, 1, False)]),  # a single event, its value unchanged
        (["there"], True, 0, [(3, 1, False)]),  # one event of an envelope: sent alone
        (["here", "there", "bad", "there2", "here"], True, 3, [(3, 2, True)]),
        (["bad"], False, 1, []),  # a rejection stays (dead-lettered where it is read)
    ],
    ids=["single-owned", "single-foreign", "envelope-of-one", "mixed", "rejected"],
)
def test_split_by_owner_keeps_owned_events_and_groups_the_rest_per_owner(
    leads: list[str], envelope: bool, local: int, forwarded: list[tuple[int, int, bool]]
) -> None:
    from scorer.stream.envelope_routing import split_by_owner

    names = {"here": _owned_by(0), "there": _owned_by(3), "there2": _owned_by(3, skip=1)}
    events = [
        {"type": "web.teleport"} if lead == "bad" else
        {**VALID, "event_id": f"e-{n}", "lead_id": names[lead]}
        for n, lead in enumerate(leads)
    ]  # fmt: skip
    value = _envelope(*events) if envelope else orjson.dumps(events[0])
    items = DECODER.decode_message(value)
    kept, forwards = split_by_owner(items, value, 0, 4)
    assert len(kept) == local
    assert [(f.partition, f.events, b'"schema"' in f.value) for f in forwards] == forwarded
    for forward in forwards:
        sent = orjson.loads(forward.value)
        first = sent["events"][0] if "events" in sent else sent
        assert forward.key == first["lead_id"].encode()
    if forwards and not envelope:
        assert forwards[0].value == value
