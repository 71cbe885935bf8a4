from __future__ import annotations

import pytest

from scorer.settings import ConfigError, Settings, describe_settings, load_settings


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SCORER_KAFKA_BOOTSTRAPP": "x:1"}, "unknown setting SCORER_KAFKA_BOOTSTRAPP (did you mean SCORER_KAFKA_BOOTSTRAP?)"),
        ({"SCORER_NOPE": "1"}, "unknown setting SCORER_NOPE"),
        ({"SCORER_REDIS_URL": "http://localhost"}, "SCORER_REDIS_URL: Redis URL must specify one of the following schemes"),
        ({"SCORER_KAFKA_BOOTSTRAP": "localhost"}, "SCORER_KAFKA_BOOTSTRAP: expected host:port"),
        ({"SCORER_PARTITIONS": "0"}, "SCORER_PARTITIONS: Input should be greater than or equal to 1"),
        ({"SCORER_STORE": "disk://"}, "SCORER_STORE: Input should be 'memory://' or 'rocksdb://'"),
    ],
    ids=["typo", "unknown", "redis-scheme", "bootstrap-no-port", "partitions", "store"],
)  # fmt: skip
def test_bad_configuration_is_one_line_naming_the_setting(
    environ: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORER_KAFKA_BOOTSTRAP", "a:1,b:2")
    monkeypatch.setenv("SCORER_PARTITIONS", "8")
    settings = load_settings()
    assert settings.kafka_url == "kafka://a:1;kafka://b:2"
    assert settings.partitions == 8


def test_every_setting_is_documented() -> None:
    rows = describe_settings()
    assert len(rows) == len(Settings.model_fields)
    assert all(name.startswith("SCORER_") and doc for name, _, doc in rows)


def test_topic_prefix_applies_to_names() -> None:
    assert (
        load_settings({}, topic_prefix="dev.").topic("leads.web-events.v1")
        == "dev.leads.web-events.v1"
    )


@pytest.mark.parametrize(
    ("url", "printed"),
    [
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("rediss://scorer:p%40ss@cache.example:6380/1", "rediss://scorer:***@cache.example:6380/1"),
        ("redis://:pw@[::1]:6379", "redis://:***@[::1]:6379"),
        ("unix:///run/redis.sock?password=s3cret&db=1", "unix:///run/redis.sock?password=***&db=1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_printed_urls_mask_their_password(url: str, printed: str) -> None:
    from scorer.settings import redact_url

    assert redact_url(url) == printed


def test_a_wildcard_web_host_advertises_this_hosts_address() -> None:
    import socket

    assert load_settings({}, web_host="127.0.0.1", web_port=7000).web_canonical_url == (
        "http://127.0.0.1:7000"
    )
    wildcard = load_settings({}, web_host="0.0.0.0", web_port=7000)  # noqa: S104
    own = socket.gethostbyname(socket.gethostname())
    assert wildcard.web_canonical_url == f"http://{own}:7000"
    named = load_settings({}, web_host="0.0.0.0", web_advertised_host="scorer-2")  # noqa: S104
    assert named.web_canonical_url == "http://scorer-2:6066"


@pytest.mark.parametrize(
    "url",
    ["redis://:pw-SECRET@host:notaport/0", "http://:pw-SECRET@h/0", "redis://:pw-SECRET@h:99999/0"],
)
def test_a_bad_redis_url_is_refused_without_echoing_its_password(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^SCORER_REDIS_URL: ") as raised:
        load_settings({}, redis_url=url)
    assert "SECRET" not in str(raised.value)
