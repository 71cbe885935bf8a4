"""The embedded stack starts real servers and leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scorer.devstack import DevStack, ManagedProcess, StackError
from scorer.devstack.workdirs import remove_stale
from tests.support import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_stack_serves_kafka_and_redis_then_stops_both() -> None:
    with DevStack() as stack:
        host, port = stack.kafka_bootstrap.split(":")
        socket.create_connection((host, int(port)), timeout=2).close()
        redis_port = int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", redis_port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(16).startswith(b"+PONG")
        pids = [p.process.pid for p in (stack._kafka, stack._redis) if p]
        assert all(pid and _alive(pid) for pid in pids)
    assert not any(_alive(pid) for pid in pids if pid)


def test_servers_die_when_the_stack_process_is_killed() -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from scorer.devstack import DevStack
        stack = DevStack().start()
        print(stack._kafka.process.pid, stack._redis.process.pid, stack.workdir, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    kafka, redis, workdir = parent.stdout.readline().split()
    pids = [int(kafka), int(redis)]
    assert all(_alive(p) for p in pids)
    assert Path(workdir) not in remove_stale(), "a running stack's directory is kept"
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    wait_for(lambda: not any(_alive(p) for p in pids), 10, "orphaned servers to exit")
    assert Path(workdir).is_dir(), "kill -9 leaves the directory"
    with DevStack(kafka="127.0.0.1:1", redis="redis://127.0.0.1:1/0"):  # starts nothing
        assert not Path(workdir).exists(), "the next stack removes it"


def test_a_server_that_dies_at_start_is_reported_by_name() -> None:
    process = ManagedProcess("broken server", [sys.executable, "-c", "raise SystemExit(3)"])
    process.start()
    with pytest.raises(StackError, match="broken server exited with code 3"):
        process.wait_until(lambda: False, 10, "ready")
    process.stop()


def test_the_dev_screen_shows_actions_and_sla_breaches_on_one_line_each() -> None:
    from scorer.devstack.session import format_action, format_alert

    action = format_action({
        "kind": "assign", "lead_id": "lead-7", "params": {"team": "inside-sales-product-a"},
        "scenario_id": "product_a_assign", "emitted_at": "2026-11-24T10:15:00+00:00",
    })  # fmt: skip
    assert "assign" in action
    assert "team=inside-sales-product-a" in action
    assert "10:15:00" in action
    breach = format_alert({
        "kind": "sla_breached", "lead_id": "lead-7", "team": "inside-sales",
        "handoff_alert_id": "lead:lead-7:mql:1", "emitted_at": "2026-11-24T14:15:00+00:00",
    })  # fmt: skip
    assert "SLA BREACHED" in breach
    assert "lead:lead-7:mql:1" in breach
    assert "\n" not in action + breach


def test_the_demo_lead_gets_every_reason_and_the_demo_urls_are_loopback() -> None:
    from scorer.devstack.demo import DEMO_LEAD, collector_overrides, demo_ports
    from scorer.devstack.session import all_reasons

    alert = {"reasons": [{"rule_id": "r1", "label": "お問い合わせ", "points": 20},
                         {"rule_id": "r2", "label": "料金ページ閲覧", "points": 15},
                         {"rule_id": "r3", "label": "導入事例ダウンロード", "points": 15},
                         {"rule_id": "r4", "label": "部長クラス以上", "points": 10}]}  # fmt: skip
    assert (
        all_reasons(alert)
        == "お問い合わせ +20, 料金ページ閲覧 +15, 導入事例ダウンロード +15, 部長クラス以上 +10"
    )
    ports = demo_ports()
    assert ports.journey_url == f"http://127.0.0.1:{ports.site}/?lead={DEMO_LEAD}"
    overrides = collector_overrides(ports)
    assert overrides["collector_allowed_origins"] == ports.site_url
    assert len(overrides["collector_lead_id_secret"]) >= 32
    assert ports.site != ports.collector
