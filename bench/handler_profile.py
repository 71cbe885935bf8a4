"""The lead agent's per-message path in-process, without the broker: events/s of
`ScorerContext.handle_lead_batch` on single-event messages and on partition envelopes.

    python -m bench.handler_profile                       # both inputs, 3 rounds each
    python -m bench.handler_profile --profile envelopes   # cProfile of one input

What it measures is the stream layer (decode, routing, scoring glue, metrics, outputs
queued) plus the core; Faust's consumer (fetch, stream, acks) and the producers' I/O are
left out: sends are recorded, the table is the memory store, Redis is never flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from faust import Event
from faust.types import TP, Message

from bench.workload import Workload, as_envelopes, generate
from scorer.rules import load_rules
from scorer.settings import DEFAULT_RULES_FILE, load_settings
from scorer.stream.app import ScorerApp, create_app
from scorer.stream.ledger import AlertLedger
from scorer.stream.partitioning import owner_partition

PARTITIONS = 4
_DUMP = Path(tempfile.gettempdir()) / "scorer-handler-profile.prof"  # for pstats callers


class _Sink:
    def __init__(self, topic: Any) -> None:
        self._topic = topic
        self.sent = 0

    def send_soon(self, **_: Any) -> None:
        self.sent += 1

    def get_topic_name(self) -> str:
        return str(self._topic.get_topic_name())


async def _scorer(tmp: Path) -> ScorerApp:
    settings = load_settings(
        {}, partitions=PARTITIONS, data_dir=tmp, topic_prefix="prof.", store="memory://"
    )
    scorer = create_app(settings, load_rules(Path(DEFAULT_RULES_FILE)))
    app = scorer.app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.flow_control.resume()
    app.producer.key_partition = lambda topic, key: TP(topic, owner_partition(key, PARTITIONS))
    app.producer.send_soon = lambda fut: None  # type: ignore[method-assign]  # changelog
    ctx = scorer.context
    for name in ("score_changes", "dead_letters", "account_signals", "rekeyed_events"):
        setattr(ctx, name, _Sink(getattr(ctx, name)))
    ctx.ledger = _EmptyLedger(ctx.handoff_alerts.get_topic_name(), {})
    ctx.action_ledger = _EmptyLedger(ctx.actions.get_topic_name(), {}, "action_id", "action:")
    ctx.publisher = _AckingPublisher()  # type: ignore[assignment]
    return scorer


class _EmptyLedger(AlertLedger):
    """Starts empty instead of reading the hand-off topic (there is no broker here)."""

    async def ensure(self, partition: int) -> None:
        return None


class _AckingPublisher:
    async def send_all(self, records: Any) -> None:
        return None

    async def stop(self) -> None:
        return None


def _messages(scorer: ScorerApp, events: list[Any]) -> list[list[Event]]:
    """Input messages as Faust events, in batches of up to 500 messages per partition."""
    app, settings = scorer.app, scorer.context.settings
    out: list[Event] = []
    for offset, sim in enumerate(events):
        value = orjson.dumps(sim.value)
        partition = owner_partition(sim.key.encode(), PARTITIONS)
        message = Message(
            settings.topic(sim.topic), partition, offset, time.time(), 0, [],
            sim.key.encode(), value, None,
        )  # fmt: skip
        out.append(Event(app, message.key, message.value, message.headers, message))
    by_partition: dict[int, list[Event]] = {}
    for event in out:
        by_partition.setdefault(event.message.partition, []).append(event)
    batches = []
    for group in by_partition.values():
        batches.extend(group[i : i + 500] for i in range(0, len(group), 500))
    return batches


async def _run(events: list[Any], label: str, profile: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        scorer = await _scorer(Path(tmp))
        batches = _messages(scorer, events)
        count = sum(
            len(orjson.loads(e.message.value).get("events", [None])) for b in batches for e in b
        )
        profiler = cProfile.Profile() if profile else None
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        for batch in batches:
            await scorer.context.handle_lead_batch(batch)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(_DUMP))
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(30)
        seconds = time.process_time() - started
        messages = sum(len(b) for b in batches)
        print(f"{label:10} {count:,} events in {messages:,} messages: "
              f"{count / seconds:,.0f} events per CPU second")  # fmt: skip
        return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=["single", "envelopes"])
    parser.add_argument("--inputs", default="single,envelopes", help="which inputs to time")
    args = parser.parse_args()
    events = generate(Workload(args.events, args.events // 4, max(1, args.events // 40)))
    labels = [args.profile] if args.profile else args.inputs.split(",")
    inputs = {
        label: as_envelopes(events, PARTITIONS) if label == "envelopes" else events
        for label in labels
    }
    if args.profile:
        asyncio.run(_run(inputs[args.profile], args.profile, True))
        return
    for _ in range(args.rounds):
        for label, messages in inputs.items():
            asyncio.run(_run(messages, label, False))


if __name__ == "__main__":
    main()
