"""SCORER_KAFKA_SESSION_TIMEOUT_S reaches Faust, with heartbeats well inside the session."""

from __future__ import annotations

import pytest

from scorer.settings import ConfigError, load_settings
from scorer.stream.app import _faust_options


@pytest.mark.parametrize(
    ("session_s", "heartbeat_s"),
    [(10.0, 1.0), (4.0, 1.0), (3.0, 1.0), (1.5, 0.5)],
)
def test_the_session_timeout_reaches_faust_with_heartbeats_a_third_of_it_at_most(
    session_s: float, heartbeat_s: float
) -> None:
    options = _faust_options(load_settings({}, kafka_session_timeout_s=session_s))
    assert options["broker_session_timeout"] == session_s
    assert options["broker_heartbeat_interval"] == pytest.approx(heartbeat_s)


def test_the_default_is_ten_seconds() -> None:
    assert _faust_options(load_settings({}))["broker_session_timeout"] == 10.0


def test_less_than_a_second_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCORER_KAFKA_SESSION_TIMEOUT_S", "0.5")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("SCORER_KAFKA_SESSION_TIMEOUT_S: ")
