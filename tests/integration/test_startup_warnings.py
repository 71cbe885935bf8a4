"""Point 10: a worker warns at start about missing input topics and an unreachable Redis
(on the real broker and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from scorer.contracts.topics import input_topics
from scorer.devstack import free_port
from scorer.stream.admin import apply_topics, startup_warnings


def test_missing_input_topics_and_unreachable_redis_are_warned(
    make_settings: Callable[..., Any],
) -> None:
    port = free_port()
    closed = f"redis://:pw@127.0.0.1:{port}/0"
    settings = make_settings(redis_url=closed)
    warnings = asyncio.run(startup_warnings(settings))
    missing = [w for w in warnings if w.startswith("input topic ")]
    assert len(missing) == len(input_topics())
    assert settings.topic(input_topics()[0].name) in missing[0]
    (redis,) = [w for w in warnings if w.startswith("SCORER_REDIS_URL")]
    assert f"127.0.0.1:{port} (" in redis
    assert "pw" not in redis

    ready = make_settings()
    asyncio.run(apply_topics(ready))
    assert asyncio.run(startup_warnings(ready)) == []
