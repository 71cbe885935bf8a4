"""Memory per tracked lead in a real worker, and the time a restarted worker needs to recover.

Per table store (memory, RocksDB), on one shared input of the realistic history mix
(bench/history.py), produced once before the first worker starts:

- **memory**: a fresh worker (its own app id, so empty tables and changelogs) is started;
  its RSS when `/ready` first answers 200 is the start. It scores the whole input from
  Kafka (all outputs on, Redis write-through). When it has accounted for every input
  event and its `scorer_leads_tracked` has caught up, its RSS again: per tracked lead is
  (RSS after - RSS at start) / leads tracked. It is then stopped politely; the RocksDB
  store's data directory is what it left on disk (disk per lead).
- **recovery**: a worker with the same app id is started on the changelogs the first one
  wrote, with an empty data directory (a new machine: everything comes from the
  changelogs; the memory store always does this), and for RocksDB also with the data
  directory the first worker left (a restart in place). It reads its own input topics
  (the input is scored already; other runs never see its probes): just after its
  process starts, one probe event per partition is produced there, the first event of a
  brand-new lead whose key the scorer's partitioner puts on that partition. Timed from
  the process start: `ready` — `/ready` answers 200 (every table partition recovered and the input
  partitions assigned); `scored` — every probe's read-model hash (`lead:{id}`) exists in
  Redis, i.e. the first new event of every partition has been scored after the recovery.
  The recovered worker's `scorer_leads_tracked` (less its own probes: the leads that
  came back) and RSS are recorded too.

On the embedded Tansu broker table recovery needs 1-record producer batches (see the
README's "The embedded broker"), so these workers run with `kafka_max_batch_bytes` 1
unless told otherwise (`--state-batch-bytes`).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis

from bench.common import rss_bytes
from bench.history import HistoryMix, produce_history_sync
from bench.scorer_worker import with_shared_inputs
from bench.systems import BenchWorker, Target, scorer_settings
from scorer.contracts import topics as contract
from scorer.contracts.outputs import rfc3339
from scorer.settings import Settings
from scorer.stream.partitioning import owner_partition
from tests.support import http_get

Say = Callable[[str], None]
PROGRESS_EVERY_S = 30.0
POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class StatePhase:
    """What the memory and recovery phases run on."""

    target: Target
    mix: HistoryMix
    stores: tuple[str, ...]
    batch_bytes: int  # the workers' kafka_max_batch_bytes (1 on Tansu, see above)
    cap_s: float  # at most this long for one worker to score the input
    recovery_from: tuple[str, ...]  # restarts to time: "changelog" (empty dir), "local"
    recovery_cap_s: float = 600.0
    # Table recovery paths timed from the changelogs: "bulk" (the worker's default) and/or
    # "faust" (SCORER_BULK_RECOVERY=false), each on the same changelogs, in that order.
    recovery_paths: tuple[str, ...] = ("bulk",)


def on_path(settings: Settings, path: str) -> Settings:
    """The settings with table recovery on `path` ("bulk" or "faust")."""
    return settings.model_copy(update={"bulk_recovery": path == "bulk"})


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def produce_input(phase: StatePhase, prefix: str, say: Say) -> dict[str, Any]:
    from bench.inputs import create_input_topics

    target = phase.target
    asyncio.run(create_input_topics(scorer_settings(target, "stateinputs"), prefix))
    total = phase.mix.events
    last = [time.monotonic()]

    def progress(events: int, seconds: float) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            say(f"  produced {events:,} of {total:,} events ({events / seconds:,.0f}/s)")

    produced = produce_history_sync(target.kafka, prefix, phase.mix, time.time(), progress)
    say(
        f"produced {produced['events']:,.0f} events of {phase.mix.leads:,} leads as "
        f"{produced['messages']:,.0f} messages to {prefix}* in {produced['seconds']:.0f} s"
    )
    return produced


def _wait_scored(worker: BenchWorker, total: int, cap_s: float, say: Say) -> tuple[float, bool]:
    """Wait until the worker accounted for `total` input events; (seconds, complete)."""
    started = time.monotonic()
    last_say = started
    while True:
        handled = worker.events_handled()
        now = time.monotonic()
        if handled >= total:
            return now - started, True
        if not worker.alive():
            raise RuntimeError("the worker exited while scoring the history input")
        if now - started > cap_s:
            say(f"  stopped at the cap ({cap_s:g} s): {handled:,.0f} of {total:,} events scored")
            return now - started, False
        if now - last_say >= PROGRESS_EVERY_S:
            last_say = now
            rate = handled / (now - started)
            eta = (total - handled) / rate if rate > 0 else float("inf")
            say(f"  {handled:,.0f} of {total:,} events scored ({rate:,.0f}/s, ~{eta:,.0f} s left)")
        time.sleep(1.0)


def _leads_tracked(worker: BenchWorker, wanted: int, timeout_s: float = 60.0) -> int:
    """`scorer_leads_tracked` once it reaches `wanted` (it is refreshed every 5 s, and
    counting a RocksDB table of 1M keys takes the busy worker seconds)."""
    deadline = time.monotonic() + timeout_s
    tracked = int(worker.metric("scorer_leads_tracked"))
    while tracked < wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        tracked = int(worker.metric("scorer_leads_tracked"))
    return tracked


def measure_memory(
    phase: StatePhase, store: str, prefix: str, say: Say
) -> tuple[dict[str, Any], Settings]:
    """A fresh worker scores the shared history input; its RSS growth per tracked lead."""
    from scorer.stream.admin import apply_topics

    tag = f"state{store}{int(time.time() * 1000) % 10**7}"
    settings = scorer_settings(
        phase.target, tag, store=f"{store}://", kafka_max_batch_bytes=phase.batch_bytes
    )
    asyncio.run(apply_topics(with_shared_inputs(settings, prefix)))
    hooks = {"BENCH_INPUT_PREFIX": prefix}
    worker = BenchWorker(settings, phase.target.workdir / f"{tag}.log", hooks)
    worker.start(timeout_s=120)
    try:
        rss_start = rss_bytes(worker.pid)
        handled_at_start = worker.events_handled()
        seconds, complete = _wait_scored(worker, phase.mix.events, phase.cap_s, say)
        handled = worker.events_handled()
        tracked = _leads_tracked(worker, phase.mix.leads if complete else 0)
        rss_end = rss_bytes(worker.pid)
    finally:
        worker.stop()
    disk = directory_bytes(settings.data_dir) if store == "rocksdb" else 0
    result = {
        "mode": "worker (via Kafka)",
        "store": store,
        "leads": tracked,
        "mix": phase.mix.describe(),
        "complete": complete,
        "events_scored": handled,
        "events_scored_at_start": handled_at_start,
        "score_seconds": seconds,
        "events_per_s": handled / seconds if seconds > 0 else 0.0,
        "rss_before_mb": rss_start / 2**20,
        "rss_after_mb": rss_end / 2**20,
        "rss_per_lead_bytes": (rss_end - rss_start) / max(1, tracked),
        "disk_per_lead_bytes": disk / tracked if disk and tracked else None,
        "kafka_max_batch_bytes": phase.batch_bytes,
    }
    say(
        f"memory {store:8} {tracked:>9,} leads (worker): "
        f"{result['rss_per_lead_bytes']:,.0f} B RSS per lead, "
        f"{handled:,.0f} events in {seconds:.0f} s"
    )
    return result, settings


def _probe_leads(partitions: int, tag: str) -> list[str]:
    """One new lead id per partition, by the scorer's partitioner."""
    found: dict[int, str] = {}
    index = 0
    while len(found) < partitions:
        lead = f"probe-{tag}-{index}"
        found.setdefault(owner_partition(lead.encode(), partitions), lead)
        index += 1
    return [found[p] for p in range(partitions)]


