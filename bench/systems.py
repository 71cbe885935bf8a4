"""The systems of the throughput comparison, each run as a fresh child process.

Every run reads the same pre-produced input topics from the beginning, in a fresh
consumer group (fresh app id for the Faust ones and Quix, so a fresh changelog too), and
is timed from its first consumed event to its last: start-up and group joins are excluded.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common import (
    REPO,
    Progress,
    child_env,
    cpu_seconds,
    cpu_until_settled,
    http_json,
    input_topic_names,
    python_module,
    rss_bytes,
    time_progress,
)
from bench.scorer_worker import with_shared_inputs
from scorer.devstack import ManagedProcess, free_port
from scorer.devstack.session import worker_env
from scorer.settings import Settings, load_settings
from tests.support import WorkerProcess

LIMIT = "limit"
PEER = "peer"
FAUST_BARE = "faust-bare"
QUIX = "quix"
SCORER = "scorer"
SCORER_1REC = "scorer-1rec"
SCORER_ENVELOPES = "scorer-envelopes"
CORE_OFFLINE = "core-offline"
SYSTEMS = (LIMIT, QUIX, PEER, FAUST_BARE, SCORER, SCORER_1REC, SCORER_ENVELOPES, CORE_OFFLINE)

DESCRIPTIONS = {
    LIMIT: "raw aiokafka consumer group: JSON decode + dict update per lead + commit per batch",
    QUIX: (
        "Quix Streams 3.28 app: one `state.set` per event (RocksDB state, changelog on, "
        "checkpoint every 5 s)"
    ),
    PEER: "naive Faust agent: one table `+=` per event (memory store, changelog on)",
    FAUST_BARE: (
        "Faust agent that only counts its events (no table): Faust's ceiling per consumed "
        "message on this machine, whatever an agent does"
    ),
    CORE_OFFLINE: (
        "the scorer's core alone, no broker: `scorer score-file` over the same events "
        "(read, score, print; one process): the ceiling of any worker running this core on "
        "one core"
    ),
    SCORER: "scorer worker: rules/default.yaml, tables, outputs, Redis write-through",
    SCORER_1REC: "scorer worker with 1-record producer batches (the dev stack's Tansu setting)",
    SCORER_ENVELOPES: (
        "scorer worker fed the same events in partition envelopes (events of every lead of "
        "a partition and topic, up to 100 or 64 KB per message, see bench.workload.ENVELOPE_*)"
    ),
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where the systems run and what they read."""

    kafka: str
    redis: str
    partitions: int
    input_prefix: str
    events: int
    workdir: Path
    cap_s: float
    envelope_prefix: str = ""  # the same events in event-batch envelopes, if produced
    events_file: Path | None = None  # the same events as JSONL, for core-offline


@dataclass(frozen=True, slots=True)
class RunResult:
    system: str
    round: int
    events: int
    seconds: float
    rate: float
    complete: bool  # read every input event (else stopped at the time cap)
    extra: Mapping[str, Any] = field(default_factory=dict)


# Hook: run the worker from another source tree (e.g. the code before a change, beside the
# current code, for A/B runs in one interleaved experiment). The tree holds scorer/,
# topics/ and bench/; python -P keeps the current directory off the path so the tree's
# packages win over the working copy's.
SOURCE_TREE_HOOK = "BENCH_SOURCE_TREE"


def _worker_command(
    settings: Settings, hooks: Mapping[str, str], *args: str
) -> tuple[list[str], dict[str, str]]:
    tree = hooks.get(SOURCE_TREE_HOOK)
    env = child_env(dict(hooks), base=worker_env(settings))
    if not tree:
        return python_module("bench.scorer_worker", *args), env
    env["PYTHONPATH"] = os.pathsep.join([tree, env["PYTHONPATH"]])
    return [sys.executable, "-P", "-m", "bench.scorer_worker", *args], env


class BenchWorker(WorkerProcess):
    """A scorer worker started through bench.scorer_worker (hooks by environment)."""

    def __init__(self, settings: Settings, log_path: Path, hooks: Mapping[str, str]) -> None:
        super().__init__(settings, log_path)
        argv, env = _worker_command(settings, hooks)
        self.process = ManagedProcess("scorer worker (bench)", argv, env=env, log_path=log_path)

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None
        return pid

    def alive(self) -> bool:
        return self.process.exit_code() is None


