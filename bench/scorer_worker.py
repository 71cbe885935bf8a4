"""THE SCORER as the benchmark runs it: the real worker (`scorer.stream.worker.run_worker`,
rules, tables, Redis write-through), with benchmark-only hooks set by environment variables.

    python -m bench.scorer_worker          # settings from SCORER_* as for `scorer worker`

Hooks (none of them changes scorer/ code; they wrap or patch it in this process only):

- BENCH_INPUT_PREFIX=P: read the input topics under prefix P (the shared, pre-produced set)
  while every other topic (outputs, internal) keeps SCORER_TOPIC_PREFIX, so each run has
  fresh hand-off, account-signal and audit topics and no run sees another's output.
- BENCH_PROFILE=FILE: run the worker under cProfile and write the stats to FILE on exit.
- BENCH_UVLOOP=1: run on uvloop instead of asyncio's default loop.
- BENCH_BATCH_EVENTS=N, BENCH_BATCH_WITHIN_S=S: the agents' batch size and linger (agents.py).
- BENCH_FAUST_OPTIONS='{"name": value, ...}': extra Faust app settings (JSON), e.g.
  broker_max_poll_records, stream_buffer_maxsize, consumer_max_fetch_size.
- BENCH_FETCH_MAX_WAIT_MS=N: the consumers' fetch_max_wait_ms (Faust hard-codes 1500).
  Tansu holds a fetch for that long even when records arrive meanwhile; Kafka does not.
- BENCH_SOURCE_TREE=DIR (read by bench.systems): run this module from another source tree,
  e.g. the code before a change, for A/B runs; `--apply-topics` then creates that tree's
  topics and exits.
- BENCH_PRODUCER_BUFFER=N: Faust's ProducerBuffer.max_messages (100): above it, the
  consumer waits for `send_soon` and changelog messages to drain before the next event.
- BENCH_TRACE_ALERTS=FILE: append where each alert's time went in the worker, and each
  checkpoint's duration, to FILE (see bench/alert_trace.py; the latency phase sets it).
"""

from __future__ import annotations

import cProfile
import json
import os
from typing import Any

from scorer.contracts.topics import input_topics
from scorer.settings import Settings, load_settings


def with_shared_inputs(settings: Settings, prefix: str) -> Settings:
    """The same settings, except that input topic names take `prefix`."""
    inputs = {spec.name for spec in input_topics()}

    class SharedInputSettings(Settings):
        def topic(self, name: str) -> str:
            return f"{prefix}{name}" if name in inputs else super().topic(name)

    return SharedInputSettings(**settings.model_dump())


def _apply_tuning() -> None:
    from scorer.stream import agents
    from scorer.stream import app as scorer_app

    if "BENCH_BATCH_EVENTS" in os.environ:
        agents.BATCH_EVENTS = int(os.environ["BENCH_BATCH_EVENTS"])
    if "BENCH_BATCH_WITHIN_S" in os.environ:
        agents.BATCH_WITHIN_S = float(os.environ["BENCH_BATCH_WITHIN_S"])
    if "BENCH_FETCH_MAX_WAIT_MS" in os.environ:
        _set_fetch_max_wait(int(os.environ["BENCH_FETCH_MAX_WAIT_MS"]))
    if "BENCH_PRODUCER_BUFFER" in os.environ:
        from faust.transport.producer import ProducerBuffer

        ProducerBuffer.max_messages = int(os.environ["BENCH_PRODUCER_BUFFER"])
    if os.environ.get("BENCH_TRACE_ALERTS"):
        from bench.alert_trace import install

        install(os.environ["BENCH_TRACE_ALERTS"])
    extra: dict[str, Any] = json.loads(os.environ.get("BENCH_FAUST_OPTIONS") or "{}")
    if extra:
        original = scorer_app._faust_options

        def faust_options(settings: Settings) -> dict[str, Any]:
            return {**original(settings), **extra}

        scorer_app._faust_options = faust_options
    if os.environ.get("BENCH_UVLOOP") == "1":
        import asyncio

        import uvloop

        # run_worker makes its loop with asyncio.new_event_loop(), which asks the policy.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _set_fetch_max_wait(wait_ms: int) -> None:
    import aiokafka

    original = aiokafka.AIOKafkaConsumer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = wait_ms
        original(self, *args, **kwargs)

    aiokafka.AIOKafkaConsumer.__init__ = init  # type: ignore[method-assign]


def main() -> None:
    import sys

    from scorer.stream.worker import run_worker

    settings = load_settings()
    prefix = os.environ.get("BENCH_INPUT_PREFIX")
    if prefix is not None:
        settings = with_shared_inputs(settings, prefix)
    if "--apply-topics" in sys.argv[1:]:
        import asyncio

        from scorer.stream.admin import apply_topics

        asyncio.run(apply_topics(settings))
        return
    _apply_tuning()
    profile_path = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_path else None
    if profiler is not None:
        profiler.enable()
    try:
        run_worker(settings)
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)


if __name__ == "__main__":
    main()
