"""The README's run command: alerts within 90 s, clean exit on Ctrl-C, nothing left over."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def test_dev_shows_a_handoff_alert_and_stops_cleanly_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORER_")}
    env["COLUMNS"] = "200"
    dev = subprocess.Popen(
        [sys.executable, "-m", "scorer", "dev", "--leads", "120", "--accounts", "12", "--rate", "15"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(dev.stdout.readline, "")), daemon=True
    )  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(
            re.search(r"\bMQL\b", line) for line in lines
        ):
            assert dev.poll() is None, "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        alert = next((line for line in lines if re.search(r"\bMQL\b", line)), None)
        assert alert is not None, f"no hand-off alert within 90 s:\n{output}"
        assert "score" in alert
        assert "why:" in alert
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(60)
        reader.join(5)
    output = "".join(lines)
    assert code == 0, output
    assert "stopped: broker, Redis, worker and collector are gone." in output
    pids = {int(p) for p in re.findall(r"pid (\d+)", output)}
    assert len(pids) == 4, f"broker, Redis, worker and collector pids expected:\n{output}"
    for pid in pids:
        assert not _alive(pid), f"process {pid} outlived scorer dev"
