"""The lead agent in Faust's test context: table writes, alerts, dead letters, re-keying.

Outbound topics are replaced by recorders (Faust's test context does not stub sends).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from faust import Event
from faust.types import TP, Message

from scorer.contracts import topics as contract
from scorer.core import EngagementRule, EventKind, Rules, Stage, Threshold
from scorer.settings import load_settings
from scorer.stream.app import ScorerApp, create_app
from scorer.stream.ledger import AlertLedger
from scorer.stream.partitioning import owner_partition

RULES = Rules(
    version="test-1",
    engagement=(
        EngagementRule(id="pricing", on=frozenset({EventKind.PAGE_VIEW}), points=30.0, label="Pricing"),
    ),
    thresholds=(Threshold(name="mql", value=80.0, rearm_below=60.0, moves_to=Stage.MQL),),
)  # fmt: skip


@dataclass
class Recorder:
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send_soon(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


@pytest.fixture
async def scorer_app(tmp_path: Any) -> tuple[ScorerApp, dict[str, Recorder]]:
    settings = load_settings({}, partitions=4, data_dir=tmp_path, topic_prefix="unit.")
    scorer = create_app(settings, RULES)
    app = scorer.app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    # Tables use the producer's partitioner, which needs broker metadata; stand in ours.
    app.producer.key_partition = lambda topic, key: TP(topic, owner_partition(key, 4))
    ctx = scorer.context
    recorders = {
        name: Recorder()
        for name in (
            "handoff_alerts",
            "score_changes",
            "dead_letters",
            "account_signals",
            "rekeyed_events",
        )
    }
    for name, recorder in recorders.items():
        setattr(ctx, name, _Wrapped(getattr(ctx, name), recorder))
    ctx.ledger = _EmptyLedger("unit.alerts", {})
    ctx.publisher = _RecordingPublisher(  # type: ignore[assignment]
        {ctx.handoff_alerts.get_topic_name(): recorders["handoff_alerts"]}
    )
    # The test context delivers on an "<internal>" channel; decode it as web events.
    ctx.decoders["<internal>"] = ctx.decoders[settings.topic(contract.WEB_EVENTS)]
    return scorer, recorders


class _EmptyLedger(AlertLedger):
    """Starts empty instead of reading the hand-off topic (there is no broker here)."""

    async def ensure(self, partition: int) -> None:
        return None


class _RecordingPublisher:
    """Acknowledges at once and records what an acked send would have published."""

    def __init__(self, by_topic: dict[str, Recorder]) -> None:
        self._by_topic = by_topic

    async def send_all(self, records: Any) -> None:
        for record in records:
            self._by_topic[record.topic].send_soon(
                key=record.key, value=record.value, partition=record.partition
            )

    async def stop(self) -> None:
        return None


class _Wrapped:
    def __init__(self, topic: Any, recorder: Recorder) -> None:
        self._topic = topic
        self.send_soon = recorder.send_soon

    async def send(self, **kwargs: Any) -> asyncio.Future[None]:
        self.send_soon(**kwargs)
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered

    def get_topic_name(self) -> str:
        return str(self._topic.get_topic_name())


def _lead_on_partition(partition: int, partitions: int = 4, skip: int = 0) -> str:
    leads = (
        f"lead-{i}"
        for i in range(1000)
        if owner_partition(f"lead-{i}".encode(), partitions) == partition
    )
    return [next(leads) for _ in range(skip + 1)][-1]


def _audited(sent: dict[str, Recorder]) -> list[dict[str, Any]]:
    """Every event entry of the score-changes messages sent, in order."""
    return [e for m in sent["score_changes"].sent for e in orjson.loads(m["value"])["events"]]


def _view(lead: str, n: int, url: str = "/pricing") -> bytes:
    return orjson.dumps({
        "event_id": f"{lead}-{n}", "lead_id": lead, "type": "web.page_view",
        "occurred_at": f"2026-05-01T09:00:0{n}+00:00", "url": url,
    })  # fmt: skip


async def test_crossing_the_threshold_writes_state_and_sends_one_alert(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    lead = _lead_on_partition(0)
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for n in range(4):
            await channel.put(_view(lead, n), key=lead.encode(), partition=0)
    state = scorer.context.lead_state_by_id[lead.encode()]
    assert state.stage == "mql"
    alerts = [orjson.loads(m["value"]) for m in sent["handoff_alerts"].sent]
    assert [a["kind"] for a in alerts] == ["mql"]
    assert alerts[0]["lead_id"] == lead
    audited = [e["event_id"] for e in _audited(sent)]
    assert audited == [f"{lead}-{n}" for n in range(4)]
    assert all(
        m["partition"] == 0 and m["key"] == lead.encode() for m in sent["score_changes"].sent
    )
    assert sent["dead_letters"].sent == []


async def test_a_repeated_event_id_scores_once(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    lead = _lead_on_partition(0)
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for _ in range(3):
            await channel.put(_view(lead, 1), key=lead.encode(), partition=0)
    state = scorer.context.lead_state_by_id[lead.encode()]
    assert state.score_at(state.last_event_at, RULES).total == 30.0
    # Duplicates restate their audit records (at-least-once); the change itself is one.
    assert {(c["event_id"], c["rule_id"]) for e in _audited(sent) for c in e["changes"]} == {
        (f"{lead}-1", "pricing")
    }
    assert (
        scorer.registry.get_sample_value(
            "scorer_events_total", {"topic": "<internal>", "result": "duplicate"}
        )
        == 2
    )


async def test_bad_input_goes_to_dead_letters_and_scoring_goes_on(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    lead = _lead_on_partition(0)
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        await channel.put(b"{not json", key=lead.encode(), partition=0)
        await channel.put(_view(lead, 1), key=lead.encode(), partition=0)
    [dead] = sent["dead_letters"].sent
    headers = dict(dead["headers"])
    assert headers["scorer.error.reason"] == b"not_json"
    assert headers["scorer.error.class"] == b"JSONDecodeError"
    assert dead["value"] == b"{not json"
    assert scorer.context.lead_state_by_id[lead.encode()] is not None


async def test_an_event_on_a_foreign_partition_is_forwarded_to_its_owner(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    lead = _lead_on_partition(3)
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        await channel.put(_view(lead, 1), key=lead.encode(), partition=0)
    [forwarded] = sent["rekeyed_events"].sent
    assert forwarded["partition"] == 3
    assert forwarded["key"] == lead.encode()
    assert scorer.context.lead_state_by_id.get(lead.encode()) is None


async def test_an_alert_already_on_the_handoff_topic_is_not_published_again(
    scorer_app: Any,
) -> None:
    scorer, sent = scorer_app
    lead = _lead_on_partition(0)
    scorer.context.ledger.record(0, f"lead:{lead}:mql:1")
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for n in range(4):
            await channel.put(_view(lead, n), key=lead.encode(), partition=0)
    assert sent["handoff_alerts"].sent == []
    assert scorer.context.lead_state_by_id[lead.encode()].stage == "mql"
    assert scorer.registry.get_sample_value("scorer_alerts_suppressed_total") == 1


async def test_an_exception_inside_scoring_is_dead_lettered_not_skipped(
    scorer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scorer.stream import handlers

    scorer, sent = scorer_app
    lead = _lead_on_partition(0)
    real_apply = handlers.apply_event

    def flaky_apply(state: Any, event: Any, rules: Any, now: float) -> Any:
        if event.event_id.endswith("-1"):
            raise ZeroDivisionError("a bug in a rule")
        return real_apply(state, event, rules, now)

    monkeypatch.setattr(handlers, "apply_event", flaky_apply)
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for n in range(3):
            await channel.put(_view(lead, n), key=lead.encode(), partition=0)
    [dead] = sent["dead_letters"].sent
    headers = dict(dead["headers"])
    assert headers["scorer.error.reason"] == b"scoring_error"
    assert headers["scorer.error.detail"] == b"ZeroDivisionError"
    state = scorer.context.lead_state_by_id[lead.encode()]
    assert state.score_at(state.last_event_at, RULES).total == pytest.approx(60.0, abs=0.01)


async def test_an_unacknowledged_alert_is_retried_without_publishing_it_twice(
    scorer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first send times out after the broker stored the alert anyway: the retry reads
    the ledger again, finds it, and neither loses the state nor publishes it twice."""
    from scorer.stream import handlers
    from scorer.stream.publisher import PublishFailed

    monkeypatch.setattr(handlers, "_MAX_RETRY_DELAY_S", 0.0)
    scorer, _sent = scorer_app
    lead = _lead_on_partition(0)
    landed: list[Any] = []

    class TimesOutOnce:
        async def send_all(self, records: Any) -> None:
            landed.extend(records)
            if len(landed) == 1:
                raise PublishFailed("TimeoutError after 1 records")

        async def stop(self) -> None:
            return None

    class ReadsWhatLanded(AlertLedger):
        async def ensure(self, partition: int) -> None:
            if partition not in self._ids:
                self._ids[partition] = {
                    orjson.loads(r.value)["alert_id"] for r in landed if r.partition == partition
                }

    scorer.context.publisher = TimesOutOnce()  # type: ignore[assignment]
    scorer.context.ledger = ReadsWhatLanded("unit.alerts", {})
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for n in range(4):
            await channel.put(_view(lead, n), key=lead.encode(), partition=0)
    assert [orjson.loads(r.value)["kind"] for r in landed] == ["mql"]
    assert scorer.context.lead_state_by_id[lead.encode()].stage == "mql"
    assert scorer.registry.get_sample_value("scorer_publish_retries_total") == 1


