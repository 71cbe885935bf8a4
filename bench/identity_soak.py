"""Soak: many one-visit anonymous visitors; memory must stay flat once the look-back is
reached (issue 13).

In-process, with the worker's own state model: the memory store keeps live objects in a
dict per table (`lead-state` and `visitor-state`, keyed by the anonymous lead id's
bytes), each visit goes through the same calls as the lead agent (`remember` the event,
`apply_event` on the anonymous lead, `quiet`), and an hourly tick (in event time) runs
the same expiry as `scorer.stream.identity.expire_visitors`: a `DueIndex` of expiry
times, and a visitor silent for `identity.lookback` loses its kept events and its
anonymous lead state. Visits are spread evenly over `--days` of event time; RSS is
sampled every tenth of the run. What this does not cover: Kafka, the changelog, Redis
(the read model's hash of an expired visitor is deleted too, see the worker).

    python -m bench.identity_soak --visitors 1000000 --days 30 --lookback-days 1
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import orjson

from bench.common import rss_bytes
from scorer.core.events import Event, EventKind
from scorer.core.identity import IdentityPolicy, Visitor, expired, quiet, remember
from scorer.core.lead import apply_event
from scorer.core.lead_state import LeadState
from scorer.rules import load_rules
from scorer.settings import DEFAULT_RULES_FILE
from scorer.stream.timers import DueIndex

HOUR = 3600.0
DAY = 86400.0
_PAGES = ("/", "/pricing", "/features", "/case-studies", "/blog/kaizen", "/contact")


def soak(visitors: int, days: float, lookback_days: float, samples: int = 10) -> dict[str, Any]:
    rules = load_rules(DEFAULT_RULES_FILE)
    policy = IdentityPolicy(lookback_s=lookback_days * DAY, max_events=rules.identity.max_events)
    rules = replace(rules, identity=policy)
    start = 1_780_000_000.0
    step = days * DAY / visitors
    leads: dict[bytes, LeadState] = {}
    kept: dict[bytes, Visitor] = {}
    expiry = DueIndex()
    expiry.build(0, ())
    next_tick = start + HOUR
    expired_count = 0
    gc.collect()
    base = rss_bytes(os.getpid())
    curve: list[dict[str, float]] = []
    started = time.perf_counter()
    every = max(1, visitors // samples)
    for n in range(visitors):
        t = start + n * step
        while next_tick <= t:  # the partition's tick, in event time
            for key in expiry.pop_due(0, next_tick):
                visitor = kept.get(key)
                if visitor is None:
                    continue
                if not expired(visitor, next_tick, policy):  # as the worker: look again
                    expiry.set(0, key, (visitor.last_seen or next_tick) + policy.lookback_s)
                    continue
                del kept[key]
                leads.pop(key, None)
                expired_count += 1
            next_tick += HOUR
        lead_id = f"anon:v{n:09d}"
        key = lead_id.encode()
        event = Event(f"e{n}", lead_id, EventKind.PAGE_VIEW, t, None,
                      MappingProxyType({"url": _PAGES[n % len(_PAGES)]}))  # fmt: skip
        visitor = remember(kept.get(key), event, policy)
        kept[key] = visitor
        expiry.set(0, key, t + policy.lookback_s)
        update = quiet(apply_event(leads.get(key), event, rules, t))
        leads[key] = update.state
        if (n + 1) % every == 0:
            gc.collect()
            curve.append({
                "visitors_seen": n + 1,
                "event_days": (t - start) / DAY,
                "tracked": len(kept),
                "rss_mb": (rss_bytes(os.getpid()) - base) / 2**20,
            })  # fmt: skip
    return {
        "visitors": visitors,
        "days": days,
        "lookback_days": lookback_days,
        "expired": expired_count,
        "seconds": time.perf_counter() - started,
        "curve": curve,
    }


def flat(result: dict[str, Any]) -> tuple[bool, float]:
    """Whether RSS stayed flat once the look-back was reached: growth from the first
    sample past twice the look-back to the last, in MB (within 5% or 2 MB is flat)."""
    settled = [p for p in result["curve"] if p["event_days"] >= 2 * result["lookback_days"]]
    if len(settled) < 2:
        return False, float("nan")
    growth = settled[-1]["rss_mb"] - settled[0]["rss_mb"]
    return growth <= max(2.0, 0.05 * settled[0]["rss_mb"]), growth


def run_soak(visitors: int, timeout_s: float = 900) -> dict[str, Any]:
    """The soak in a fresh child process (its own RSS)."""
    import subprocess

    from bench.common import child_env, python_module

    done = subprocess.run(
        python_module("bench.identity_soak", "--visitors", str(visitors)),
        env=child_env(), capture_output=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"identity soak failed: {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identity_soak", description=__doc__)
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0, help="event time the visits span")
    parser.add_argument("--lookback-days", type=float, default=1.0)
    args = parser.parse_args(argv)
    result = soak(args.visitors, args.days, args.lookback_days)
    for point in result["curve"]:
        print(
            f"{point['visitors_seen']:>10,} visitors, day {point['event_days']:6.2f}: "
            f"{point['tracked']:>9,} tracked, +{point['rss_mb']:7.1f} MB RSS",
            file=sys.stderr,
        )
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
