"""How the suite spreads over pytest-xdist processes (scripts/test runs
`-n 3 --dist loadscope --no-loadscope-reorder`).

- An integration module runs whole in one process: its module fixtures (a collector, a
  pair of workers) start once, and tests that read what earlier tests of the module left
  (the collector's final tally) see it. Every other test is a unit of its own, so the
  CPU-bound unit and property tests spread evenly.
- Units are handed out in collection order, and the collection puts the integration
  modules first, the longest (the quick benchmark, about two minutes alone) first of all:
  they mostly wait (worker starts, group joins, timers coming due), and the CPU-bound
  tests fill the cores that waiting leaves free. Started last, the benchmark would be
  the tail of the run. The order within a module is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
INTEGRATION = TESTS / "integration"
INTEGRATION_NODEID_PREFIX = "tests/integration/"
LONGEST_FIRST = ("test_bench.py",)  # integration modules known to take longest, in order


def _rank(item: pytest.Item) -> tuple[int, int]:
    path = Path(item.path)
    if path.parent != INTEGRATION:
        return (2, 0)
    if path.name in LONGEST_FIRST:
        return (0, LONGEST_FIRST.index(path.name))
    return (1, 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the order within each rank stays


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadscope":
        return None  # xdist's own scheduler for any other --dist
    from xdist.scheduler import LoadScopeScheduling

    class IntegrationModulesWhole(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(INTEGRATION_NODEID_PREFIX):
                return nodeid.split("::", 1)[0]
            return nodeid

    return IntegrationModulesWhole(config, log)
