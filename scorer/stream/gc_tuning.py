"""The cyclic garbage collector tuned for a long-running worker.

CPython collects its youngest generation after every 700 net container allocations,
and every 100 of those a full collection walks every object still alive. A worker
allocates hundreds of containers per scored event (decoded input, the core's new
immutable states, outputs) and keeps many: the decoded states of the most recently used
keys (SCORER_STATE_CACHE_KEYS per table) and all that startup built (modules, rules,
Faust's services). Measured in workers scoring the same input (`python -m
bench.experiments`, old and new interleaved, the collector timed through `gc.callbacks`
on a loaded machine): on 40,000 single-event messages the defaults made 13-14 full
collections, each 0.4-0.5 s of wall time; tuned as below, 2, and 18% more events per
worker CPU second (1,644 -> 1,946). On 60,000 events in partition envelopes, whose
batches hold thousands of live events, 18-20 full collections of ~1 s each; tuned,
41% more events per worker CPU second (2,319 -> 3,266, medians). Nearly all of it
found nothing to free: the core's values are immutable and acyclic.

So, once the app is declared: what exists then is frozen (never walked again, as
Python's docs advise for long-lived processes, `gc.freeze`), and the youngest
generation waits for GEN0_THRESHOLD allocations (so a full collection comes at most
once per GEN0 x GEN1 x GEN2 = 1M of them). Cycles are still collected (Faust's and
asyncio's futures and tracebacks make some), only less often.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000
GEN1_THRESHOLD = 10
GEN2_THRESHOLD = 10


def tune_for_worker() -> None:
    """Freeze what startup made and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)
