from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Servers, WorkerProcess, isolated_settings, servers_for_tests, stop_all


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """One broker and one Redis per test session (per xdist worker under pytest-xdist);
    tests keep apart by their own topic prefix, consumer group and Redis key prefix."""
    with servers_for_tests() as found:
        yield found


@pytest.fixture
def make_settings(servers: Servers, tmp_path: Path) -> Callable[..., Any]:
    return lambda **overrides: isolated_settings(servers, tmp_path, **overrides)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(settings: Any, name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"{name}-{len(started)}.log")
        started.append(worker)
        return worker.start()

    yield start
    stop_all(started)
