"""Token buckets per visitor and per client address (OWASP OAT-016, "skewing").

Pure: the caller passes `now`. Bounded: the least recently used buckets are forgotten
beyond `max_keys` (a forgotten bucket comes back full, which only ever lets through
what the burst allows).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`rate` tokens per second, up to `burst`, per key."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate > 0, burst >= 1 and max_keys >= 1 required")
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens of `key`'s bucket if it has them; False (nothing spent) if not."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = max(bucket.updated, now)
        if bucket.tokens + 1e-9 < cost:
            return False
        bucket.tokens -= cost
        return True

    def retry_after(self, key: str, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens will be there (0 when they are now)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        missing = min(cost, self.burst) - bucket.tokens
        return max(0.0, missing / self.rate)
