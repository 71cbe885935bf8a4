"""Where a scored event's time goes in the worker: py-spy (or cProfile) on a backlog.

    python -m bench.sampling_profile --events 40000                 # py-spy, wall-clock samples
    python -m bench.sampling_profile --events 40000 --sampler cprofile
    python -m bench.sampling_profile --events 40000 --sampler cprofile --envelopes

Pre-produces the workload, starts one scorer worker on it and samples it until every
event is scored. py-spy samples the whole stack (idle included), so each sample falls in
exactly one bucket below; cProfile (deterministic, ~2x slower) gives per-function times.
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import rss_bytes
from bench.scorer_worker import with_shared_inputs
from bench.systems import BenchWorker, Target, scorer_settings
from bench.workload import Workload, as_envelopes, generate, produce_sync
from scorer.devstack import DevStack

# (bucket, test on one sample's frames) in order; the first that matches takes the sample.
IDLE = "idle: event loop waiting (select)"
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    # Before the core and Faust: the checkpoint runs as a Faust task and encodes states
    # with the core's to_record, the flush and /metrics run under Faust's timers and web.
    ("checkpoint: state writes (encode, table set, changelog)", ("Checkpointer.checkpoint",)),
    ("read model: Redis flush", ("RedisReadModel.flush", "redis/")),
    ("web: /metrics and /ready (the benchmark polls /metrics)", ("aiohttp/", "web.py")),
    ("core: scorer.core (apply_event, account fold)", ("scorer/core/",)),
    ("handler: decode + validate input (orjson, pydantic)", ("dead_letters.py",)),
    ("handler: publish alerts and actions", ("_publish_outputs", "_outputs (")),
    ("handler: outputs queued (send_soon, staging)", ("_finish (",)),
    ("handler: metrics (prometheus_client)", ("prometheus_client/",)),
    ("handler: other glue", ("scorer/stream/handlers.py",)),
    (
        "producing: Faust producer + aiokafka sender",
        ("aiokafka/producer", "faust/transport/producer", "faust/topics.py", "send_soon"),
    ),
    ("Faust consumer path: fetch, records, stream, acks, commit", ("faust/", "mode/", "aiokafka/")),
]  # fmt: skip


def bucket_of(stack: str) -> str:
    frames = stack.split(";")
    leaf = frames[-1] if frames else ""
    if leaf.startswith(("select (", "poll (", "epoll")) or "selectors.py" in leaf:
        return IDLE
    for name, needles in BUCKETS:
        if any(needle in stack for needle in needles):
            return name
    return "other: asyncio, stdlib"


# Functions whose inclusive share of the main thread is printed after the buckets.
WATCHED = (
    "ScorerContext.handle_lead_batch", "ScorerContext.handle_account_batch", "apply_event",
    "EventDecoder.decode", "ScorerContext._finish", "ScorerContext._publish_outputs",
    "Topic.send_soon", "ProducerBuffer._handle_pending", "Sender._send_produce_req",
    "AIOKafkaConnection.send", "ProducerBuffer.wait_until_ebb", "RecordCodec._dumps",
    "event_score_changes", "rfc3339", "RedisReadModel.flush", "staged_lead",
    "MetricWrapperBase.labels", "Logger._log", "Stream._c_aiter", "Checkpointer.checkpoint",
    "StateCodec.encode", "AIOKafkaConnection.send",
)  # fmt: skip


def _samples(raw: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if stack and number.isdigit():
            samples.append((stack.split(";"), int(number)))
    return samples


def _is_helper_thread(frames: list[str]) -> bool:
    # Faust runs the aiokafka consumer in a mode ServiceThread with its own event loop.
    return bool(frames) and frames[0].startswith("Thread._bootstrap")


def breakdown(raw: Path) -> dict[str, list[tuple[str, int, float]]]:
    """Buckets of the main thread and of the consumer thread, and watched functions."""
    main: Counter[str] = Counter()
    helper: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in _samples(raw):
        stack = ";".join(frames)
        if _is_helper_thread(frames):
            helper[bucket_of(stack)] += count
            continue
        main[bucket_of(stack)] += count
        for name in {frame.split(" (")[0] for frame in frames}:
            inclusive[name] += count

    def shares(
        counts: Counter[str], names: list[str] | None = None
    ) -> list[tuple[str, int, float]]:
        total = sum(counts.values()) or 1
        keys = names if names is not None else [k for k, _ in counts.most_common()]
        return [(k, counts[k], counts[k] / total) for k in keys]

    main_total = sum(main.values()) or 1
    return {
        "main thread": shares(main),
        "consumer thread": shares(helper),
        "main thread, inclusive": [
            (name, inclusive[name], inclusive[name] / main_total) for name in WATCHED
        ],
    }


def cprofile_summary(path: Path, top: int = 25) -> str:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime")
    from io import StringIO

    out = StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.print_stats(top)
    stats.sort_stats("cumulative")
    stats.print_stats(
        r"handle_lead_batch|handle_account_batch|apply_event|decode|_finish|_publish_outputs|"
        r"__setitem__|flush|send_soon|getmany|_drain"
    )
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--sampler", choices=["py-spy", "cprofile"], default="py-spy")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=Path("bench/results/profiles"))
    parser.add_argument("--hooks", default="", help="extra BENCH_*=value hooks, comma-separated")
    parser.add_argument(
        "--envelopes", action="store_true",
        help="the same events in partition envelopes (the scorer-envelopes input)",
    )  # fmt: skip
    args = parser.parse_args()
    workload = Workload(args.events, args.events // 4, max(1, args.events // 40))
    events = generate(workload)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    hooks = dict(h.split("=", 1) for h in args.hooks.split(",") if h)
    with DevStack() as stack, tempfile.TemporaryDirectory() as tmp:
        prefix = "prof."
        target = Target(
            stack.kafka_bootstrap, stack.redis_url, 4, prefix, len(events), Path(tmp), 600
        )
        from scorer.stream.admin import apply_topics

        settings = scorer_settings(target, "profile")
        asyncio.run(apply_topics(with_shared_inputs(settings, prefix)))
        messages = as_envelopes(events, target.partitions) if args.envelopes else events
        produce_sync(stack.kafka_bootstrap, prefix, messages)
        prof = args.out / f"profile-{stamp}.prof"
        if args.sampler == "cprofile":
            hooks["BENCH_PROFILE"] = str(prof.resolve())
        worker = BenchWorker(
            settings, Path(tmp) / "worker.log", {"BENCH_INPUT_PREFIX": prefix, **hooks}
        )
        worker.start(timeout_s=120)
        raw = args.out / f"pyspy-{stamp}.txt"
        spy = None
        if args.sampler == "py-spy":
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(worker.pid),
                 "--rate", str(args.rate), "--idle", "--format", "raw", "--output", str(raw)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        started = time.monotonic()
        try:
            while worker.events_handled() < len(events):
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            rss = rss_bytes(worker.pid)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            worker.stop()
    print(f"{len(events):,} events in {elapsed:.1f} s ({len(events) / elapsed:,.0f}/s "
          f"under the sampler), worker RSS {rss / 2**20:.0f} MB")  # fmt: skip
    if spy is not None:
        print(f"py-spy samples: {raw}")
        for title, rows in breakdown(raw).items():
            print(f"-- {title}")
            for name, samples, share in rows:
                print(f"{share:6.1%}  {samples:7,}  {name}")
    else:
        print(cprofile_summary(prof))


if __name__ == "__main__":
    main()
