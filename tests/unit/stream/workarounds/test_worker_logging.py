"""A worker at log level WARN or INFO leaves the root and library loggers above DEBUG.

Faust's own worker sets the root logger to DEBUG for its terminal spinner at WARN and
above, so every library `log.debug` builds a record (see workarounds/worker_logging.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest

from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.workarounds.worker_logging import SpinnerlessWorker

LIBRARY_LOGGERS = ("faust", "mode", "aiokafka", "scorer")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


async def _set_up_logging(worker_type: type[faust.Worker], level: str, tmp_path: Path) -> None:
    """What a worker does to logging when it starts (mode's `_setup_logging`)."""
    settings = load_settings({}, partitions=1, data_dir=tmp_path, topic_prefix="unit.")
    app: Any = create_app(settings, load_rules(settings.rules_file)).app
    app.loop = asyncio.get_running_loop()
    worker = worker_type(app, loglevel=level, quiet=True, redirect_stdouts=False)
    worker._setup_logging()


@pytest.mark.parametrize("level", ["WARN", "INFO", "ERROR"])
async def test_the_scorer_s_worker_keeps_debug_records_unbuilt(
    level: str, tmp_path: Path, restored_logging: None
) -> None:
    await _set_up_logging(SpinnerlessWorker, level, tmp_path)
    root = logging.getLogger()
    assert root.level == logging.getLevelName("WARNING" if level == "WARN" else level)
    for name in LIBRARY_LOGGERS:
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name


async def test_faust_s_worker_still_sets_the_root_logger_to_debug_at_warn(
    tmp_path: Path, restored_logging: None
) -> None:
    """A canary: when this fails, Faust no longer does it and SpinnerlessWorker can go."""
    await _set_up_logging(faust.Worker, "WARN", tmp_path)
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("aiokafka").isEnabledFor(logging.DEBUG)
