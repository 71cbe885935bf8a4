"""Bad setup gives one line naming the setting, exit code 2, and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scorer.devstack import free_port


def _scorer(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SCORER_")}
    return subprocess.run(
        [sys.executable, "-m", "scorer", *args], env=clean | env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SCORER_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}, "scorer: error: SCORER_KAFKA_BOOTSTRAP: cannot reach Kafka at"),
        ({"SCORER_REDIS_URL": "http://nope"}, "scorer: error: SCORER_REDIS_URL: Redis URL must specify"),
        ({"SCORER_KAFKA_BOOTSTAP": "x:1"}, "scorer: error: unknown setting SCORER_KAFKA_BOOTSTAP (did you mean SCORER_KAFKA_BOOTSTRAP?)"),
        ({"SCORER_RULES_FILE": "/nonexistent/rules.yaml"}, "scorer: error: "),
    ],
    ids=["unreachable-broker", "bad-redis-url", "unknown-setting", "missing-rules-file"],
)  # fmt: skip
def test_worker_setup_errors_are_one_line(env: dict[str, str], expected: str) -> None:
    result = _scorer(["worker"], **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert "Traceback" not in result.stderr


def test_topics_apply_names_the_unreachable_broker() -> None:
    result = _scorer(["topics", "apply"], SCORER_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert "SCORER_KAFKA_BOOTSTRAP: cannot reach Kafka" in result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "scorer: error: SCORER_COLLECTOR_LEAD_ID_SECRET: required by scorer collect"),
        ({"SCORER_COLLECTOR_LEAD_ID_SECRET": "short"}, "scorer: error: SCORER_COLLECTOR_LEAD_ID_SECRET: use at least 16"),
        ({"SCORER_COLLECTOR_LEAD_ID_SECRET": "0123456789abcdef", "SCORER_COLLECTOR_FORMS_FILE": "/nonexistent/forms.yaml"},
         "scorer: error: SCORER_COLLECTOR_FORMS_FILE: /nonexistent/forms.yaml: cannot read"),
        ({"SCORER_COLLECTOR_LEAD_ID_SECRET": "0123456789abcdef", "SCORER_COLLECTOR_SENDGRID_PUBLIC_KEY": "abc"},
         "scorer: error: SCORER_COLLECTOR_SENDGRID_PUBLIC_KEY: not an ECDSA public key"),
        ({"SCORER_COLLECTOR_LEAD_ID_SECRET": "0123456789abcdef", "SCORER_COLLECTOR_ALLOWED_ORIGINS": "https://ok.example.com,www.example.com"},
         "scorer: error: SCORER_COLLECTOR_ALLOWED_ORIGINS: 'www.example.com' is not an origin"),
        ({"SCORER_COLLECTOR_LEAD_ID_SECRET": "0123456789abcdef", "SCORER_COLLECTOR_EVENT_TYPES": "web,webinar"},
         "scorer: error: SCORER_COLLECTOR_EVENT_TYPES: unknown category 'webinar'"),
    ],
    ids=["no-secret", "short-secret", "missing-forms-file", "bad-sendgrid-key", "bad-origin", "bad-category"],
)  # fmt: skip
def test_collector_setup_errors_are_one_line(env: dict[str, str], expected: str) -> None:
    result = _scorer(["collect"], **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)
    assert "0123456789abcdef" not in result.stderr
