"""Give every consumer of a worker process SCORER_KAFKA_FETCH_MAX_WAIT_MS.

Faust's aiokafka driver builds its consumer with a hard-coded `fetch_max_wait_ms=1500`
and has no setting for it (no upstream issue found; other client options were exposed
the same way, e.g. robinhood/faust #219). On a broker that answers an empty fetch only
after the full wait (Tansu), 1.5 s is added to every quiet partition's latency.
Checked on faust-streaming 0.15.3 with aiokafka 0.14.0; the canary fails when Faust
stops passing the hard-coded value (then a setting may exist) or aiokafka's consumer
no longer takes the keyword.
"""

from __future__ import annotations

from typing import Any


def apply_fetch_max_wait(wait_ms: int) -> None:
    """Wrap aiokafka's consumer constructor, in the worker process only: the one place
    to change the wait without forking Faust."""
    import aiokafka

    original = aiokafka.AIOKafkaConsumer.__init__
    if getattr(original, "_scorer_wrapped", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = wait_ms
        original(self, *args, **kwargs)

    init._scorer_wrapped = True  # type: ignore[attr-defined]
    aiokafka.AIOKafkaConsumer.__init__ = init
