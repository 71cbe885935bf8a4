"""Helpers shared by the benchmark's parts: child processes, progress polling, RSS."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from scorer.contracts.topics import input_topics

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"


def input_topic_names(prefix: str) -> list[str]:
    return [f"{prefix}{spec.name}" for spec in input_topics()]


def child_env(
    extra: dict[str, str] | None = None, base: dict[str, str] | None = None
) -> dict[str, str]:
    """An environment for a `python -m bench.…` child: the repo on the path, plus `extra`."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def http_json(url: str, timeout_s: float = 2.0) -> Any:
    """GET `url` as JSON; None when it does not answer (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def rss_bytes(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far: on a machine
    shared with other work, a steadier measure of a system's cost than its wall rate."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def cpu_until_settled(
    pid: int, timeout_s: float = 30.0, window_s: float = 0.5, idle_share: float = 0.1
) -> float:
    """The process's CPU seconds once it has settled: at the start of the first `window_s`
    in which it used under `idle_share` of a core (or at `timeout_s`). Work a run left
    behind (changelog records still being sent, a last checkpoint) is counted with it."""
    deadline = time.monotonic() + timeout_s
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(window_s)
        now = cpu_seconds(pid)
        if now - before < idle_share * window_s:
            return before
        before = now
    return before


@dataclass(frozen=True, slots=True)
class Progress:
    events: int
    seconds: float  # from the last look that saw no event to the last look

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def time_progress(
    count: Callable[[], int],
    target: int,
    cap_s: float,
    *,
    start_timeout_s: float = 120.0,
    poll_s: float = 0.2,
    alive: Callable[[], bool] = lambda: True,
) -> Progress:
    """Time a consumer from outside: from its last look at 0 events to `target` (or the cap).

    Start and end are taken conservatively (before the last zero reading, after the
    final reading), so the rate is underestimated by at most one poll interval.
    """
    deadline = time.monotonic() + start_timeout_s
    started = time.monotonic()
    while True:
        before = time.monotonic()
        seen = count()
        if seen > 0:
            break
        started = before
        if before > deadline or not alive():
            raise RuntimeError("the system under test consumed nothing")
        time.sleep(poll_s)
    end = started + cap_s
    now = time.monotonic()
    while seen < target and now < end:
        if not alive():
            raise RuntimeError("the system under test exited during the run")
        time.sleep(poll_s)
        seen = count()
        now = time.monotonic()
    return Progress(min(seen, target), now - started)
