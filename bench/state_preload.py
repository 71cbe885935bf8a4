"""1M leads' state in minutes: the history mix scored offline, written as the worker's changelogs.

Scoring the memory phase's history through a worker takes hours at 1M leads (15.5M
events at the worker's few thousand events/s). The state a worker ends with is a
function of each lead's events, so it can be computed offline with the pure core and
written to the changelogs exactly as the worker writes them; a real worker then
recovers it, which is what the recovery target times and what the memory target
measures (the RSS of the worker that holds those leads).

- **Templates.** The mix's first `distinct` leads (every lead when `distinct` is 0 or
  at least the mix) are scored with the core as the worker scores them: each event
  through `apply_event` with the wall clock as `now`, in the lead's event-time order.
  Timers that come due during a history would fire in the worker at its partition's
  clock, which depends on the other leads of the partition; the mix's leads have none
  due (`timers_due` in the result says how many were seen, 0 expected).
- **Replicas.** Lead `i` of the mix is template `i % distinct` under its own ids: the
  mix's lead id (`lead-{i:06d}`) and account (`acc-{i % accounts:05d}`, the simulator's
  grouping); heavy and light leads keep their positions when `distinct` times the heavy
  share is whole. Each replica is encoded on its own with the worker's codec.
- **Accounts.** Each lead's last account signal (re-addressed like the lead) is folded
  into its account with the core's `apply_lead_signal`, in lead order: the members
  equal the worker's; gates, stage and score come from that order (the worker folds
  every batch's signal as its partition delivers them).
- **Records.** Key = the id's bytes, value = the codec's bytes, on the changelog
  partition the worker writes it to (`owner_partition`, Faust's `use_partitioner`), on
  `{app_id}-lead-state-changelog` and `{app_id}-account-state-changelog`, in producer
  batches of up to `batch_records` records, as a worker's producer batches them on
  Kafka; each partition's last record alone (the embedded broker's end offset is its
  last batch's base offset + 1, so recovery reads to the right end). `batch_records` 1
  writes what the bench's workers write on the embedded broker (1-record batches, its
  table recovery needs them); the broker fetches those at ~2,300 records/s per
  partition at 50,000 records and slower as a partition grows (at 250,000 it served
  nothing within 4 minutes), against ~37,000/s in 500-record batches.

tests/integration/test_state_preload.py checks at a small size that the records equal
those a worker writes when it scores the same history from Kafka.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from bench.history import HistoryMix, lead_histories
from scorer.contracts.events import parse_event
from scorer.core.account import AccountState, apply_lead_signal
from scorer.core.handoff_loop import next_due
from scorer.core.lead import apply_event
from scorer.core.lead_signal import LeadSignal
from scorer.core.lead_state import LeadState
from scorer.core.rules import Rules
from scorer.stream.codecs import ACCOUNT_CODEC, LEAD_CODEC
from scorer.stream.partitioning import owner_partition

Progress = Callable[[str], None]
LEAD_TABLE = "lead-state"
ACCOUNT_TABLE = "account-state"
PROGRESS_EVERY_S = 30.0


def changelog_topic(app_id: str, table: str) -> str:
    """Faust's changelog topic of a table (`{app_id}-{table}-changelog`)."""
    return f"{app_id}-{table}-changelog"


def lead_id(index: int) -> str:
    return f"lead-{index:06d}"


def account_id(index: int, mix: HistoryMix) -> str:
    return f"acc-{index % max(1, mix.leads // 10):05d}"


@dataclass(frozen=True, slots=True)
class Template:
    state: LeadState
    signal: LeadSignal | None  # its last account signal


@dataclass(frozen=True, slots=True)
class Templates:
    leads: list[Template]
    events: int
    timers_due: int  # timers seen due before an event of their lead (0 expected)
    seconds: float


def score_templates(mix: HistoryMix, rules: Rules, now: float) -> Templates:
    """Every lead of `mix` scored by the core, as the worker scores its events."""
    started = time.perf_counter()
    states: dict[str, LeadState] = {}
    signals: dict[str, LeadSignal] = {}
    events = timers_due = 0
    for chunk in lead_histories(mix, now):
        for event in chunk:
            # Through the JSON the worker reads, so the parsed values are the same.
            parsed = parse_event(orjson.dumps(event.value))
            state = states.get(parsed.lead_id)
            if state is not None and (due := next_due(state)) is not None and due <= now:
                timers_due += 1
            update = apply_event(state, parsed, rules, now)
            states[parsed.lead_id] = update.state
            if update.account_signal is not None:
                signals[parsed.lead_id] = update.account_signal
            events += 1
    leads = [Template(state, signals.get(key)) for key, state in states.items()]
    return Templates(leads, events, timers_due, time.perf_counter() - started)


def replica(template: Template, index: int, mix: HistoryMix) -> Template:
    """Template `template` as lead `index` of `mix` (its own lead and account ids)."""
    lead, account = lead_id(index), account_id(index, mix)
    state = template.state._replace(
        lead_id=lead, account_id=account if template.state.account_id is not None else None
    )
    signal = template.signal
    if signal is not None:
        signal = signal._replace(lead_id=lead, account_id=account)
    return Template(state, signal)


Record = tuple[str, int, bytes, bytes]  # table, partition, key, value


