"""Point 10: `scorer settings` shows what is in effect, `scorer simulate` without a broker
is one line, and a killed `scorer dev` leaves no directory behind for long."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from scorer.devstack import free_port
from scorer.devstack.workdirs import OWNER_FILE, PREFIX, UNOWNED_STALE_AFTER_S, remove_stale

ROOT = Path(__file__).resolve().parents[2]


def _scorer(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SCORER_")}
    return subprocess.run(
        [sys.executable, "-m", "scorer", *args], env=clean | env, cwd=cwd,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_settings_shows_values_in_effect_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SCORER_PARTITIONS=8\nSCORER_KAFKA_PASSWORD=hunter2\n")
    result = _scorer(["settings"], tmp_path, SCORER_REDIS_URL="redis://app:s3cret@cache:6380/1")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:3] for line in result.stdout.splitlines()}
    assert rows["SCORER_PARTITIONS"] == ["8", ".env"]
    assert rows["SCORER_REDIS_URL"] == ["redis://app:********@cache:6380/1", "env"]
    assert rows["SCORER_KAFKA_PASSWORD"] == ["********", ".env"]
    assert rows["SCORER_APP_ID"] == ["lead-scorer", "default"]
    assert "hunter2" not in result.stdout
    assert "s3cret" not in result.stdout


def test_settings_refuses_unknown_names_as_the_worker_does(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SCORER_REDIS_UR=redis://x\n")
    for command in (["settings"], ["worker"]):
        result = _scorer(command, tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            "scorer: error: unknown setting SCORER_REDIS_UR (in .env) "
            "(did you mean SCORER_REDIS_URL?)"
        )
    (tmp_path / ".env").unlink()
    result = _scorer(["settings"], tmp_path, SCORER_PARTITONS="2")
    assert result.returncode == 2
    assert "unknown setting SCORER_PARTITONS (did you mean SCORER_PARTITIONS?)" in result.stderr


def test_simulate_without_a_broker_is_one_line(tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    result = _scorer(["simulate", "--duration", "1"], tmp_path, SCORER_KAFKA_BOOTSTRAP=bootstrap)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"scorer: error: SCORER_KAFKA_BOOTSTRAP: cannot reach Kafka at {bootstrap} "
        "(KafkaConnectionError)"
    ]


def test_stale_stack_directories_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    killed, running, old, recent = (tmp_path / f"{PREFIX}{n}" for n in ("a", "b", "c", "d"))
    for path in (killed, running, old, recent):
        path.mkdir()
        (path / "redis.log").write_text("...")
    (killed / OWNER_FILE).write_text(gone.stdout)
    (running / OWNER_FILE).write_text(f"{os.getpid()}\n")
    stamp = time.time() - UNOWNED_STALE_AFTER_S - 60
    for file in (old, old / "redis.log"):
        os.utime(file, (stamp, stamp))
    (tmp_path / "other-dir").mkdir()
    assert sorted(remove_stale(tmp_path)) == [killed, old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other-dir",
        f"{PREFIX}b",
        f"{PREFIX}d",
    ]
