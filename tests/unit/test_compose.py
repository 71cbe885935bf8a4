"""docker-compose.yml is checked without a Docker engine: structure always, and
`docker-compose config -q` (Debian's docker-compose package) where it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_services_images_are_pinned_and_built_worker_is_scalable() -> None:
    services = _compose()["services"]
    assert set(services) == {"kafka", "redis", "topic-init", "scorer", "collector", "prometheus"}
    for name in ("kafka", "redis", "prometheus"):
        image = services[name]["image"]
        assert re.search(r":v?\d+\.\d+\.\d+", image), f"{name} image not pinned: {image}"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["topic-init"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    # Scalable: no fixed host port on the worker, so replicas do not collide.
    assert "ports" not in services["scorer"]
    assert services["scorer"]["command"] == ["scorer", "worker"]


def test_startup_order_is_enforced_by_health_conditions() -> None:
    services = _compose()["services"]
    for name in ("kafka", "redis", "scorer"):
        assert "healthcheck" in services[name], name
    assert services["topic-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    scorer_deps = services["scorer"]["depends_on"]
    assert scorer_deps["topic-init"]["condition"] == "service_completed_successfully"
    assert scorer_deps["redis"]["condition"] == "service_healthy"


def test_prometheus_scrapes_every_worker_replica() -> None:
    services = _compose()["services"]
    mount = services["prometheus"]["volumes"][0].split(":")[0]
    config = yaml.safe_load((ROOT / mount).read_text())
    job = config["scrape_configs"][0]
    assert job["dns_sd_configs"][0]["names"] == ["scorer"]
    assert job["dns_sd_configs"][0]["port"] == 6066


def test_worker_environment_uses_only_known_settings() -> None:
    from scorer.settings import Settings, env_name

    known = {env_name(n) for n in Settings.model_fields}
    for service in ("topic-init", "scorer", "collector"):
        env = _compose()["services"][service]["environment"]
        assert set(env) <= known, set(env) - known


def test_collector_is_published_on_loopback_only_and_needs_its_secret() -> None:
    collector = _compose()["services"]["collector"]
    assert collector["command"] == ["scorer", "collect"]
    assert collector["ports"] == ["127.0.0.1:8088:8088"]
    assert collector["environment"]["SCORER_COLLECTOR_LEAD_ID_SECRET"].startswith("${")
    assert "/ready" in " ".join(collector["healthcheck"]["test"])
    assert "COPY forms forms" in (ROOT / "Dockerfile").read_text()


def test_docker_compose_config_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        # Debian's docker-compose is not installed: the structural tests above stand in.
        assert COMPOSE.is_file()
        return
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
        timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
