"""Is an event's time acceptable? Judged without reading any clock.

* Lateness is judged per input kind (`timing.allowed_lateness` per event category)
  against the lead's own watermark (the latest event time accepted for it), so whether
  an event is too late depends only on that lead's events, never on when the worker
  happens to run.
* Future skew is judged against `now` (the caller's processing time): a producer with a
  clock far ahead must not push a lead's watermark into the future.
"""

from __future__ import annotations

from scorer.core.rules import Timing


def lateness_problem(
    occurred_at: float,
    watermark: float | None,
    settled_until: float | None,
    lateness_s: float,
    kind: str = "",
) -> str | None:
    """A short reason when the event is older than the lead's lateness horizon for its
    kind (`lateness_s`, the kind's `timing.allowed_lateness`; inf: never too late)."""
    if lateness_s == float("inf"):
        return None
    if watermark is not None and occurred_at < watermark - lateness_s:
        behind = watermark - occurred_at
        of = f" of {kind}" if kind else ""
        return (
            f"event is {behind:.0f}s behind the lead's latest event "
            f"(allowed lateness{of} {lateness_s:.0f}s)"
        )
    if settled_until is not None and occurred_at <= settled_until:
        return "event is older than the lead's settled history"
    return None


def age_problem(occurred_at: float, now: float, timing: Timing) -> str | None:
    """A short reason when the event is older than `timing.max_age` before `now`."""
    max_age_s = timing.max_age_s
    if max_age_s is not None and occurred_at < now - max_age_s:
        return (
            f"event time is {(now - occurred_at) / 86400:.0f} days before processing time "
            f"(max age {max_age_s / 86400:.0f} days)"
        )
    return None


def future_problem(occurred_at: float, now: float, timing: Timing) -> str | None:
    """A short reason when the event claims a time too far past `now`."""
    if occurred_at > now + timing.future_skew_s:
        ahead = occurred_at - now
        return (
            f"event time is {ahead:.0f}s ahead of processing time "
            f"(tolerance {timing.future_skew_s:.0f}s)"
        )
    return None
