"""The README's run command: alerts within 90 s, the demo site's known lead becomes an MQL
shown with its reasons, clean exit on Ctrl-C, nothing left over."""

from __future__ import annotations

import itertools
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
        # The README's promise: open the printed link, click through, watch your lead.
        link = re.search(r"Open (http://127\.0\.0\.1:\d+)/\?lead=([\w.:-]+)", output)
        assert link is not None, output
        _walk_the_demo(link[1], link[2])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _demo_mql_reasons(lines, link[2]):
            assert dev.poll() is None, "".join(lines)
            time.sleep(0.2)
        reasons = _demo_mql_reasons(lines, link[2])
        assert reasons, f"the demo lead's MQL did not show within 60 s:\n{''.join(lines)}"
        for reason in ("お問い合わせ", "料金ページ閲覧", "導入事例ダウンロード"):
            assert reason in reasons, reasons
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


def _walk_the_demo(site: str, lead: str) -> None:
    from playwright.sync_api import sync_playwright

    from tests.support_collector import (
        BROWSER_UA,
        CHROMIUM,
        CHROMIUM_ARGS,
        walk_known_lead_journey,
    )

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(user_agent=BROWSER_UA, accept_downloads=True).new_page()
        walk_known_lead_journey(page, site, lead)
        page.click("button[type=submit]")
        page.wait_for_url(f"{site}/thanks.html")
        browser.close()


def _demo_mql_reasons(lines: list[str], lead: str) -> str | None:
    """The 'your demo lead' line (all reasons) that follows the lead's MQL line."""
    snapshot = list(lines)
    for line, after in itertools.pairwise(snapshot):
        if re.search(rf"\bMQL\b +{re.escape(lead)} ", line) and "your demo lead" in after:
            return after
    return None
