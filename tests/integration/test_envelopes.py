"""Event-batch envelopes on a real broker: the worker scores the events of envelopes as it
scores single events (the same alerts, stages and scores as `scorer score-file` on the
events), a bad event inside an envelope is dead-lettered alone with its index, and the
score-change audit names every scored event."""

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
BATCH = "leads.event-batch.v1"


def _envelope_runs(lines: list[str]) -> list[list[tuple[str, bytes, bytes]]]:
    """File order kept (see test_worker_equals_replay): runs of one topic, each sent after
    the previous one is handled; inside a run, each lead's consecutive events share an
    envelope, and the first envelope carries one bad event too."""
    runs: list[list[tuple[str, str, list[dict[str, Any]]]]] = []
    for line in lines:
        event = json.loads(line)
        topic = TOPIC_BY_CATEGORY[event["type"].partition(".")[0]]
        if not runs or runs[-1][0][0] != topic:
            runs.append([])
        group = runs[-1]
        if group and group[-1][1] == event["lead_id"]:
            group[-1][2].append(event)
        else:
            group.append((topic, event["lead_id"], [event]))
    first_events = runs[0][0][2]
    first_events.insert(1, {**first_events[0], "event_id": "bad-1", "employee_count": -5})
    return [
        [
            (topic, lead.encode(), orjson.dumps({"schema": BATCH, "events": events}))
            for topic, lead, events in group
        ]
        for group in runs
    ]


def test_envelopes_score_like_single_events_and_dead_letter_bad_ones_alone(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = make_settings(partitions=4, rules_file=rules_for_dated_files(tmp_path))
    run(apply_topics(settings))
    sample = sample_oracle(SAMPLE, settings.rules_file)
    expected_alerts = sorted(sample.expected_alerts)
    leads, rules, events, oracle = sample.leads, sample.rules, sample.events, sample.replayed

    worker = start_worker(settings)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    handled = 0
    for messages in _envelope_runs(lines):
        run(produce(settings, messages))
        handled += sum(len(orjson.loads(value)["events"]) for _, _, value in messages)
        wait_for(lambda n=handled: worker.events_handled() >= n, 30, f"{handled} events handled")

    def alerts() -> list[str]:
        ids = [
            orjson.loads(m.value)["alert_id"]
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
        ]
        return [a for a in ids if ":sla:" not in a]

    found = wait_for(lambda: (a := alerts()) and set(a) >= set(expected_alerts) and a, 60, "alerts")
    assert sorted(found) == expected_alerts
    assert_worker_serves_the_replay(worker, oracle, leads, rules)

    def bad_letters() -> list[Any]:
        letters = run(read_topic(settings, contract.DEAD_LETTERS))
        # The sample has refused events of its own (a duplicate, a too-late open).
        return [m for m in letters if orjson.loads(m.value).get("event_id") == "bad-1"]

    letter = wait_for(bad_letters, 30, "the dead letter")[0]
    headers = {name: bytes(value).decode() for name, value in letter.headers}
    assert headers["scorer.error.index"] == "1"
    assert headers["scorer.error.reason"] == "schema"
    assert headers["scorer.error.detail"].startswith("/events/1/employee_count: ")

    lead_of = {e.event_id: e.lead_id for e in events}

    def audited() -> list[dict[str, Any]]:
        messages = run(read_topic(settings, contract.SCORE_CHANGES))
        return [e for m in messages for e in orjson.loads(m.value)["events"]]

    entries = wait_for(audited, 30, "the audit records")
    assert {e["event_id"] for e in entries} <= set(lead_of)  # not bad-1
    assert all(lead_of[e["event_id"]] == e["lead_id"] for e in entries)
