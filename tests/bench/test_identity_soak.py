"""The identity soak's harness: visitors expire after the look-back and the verdict reads
the curve past it."""

from __future__ import annotations

from bench.identity_soak import flat, soak


def test_a_small_soak_expires_visitors_and_judges_the_settled_curve() -> None:
    result = soak(visitors=3000, days=6, lookback_days=1)
    assert result["expired"] > 2000
    tracked = [point["tracked"] for point in result["curve"]]
    assert max(tracked) <= 3000 / 6 * (1 + 1 / 24) + 1, "a look-back's worth, to the tick"
    steady, _ = flat(result)
    assert steady
    growing = {**result, "curve": [{**p, "rss_mb": p["event_days"] * 10} for p in result["curve"]]}
    assert flat(growing)[0] is False
