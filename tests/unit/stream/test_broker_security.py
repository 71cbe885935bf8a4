"""The worker's Kafka credentials follow SCORER_KAFKA_SECURITY_PROTOCOL exactly (Faust
derives the protocol from the credentials object, not from a setting)."""

from __future__ import annotations

from pathlib import Path

import pytest
from faust.types.auth import AuthProtocol

from scorer.settings import ConfigError, load_settings
from scorer.stream.admin import client_options
from scorer.stream.app import broker_credentials


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("PLAINTEXT", None),
        ("SSL", AuthProtocol.SSL),
        ("SASL_PLAINTEXT", AuthProtocol.SASL_PLAINTEXT),
        ("SASL_SSL", AuthProtocol.SASL_SSL),
    ],
)
def test_credentials_carry_the_configured_protocol(
    protocol: str, expected: AuthProtocol | None
) -> None:
    settings = load_settings(
        {},
        kafka_security_protocol=protocol,
        kafka_username="u",
        kafka_password="p",  # noqa: S106
    )
    credentials = broker_credentials(settings)
    assert (credentials.protocol if credentials else None) == expected
    assert client_options(settings)["security_protocol"] == protocol


def test_a_missing_ca_file_is_a_one_line_error(tmp_path: Path) -> None:
    settings = load_settings(
        {}, kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=tmp_path / "nope.pem"
    )
    with pytest.raises(ConfigError, match=r"^SCORER_KAFKA_SSL_CAFILE: no such file"):
        broker_credentials(settings)
