"""Prometheus metrics of the scorer, built on an injected registry.

Labels are low-cardinality by construction (topic, result, kind, reason); a lead or
account id never becomes a label.
"""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# `*_created` series double the exposition for no operational value here.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_FEEDBACK_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)


class ScorerMetrics(NamedTuple):
    events: Counter
    processing_seconds: Histogram
    event_lag_seconds: Histogram
    alerts: Counter
    alerts_suppressed: Counter
    publish_retries: Counter
    dead_letters: Counter
    score_changes: Counter
    redis_writes: Counter
    redis_write_errors: Counter
    leads_tracked: Gauge
    hot_leads: Gauge
    assigned_partitions: Gauge
    consumer_lag: Gauge
    accounts_tracked: Gauge
    rules: Info
    actions: Counter
    actions_suppressed: Counter
    stage_transitions: Counter
    recycled_leads: Counter
    sla_breaches: Counter
    handoff_to_feedback_seconds: Histogram
    leads_went_cold: Counter
    leads_became_hot: Counter
    timers_pending: Gauge
    stalled_partitions: Counter
    read_model_resyncs: Counter
    erasures: Counter
    feedback_without_handoff: Counter
    identity_links: Counter
    checkpoint_seconds: Histogram
    checkpoint_records: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ScorerMetrics:
        # The registry is injected (tests build many apps in one process), so it lacks the
        # default collectors: add the process's RSS, CPU and open files (process_*) and
        # the Python version (python_info).
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        return cls(
            events=Counter(
                "scorer_events",
                "Input events consumed, by topic and result.",
                ["topic", "result"],
                registry=registry,
            ),
            processing_seconds=Histogram(
                "scorer_event_processing_seconds",
                "Time to decode, score and stage one event.",
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            event_lag_seconds=Histogram(
                "scorer_event_lag_seconds",
                "Event time to scored (wall clock), seconds.",
                buckets=_LAG_BUCKETS,
                registry=registry,
            ),
            alerts=Counter(
                "scorer_alerts", "Hand-off alerts published, by kind.", ["kind"], registry=registry
            ),
            alerts_suppressed=Counter(
                "scorer_alerts_suppressed",
                "Alerts not published again because their id is already on the hand-off topic.",
                registry=registry,
            ),
            publish_retries=Counter(
                "scorer_publish_retries",
                "Alert or action sends the broker did not acknowledge in time (retried).",
                registry=registry,
            ),
            dead_letters=Counter(
                "scorer_dead_letters",
                "Input events sent to the dead-letter topic, by reason.",
                ["reason"],
                registry=registry,
            ),
            score_changes=Counter(
                "scorer_score_changes",
                "Score changes published to the audit stream.",
                registry=registry,
            ),
            redis_writes=Counter(
                "scorer_redis_writes", "Read-model records written to Redis.", registry=registry
            ),
            redis_write_errors=Counter(
                "scorer_redis_write_errors",
                "Failed Redis flushes (the records are kept and retried).",
                registry=registry,
            ),
            leads_tracked=Gauge(
                "scorer_leads_tracked", "Leads in this worker's state table.", registry=registry
            ),
            hot_leads=Gauge(
                "scorer_hot_leads",
                "Leads at or above the lowest hand-off threshold (from the read model).",
                registry=registry,
            ),
            assigned_partitions=Gauge(
                "scorer_assigned_partitions",
                "Topic partitions assigned to this worker.",
                registry=registry,
            ),
            consumer_lag=Gauge(
                "scorer_consumer_lag_messages",
                "Messages not yet consumed, per assigned input partition.",
                ["topic", "partition"],
                registry=registry,
            ),
            accounts_tracked=Gauge(
                "scorer_accounts_tracked",
                "Accounts in this worker's state table.",
                registry=registry,
            ),
            rules=Info("scorer_rules", "The scoring rules in force.", registry=registry),
            actions=Counter(
                "scorer_actions",
                "Scenario actions published, by kind (send_email, assign, notify, ...).",
                ["kind"],
                registry=registry,
            ),
            actions_suppressed=Counter(
                "scorer_actions_suppressed",
                "Actions not published again because their id is already on the actions topic.",
                registry=registry,
            ),
            stage_transitions=Counter(
                "scorer_stage_transitions",
                "Lifecycle transitions (mql→sal and sal→sql are the conversion KPIs), "
                "by stages, team and rules version.",
                ["from_stage", "to_stage", "team", "rules_version"],
                registry=registry,
            ),
            recycled_leads=Counter(
                "scorer_recycled_leads",
                "Leads sent back to nurturing, by cause (rejected, lost, cool_off, other).",
                ["cause"],
                registry=registry,
            ),
            sla_breaches=Counter(
                "scorer_sla_breaches",
                "MQLs without accepted/rejected feedback by the team's deadline, by team.",
                ["team"],
                registry=registry,
            ),
            handoff_to_feedback_seconds=Histogram(
                "scorer_handoff_to_feedback_seconds",
                "Event time from an MQL hand-off to sales' first accepted/rejected feedback.",
                ["team"],
                buckets=_FEEDBACK_BUCKETS,
                registry=registry,
            ),
            leads_went_cold=Counter(
                "scorer_leads_went_cold",
                "Leads that reached the rules' inactivity period without activity.",
                registry=registry,
            ),
            leads_became_hot=Counter(
                "scorer_leads_became_hot",
                "Leads that rose to the lowest hand-off threshold (hot leads per period: "
                "increase() over the period).",
                registry=registry,
            ),
            timers_pending=Gauge(
                "scorer_timers_pending",
                "Leads of this worker's partitions with a pending scenario, SLA, inactivity "
                "or cool-off timer.",
                registry=registry,
            ),
            stalled_partitions=Counter(
                "scorer_stalled_partitions",
                "Input partitions found not fetched with records waiting, and fetched again "
                "(see scorer/stream/workarounds/stall_guard.py).",
                ["topic"],
                registry=registry,
            ),
            read_model_resyncs=Counter(
                "scorer_read_model_resyncs",
                "Copies of this worker's partitions from the tables to Redis, by cause "
                "(assignment: partitions newly assigned; redis_lost: Redis lost its data).",
                ["cause"],
                registry=registry,
            ),
            erasures=Counter(
                "scorer_erasures",
                "Erase requests handled (erased, not_found) and erasure records published "
                "(erasure; repeated: already on the topic).",
                ["result"],
                registry=registry,
            ),
            feedback_without_handoff=Counter(
                "scorer_feedback_without_handoff",
                "Sales feedback applied to a lead never handed off in its cycle (a deal sales "
                "found on their own, a disqualification before any hand-off), by type.",
                ["kind"],
                registry=registry,
            ),
            identity_links=Counter(
                "scorer_identity_links",
                "Identity links handled on the visitor's partition (merged: history moved to "
                "the lead; linked: nothing to move; repeated: a link id seen before).",
                ["result"],
                registry=registry,
            ),
            checkpoint_seconds=Histogram(
                "scorer_checkpoint_seconds",
                "Time a checkpoint holds the worker: writing the changed states to the "
                "tables and acknowledging the events they cover.",
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            checkpoint_records=Counter(
                "scorer_checkpoint_records",
                "Changelog records checkpoints wrote (one per key changed since the last).",
                registry=registry,
            ),
        )
