"""Prometheus metrics of the collector (its own registry: one collector per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "scorer_collector_requests_total",
            "HTTP requests by endpoint and outcome (accepted, rejected, bot, rate_limited, "
            "unauthorized, unavailable).",
            ["endpoint", "outcome"], registry=r,
        )  # fmt: skip
        self.events = Counter(
            "scorer_collector_events_total",
            "Records produced and acknowledged by the broker, by topic.",
            ["topic"], registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "scorer_collector_rejected_total",
            "Requests or events refused, by endpoint and reason.",
            ["endpoint", "reason"], registry=r,
        )  # fmt: skip
        self.bots = Counter(
            "scorer_collector_bots_filtered_total",
            "Requests dropped because the user agent is a crawler (or missing).",
            ["endpoint"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "scorer_collector_rate_limited_total",
            "Requests refused by a rate cap, by endpoint and scope (visitor, address).",
            ["endpoint", "scope"], registry=r,
        )  # fmt: skip
        self.unavailable = Counter(
            "scorer_collector_kafka_unavailable_total",
            "Requests answered 503 because the broker did not acknowledge in time.",
            registry=r,
        )
        self.webhook_events_ignored = Counter(
            "scorer_collector_webhook_events_ignored_total",
            "Webhook events with no email event type (e.g. processed, deferred), by provider.",
            ["provider"], registry=r,
        )  # fmt: skip
        self.produce_seconds = Histogram(
            "scorer_collector_produce_seconds",
            "Time from a request's accepted records to the broker's ack of every envelope "
            "holding them (the linger included).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.envelope_events = Histogram(
            "scorer_collector_envelope_events",
            "Events per produced message (partition envelopes; 1 = a single event).",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=r,
        )
        self.kafka_ready = Gauge(
            "scorer_collector_kafka_ready", "1 while the producer is connected.", registry=r
        )