def changelog_records(
    mix: HistoryMix, templates: Templates, rules: Rules, partitions: int, compressed: bool = True
) -> Iterator[Record]:
    """Every lead's record, then every account's (each account after all its leads),
    encoded as a worker with SCORER_STATE_COMPRESSION=`compressed` writes them."""
    lead_codec, account_codec = LEAD_CODEC.writing(compressed), ACCOUNT_CODEC.writing(compressed)
    distinct = len(templates.leads)
    accounts: dict[str, AccountState] = {}
    now = time.time()
    for index in range(mix.leads):
        lead = replica(templates.leads[index % distinct], index, mix)
        key = lead.state.lead_id.encode()
        yield LEAD_TABLE, owner_partition(key, partitions), key, lead_codec.encode(lead.state)
        signal = lead.signal
        if signal is not None:
            folded = apply_lead_signal(accounts.get(signal.account_id), signal, rules, now)
            accounts[signal.account_id] = folded.state
    for account, state in accounts.items():
        key = account.encode()
        yield ACCOUNT_TABLE, owner_partition(key, partitions), key, account_codec.encode(state)


def template_count(mix: HistoryMix, distinct: int) -> int:
    """How many distinct histories to score: `distinct` (0: every lead), checked so
    that replicas keep the heavy leads where the mix has them."""
    if distinct <= 0 or distinct >= mix.leads:
        return mix.leads
    share = distinct * mix.heavy_share
    if abs(share - round(share)) > 1e-9:
        raise ValueError(
            f"--memory-distinct {distinct} times the heavy share {mix.heavy_share} must be "
            "a whole number (replicas keep the heavy leads' positions)"
        )
    return distinct


def preload(
    bootstrap: str,
    app_id: str,
    mix: HistoryMix,
    rules: Rules,
    partitions: int,
    distinct: int,
    batch_records: int = 1,
    say: Progress = lambda line: None,
    compressed: bool = True,
) -> dict[str, Any]:
    """Score `mix` offline and write its states to `app_id`'s changelogs; what was done."""
    from confluent_kafka import Producer

    count = template_count(mix, distinct)
    template_mix = HistoryMix(count, mix.heavy_share, mix.heavy_events, mix.light_events, mix.seed)
    templates = score_templates(template_mix, rules, time.time())
    say(
        f"  scored {count:,} distinct lead histories ({templates.events:,} events) with the "
        f"core in {templates.seconds:.0f} s; timers due during them: {templates.timers_due}"
    )
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5 if batch_records > 1 else 0,
        "batch.num.messages": max(1, batch_records),
        "queue.buffering.max.kbytes": 256 * 1024,
    }
    producer = Producer(config)
    topics = {t: changelog_topic(app_id, t) for t in (LEAD_TABLE, ACCOUNT_TABLE)}
    started = time.perf_counter()
    last_say = started
    records = {LEAD_TABLE: 0, ACCOUNT_TABLE: 0}
    value_bytes = {LEAD_TABLE: 0, ACCOUNT_TABLE: 0}

    def send(topic: str, partition: int, key: bytes, value: bytes) -> None:
        while True:
            try:
                producer.produce(topic, value, key, partition=partition)
                break
            except BufferError:  # the local queue is full: let the broker catch up
                producer.poll(0.05)
        producer.poll(0)

    # Each partition's last record goes alone, after the others are acknowledged: the
    # embedded broker reports a partition's end offset as its last batch's base offset
    # + 1, so a last batch of one record keeps it right (a worker's recovery reads to it).
    held: dict[tuple[str, int], tuple[bytes, bytes]] = {}
    for table, partition, key, value in changelog_records(
        mix, templates, rules, partitions, compressed
    ):
        where = (topics[table], partition)
        if batch_records > 1:
            previous = held.get(where)
            held[where] = (key, value)
            if previous is not None:
                send(*where, *previous)
        else:
            send(*where, key, value)
        records[table] += 1
        value_bytes[table] += len(value)
        if time.perf_counter() - last_say >= PROGRESS_EVERY_S:
            last_say = time.perf_counter()
            done = sum(records.values())
            say(f"  {done:,} changelog records written ({done / (last_say - started):,.0f}/s)")
    if producer.flush(120) != 0:
        raise RuntimeError("the preloaded changelog records were not acknowledged in 120 s")
    for where, (key, value) in held.items():
        send(*where, key, value)
        if producer.flush(30) != 0:
            raise RuntimeError("a preloaded changelog record was not acknowledged in 30 s")
    seconds = time.perf_counter() - started
    total = sum(records.values())
    say(
        f"  wrote {records[LEAD_TABLE]:,} lead and {records[ACCOUNT_TABLE]:,} account records "
        f"({sum(value_bytes.values()) / 2**20:,.0f} MB of values) in {seconds:.0f} s "
        f"({total / seconds:,.0f}/s)"
    )
    return {
        "method": "preload",
        "distinct_histories": count,
        "template_events": templates.events,
        "template_seconds": templates.seconds,
        "timers_due": templates.timers_due,
        "lead_records": records[LEAD_TABLE],
        "account_records": records[ACCOUNT_TABLE],
        "lead_value_bytes": value_bytes[LEAD_TABLE],
        "account_value_bytes": value_bytes[ACCOUNT_TABLE],
        "batch_records": batch_records,
        "compressed": compressed,
        "write_seconds": seconds,
    }
