"""The end of a table recovery: stream partitions are seeked before anything is fetched.

faust-streaming 0.15.3 resumes the stream partitions before seeking them, with the
consumer's flow running, then empties the agents' queues; records fetched meanwhile are
lost (see scorer/stream/workarounds/recovery.py). What must hold: no stream partition is resumed
before the seek has finished and the queues were emptied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.tables.recovery import Recovery
from faust.types import TP

from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.workarounds.recovery import SeekFirstRecovery


@dataclass
class RecordingClient:
    """The Kafka client inside Faust's consumer thread."""

    steps: list[str]

    def pause(self, *tps: TP) -> None:
        self.steps += [f"client pause {tp.topic}" for tp in sorted(tps)]

    def resume(self, *tps: TP) -> None:
        self.steps += [f"client resume {tp.topic}" for tp in sorted(tps)]

    def seek(self, tp: TP, offset: int) -> None:
        self.steps.append(f"client seek {tp.topic} {offset}")


@dataclass
class RecordingThread:
    client: RecordingClient

    def _ensure_consumer(self) -> RecordingClient:
        return self.client

    async def call_thread(self, method: Callable[[], Awaitable[None]]) -> None:
        await method()


@dataclass
class RecordingConsumer:
    """What the recovery asks of the consumer, in order."""

    stream: TP
    changelog: TP
    steps: list[str] = field(default_factory=list)
    _buffered_partitions: set[TP] = field(default_factory=set)
    _read_offset: dict[TP, int | None] = field(default_factory=dict)  # none committed

    def __post_init__(self) -> None:
        self._thread = RecordingThread(RecordingClient(self.steps))

    def stop_flow(self) -> None:
        self.steps.append("stop flow")

    def assignment(self) -> set[TP]:
        return {self.stream, self.changelog}

    def pause_partitions(self, tps: set[TP]) -> None:
        self.steps += [f"pause {tp.topic}" for tp in sorted(tps)]

    def resume_partitions(self, tps: set[TP]) -> None:
        self.steps += [f"resume {tp.topic}" for tp in sorted(tps)]

    async def perform_seek(self) -> None:
        self.steps.append("seek started")
        await asyncio.sleep(0)  # records could arrive meanwhile
        self.steps.append("seek done")

    def resume_flow(self) -> None:
        self.steps.append("resume flow")


async def _finish_recovery(recovery_type: type[Recovery], tmp_path: Path) -> list[str]:
    settings = load_settings({}, partitions=1, data_dir=tmp_path, topic_prefix="unit.")
    app: Any = create_app(settings, load_rules(settings.rules_file)).app
    app.loop = asyncio.get_running_loop()
    app.finalize()
    app.conf.store = "memory://"
    recovery = recovery_type(app, app.tables, loop=app.loop)
    changelog = next(iter(app.tables.changelog_topics))
    consumer = RecordingConsumer(TP(settings.topic("leads.web-events.v1"), 0), TP(changelog, 0))
    app._consumer = consumer

    async def fetcher_started() -> None:
        consumer.steps.append("fetcher running")

    app.__dict__["_fetcher"] = SimpleNamespace(maybe_start=fetcher_started)  # a cached_property
    resume_flow_control = app.flow_control.resume

    def flow_control_resumed() -> None:
        consumer.steps.append("queues emptied")
        resume_flow_control()

    app.flow_control.resume = flow_control_resumed
    await recovery.on_recovery_completed(generation_id=app.consumer_generation_id)
    return consumer.steps


def _resumed_too_early(steps: list[str], stream_topic: str) -> bool:
    resumed = steps.index(f"resume {stream_topic}")
    return resumed < steps.index("seek done") or resumed < steps.index("queues emptied")


async def test_stream_partitions_resume_after_the_seek_and_the_emptied_queues(
    tmp_path: Path,
) -> None:
    steps = await _finish_recovery(SeekFirstRecovery, tmp_path)
    stream_topic = "unit.leads.web-events.v1"
    seek = steps.index("seek started")
    assert steps.index("stop flow") < seek
    assert steps.index(f"pause {stream_topic}") < seek
    assert steps.index(f"client pause {stream_topic}") < seek
    assert not _resumed_too_early(steps, stream_topic), steps
    # No committed offset: aiokafka's seek leaves it where it was, so it starts over.
    assert steps.index("seek done") < steps.index(f"client seek {stream_topic} 0")
    assert steps.index(f"client seek {stream_topic} 0") < steps.index(f"resume {stream_topic}")
    assert steps.index(f"client resume {stream_topic}") > steps.index("queues emptied")
    assert steps.index("resume flow") > steps.index(f"client resume {stream_topic}")
    assert steps[-1] == "fetcher running"


async def test_faust_still_resumes_stream_partitions_before_seeking(tmp_path: Path) -> None:
    """A canary: when this fails, Faust fixed the order and SeekFirstRecovery can go."""
    steps = await _finish_recovery(Recovery, tmp_path)
    assert _resumed_too_early(steps, "unit.leads.web-events.v1"), steps
