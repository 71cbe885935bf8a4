"""docker-compose.yml is checked without a Docker engine: structure always, and
`docker-compose config -q` (Debian's docker-compose package) where it is installed."""

from __future__ import annotations

import os
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
    assert set(services) == {
        "kafka", "redis", "topic-init", "scorer", "collector", "prometheus", "grafana",
    }  # fmt: skip
    for name in ("kafka", "redis", "prometheus", "grafana"):
        image = services[name]["image"]
        assert re.search(r":v?\d+\.\d+\.\d+", image), f"{name} image not pinned: {image}"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["topic-init"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    # Scalable: no fixed host port on the worker, so replicas do not collide.
    assert "ports" not in services["scorer"]
    assert services["scorer"]["command"] == ["scorer", "worker"]


def test_only_what_a_user_needs_is_published_and_on_loopback_only() -> None:
    services = _compose()["services"]
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    # The collector is the front door browsers and webhooks reach (through a TLS proxy).
    assert set(published) == {"kafka", "redis", "prometheus", "grafana", "collector"}
    for name, ports in published.items():
        for port in ports:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_secrets_are_required_and_data_survives_down() -> None:
    text = COMPOSE.read_text()
    services = _compose()["services"]
    # Compose refuses to start without them (${VAR:?message}); none has a default.
    for variable in (
        "REDIS_PASSWORD", "SCORER_WEB_TOKEN", "GRAFANA_ADMIN_PASSWORD",
        "SCORER_COLLECTOR_LEAD_ID_SECRET",
    ):  # fmt: skip
        assert f"${{{variable}:?" in text, variable
        assert f"{variable}=" in (ROOT / "deploy" / "compose.env.example").read_text()
    assert "--requirepass" in " ".join(services["redis"]["command"])
    assert "${REDIS_PASSWORD:?" in services["scorer"]["environment"]["SCORER_REDIS_URL"]
    assert services["grafana"]["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    volumes = _compose()["volumes"]
    assert "kafka-data:/var/lib/kafka/data" in services["kafka"]["volumes"]
    assert services["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert {"kafka-data", "redis-data", "prometheus-data"} <= set(volumes)


def test_replicas_advertise_their_own_address() -> None:
    env = _compose()["services"]["scorer"]["environment"]
    # A wildcard bind without SCORER_WEB_ADVERTISED_HOST advertises the container's own
    # address (Settings.web_canonical_url); a fixed name would be shared by every replica.
    assert env["SCORER_WEB_HOST"] == "0.0.0.0"  # noqa: S104
    assert "SCORER_WEB_ADVERTISED_HOST" not in env


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
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"])
    assert mounts["./deploy/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    config = yaml.safe_load((ROOT / "deploy/prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    assert job["dns_sd_configs"][0]["names"] == ["scorer"]
    assert job["dns_sd_configs"][0]["port"] == 6066
    # The alert rules are mounted where the configuration loads them from.
    [rules_file] = config["rule_files"]
    assert mounts["./deploy/prometheus/alerts.yml"] == rules_file


def test_grafana_is_provisioned_with_the_dashboard_and_prometheus() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    datasources = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/scorer.yml").read_text()
    )
    assert mounts["./deploy/grafana/dashboards"] == providers["providers"][0]["options"]["path"]
    assert (ROOT / "deploy/grafana/dashboards/scorer.json").is_file()


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
    secrets = {"REDIS_PASSWORD": "x", "SCORER_WEB_TOKEN": "x", "GRAFANA_ADMIN_PASSWORD": "x"}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
        timeout=60, check=False, cwd=ROOT, env={**os.environ, **secrets},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
