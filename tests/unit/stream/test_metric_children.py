"""Cached metric children count into their own metric, one child per label values."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from scorer.stream.metric_children import child


def test_a_cached_child_is_the_metrics_own_and_registries_stay_apart() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    counters = [Counter("events", "e", ["topic", "result"], registry=r) for r in (first, second)]
    for _ in range(3):
        child(counters[0], "web", "applied").inc()
    child(counters[1], "web", "applied").inc()
    assert child(counters[0], "web", "applied") is counters[0].labels("web", "applied")
    assert first.get_sample_value("events_total", {"topic": "web", "result": "applied"}) == 3
    assert second.get_sample_value("events_total", {"topic": "web", "result": "applied"}) == 1