Message = tuple[str, int, bytes, bytes]  # topic, partition, key, value


def _probe_messages(settings: Settings, leads: list[str]) -> list[Message]:
    """A probe per lead: its first event, a product page view; `leads[p]` is owned by p."""
    now = rfc3339(time.time())
    topic = settings.topic(contract.WEB_EVENTS)
    messages: list[Message] = []
    for partition, lead in enumerate(leads):
        event = {
            "event_id": f"{lead}-ev", "lead_id": lead, "account_id": "acc-00000",
            "type": "web.page_view", "occurred_at": now, "url": "/products/product-a",
        }  # fmt: skip
        messages.append((topic, partition, lead.encode(), orjson.dumps(event)))
    return messages


def produce_messages(bootstrap: str, messages: list[Message]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    for topic, partition, key, value in messages:
        producer.produce(topic, value, key, partition=partition)
    if producer.flush(30) != 0:
        raise RuntimeError("the recovery probes were not acknowledged in 30 s")


AfterReady = Callable[[BenchWorker], dict[str, Any]]


def measure_recovery(
    phase: StatePhase,
    settings: Settings,
    from_: str,
    populated: int,
    say: Say,
    after_ready: AfterReady | None = None,
) -> dict[str, Any]:
    """Restart a worker on the changelogs (`from_`: "changelog" empties the data directory
    first, "local" keeps it) of `populated` leads; seconds from its process start to ready
    and to scored, and the leads it tracks then. `after_ready` measures more on the
    recovered worker before it stops (its findings join the result)."""
    if from_ not in ("changelog", "local"):
        raise ValueError(f"recovery from {from_!r}: use changelog or local")
    if from_ == "changelog":
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    from scorer.stream.admin import apply_topics

    path = "bulk" if settings.bulk_recovery else "faust"
    tag = f"{settings.app_id.rsplit('-', 1)[-1]}{from_}{'' if path == 'bulk' else path}"
    leads = _probe_leads(settings.partitions, tag)
    keys = {settings.redis_key_prefix + f"lead:{lead}": lead for lead in leads}
    client = redis.Redis.from_url(settings.redis_url)
    # Its own input topics (empty but for the probes), so other runs never see a probe.
    asyncio.run(apply_topics(settings))
    # At info: the worker's recovery logs say what it read (`_bulk_read`).
    logged = settings.model_copy(update={"log_level": "info"})
    worker = BenchWorker(logged, phase.target.workdir / f"recover-{tag}.log", {})
    started = time.monotonic()
    worker.process.start()
    ready_s: float | None = None
    scored_s: float | None = None
    try:
        produce_messages(settings.kafka_bootstrap, _probe_messages(settings, leads))
        pending = dict(keys)
        while (ready_s is None or scored_s is None) and (
            time.monotonic() - started < phase.recovery_cap_s
        ):
            if not worker.alive():
                raise RuntimeError(f"the recovering worker exited (log: {worker.log_path})")
            if ready_s is None and http_get(worker.base_url + "/ready")[0] == 200:
                ready_s = time.monotonic() - started
            for key in [k for k in pending if client.exists(k)]:
                del pending[key]
            if not pending and scored_s is None:
                scored_s = time.monotonic() - started
            time.sleep(POLL_S)
        wanted = populated + len(leads)
        tracked = _leads_tracked(worker, wanted) if ready_s is not None else 0
        rss = rss_bytes(worker.pid)
        more = after_ready(worker) if after_ready is not None and ready_s is not None else {}
    finally:
        worker.stop()
        client.close()
    result = {
        "store": settings.store.removesuffix("://"),
        "from": from_,
        "path": path,
        **_bulk_read(worker),
        # Its own probes are new leads. On RocksDB `scorer_leads_tracked` is the store's key
        # estimate, too high while overwritten keys await compaction: never more than the
        # changelogs held (per-lead figures would come out too low otherwise).
        "leads": max(0, min(tracked - len(leads), populated)),
        "leads_populated": populated,
        "ready_s": ready_s,
        "scored_s": scored_s,
        "probes": len(leads),
        "rss_mb": rss / 2**20,
        "cap_s": phase.recovery_cap_s,
        **more,
    }
    bulk = (
        f" (bulk read: {result['bulk_records']:,} records in {result['bulk_seconds']:.1f} s)"
        if "bulk_records" in result
        else ""
    )
    say(
        f"recovery {result['store']:8} from {from_:9} ({path}): ready {_s(ready_s)}, "
        f"first new events scored {_s(scored_s)}, "
        f"{result['leads']:,} of {populated:,} leads recovered{bulk}"
    )
    return result


BULK_READ = re.compile(r"Bulk recovery: read (\d+) changelog records in ([\d.]+) s")


def _bulk_read(worker: BenchWorker) -> dict[str, Any]:
    """Records the worker's bulk recovery read and its seconds (its log's last read)."""
    found = BULK_READ.findall(worker.log_text())
    if not found:
        return {}
    records, seconds = found[-1]
    return {"bulk_records": int(records), "bulk_seconds": float(seconds)}


def _s(seconds: float | None) -> str:
    return "not within the cap" if seconds is None else f"{seconds:.1f} s"


def run_state_phases(phase: StatePhase, say: Say) -> dict[str, Any]:
    """The memory measurement per store, each followed by its recovery runs."""
    prefix = f"hist{int(time.time()) % 10**6}."
    say(
        f"memory: {phase.mix.leads:,} leads ({phase.mix.heavy_leads:,} with "
        f"{phase.mix.heavy_events} events, the others {phase.mix.light_events}), "
        f"{phase.mix.events:,} events, stores {', '.join(phase.stores)}"
    )
    produced = produce_input(phase, prefix, say)
    memory: list[dict[str, Any]] = []
    recovery: list[dict[str, Any]] = []
    for store in phase.stores:
        result, settings = measure_memory(phase, store, prefix, say)
        memory.append(result)
        populated = result["leads"]  # the leads in the changelogs (+ earlier restarts' probes)
        for from_ in phase.recovery_from:
            if from_ == "changelog" or store == "rocksdb":  # the memory store has no local data
                for path in phase.recovery_paths if from_ == "changelog" else ("bulk",):
                    on = on_path(settings, path)
                    recovery.append(measure_recovery(phase, on, from_, populated, say))
                    if recovery[-1]["scored_s"] is not None:  # its probes are in the changelogs
                        populated += recovery[-1]["probes"]
        forget_read_model(settings)
        delete_topics(settings.kafka_bootstrap, (settings.topic_prefix, settings.app_id))
    delete_topics(phase.target.kafka, (prefix,))
    return {"input": produced, "memory": memory, "recovery": recovery}


def delete_topics(bootstrap: str, prefixes: tuple[str, ...]) -> None:
    """Delete a finished run's topics: its changelogs and outputs (the embedded broker keeps
    every record in memory, and a million leads' histories are gigabytes)."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t.startswith(prefixes)]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    asyncio.run(delete())


def forget_read_model(settings: Settings) -> None:
    """Drop this run's Redis hashes (a million leads' worth is a lot to leave behind)."""
    client = redis.Redis.from_url(settings.redis_url)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{settings.redis_key_prefix}*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
    finally:
        client.close()
