"""Simulated histories (with the hidden true model) shared by the calibrate tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scorer.simulator_io import write_history


@pytest.fixture(scope="session")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, int], Path]:
    made: dict[tuple[int, int], Path] = {}

    def make(leads: int, seed: int) -> Path:
        key = (leads, seed)
        if key not in made:
            path = tmp_path_factory.mktemp("history") / f"history-{leads}-{seed}.jsonl"
            write_history(path, leads, 12, seed)
            made[key] = path
        return made[key]

    return make
