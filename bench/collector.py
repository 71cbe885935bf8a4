"""The collector phase: one `scorer collect` process producing to the broker with acks.

- Throughput: a closed loop of `concurrency` aiohttp clients posting one page view per
  request for `seconds`; every 200 is an event the broker acknowledged (the collector
  answers after the ack), so requests/s = accepted events/s.
- Latency: an open loop at `rate` requests/s for `seconds`. Request i is due at
  t0 + i/rate and its latency is measured from that due time, so a collector that falls
  behind shows up as latency rather than slowing the load (no coordinated omission). The
  generator keeps at most `max_in_flight` requests open; requests it could not start
  because of that bound are counted as `not_sent` and reported.

The load generator runs on the same machine (and cores) as the collector and the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from bench.stats import summary
from scorer.devstack import ManagedProcess, free_port
from scorer.devstack.session import worker_env
from scorer.settings import Settings, load_settings

UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/130.0.0.0 Safari/537.36")  # fmt: skip
TARGET_EVENTS_PER_S = 5_000
TARGET_P99_S = 0.025


async def broker_takes_idempotent_producers(kafka: str) -> bool:
    """Kafka does; the embedded Tansu refuses InitProducerId (with --kafka pointing at a
    Tansu, the dev stack's overrides are not there to say so)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    try:
        await asyncio.wait_for(producer.start(), 15)
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
    return True


def collector_settings(kafka: str, overrides: dict[str, Any]) -> Settings:
    tag = f"bcol{int(time.time()) % 10**6}"
    return load_settings(
        {}, **{k: v for k, v in overrides.items() if k != "kafka_max_batch_bytes"},
        kafka_bootstrap=kafka, topic_prefix=f"{tag}.", collector_port=free_port(),
        collector_lead_id_secret="bench-secret-0123456789abcdef",  # noqa: S106 - a bench key
        # The load comes from one address and a few visitors: no caps in the way.
        collector_address_rate=1e9, collector_address_burst=10**9,
        collector_visitor_rate=1e9, collector_visitor_burst=10**9,
    )  # fmt: skip


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/ready", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def _event(i: int, lead: int) -> dict[str, str]:
    return {
        "type": "web.page_view", "url": "/pricing", "lead_id": f"lead-{lead % 5000:05d}",
        "event_id": f"b-{i}-{time.monotonic_ns()}",
    }  # fmt: skip


def _produce_buckets(base: str) -> dict[float, float]:
    """The collector's broker-ack histogram (cumulative counts by upper bound)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(base + "/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    return {
        float(sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "scorer_collector_produce_seconds_bucket"
    }


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound of the histogram bucket holding quantile q of what was observed
    between the two readings (an upper estimate; inf beyond the last finite bucket)."""
    counts = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    total = counts[-1][1] if counts else 0.0
    for bound, count in counts:
        if total and count >= q * total:
            return bound
    return float("nan")


def _body(i: int, batch: int = 1) -> bytes:
    """One event, or `batch` events of one lead (a page's events come from one visitor)."""
    if batch == 1:
        return orjson.dumps(_event(i, i))
    return orjson.dumps([_event(i * batch + k, i) for k in range(batch)])


async def _closed_loop(
    url: str, seconds: float, concurrency: int, batch: int = 1
) -> dict[str, Any]:
    ok = failed = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": UA}) as session:

        async def client(n: int) -> None:
            nonlocal ok, failed
            i = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(
                    url, data=_body(i, batch), headers={"Content-Type": "application/json"}
                ) as r:
                    await r.read()
                    if r.status == 200:
                        ok += batch
                        latencies.append(time.perf_counter() - started)
                    else:
                        failed += 1
                i += concurrency

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"accepted": ok, "failed": failed, "seconds": elapsed, "events_per_s": ok / elapsed,
            "concurrency": concurrency, "events_per_request": batch,
            "latency_s": summary(latencies)}  # fmt: skip


async def _open_loop(url: str, rate: float, seconds: float, max_in_flight: int) -> dict[str, Any]:
    total = int(rate * seconds)
    latencies: list[float] = []
    start_lags: list[float] = []  # due time → the request's task running: the generator's lag
    failed = not_sent = 0
    in_flight = 0
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": UA}) as session:

        async def one(i: int, due: float) -> None:
            nonlocal failed, in_flight
            start_lags.append(time.perf_counter() - due)
            try:
                async with session.post(
                    url, data=_body(i), headers={"Content-Type": "application/json"}
                ) as r:
                    await r.read()
                    if r.status == 200:
                        latencies.append(time.perf_counter() - due)
                    else:
                        failed += 1
            except aiohttp.ClientError:
                failed += 1
            finally:
                in_flight -= 1

        tasks = []
        t0 = time.perf_counter() + 0.1
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight >= max_in_flight:
                not_sent += 1
                continue
            in_flight += 1
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
    return {"rate": rate, "seconds": seconds, "requests": total, "failed": failed,
            "not_sent": not_sent, "max_in_flight": max_in_flight,
            "latency_s": summary(latencies, censored=not_sent),
            "generator_lag_s": summary(start_lags)}  # fmt: skip


def run_collector_phase(
    kafka: str, overrides: dict[str, Any], workdir: Path, seconds: float, rate: float,
    concurrency: int,
) -> dict[str, Any]:  # fmt: skip
    from scorer.stream.admin import apply_topics

    idempotent = asyncio.run(broker_takes_idempotent_producers(kafka))
    settings = collector_settings(kafka, {**overrides, "collector_idempotent": idempotent})
    asyncio.run(apply_topics(settings))
    process = ManagedProcess(
        "scorer collect", [sys.executable, "-m", "scorer", "collect"],
        env=worker_env(settings), log_path=workdir / "bench-collector.log",
    )  # fmt: skip
    base = f"http://{settings.collector_host}:{settings.collector_port}"
    process.start()
    try:
        process.wait_until(lambda: _ready(base), 60, "ready")
        url = base + "/v1/events"
        asyncio.run(_closed_loop(url, min(2.0, seconds), concurrency))  # warm-up
        collector_cpu = psutil.Process(process.pid)
        collector_cpu.cpu_percent()
        load_before = os.getloadavg()[0]
        throughput = asyncio.run(_closed_loop(url, seconds, concurrency))
        throughput["collector_cpu_percent"] = collector_cpu.cpu_percent()
        acks_before = _produce_buckets(base)
        latency = asyncio.run(_open_loop(url, rate, seconds, max_in_flight=2000))
        latency["collector_cpu_percent"] = collector_cpu.cpu_percent()
        acks_after = _produce_buckets(base)
        latency["broker_ack_s"] = {
            "p50_at_most": bucket_quantile(acks_before, acks_after, 0.5),
            "p99_at_most": bucket_quantile(acks_before, acks_after, 0.99),
        }
        # As tracker.js sends them: a page's events of 50 ms in one request, one lead's (the
        # collector produces them as one event-batch envelope).
        batched = asyncio.run(_closed_loop(url, seconds, concurrency, batch=10))
        machine_load = {"before": load_before, "after": os.getloadavg()[0]}
    finally:
        process.stop()
    with contextlib.suppress(OSError):
        if "Traceback" in (workdir / "bench-collector.log").read_text(errors="replace"):
            throughput["collector_log_has_traceback"] = True
    return {"throughput": throughput, "batched": batched, "latency": latency,
            "load_average_1m": machine_load,
            "linger_ms": settings.collector_linger_ms,
            "idempotent": settings.collector_idempotent,
            "max_batch_bytes": settings.kafka_max_batch_bytes}  # fmt: skip