# -- event-batch envelopes, grouped outputs ---------------------------------------------


def _envelope(*events: dict[str, Any] | str) -> bytes:
    return orjson.dumps({"schema": "leads.event-batch.v1", "events": list(events)})


def _view_record(lead: str, n: int, account: str | None = None) -> dict[str, Any]:
    record = orjson.loads(_view(lead, n))
    if account is not None:
        record["account_id"] = account
    return dict(record)


async def test_an_envelope_scores_each_event_and_dead_letters_a_bad_one_alone(
    scorer_app: Any,
) -> None:
    scorer, sent = scorer_app
    lead = _lead_on_partition(0)
    bad = {**_view_record(lead, 2), "url": None}
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        value = _envelope(_view_record(lead, 1), bad, _view_record(lead, 3), "not an event")
        await channel.put(value, key=lead.encode(), partition=0)
    state = scorer.context.lead_state_by_id[lead.encode()]
    assert state.score_at(state.last_event_at, RULES).total == pytest.approx(60.0, abs=0.01)
    assert [e["event_id"] for e in _audited(sent)] == [f"{lead}-1", f"{lead}-3"]
    letters = {dict(d["headers"])["scorer.error.index"]: d for d in sent["dead_letters"].sent}
    assert sorted(letters) == [b"1", b"3"]
    assert orjson.loads(letters[b"1"]["value"]) == bad  # the bad event alone, not the envelope
    detail = dict(letters[b"1"]["headers"])["scorer.error.detail"]
    assert detail.startswith(b"/events/1/url: ")
    assert b"url" in detail
    assert orjson.loads(letters[b"3"]["value"]) == "not an event"
    assert letters[b"1"]["key"] == lead.encode()


