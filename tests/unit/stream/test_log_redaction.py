from __future__ import annotations

import inspect
import logging

import pytest

from scorer.stream.log_redaction import RECORD_LOGGERS, install_record_redaction


def test_faust_still_logs_produced_records_where_the_filter_is() -> None:  # canary
    import faust.topics
    import faust.transport.drivers.aiokafka as driver

    for module in (faust.topics, driver):
        assert module.logger.name in RECORD_LOGGERS
        assert "send: topic=%r k=%r v=%r" in inspect.getsource(module)


def test_keys_and_values_are_logged_as_their_sizes(caplog: pytest.LogCaptureFixture) -> None:
    install_record_redaction()
    install_record_redaction()  # idempotent
    logger = logging.getLogger("faust.topics")
    assert len(logger.filters) == 1
    caplog.set_level(logging.DEBUG, logger="faust.agents.agent")
    with caplog.at_level(logging.DEBUG, logger="faust.topics"):
        logger.debug(
            "send: topic=%r k=%r v=%r timestamp=%r partition=%r",
            "leads.dead-letters.v1", b"lead-1", b'{"company": "Yamabiko"}', None, 3,
        )  # fmt: skip
        logging.getLogger("faust.agents.agent").debug("%r yielded: %r", "agent", {"phone": "1"})
    text = caplog.text
    assert "leads.dead-letters.v1" in text
    assert "<6 bytes>" in text
    assert "<23 bytes>" in text
    assert "Yamabiko" not in text
    assert "<dict>" in text
    assert "phone" not in text
