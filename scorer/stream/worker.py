"""Run one scorer worker in the foreground."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scorer.serving.redis_check import check_redis
from scorer.settings import Settings
from scorer.stream.admin import check_broker

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Check the setup, then run until SIGTERM/SIGINT. Bad setup raises a one-line error."""
    import faust

    from scorer.rules import load_rules
    from scorer.stream.app import create_app

    rules = load_rules(settings.rules_file, time_scale=settings.time_scale)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(check_broker(settings))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(check_redis(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _apply_fetch_max_wait(settings.kafka_fetch_max_wait_ms)
    asyncio.set_event_loop(asyncio.new_event_loop())
    scorer_app = create_app(settings, rules)
    log.info("scoring with rules version %s", rules.version)
    worker = faust.Worker(scorer_app.app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()


def _apply_fetch_max_wait(wait_ms: int) -> None:
    """Give every consumer of this worker process SCORER_KAFKA_FETCH_MAX_WAIT_MS.

    Faust builds its consumer with a hard-coded `fetch_max_wait_ms=1500` and no setting;
    wrapping aiokafka's constructor here, in the worker process only, is the one place
    to change it without forking Faust.
    """
    import aiokafka

    original = aiokafka.AIOKafkaConsumer.__init__
    if getattr(original, "_scorer_wrapped", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["fetch_max_wait_ms"] = wait_ms
        original(self, *args, **kwargs)

    init._scorer_wrapped = True  # type: ignore[attr-defined]
    aiokafka.AIOKafkaConsumer.__init__ = init