# Settings the broker under test needs (the dev stack's, except its 1-record batches,
# which only matter for recovery and which the bench's fresh apps never do; see README).
BROKER_SETTINGS: dict[str, Any] = {}


def scorer_settings(target: Target, tag: str, **overrides: Any) -> Settings:
    """A scorer run's own app id, output topics and Redis keys (defaults otherwise)."""
    values: dict[str, Any] = {
        **BROKER_SETTINGS,
        "kafka_bootstrap": target.kafka,
        "redis_url": target.redis,
        "app_id": f"bench-scorer-{tag}",
        "topic_prefix": f"b{tag}.",
        "redis_key_prefix": f"bench:{tag}:",
        "web_port": free_port(),
        "data_dir": target.workdir / f"scorer-{tag}",
        "partitions": target.partitions,
        "log_level": "warning",
    }
    values.update(overrides)
    return load_settings({}, **values)


def run_limit(target: Target, round_no: int, tag: str) -> RunResult:
    argv = python_module(
        "bench.limit",
        "--bootstrap", target.kafka,
        "--topics", ",".join(input_topic_names(target.input_prefix)),
        "--group", f"bench-limit-{tag}",
        "--events", str(target.events),
        "--cap", str(target.cap_s),
    )  # fmt: skip
    done = subprocess.run(
        argv, env=child_env(), capture_output=True, timeout=target.cap_s + 180, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"limit run failed: {done.stderr.decode(errors='replace')[-2000:]}")
    result = orjson.loads(done.stdout.splitlines()[-1])
    events = int(result["events"])
    return RunResult(
        LIMIT, round_no, events, float(result["seconds"]), float(result["rate"]),
        events >= target.events,
    )  # fmt: skip


