"""The collector and its demo site in `scorer dev`: a browser can walk the journey of a
known lead and the terminal shows that lead's hand-off alert."""

from __future__ import annotations

import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scorer.devstack.processes import ManagedProcess
from scorer.devstack.servers import LOOPBACK, free_port

DEMO_LEAD = "demo-lead-1"
PREFERRED_COLLECTOR_PORT = 8088
PREFERRED_DEMO_PORT = 8080


def _port(preferred: int) -> int:
    """The preferred port when it is free (stable URLs to bookmark), else any free one."""
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, preferred))
        except OSError:
            return free_port()
    return preferred


@dataclass(frozen=True, slots=True)
class DemoPorts:
    collector: int
    site: int

    @property
    def collector_url(self) -> str:
        return f"http://{LOOPBACK}:{self.collector}"

    @property
    def site_url(self) -> str:
        return f"http://{LOOPBACK}:{self.site}"

    @property
    def journey_url(self) -> str:
        """A known-lead link, as a marketing email would carry it."""
        return f"{self.site_url}/?lead={DEMO_LEAD}"


def demo_ports() -> DemoPorts:
    collector = _port(PREFERRED_COLLECTOR_PORT)
    site = _port(PREFERRED_DEMO_PORT)
    return DemoPorts(collector, site if site != collector else free_port())


def collector_overrides(ports: DemoPorts) -> dict[str, Any]:
    """Collector settings of the dev stack: loopback, the demo site's origin, a fresh key."""
    return {
        "collector_port": ports.collector,
        "collector_allowed_origins": ports.site_url,
        "collector_lead_id_secret": secrets.token_urlsafe(32),
    }


def collector_process(env: dict[str, str], workdir: Path) -> ManagedProcess:
    return ManagedProcess(
        "scorer collect", [sys.executable, "-m", "scorer", "collect"],
        env=env, log_path=workdir / "collector.log",
    )  # fmt: skip