async def test_a_partition_envelope_scores_every_lead_it_owns(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    lead, other = _lead_on_partition(0), _lead_on_partition(0, skip=1)
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        value = _envelope(_view_record(lead, 1), _view_record(other, 2), _view_record(lead, 3))
        await channel.put(value, key=lead.encode(), partition=0)
    assert sent["dead_letters"].sent == []
    assert sent["rekeyed_events"].sent == []
    assert [e["event_id"] for e in _audited(sent)] == [f"{lead}-1", f"{other}-2", f"{lead}-3"]
    assert scorer.context.lead_state_by_id[other.encode()] is not None
    assert scorer.context.lead_state_by_id[lead.encode()] is not None


async def test_a_batch_of_envelopes_is_finished_every_few_hundred_events(
    scorer_app: Any,
) -> None:
    """Six envelopes of 100 events in ONE batch: the first 500 events' outputs go out
    while the batch is still being read, not all at its end."""
    scorer, sent = scorer_app
    ctx = scorer.context
    topic = ctx.settings.topic(contract.WEB_EVENTS)
    leads = [f"lead-{i}" for i in range(3000) if owner_partition(f"lead-{i}".encode(), 4) == 0]
    envelopes = [
        _envelope(*(_view_record(lead, 1) for lead in leads[m * 100 : (m + 1) * 100]))
        for m in range(6)
    ]

    def event(offset: int, value: bytes) -> Event:
        key = leads[offset * 100].encode()
        message = Message(topic, 0, offset, 0.0, 0, [], key, value, None)
        return Event(scorer.app, key, value, [], message)

    events = [event(offset, value) for offset, value in enumerate(envelopes)]
    decoder = ctx.decoders[topic]
    seen_before_message: list[tuple[int, bool]] = []

    def observed_decode(value: bytes | None) -> Any:
        first_lead = leads[0].encode()
        seen_before_message.append(
            (len(sent["score_changes"].sent), ctx.lead_state_by_id.is_changed(first_lead))
        )
        return type(decoder).decode_message(decoder, value)

    decoder.decode_message = observed_decode  # type: ignore[method-assign]
    await ctx.handle_lead_batch(events)
    # Before the 6th message: the first five's 500 events are finished (their score
    # changes sent as one message for partition 0, their states in the cache).
    assert seen_before_message[5] == (1, True)
    assert seen_before_message[4] == (0, False)
    audited = [e["event_id"] for e in _audited(sent)]
    assert audited == [f"{lead}-1" for lead in leads[:600]]
    assert [len(orjson.loads(m["value"])["events"]) for m in sent["score_changes"].sent] == [
        500,
        100,
    ]
    assert all(ctx.lead_state_by_id.get(lead.encode()) is not None for lead in leads[:600])
    assert sent["dead_letters"].sent == []


async def test_a_malformed_envelope_is_dead_lettered_whole(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    lead = _lead_on_partition(0)
    value = orjson.dumps({"schema": "leads.event-batch.v1", "events": []})
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        await channel.put(value, key=lead.encode(), partition=0)
    [dead] = sent["dead_letters"].sent
    headers = dict(dead["headers"])
    assert dead["value"] == value
    assert "scorer.error.index" not in headers
    assert headers["scorer.error.reason"] == b"schema"


async def test_an_envelope_is_split_and_forwarded_per_owner_partition_once(
    scorer_app: Any,
) -> None:
    scorer, sent = scorer_app
    here, there, there_too, elsewhere = (
        _lead_on_partition(0), _lead_on_partition(3), _lead_on_partition(3, skip=1),
        _lead_on_partition(2),
    )  # fmt: skip
    value = _envelope(
        _view_record(there, 1), _view_record(here, 2), {"type": "web.page_view"},
        _view_record(elsewhere, 4), _view_record(there_too, 5), _view_record(there, 6),
    )  # fmt: skip
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        await channel.put(value, key=there.encode(), partition=0)
    forwarded = {f["partition"]: f for f in sent["rekeyed_events"].sent}
    assert sorted(forwarded) == [2, 3]
    assert forwarded[3]["key"] == there.encode()
    assert [e["event_id"] for e in orjson.loads(forwarded[3]["value"])["events"]] == [
        f"{there}-1", f"{there_too}-5", f"{there}-6",
    ]  # fmt: skip
    assert forwarded[2]["key"] == elsewhere.encode()
    assert orjson.loads(forwarded[2]["value"])["event_id"] == f"{elsewhere}-4"  # alone: single
    assert dict(forwarded[3]["headers"])["scorer.source-topic"] == b"<internal>"
    # The bad event is dead-lettered here (never forwarded), the owned one scored here.
    [dead] = sent["dead_letters"].sent
    assert dict(dead["headers"])["scorer.error.index"] == b"2"
    assert [e["event_id"] for e in _audited(sent)] == [f"{here}-2"]
    assert (
        scorer.registry.get_sample_value(
            "scorer_events_total", {"topic": "<internal>", "result": "rekeyed"}
        )
        == 4
    )


async def test_signals_and_score_changes_go_out_as_one_message_per_partition(
    scorer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scorer.stream import agents

    # One batch for the three events, whatever the machine's load: a 20 ms window can
    # close between two puts (the window runs from the agent's start, not the first put).
    monkeypatch.setattr(agents, "BATCH_WITHIN_S", 1.0)
    scorer, sent = scorer_app
    accounts = {p: _account_on_partition(p) for p in (1, 2)}
    leads = [_lead_on_partition(0, skip=n) for n in range(3)]
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for n, (lead, partition) in enumerate(zip(leads, (1, 2, 1), strict=True)):
            value = orjson.dumps(_view_record(lead, n, accounts[partition]))
            await channel.put(value, key=lead.encode(), partition=0)
    signals = {m["partition"]: m for m in sent["account_signals"].sent}
    assert len(sent["account_signals"].sent) == 2
    for partition, message in signals.items():
        assert owner_partition(message["key"], 4) == partition
        envelope = orjson.loads(message["value"])
        assert envelope["type"] == "lead_signals"
        assert {s["account_id"] for s in envelope["signals"]} == {accounts[partition]}
    assert [s["lead_id"] for s in orjson.loads(signals[1]["value"])["signals"]] == [
        leads[0], leads[2],
    ]  # fmt: skip
    [changes] = sent["score_changes"].sent  # every lead is on partition 0
    assert [e["lead_id"] for e in orjson.loads(changes["value"])["events"]] == leads


def _account_on_partition(partition: int) -> str:
    return next(
        f"acc-{i}" for i in range(1000) if owner_partition(f"acc-{i}".encode(), 4) == partition
    )


def _signal(lead: str, account: str, seq: int, engagement: float) -> dict[str, Any]:
    return {
        "v": 1, "type": "lead_signal", "account_id": account, "lead_id": lead, "seq": seq,
        "at": 1_780_000_000.0 + seq, "event_id": f"{lead}-{seq}", "ref": 1_780_000_000.0 + seq,
        "engagement": [engagement], "fit": 0.0, "company_fit": 0.0, "role": None,
        "last_engaged_at": 1_780_000_000.0 + seq, "stage": "engaged", "product": None,
        "rules_version": "test-1",
    }  # fmt: skip


async def test_the_account_agent_folds_envelopes_and_single_signals(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    a, b = _account_on_partition(1), _account_on_partition(1) + "b"
    envelope = orjson.dumps({
        "v": 1, "type": "lead_signals",
        "signals": [_signal("L1", a, 1, 10.0), _signal("L2", b, 1, 5.0), _signal("L1", a, 2, 20.0)],
    })  # fmt: skip
    agent = scorer.app.agents["fold-account-signals"]
    async with agent.test_context() as channel:
        await channel.put(envelope, key=a.encode(), partition=1)
        # The form before the envelope (a rolling upgrade has both on the topic).
        await channel.put(orjson.dumps(_signal("L3", a, 1, 1.0)), key=a.encode(), partition=1)
    state_a = scorer.context.account_state_by_id[a.encode()]
    assert {(m.lead_id, m.seq) for m in state_a.members} == {("L1", 2), ("L3", 1)}
    state_b = scorer.context.account_state_by_id[b.encode()]
    assert [m.lead_id for m in state_b.members] == ["L2"]
    assert sent["dead_letters"].sent == []


async def test_a_batch_of_signal_envelopes_is_finished_every_few_hundred_signals(
    scorer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three envelopes of 250 signals in ONE account batch: the first two's accounts are
    in the state cache before the third is read, not only at the batch's end."""
    scorer, _ = scorer_app
    ctx = scorer.context
    topic = ctx.settings.topic(contract.ACCOUNT_SIGNALS)
    account = _account_on_partition(1)
    accounts = [f"{account}-{m}" for m in range(3)]
    envelopes = [
        orjson.dumps(
            {
                "v": 1,
                "type": "lead_signals",
                "signals": [_signal(f"L{n}", accounts[m], 1, 1.0) for n in range(250)],
            }
        )
        for m in range(3)
    ]
    events = [
        Event(
            scorer.app,
            account.encode(),
            value,
            [],
            Message(topic, 1, offset, 0.0, 0, [], account.encode(), value, None),
        )
        for offset, value in enumerate(envelopes)
    ]
    cached_before: list[list[bool]] = []
    fold = type(ctx)._fold_account_message

    def observed_fold(self: Any, message: Message, batch: Any) -> list[bytes]:
        cached_before.append([ctx.account_state_by_id.is_changed(a.encode()) for a in accounts])
        return fold(self, message, batch)

    monkeypatch.setattr(type(ctx), "_fold_account_message", observed_fold)
    await ctx.handle_account_batch(events)
    assert cached_before == [[False] * 3, [False] * 3, [True, True, False]]
    for name in accounts:
        assert len(ctx.account_state_by_id[name.encode()].members) == 250


async def test_a_malformed_signal_in_an_envelope_is_dead_lettered_alone(scorer_app: Any) -> None:
    scorer, sent = scorer_app
    a = _account_on_partition(1)
    broken = {**_signal("L2", a, 1, 5.0), "engagement": "lots"}
    envelope = orjson.dumps(
        {"v": 1, "type": "lead_signals", "signals": [broken, _signal("L1", a, 1, 10.0)]}
    )
    agent = scorer.app.agents["fold-account-signals"]
    async with agent.test_context() as channel:
        await channel.put(envelope, key=a.encode(), partition=1)
        await channel.put(b"{oops", key=a.encode(), partition=1)
    first, second = sent["dead_letters"].sent
    assert dict(first["headers"])["scorer.error.index"] == b"0"
    assert orjson.loads(first["value"]) == broken
    assert second["value"] == b"{oops"
    assert dict(second["headers"])["scorer.error.reason"] == b"not_json"
    state = scorer.context.account_state_by_id[a.encode()]
    assert [m.lead_id for m in state.members] == ["L1"]


async def test_a_big_group_is_split_into_messages_under_the_size_limit(
    scorer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scorer.stream import handlers

    monkeypatch.setattr(handlers, "MAX_GROUPED_BYTES", 1500)
    scorer, sent = scorer_app
    leads = [_lead_on_partition(0, skip=n) for n in range(6)]
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for n, lead in enumerate(leads):
            await channel.put(_view(lead, n), key=lead.encode(), partition=0)
    messages = sent["score_changes"].sent
    assert len(messages) > 1
    assert all(len(m["value"]) <= 1500 and m["partition"] == 0 for m in messages)
    assert [e["lead_id"] for e in _audited(sent)] == leads  # complete, in order


async def test_any_exception_handling_a_record_dead_letters_it_and_the_batch_goes_on(
    scorer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scorer.stream import handlers

    scorer, sent = scorer_app
    a = _account_on_partition(1)
    real_fold = handlers.apply_lead_signal

    def flaky_fold(state: Any, signal: Any, rules: Any, now: float) -> Any:
        if signal.lead_id == "L2":
            raise ZeroDivisionError("a bug in the account model")
        return real_fold(state, signal, rules, now)

    monkeypatch.setattr(handlers, "apply_lead_signal", flaky_fold)
    agent = scorer.app.agents["fold-account-signals"]
    async with agent.test_context() as channel:
        await channel.put(orjson.dumps(_signal("L1", a, 1, 10.0)), key=a.encode(), partition=1)
        await channel.put(orjson.dumps(_signal("L2", a, 1, 5.0)), key=a.encode(), partition=1)
        await channel.put(orjson.dumps(_signal("L3", a, 1, 1.0)), key=a.encode(), partition=1)
    [dead] = sent["dead_letters"].sent
    headers = dict(dead["headers"])
    assert headers["scorer.error.reason"] == b"internal_error"
    assert headers["scorer.error.class"] == b"ZeroDivisionError"
    assert orjson.loads(dead["value"])["lead_id"] == "L2"
    state = scorer.context.account_state_by_id[a.encode()]
    assert [m.lead_id for m in state.members] == ["L1", "L3"]


async def test_a_batch_that_cannot_be_stored_is_dead_lettered_record_by_record(
    scorer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scorer.stream import handlers

    scorer, sent = scorer_app
    lead = _lead_on_partition(0)

    def broken_view(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("read model bug")

    monkeypatch.setattr(handlers, "staged_lead", broken_view)
    agent = scorer.app.agents["score-lead-events"]
    async with agent.test_context() as channel:
        for n in range(2):
            await channel.put(_view(lead, n), key=lead.encode(), partition=0)
    reasons = [dict(m["headers"])["scorer.error.reason"] for m in sent["dead_letters"].sent]
    assert reasons == [b"batch_error", b"batch_error"]
    assert sorted(m["value"] for m in sent["dead_letters"].sent) == [_view(lead, 0), _view(lead, 1)]


def _lead_records_with_timers(count: int, partition: int, due_at: float) -> dict[bytes, bytes]:
    """`count` compressed lead records owned by `partition`, each with one timer."""
    from scorer.core.lead_state import LeadState
    from scorer.core.timers import HandoffLoop, Timer
    from scorer.stream.codecs import compress

    timer = Timer(due_at, "inactivity", "", 0, due_at - 60.0, "page_view:e1")
    state = LeadState.new("template", RULES)._replace(loop=HandoffLoop(timers=(timer,)))
    template = orjson.dumps(state.to_record())
    records: dict[bytes, bytes] = {}
    n = 0
    while len(records) < count:
        lead = f"timer-lead-{n}"
        n += 1
        if owner_partition(lead.encode(), 4) == partition:
            records[lead.encode()] = compress(template.replace(b'"template"', orjson.dumps(lead)))
    return records


async def test_a_big_partitions_timer_index_is_built_without_holding_the_event_loop(
    scorer_app: Any,
) -> None:
    """20,000 leads with timers on a partition: its first tick must not hold the loop
    while they are indexed (decoding them in one go took seconds here; minutes at 1M
    leads), and the index ends up with every one of them."""
    from scorer.contracts.outputs import timer_tick

    scorer, _ = scorer_app
    ctx = scorer.context
    count = 20_000
    store = ctx.lead_state_by_id.table.data
    for key, value in _lead_records_with_timers(count, 0, due_at=4e9).items():
        store[key] = value
    ticks = ctx.timer_ticks.get_topic_name()
    value = orjson.dumps(timer_tick(0, ctx.clock()))
    message = Message(ticks, 0, 0, 0.0, 0, [], b"0", value, None)
    longest_gap = await _longest_loop_hold(
        ctx.handle_lead_batch([Event(scorer.app, b"0", value, [], message)]),
        lambda: ctx.timer_index.is_complete(0),
        "the timer index",
    )
    assert ctx.due_index.pending() == count
    assert longest_gap < 0.3, f"the event loop was held {longest_gap:.2f} s"


def _visitor_records(count: int, partition: int, last_seen: float) -> dict[bytes, bytes]:
    from scorer.core.identity import Visitor, anonymous_lead_id
    from scorer.stream.codecs import VISITOR_CODEC

    records: dict[bytes, bytes] = {}
    n = 0
    while len(records) < count:
        lead = anonymous_lead_id(f"visitor-{n}")
        n += 1
        if owner_partition(lead.encode(), 4) == partition:
            visitor = Visitor(lead_id=lead, last_seen=last_seen)
            records[lead.encode()] = VISITOR_CODEC.encode(visitor)
    return records


async def test_a_big_partitions_visitor_expiry_is_indexed_without_holding_the_event_loop(
    scorer_app: Any,
) -> None:
    """60,000 anonymous visitors on a partition: its first tick indexes their expiry in
    slices (the loop is not held), the index ends up with every one of them, and the
    visitors silent for the look-back are forgotten at a tick once indexed."""
    from scorer.contracts.outputs import timer_tick

    scorer, _ = scorer_app
    ctx = scorer.context
    count, silent = 60_000, 30
    now = ctx.clock()
    store = ctx.visitor_by_id.table.data
    for key, value in _visitor_records(count, 0, last_seen=now + 10 * 86_400).items():
        store[key] = value
    gone = _visitor_records(count + silent, 0, last_seen=now - 400 * 86_400)
    gone_keys = list(gone)[count:]  # visitor-n past the active ones: others on partition 0
    for key in gone_keys:
        store[key] = gone[key]
    ticks = ctx.timer_ticks.get_topic_name()

    def tick(offset: int) -> Event:
        value = orjson.dumps(timer_tick(0, ctx.clock()))
        message = Message(ticks, 0, offset, 0.0, 0, [], b"0", value, None)
        return Event(scorer.app, b"0", value, [], message)

    longest_gap = await _longest_loop_hold(
        ctx.handle_lead_batch([tick(0)]),
        lambda: ctx.visitor_expiry_index.is_complete(0),
        "the visitor expiry index",
    )
    assert longest_gap < 0.3, f"the event loop was held {longest_gap:.2f} s"
    # The first tick expired what the first slice indexed; the next one the rest.
    await ctx.handle_lead_batch([tick(1)])
    assert [key for key in gone_keys if ctx.visitor_by_id.get(key) is not None] == []
    assert ctx.visitor_expiry.pending() == count


async def _longest_loop_hold(
    start: Coroutine[Any, Any, None], built: Callable[[], bool], what: str
) -> float:
    """The longest the event loop was held (a 5 ms sleep overslept) from `start` (a tick
    that begins an index build) until `built()`."""
    longest = 0.0
    done = asyncio.Event()

    async def watch_the_loop() -> None:
        nonlocal longest
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            longest = max(longest, time.perf_counter() - before)

    watcher = asyncio.ensure_future(watch_the_loop())
    await asyncio.sleep(0.01)
    await start
    deadline = time.monotonic() + 60.0
    while not built():
        assert time.monotonic() < deadline, f"{what} was not built within 60 s"
        await asyncio.sleep(0.02)
    done.set()
    await watcher
    return longest
