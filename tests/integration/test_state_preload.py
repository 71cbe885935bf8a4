"""The benchmark's preloaded changelogs (bench/state_preload.py) hold what a worker writes.

A worker scores a small history mix from Kafka; the last changelog record of each key it
wrote is compared with the records the preload computes offline for the same mix: the
same keys on the same partitions, the same lead states, and accounts with the same
members (their gates and score come from the order the signals are folded in).

The preload scores each lead's history in event-time order, as a worker scoring it live
over its 30 days would. A worker given the whole history as a backlog reads its input
topics independently, so it would read a lead's events out of order (an event read more
than its kind's allowed lateness after the lead's later events on another topic is
refused as `too_late`, README "Late data by source"; the dedup window and the
explanations keep the reading order). So the history goes to the worker in rounds, as it
would arrive live: round k holds every lead's k-th event, and the next round is produced
once the worker has scored it. The heavy leads have 40 events and the rules remember 32
event ids, so their dedup window is full as the benchmark's (128 of 128) is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from bench.history import HistoryMix, lead_histories
from bench.state_preload import (
    ACCOUNT_TABLE,
    LEAD_TABLE,
    changelog_records,
    changelog_topic,
    score_templates,
)
from scorer.rules import load_rules
from scorer.settings import DEFAULT_RULES_FILE
from scorer.stream.admin import apply_topics
from scorer.stream.codecs import ACCOUNT_CODEC, LEAD_CODEC
from tests.support import WorkerProcess, event_messages, produce, records_to_end, run, wait_for

pytestmark = pytest.mark.integration

# 6 heavy leads (40 events: the test rules' 32-id dedup window full), 54 light ones.
MIX = HistoryMix(60, heavy_events=40)
WINDOW = 32


def _last_records(bootstrap: str, topic: str, partitions: int) -> dict[bytes, tuple[int, bytes]]:
    """The last record of every key of `topic`: key -> (partition, value)."""
    records, _ = records_to_end(bootstrap, topic, partitions)
    found: dict[bytes, tuple[int, bytes]] = {}
    for partition, key, value in records:
        found[cast(bytes, key)] = (partition, cast(bytes, value))
    return found


def _rules_with_small_window(tmp_path: Path) -> Path:
    """rules/default.yaml remembering `WINDOW` event ids per lead."""
    text = Path(DEFAULT_RULES_FILE).read_text(encoding="utf-8")
    line = "  recent_event_ids: 128"
    if line not in text:
        raise AssertionError(f"rules/default.yaml no longer has {line.strip()!r}")
    text = text.replace(line, f"  recent_event_ids: {WINDOW}", 1)
    path = tmp_path / "default-window.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _events_of(key: bytes) -> int:
    index = int(key.decode().removeprefix("lead-"))
    return MIX.heavy_events if MIX.is_heavy(index) else MIX.light_events


def test_preloaded_records_equal_the_workers(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = make_settings(partitions=2, rules_file=_rules_with_small_window(tmp_path))
    run(apply_topics(settings))
    rules = load_rules(settings.rules_file)
    worker = start_worker(settings)
    now = time.time()
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for chunk in lead_histories(MIX, now):
        for event in chunk:
            by_lead.setdefault(event.key, []).append(event.value)
    sent = 0
    for k in range(max(len(events) for events in by_lead.values())):
        round_k = [events[k] for events in by_lead.values() if len(events) > k]
        run(produce(settings, event_messages(round_k)))
        sent += len(round_k)
        wait_for(lambda sent=sent: worker.events_handled() >= sent, 30, f"{sent} events scored")
    lead_topic = changelog_topic(settings.app_id, LEAD_TABLE)

    def checkpointed() -> dict[bytes, tuple[int, bytes]]:
        """The lead changelog once every lead's record counts all its events."""
        found = _last_records(settings.kafka_bootstrap, lead_topic, settings.partitions)
        complete = len(found) == MIX.leads and all(
            LEAD_CODEC.decode(value).seq == _events_of(key) for key, (_, value) in found.items()
        )
        return found if complete else {}

    leads = wait_for(checkpointed, 30, "every lead's last state in the changelog", 0.5)

    templates = score_templates(MIX, rules, now)
    assert templates.timers_due == 0
    expected: dict[str, dict[bytes, tuple[int, bytes]]] = {LEAD_TABLE: {}, ACCOUNT_TABLE: {}}
    for table, partition, key, value in changelog_records(
        MIX, templates, rules, settings.partitions
    ):
        expected[table][key] = (partition, value)
    accounts = _last_records(
        settings.kafka_bootstrap, changelog_topic(settings.app_id, ACCOUNT_TABLE), 2
    )

    assert len(leads) == MIX.leads
    assert {k: p for k, (p, _) in leads.items()} == {
        k: p for k, (p, _) in expected[LEAD_TABLE].items()
    }
    # The very bytes: the same state, encoded by the same codec.
    differing = [key for key, (_, value) in leads.items() if value != expected[LEAD_TABLE][key][1]]
    assert not differing, f"{len(differing)} lead states differ, e.g. {differing[:3]}"
    windows = [len(LEAD_CODEC.decode(value).recent_ids) for _, value in leads.values()]
    assert max(windows) >= WINDOW, "the heavy leads' dedup window is full"
    assert {k: p for k, (p, _) in accounts.items()} == {
        k: p for k, (p, _) in expected[ACCOUNT_TABLE].items()
    }
    for key, (_, value) in accounts.items():
        written = ACCOUNT_CODEC.decode(value)
        preloaded = ACCOUNT_CODEC.decode(expected[ACCOUNT_TABLE][key][1])
        assert written.members == preloaded.members, key
        assert written.watermark == preloaded.watermark, key
