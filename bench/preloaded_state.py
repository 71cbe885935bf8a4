"""The memory and recovery phases on preloaded changelogs (`--memory-method preload`).

Per table store, on a fresh app id:

1. **Baseline.** The worker starts once with empty tables (this also creates its
   changelog topics); its RSS when `/ready` first answers 200 is the baseline, then it
   stops.
2. **Preload.** The mix's lead and account states are scored offline and written to
   the changelogs as the worker writes them (bench/state_preload.py).
3. **Recovery from the changelogs** (an empty data directory): a worker with the same
   app id is started and timed to ready as in bench/worker_state.py (`/ready`, then one
   probe per partition scored). Then, to fill what a working worker fills (decoded
   states, read-model staging), it scores a slice of fresh events: one event for each
   of `touch_leads` leads drawn from the whole mix (web page views, new event ids, on
   the worker's own input topic). Its RSS after that, minus the baseline, divided by
   the leads it tracks, is the RSS per tracked lead (the one at ready is reported too).
   With `recovery_paths` bulk and faust, it is restarted once more the same way with
   Faust's record-by-record recovery (SCORER_BULK_RECOVERY=false), for comparison.
4. **Recovery in place** (RocksDB): restarted again with the data directory kept.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import orjson

from bench.common import rss_bytes
from bench.state_preload import preload
from bench.systems import BenchWorker, scorer_settings
from bench.worker_state import (
    PROGRESS_EVERY_S,
    Say,
    StatePhase,
    delete_topics,
    directory_bytes,
    forget_read_model,
    measure_recovery,
    on_path,
    produce_messages,
)
from scorer.contracts import topics as contract
from scorer.contracts.outputs import rfc3339
from scorer.rules import load_rules
from scorer.settings import Settings
from scorer.stream.partitioning import owner_partition

TOUCH_SEED = 11


@dataclass(frozen=True, slots=True)
class PreloadOptions:
    distinct: int = 20_000  # distinct lead histories scored offline (0: every lead)
    touch_leads: int = 20_000  # leads given one fresh event after the recovery
    batch_records: int = 500  # changelog records per producer batch while preloading


def _baseline_rss(phase: StatePhase, settings: Settings) -> int:
    """RSS of the worker at ready with empty tables (it creates the changelog topics)."""
    worker = BenchWorker(settings, phase.target.workdir / f"{settings.app_id}-empty.log", {})
    worker.start(timeout_s=120)
    try:
        return rss_bytes(worker.pid)
    finally:
        worker.stop()


def _touch_messages(settings: Settings, leads: list[str]) -> list[tuple[str, int, bytes, bytes]]:
    now = rfc3339(time.time())
    topic = settings.topic(contract.WEB_EVENTS)
    messages = []
    for lead in leads:
        event = {
            "event_id": f"{lead}-touch", "lead_id": lead, "type": "web.page_view",
            "occurred_at": now, "url": "/blog/touch",
        }  # fmt: skip
        key = lead.encode()
        partition = owner_partition(key, settings.partitions)
        messages.append((topic, partition, key, orjson.dumps(event)))
    return messages


def touch(
    phase: StatePhase, settings: Settings, count: int, worker: BenchWorker, say: Say
) -> dict[str, Any]:
    """Score one fresh event of `count` leads drawn from the mix; RSS before and after."""
    from bench.state_preload import lead_id

    rss_ready = rss_bytes(worker.pid)
    count = min(count, phase.mix.leads)
    picked = random.Random(TOUCH_SEED).sample(range(phase.mix.leads), count)
    before = worker.events_handled()
    started = time.monotonic()
    messages = _touch_messages(settings, [lead_id(i) for i in picked])
    produce_messages(settings.kafka_bootstrap, messages)
    last_say = started
    complete = True
    while (handled := worker.events_handled() - before) < count:
        now = time.monotonic()
        if not worker.alive():
            raise RuntimeError(f"the recovered worker exited (log: {worker.log_path})")
        if now - started > phase.cap_s:
            complete = False
            break
        if now - last_say >= PROGRESS_EVERY_S:
            last_say = now
            say(f"  {handled:,.0f} of {count:,} fresh events scored")
        time.sleep(0.5)
    seconds = time.monotonic() - started
    say(f"  scored one fresh event of {count:,} leads in {seconds:.0f} s")
    return {
        "rss_at_ready_mb": rss_ready / 2**20,
        "touched_leads": count,
        "touch_scored": worker.events_handled() - before,
        "touch_seconds": seconds,
        "touch_complete": complete,
        "rss_after_touch_mb": rss_bytes(worker.pid) / 2**20,
    }


def run_preloaded_phases(phase: StatePhase, options: PreloadOptions, say: Say) -> dict[str, Any]:
    """Memory and recovery per store on preloaded changelogs (see the module docstring)."""
    rules = load_rules(scorer_settings(phase.target, "rules").rules_file)
    mix = phase.mix
    say(
        f"memory: {mix.leads:,} leads ({mix.heavy_leads:,} with {mix.heavy_events} events, "
        f"the others {mix.light_events}), states preloaded into the changelogs from "
        f"{min(mix.leads, options.distinct or mix.leads):,} distinct histories scored by "
        f"the core; stores {', '.join(phase.stores)}"
    )
    from scorer.stream.admin import apply_topics

    loads: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    recovery: list[dict[str, Any]] = []
    for store in phase.stores:
        tag = f"pre{store[:4]}{int(time.time() * 1000) % 10**7}"
        settings = scorer_settings(
            phase.target, tag, store=f"{store}://", kafka_max_batch_bytes=phase.batch_bytes
        )
        asyncio.run(apply_topics(settings))
        baseline = _baseline_rss(phase, settings)
        say(f"{store}: empty worker at ready {baseline / 2**20:,.0f} MB RSS; preloading")
        loaded = preload(
            phase.target.kafka, settings.app_id, mix, rules, settings.partitions,
            options.distinct, options.batch_records, say, settings.state_compression,
        )  # fmt: skip
        loads.append({"store": store, **loaded})

        def after_ready(worker: BenchWorker) -> dict[str, Any]:
            return touch(phase, settings, options.touch_leads, worker, say)  # noqa: B023

        paths = phase.recovery_paths
        first = measure_recovery(
            phase, on_path(settings, paths[0]), "changelog", mix.leads, say, after_ready
        )
        memory.append(_memory_result(store, mix.describe(), baseline, first, settings))
        say(
            f"memory {store:8} {first['leads']:>9,} leads (preloaded): "
            f"{memory[-1]['rss_per_lead_bytes']:,.0f} B RSS per lead after the fresh events, "
            f"{memory[-1]['rss_at_ready_per_lead_bytes']:,.0f} B at ready"
        )
        if "changelog" in phase.recovery_from:
            recovery.append(first)
        populated = mix.leads + (first["probes"] if first["scored_s"] is not None else 0)
        for path in paths[1:] if "changelog" in phase.recovery_from else ():
            again = measure_recovery(phase, on_path(settings, path), "changelog", populated, say)
            recovery.append(again)
            populated += again["probes"] if again["scored_s"] is not None else 0
        if store == "rocksdb" and "local" in phase.recovery_from:
            recovery.append(measure_recovery(phase, settings, "local", populated, say))
        forget_read_model(settings)
        delete_topics(settings.kafka_bootstrap, (settings.topic_prefix, settings.app_id))
    return {"input": {"method": "preload", "loads": loads}, "memory": memory,
            "recovery": recovery}  # fmt: skip


def _memory_result(
    store: str, mix: dict[str, Any], baseline: int, run: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    tracked = max(1, run["leads"])
    after = run.get("rss_after_touch_mb", run["rss_mb"]) * 2**20
    at_ready = run.get("rss_at_ready_mb", run["rss_mb"]) * 2**20
    disk = directory_bytes(settings.data_dir) if store == "rocksdb" else 0
    return {
        "mode": "worker (preloaded changelogs)",
        "store": store,
        "leads": run["leads"],
        "mix": mix,
        "complete": run.get("touch_complete", False) and run["leads"] >= mix["leads"],
        "events_scored": run.get("touch_scored"),
        "touched_leads": run.get("touched_leads"),
        "rss_before_mb": baseline / 2**20,
        "rss_at_ready_mb": at_ready / 2**20,
        "rss_after_mb": after / 2**20,
        "rss_per_lead_bytes": (after - baseline) / tracked,
        "rss_at_ready_per_lead_bytes": (at_ready - baseline) / tracked,
        "disk_per_lead_bytes": disk / tracked if disk else None,
        "recovery_ready_s": run["ready_s"],
    }
