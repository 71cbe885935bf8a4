"""kill -9 after the worker changed states in memory and before its checkpoint wrote
them: the restarted worker replays the events and reaches what `scorer score-file`
says (stages, scores, grades and threshold alerts, none published twice).

The first worker checkpoints only every 10 minutes, so when it is killed its states
are in memory only: the read model shows them, while the lead-state changelog is empty
and no input offset is committed (both checked before the kill)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.simulator import TOPIC_BY_CATEGORY
from scorer.stream.admin import apply_topics
from tests.support import (
    WorkerProcess,
    assert_worker_serves_the_replay,
    committed_offsets,
    produce,
    read_topic,
    rules_for_dated_files,
    run,
    sample_oracle,
    scores_differing_from,
    wait_for,
)

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "sample-events.jsonl"


def test_a_worker_killed_before_its_checkpoint_replays_to_the_score_file_result(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    rules_file = rules_for_dated_files(tmp_path)
    settings = make_settings(partitions=4, rules_file=rules_file, checkpoint_interval_s=600)
    run(apply_topics(settings))
    sample = sample_oracle(SAMPLE, rules_file)
    assert sample.expected_alerts, "the sample produces alerts"

    first = start_worker(settings, "first")
    # In file order, as test_worker_equals_replay.py does: each run of same-topic events
    # once the previous run is handled (topics are consumed independently).
    runs: list[list[tuple[str, bytes, bytes]]] = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        topic = TOPIC_BY_CATEGORY[event["type"].partition(".")[0]]
        if not runs or runs[-1][0][0] != topic:
            runs.append([])
        runs[-1].append((topic, event["lead_id"].encode(), line.encode()))
    sent = 0
    for messages in runs:
        run(produce(settings, messages))
        sent += len(messages)
        wait_for(lambda sent=sent: first.events_handled() >= sent, 30, f"{sent} events handled")
    # The states changed in memory (the read model is staged from them) ...
    wait_for(
        lambda: not scores_differing_from(sample.replayed, sample.rules, settings),
        30,
        "the first worker's read model to show every lead's and account's state",
    )
    # ... and no checkpoint has written them or let an input offset be committed.
    changelog = settings.model_copy(update={"topic_prefix": ""})
    assert run(read_topic(changelog, f"{settings.app_id}-lead-state-changelog")) == []
    inputs = sorted({topic for messages in runs for topic, _, _ in messages})
    assert run(committed_offsets(settings, inputs)) == {}
    first.process.kill()

    second = start_worker(settings.model_copy(update={"checkpoint_interval_s": 1.0}), "second")
    wait_for(lambda: second.events_handled() >= sent, 60, "the replay of every event")

    def published() -> list[str]:
        return [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]

    def threshold_alerts() -> list[str]:
        # SLA breaches left out: a caught-up worker fires them by the wall clock.
        ids = [a for a in published() if ":sla:" not in a]
        return ids if set(ids) >= set(sample.expected_alerts) else []

    found = wait_for(threshold_alerts, 30, "the threshold alerts")
    assert sorted(found) == sorted(sample.expected_alerts)
    assert [a for a, n in Counter(published()).items() if n > 1] == []
    assert_worker_serves_the_replay(second, sample.replayed, sample.leads, sample.rules)
    # The second worker checkpoints: its states reach the changelog, its offsets commit.
    wait_for(lambda: run(committed_offsets(settings, inputs)), 30, "a commit after a checkpoint")
    assert run(read_topic(changelog, f"{settings.app_id}-lead-state-changelog"))
