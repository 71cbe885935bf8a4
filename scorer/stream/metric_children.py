"""Children of labelled metrics, each looked up once per label values.

prometheus_client's `labels()` validates, stringifies and joins the label values and
takes the metric's lock on every call (~1.5 µs); once per scored event that was about a
tenth of the stream layer's own time (bench/handler_profile.py). A child stays valid
until its metric's `remove()` or `clear()`, which is never called on the metrics looked
up here (the per-partition lag gauge, which is cleared, keeps calling `labels()`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4096)  # labels are low-cardinality by construction (serving/metrics.py)
def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, cached."""
    return metric.labels(*labels)
