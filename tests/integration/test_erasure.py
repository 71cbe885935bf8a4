"""`scorer erase`: the lead's state, Redis keys and account contribution go, an erasure
record comes out, a restart (changelog recovery) does not bring the lead back, and a later
event starts a fresh lead (with a fresh hand-off alert). One worker, restarted once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.contracts.outputs import rfc3339
from scorer.core import replay
from scorer.devstack.session import worker_env
from scorer.rules import load_rules
from scorer.settings import Settings
from scorer.stream.admin import apply_topics
from tests.support import (
    WorkerProcess,
    event_messages,
    http_get,
    produce,
    read_topic,
    run,
    scores_differing_from,
    wait_for,
)

pytestmark = pytest.mark.integration

ERASED, KEPT, ACCOUNT = "lead-erase", "lead-keep", "acc-erase"


def _journey(lead: str, tag: str, start: float) -> list[dict[str, Any]]:
    """A manager at a manufacturer reads pricing, downloads case studies, asks for a demo:
    over the MQL line (80) of rules/default.yaml."""
    base = {"lead_id": lead, "account_id": ACCOUNT}
    steps: list[dict[str, Any]] = [
        {"type": "profile.updated", "title": "製造本部 部長", "employee_count": 500,
         "industry": "製造業", "country": "JP"},
        *({"type": "web.page_view", "url": "/pricing"} for _ in range(3)),
        *({"type": "web.content_download", "asset_id": f"cs-{n}", "asset_type": "case_study"}
          for n in range(2)),
        {"type": "web.form_submit", "form_id": "demo-request"},
    ]  # fmt: skip
    return [
        {**base, **step, "event_id": f"{lead}-{tag}-{n}", "occurred_at": rfc3339(start + n)}
        for n, step in enumerate(steps)
    ]


def _erase(settings: Settings, *leads: str, wait: str = "60") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scorer", "erase", *leads, "--wait", wait],
        env=worker_env(settings), capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def test_an_erased_lead_is_gone_stays_gone_and_comes_back_fresh(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings()
    run(apply_topics(settings))
    # No worker yet: the request waits on the topic, and the command says so.
    early = _erase(settings, "lead-asked-early", wait="1")
    assert early.returncode == 1
    assert "1 of 1 erasures not confirmed within 1 s" in early.stderr
    assert "Traceback" not in early.stderr
    worker = start_worker(settings, "first")
    rules = load_rules(settings.rules_file)
    now = time.time()
    erased_events = _journey(ERASED, "a", now - 600)
    kept_events = _journey(KEPT, "a", now - 500)[:4]
    run(produce(settings, event_messages(erased_events + kept_events)))
    both = replay([parse_event(orjson.dumps(e)) for e in erased_events + kept_events], rules)
    wait_for(lambda: not scores_differing_from(both, rules, settings), 30, "both leads scored")
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    prefix = settings.redis_key_prefix
    hot = f"{prefix}hot-leads"
    assert client.zscore(hot, ERASED) is not None, "the lead to erase is hot"
    assert any(
        client.zscore(name, ERASED) is not None
        for name in client.scan_iter(f"{prefix}team:*:hot-leads")
    ), "and ranked in its team"

    def alert_ids() -> list[str]:
        """The erased lead's records on the hand-off topic (its partition), in order."""
        return [
            orjson.loads(m.value).get("alert_id", "erasure")
            for m in run(read_topic(settings, contract.HANDOFF_ALERTS))
            if m.key == ERASED.encode()
        ]

    wait_for(lambda: f"lead:{ERASED}:mql:1" in alert_ids(), 30, "the MQL alert")
    account_before = float(client.hget(f"{prefix}account:{ACCOUNT}", "score") or 0)

    # Erase: the record, the state, Redis, the account.
    done = _erase(settings, ERASED, "lead-never-seen")
    assert done.returncode == 0, done.stderr
    output = done.stdout
    assert f"{ERASED}: erased, removed from account {ACCOUNT}" in output, output
    assert "lead-never-seen: no state held; erasure recorded" in output, output
    [record] = [
        orjson.loads(m.value)
        for m in run(read_topic(settings, contract.ERASURES))
        if m.key == ERASED.encode()
    ]
    assert record["type"] == "erasure"
    assert record["found"] is True
    assert record["account_id"] == ACCOUNT
    assert alert_ids()[-1] == "erasure", "the hand-off topic carries it after the alerts"
    assert http_get(f"{worker.base_url}/leads/{ERASED}")[0] == 404
    kept_only = replay([parse_event(orjson.dumps(e)) for e in kept_events], rules)

    def erased_everywhere() -> bool:
        gone = not client.exists(f"{prefix}lead:{ERASED}") and client.zscore(hot, ERASED) is None
        rankings = [f"{prefix}account:{ACCOUNT}:hot-leads"]
        rankings.extend(client.scan_iter(f"{prefix}team:*:hot-leads"))
        gone = gone and all(client.zscore(name, ERASED) is None for name in rankings)
        return gone and not scores_differing_from(kept_only, rules, settings)

    wait_for(erased_everywhere, 30, "Redis and the account without the lead")
    assert float(client.hget(f"{prefix}account:{ACCOUNT}", "score") or 0) < account_before
    assert worker.metric("scorer_erasures_total", result="erased") == 1
    # lead-never-seen, and the request sent before any worker ran.
    assert worker.metric("scorer_erasures_total", result="not_found") == 2

    # A restart recovers the tables from the changelogs: the tombstone keeps it erased.
    worker.stop()
    worker = start_worker(settings, "second")
    # Its copy to Redis: the kept lead and the account (2 states), and nothing else.
    wait_for(lambda: worker.metric("scorer_redis_writes_total") >= 2, 30, "the restarted copy")
    assert worker.metric("scorer_read_model_resyncs_total", cause="assignment") >= 1
    assert http_get(f"{worker.base_url}/leads/{ERASED}")[0] == 404
    assert erased_everywhere()

    # A later event starts a fresh lead; its hand-off alert is not taken for the old one.
    fresh_events = _journey(ERASED, "b", now - 100)
    run(produce(settings, event_messages(fresh_events)))
    fresh = replay([parse_event(orjson.dumps(e)) for e in fresh_events + kept_events], rules)
    wait_for(lambda: not scores_differing_from(fresh, rules, settings), 30, "the fresh lead")
    wait_for(
        lambda: alert_ids().count(f"lead:{ERASED}:mql:1") == 2, 30, "the fresh lead's MQL alert"
    )
    ids = alert_ids()
    assert ids.index("erasure") < len(ids) - 1 - ids[::-1].index(f"lead:{ERASED}:mql:1")

    # A tombstone on an input topic is not an erasure: it is dead-lettered, with a reason.
    run(produce(settings, [(contract.WEB_EVENTS, ERASED.encode(), None)]))  # type: ignore[list-item]

    def tombstone_letter() -> list[Any]:
        return [
            m
            for m in run(read_topic(settings, contract.DEAD_LETTERS))
            if dict(m.headers).get("scorer.error.reason") == b"tombstone"
        ]

    wait_for(tombstone_letter, 30, "the tombstone dead-lettered")
    assert http_get(f"{worker.base_url}/leads/{ERASED}")[0] == 200
