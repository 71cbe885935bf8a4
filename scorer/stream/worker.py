"""Run one scorer worker in the foreground."""

from __future__ import annotations

import asyncio
import logging
import sys

from scorer.settings import Settings
from scorer.stream.admin import check_broker, startup_warnings
from scorer.stream.gc_tuning import tune_for_worker
from scorer.stream.workarounds.fetch_wait import apply_fetch_max_wait

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> None:
    """Check the setup, then run until SIGTERM/SIGINT. Bad setup raises a one-line error."""
    from scorer.rules import load_rules
    from scorer.stream.app import create_app
    from scorer.stream.workarounds.worker_logging import SpinnerlessWorker

    rules = load_rules(settings.rules_file, time_scale=settings.time_scale)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(check_broker(settings))
    for warning in asyncio.run(startup_warnings(settings)):
        print(f"scorer: warning: {warning}", file=sys.stderr, flush=True)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    apply_fetch_max_wait(settings.kafka_fetch_max_wait_ms)
    asyncio.set_event_loop(asyncio.new_event_loop())
    scorer_app = create_app(settings, rules)
    log.info("scoring with rules version %s", rules.version)
    tune_for_worker()
    worker = SpinnerlessWorker(scorer_app.app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
