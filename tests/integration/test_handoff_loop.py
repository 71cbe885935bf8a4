"""The hand-off loop on the real broker: the seed article's three scenarios, SLA deadlines,
recycling, and durable timers across a kill -9, each compared with the offline replay.

Durations come from rules/default.yaml through SCORER_TIME_SCALE (the same code path as
days): at 1/21600 the scenario's 2-day delay waits 8 s. The test rules shorten the
90-day inactivity period to 3 days (12 s) and set the SLA to 4 days (16 s). Live, timers
fire by the wall clock: an answer or a cancelling download processed after its lead's
deadline has passed on the clock is late, whatever its event time says, so the delays
leave the few seconds publishing takes (see `publish_in_order`) well inside them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.contracts.events import parse_event
from scorer.core import replay
from scorer.core.replay import ReplayResult
from scorer.rules import load_rules
from scorer.settings import DEFAULT_RULES_FILE, Settings
from scorer.simulator import TOPIC_BY_CATEGORY
from scorer.stream.admin import apply_topics
from tests.support import WorkerProcess, produce, read_topic, run, wait_for

pytestmark = pytest.mark.integration

TIME_SCALE = 1 / 21600  # 6 h of rules time per second
LAST_TIMER_S = 16.0  # the SLA, the longest timer (scaled), from the end of publishing


def loop_rules(tmp_path: Path) -> Path:
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    edits = {"  after: 90d": "  after: 3d", "  follow_up: 4h": "  follow_up: 4d",
             "  inside-sales-product-a: 4h": "  inside-sales-product-a: 4d"}  # fmt: skip
    for old, new in edits.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "loop-rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def journeys(t0: float) -> list[dict[str, Any]]:
    """Events a second or two old, in the shape the collectors publish."""

    def at(offset_s: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + offset_s)) + (
            f".{int((t0 + offset_s) % 1 * 1e6):06d}+00:00"
        )

    rows: list[tuple[str, str, str, float, dict[str, Any]]] = [
        # 1. pricing page → the case-study mail two "days" later ...
        ("yamada", "acct-tokai", "web.page_view", -2.0, {"url": "/pricing"}),
        # ... but not for a lead who downloads a case study meanwhile.
        ("kimura", "acct-tokai", "web.page_view", -2.0, {"url": "/pricing/enterprise"}),
        ("kimura", "acct-tokai", "web.content_download", -1.0,
         {"asset_id": "case-gifu-mold", "asset_type": "case_study"}),
        # 2. a product-A whitepaper → assigned to the product-A inside-sales team.
        ("inoue", "acct-hokuriku", "web.content_download", -2.0,
         {"asset_id": "wp-product-a-iot", "asset_type": "whitepaper", "product": "product-a"}),
        # An MQL nobody answers → one sla_breached escalation.
        ("kato", "acct-kyushu", "profile.updated", -2.0,
         {"title": "情報システム部長", "employee_count": 500, "industry": "製造業", "country": "JP"}),
        ("kato", "acct-kyushu", "web.form_submit", -1.9, {"form_id": "demo-request"}),
        ("kato", "acct-kyushu", "seminar.attended", -1.8, {"webinar_id": "dx-summit"}),
        # An MQL accepted in time → none.
        ("takahashi", "acct-kanto", "profile.updated", -2.0,
         {"title": "Director of Manufacturing", "employee_count": 2000, "industry": "製造業",
          "country": "JP"}),
        ("takahashi", "acct-kanto", "web.form_submit", -1.9, {"form_id": "contact-sales"}),
        ("takahashi", "acct-kanto", "seminar.attended", -1.8, {"webinar_id": "dx-summit"}),
        ("takahashi", "acct-kanto", "feedback.accepted", -1.0, {}),
        # Feedback before any hand-off: for a lead never seen, and one for a lead that is
        # only engaged. Both are held for the hand-off (see README, "Sales feedback in any
        # order"), not refused: 6 h of lateness, never scaled, outlast the test.
        ("nobody", "acct-none", "feedback.accepted", -1.0, {}),
        ("yamada", "acct-tokai", "feedback.qualified", -1.0, {}),
        # Rejected → recycled, the MQL line re-arms, renewed engagement → a second MQL.
        ("sasaki", "acct-kansai", "profile.updated", -2.0,
         {"title": "製造本部 部長", "employee_count": 800, "industry": "製造業", "country": "JP"}),
        ("sasaki", "acct-kansai", "web.form_submit", -1.9, {"form_id": "demo-request"}),
        ("sasaki", "acct-kansai", "seminar.attended", -1.8, {"webinar_id": "dx-summit"}),
        ("sasaki", "acct-kansai", "feedback.rejected", -1.5, {"reason": "no budget this year"}),
        # (published after the rejection was handled: see `publish_in_order`)
        ("sasaki", "acct-kansai", "seminar.attended", -1.2, {"webinar_id": "iot-security"}),
        ("sasaki", "acct-kansai", "seminar.attended", -1.1, {"webinar_id": "smart-factory"}),
        ("sasaki", "acct-kansai", "web.content_download", -1.0,
         {"asset_id": "case-kumamoto-fab", "asset_type": "case_study"}),
        # 3. every lead above goes quiet: three "months" later, the re-engagement actions.
    ]  # fmt: skip
    events = []
    for n, (lead, account, kind, offset, fields) in enumerate(rows):
        events.append({
            "event_id": f"{lead}-{n:02d}", "lead_id": lead, "account_id": account,
            "type": kind, "occurred_at": at(offset), **fields,
        })  # fmt: skip
    return events


def publish_in_order(settings: Settings, events: list[dict[str, Any]], worker: Any) -> None:
    """Feedback, and what follows it, only after what it answers was scored.

    Topics are consumed independently, so a feedback event published together with the
    activity that made the lead an MQL can be read first and refused (no MQL yet). Live,
    sales answers minutes later; the test keeps that order explicitly.
    """
    first_feedback = next(n for n, e in enumerate(events) if e["type"].startswith("feedback"))
    last_feedback = max(n for n, e in enumerate(events) if e["type"].startswith("feedback"))
    phases = [
        [e for e in events[:last_feedback] if not e["type"].startswith("feedback")],
        [e for e in events[first_feedback : last_feedback + 1] if e["type"].startswith("feedback")],
        events[last_feedback + 1 :],
    ]
    sent = 0
    for phase in phases:
        run(produce(settings, [
            (TOPIC_BY_CATEGORY[e["type"].partition(".")[0]], e["lead_id"].encode(),
             orjson.dumps(e))
            for e in phase
        ]))  # fmt: skip
        sent += len(phase)
        wait_for(lambda sent=sent: worker.events_handled() >= sent, 30, f"{sent} events scored")


def oracle(events: list[dict[str, Any]], rules_file: Path, until: float) -> ReplayResult:
    rules = load_rules(rules_file, time_scale=TIME_SCALE)
    return replay([parse_event(orjson.dumps(e)) for e in events], rules, until=until)


def published(settings: Settings, topic: str, id_field: str) -> list[str]:
    return [orjson.loads(m.value)[id_field] for m in run(read_topic(settings, topic))]


def outputs(settings: Settings) -> tuple[list[str], list[str]]:
    return (
        published(settings, contract.HANDOFF_ALERTS, "alert_id"),
        published(settings, contract.ACTIONS, "action_id"),
    )


def wait_for_oracle(settings: Settings, expected: ReplayResult) -> tuple[list[str], list[str]]:
    want = (set(expected.alert_ids()), set(expected.action_ids()))

    def complete() -> tuple[list[str], list[str]] | None:
        alerts, actions = outputs(settings)
        return (alerts, actions) if (set(alerts), set(actions)) >= want else None

    try:
        found: tuple[list[str], list[str]] = wait_for(complete, 60, "the replay's outputs")
    except AssertionError:
        alerts, actions = outputs(settings)
        print(
            "missing alerts:", want[0] - set(alerts), "\nmissing actions:", want[1] - set(actions)
        )
        raise
    return found


def assert_once_each(ids: list[str]) -> None:
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_the_seed_scenarios_slas_and_recycling_match_the_replay(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    rules_file = loop_rules(tmp_path)
    settings = make_settings(
        rules_file=rules_file, time_scale=TIME_SCALE, timer_tick_interval_s=0.25
    )
    run(apply_topics(settings))
    worker = start_worker(settings)
    events = journeys(time.time())
    publish_in_order(settings, events, worker)
    time.sleep(LAST_TIMER_S)  # the delay under test: every timer comes due meanwhile
    expected = oracle(events, rules_file, until=time.time())
    alerts, actions = wait_for_oracle(settings, expected)

    assert sorted(alerts) == sorted(expected.alert_ids())
    assert sorted(actions) == sorted(expected.action_ids())
    assert_once_each(alerts + actions)
    by_lead = Counter(a.split(":")[1] + ":" + a.split(":")[2] for a in actions)
    assert by_lead["yamada:pricing_case_study_mail"] == 1
    assert by_lead["kimura:pricing_case_study_mail"] == 0
    assert by_lead["inoue:product_a_assign"] == 1
    assert all(by_lead[f"{lead}:dormant_reengagement"] == 2 for lead in ("yamada", "inoue"))
    [assign] = [
        orjson.loads(m.value)
        for m in run(read_topic(settings, contract.ACTIONS))
        if orjson.loads(m.value)["scenario_id"] == "product_a_assign"
    ]
    assert assign["kind"] == "assign"
    assert assign["params"]["team"] == "inside-sales-product-a"
    assert sorted(a for a in alerts if ":sla:" in a) == ["lead:kato:sla:1", "lead:sasaki:sla:2"]
    assert {"lead:sasaki:mql:1", "lead:sasaki:mql:2"} <= set(alerts)

    refused = [
        {name: bytes(value).decode() for name, value in m.headers}
        for m in run(read_topic(settings, contract.DEAD_LETTERS))
    ]
    assert refused == []
    held = {lead: [h.event_id for h in s.loop.held] for lead, s in expected.leads.items()}
    assert (held["nobody"], held["yamada"]) == (["nobody-11"], ["yamada-12"])

    # The KPIs, as Prometheus sees them.
    kpi = worker.metric
    assert kpi("scorer_sla_breaches_total") == 2
    assert kpi("scorer_stage_transitions_total", from_stage="mql", to_stage="sal") == 1
    assert kpi("scorer_recycled_leads_total", cause="rejected") == 1
    assert kpi("scorer_handoff_to_feedback_seconds_count") == 2  # takahashi, sasaki
    assert kpi("scorer_actions_total", kind="assign") == 1
    cold = [lead for lead, state in expected.leads.items() if state.cold_since is not None]
    assert len(cold) == 6
    assert kpi("scorer_leads_went_cold_total") == len(cold)


def test_timers_pending_at_a_kill_fire_once_after_the_restart(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    rules_file = loop_rules(tmp_path)
    settings = make_settings(
        rules_file=rules_file, time_scale=TIME_SCALE, timer_tick_interval_s=0.25
    )
    run(apply_topics(settings))
    first = start_worker(settings, "first")
    events = journeys(time.time())
    publish_in_order(settings, events, first)
    wait_for(lambda: first.metric("scorer_timers_pending") > 0 or None, 10, "timers to be pending")
    # Killed whether or not Faust has committed (every 2.8 s): events scored again after
    # the restart must not repeat an alert or an action either.
    before_kill = outputs(settings)
    first.process.kill()
    assert not [a for a in before_kill[1] if "case_study_mail" in a or "dormant" in a]
    assert not [a for a in before_kill[0] if ":sla:" in a]

    time.sleep(LAST_TIMER_S)  # the worker stays down past every due time
    start_worker(settings, "second")
    expected = oracle(events, rules_file, until=time.time())
    alerts, actions = wait_for_oracle(settings, expected)
    assert sorted(actions) == sorted(expected.action_ids())
    assert sorted(alerts) == sorted(expected.alert_ids())
    assert_once_each(alerts + actions)
