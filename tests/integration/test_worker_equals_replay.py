"""The streaming worker and `scorer score-file` give the same alerts, stages and grades on
the same input (the hand-checked sample of tests/data/), delivered in file order.

Topics are consumed independently, so the file order is kept by publishing each run of
same-topic events only after the worker has handled the previous run: what happens live,
where sales feedback follows the hand-off. (A backlog whose feedback overtakes the
activity it answers is tested in test_topic_order.py.)"""

from __future__ import annotations

import json
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
    produce,
    read_topic,
    rules_for_dated_files,
    run,
    sample_oracle,
    wait_for,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "sample-events.jsonl"


def test_worker_and_score_file_agree_on_the_sample(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = make_settings(partitions=4, rules_file=rules_for_dated_files(tmp_path))
    run(apply_topics(settings))
    # Threshold alerts only: the sample is from May, so a worker that is caught up fires
    # its SLA deadlines at once by the wall clock, before the next run of feedback is even
    # published. Timers are compared on live-timed events in test_handoff_loop.py.
    sample = sample_oracle(SAMPLE, settings.rules_file)
    expected_alerts = sample.expected_alerts
    leads, rules, oracle = sample.leads, sample.rules, sample.replayed
    assert expected_alerts, "the sample produces alerts"

    worker = start_worker(settings)
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
        wait_for(lambda sent=sent: worker.events_handled() >= sent, 30, f"{sent} events handled")

    def published() -> list[str]:
        return [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]

    def all_expected() -> list[str]:
        ids = [a for a in published() if ":sla:" not in a]
        return ids if set(ids) >= set(expected_alerts) else []

    try:
        found = wait_for(all_expected, 60, "the alerts")
    except AssertionError:
        letters = run(read_topic(settings, contract.DEAD_LETTERS))
        print("published:", published(), "\ndead letters:", [dict(m.headers) for m in letters])
        raise
    assert sorted(found) == sorted(expected_alerts)
    assert_worker_serves_the_replay(worker, oracle, leads, rules)