def run_peer(target: Target, round_no: int, tag: str, *, bare: bool = False) -> RunResult:
    port = free_port()
    argv = python_module(
        "bench.peer",
        "--bootstrap", target.kafka,
        "--topics", ",".join(input_topic_names(target.input_prefix)),
        "--app-id", f"bench-peer-{tag}",
        "--partitions", str(target.partitions),
        "--web-port", str(port),
        "--data-dir", str(target.workdir / f"peer-{tag}"),
        *(["--bare"] if bare else []),
    )  # fmt: skip
    process = ManagedProcess(
        "bare faust agent" if bare else "naive faust agent", argv, env=child_env(),
        log_path=target.workdir / f"peer-{tag}.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/bench/progress/"

    def count() -> int:
        answer = http_json(url)
        return int(answer["events"]) if answer else 0

    process.start()
    try:
        progress = time_progress(
            count, target.events, target.cap_s, alive=lambda: process.exit_code() is None
        )
    finally:
        process.stop(timeout_s=15)
    return _result(FAUST_BARE if bare else PEER, round_no, progress, target)


def run_core_offline(target: Target, round_no: int) -> RunResult:
    """`scorer score-file` over the events as JSONL, timed from start to exit (start-up,
    reading and printing included: a ceiling, not a flattering number)."""
    if target.events_file is None:
        raise ValueError("core-offline needs the events as JSONL (Target.events_file)")
    argv = python_module("scorer", "score-file", str(target.events_file))
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=max(600.0, target.cap_s * 20), check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    after = os.times()
    if done.returncode != 0:
        raise RuntimeError(f"score-file failed: {done.stderr.decode(errors='replace')[-2000:]}")
    cpu_s = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    progress = Progress(target.events, seconds)
    extra = {"cpu_s": cpu_s, "events_per_cpu_s": target.events / cpu_s if cpu_s > 0 else 0.0}
    return _result(CORE_OFFLINE, round_no, progress, target, extra)


# The Quix Streams peer's own interpreter (see bench/quix_peer.py for why it has one).
QUIX_PYTHON = REPO / ".venv" / "peers" / "quix" / "bin" / "python"


def run_quix(target: Target, round_no: int, tag: str) -> RunResult:
    if not QUIX_PYTHON.exists():
        raise RuntimeError(
            f"the Quix Streams peer needs its environment {QUIX_PYTHON.parent.parent} "
            "(scripts/bootstrap makes it)"
        )
    port = free_port()
    argv = [
        str(QUIX_PYTHON), "-m", "bench.quix_peer",
        "--bootstrap", target.kafka,
        "--topics", ",".join(input_topic_names(target.input_prefix)),
        "--group", f"bench-quix-{tag}",
        "--state-dir", str(target.workdir / f"quix-{tag}"),
        "--port", str(port),
    ]  # fmt: skip
    # Not child_env(): the parent's PYTHONPATH may hold the scorer's environment.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PYTHONPATH"] = str(REPO)
    process = ManagedProcess(
        "quix streams app", argv, env=env, log_path=target.workdir / f"quix-{tag}.log"
    )
    url = f"http://127.0.0.1:{port}/"

    def count() -> int:
        answer = http_json(url)
        return int(answer["events"]) if answer else 0

    process.start()
    try:
        progress = time_progress(
            count, target.events, target.cap_s, alive=lambda: process.exit_code() is None
        )
    finally:
        process.stop(timeout_s=15)
    return _result(QUIX, round_no, progress, target)


def run_scorer(
    target: Target,
    round_no: int,
    tag: str,
    *,
    system: str = SCORER,
    hooks: Mapping[str, str] | None = None,
    **overrides: Any,
) -> RunResult:
    from scorer.stream.admin import apply_topics

    if system == SCORER_1REC:
        overrides.setdefault("kafka_max_batch_bytes", 1)
    prefix = target.input_prefix
    if system == SCORER_ENVELOPES:
        if not target.envelope_prefix:
            raise ValueError("scorer-envelopes needs the envelope input (Target.envelope_prefix)")
        prefix = target.envelope_prefix
    settings = scorer_settings(target, tag, **overrides)
    all_hooks = {"BENCH_INPUT_PREFIX": prefix, **(hooks or {})}
    if all_hooks.get(SOURCE_TREE_HOOK):
        # The tree's own topic contracts (names may differ from the working copy's).
        argv, env = _worker_command(settings, all_hooks, "--apply-topics")
        subprocess.run(argv, env=env, check=True, timeout=120)
    else:
        asyncio.run(apply_topics(with_shared_inputs(settings, prefix)))
    worker = BenchWorker(settings, target.workdir / f"scorer-{tag}.log", all_hooks)
    worker.start(timeout_s=120)
    try:
        rss_ready = rss_bytes(worker.pid)
        cpu_ready = cpu_seconds(worker.pid)
        progress = time_progress(
            lambda: int(worker.events_handled()), target.events, target.cap_s,
            alive=worker.alive,
        )  # fmt: skip
        cpu_s = cpu_seconds(worker.pid) - cpu_ready
        settled_s = cpu_until_settled(worker.pid) - cpu_ready
        extra = {
            "cpu_s": cpu_s,
            "events_per_cpu_s": progress.events / cpu_s if cpu_s > 0 else 0.0,
            # With what the run left to do (e.g. changelog records still queued).
            "events_per_settled_cpu_s": progress.events / settled_s if settled_s > 0 else 0.0,
            "rss_ready_mb": rss_ready / 2**20,
            "rss_end_mb": rss_bytes(worker.pid) / 2**20,
            "alerts": worker.metric("scorer_alerts_total"),
            "dead_letters": worker.metric("scorer_dead_letters_total"),
            "kafka_max_batch_bytes": settings.kafka_max_batch_bytes,
        }
    finally:
        worker.stop()
    return _result(system, round_no, progress, target, extra)


def _result(
    system: str,
    round_no: int,
    progress: Progress,
    target: Target,
    extra: Mapping[str, Any] | None = None,
) -> RunResult:
    return RunResult(
        system, round_no, progress.events, progress.seconds, progress.rate,
        progress.events >= target.events, extra or {},
    )  # fmt: skip


def run_system(target: Target, system: str, round_no: int) -> RunResult:
    tag = f"{system.replace('-', '')}{round_no}{int(time.time() * 1000) % 10**7}"
    if system == LIMIT:
        return run_limit(target, round_no, tag)
    if system == PEER:
        return run_peer(target, round_no, tag)
    if system == FAUST_BARE:
        return run_peer(target, round_no, tag, bare=True)
    if system == CORE_OFFLINE:
        return run_core_offline(target, round_no)
    if system == QUIX:
        return run_quix(target, round_no, tag)
    return run_scorer(target, round_no, tag, system=system)
