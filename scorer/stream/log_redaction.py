"""Keep message keys and values out of the worker's debug log.

At debug level faust-streaming logs every record it produces, key and value included
(`send: topic=%r k=%r v=%r ...` in faust/topics.py and faust/transport/drivers/aiokafka.py,
faust-streaming 0.15.x): changelog records with a lead's company and phone, dead letters
with the input unchanged. These logging filters replace every bytes argument of the
records of Faust's and aiokafka's loggers by its size, and what an agent yields by its
type, before any handler sees them. Public logging API only; the canary test in
tests/unit/stream/test_log_redaction.py fails if Faust's producer logs under other names.
"""

from __future__ import annotations

import logging
from typing import Any

# Loggers that log produced or consumed records at debug level.
RECORD_LOGGERS = (
    "faust.topics",
    "faust.transport.drivers.aiokafka",
    "faust.agents.agent",
    "faust.transport.consumer",
    "faust.tables.recovery",
    "aiokafka.producer.producer",
    "aiokafka.consumer.fetcher",
)
_YIELDED = "%r yielded: %r"


def _redacted(arg: Any) -> Any:
    if isinstance(arg, bytes | bytearray | memoryview):
        return f"<{len(arg)} bytes>"
    return arg


class RecordContentFilter(logging.Filter):
    """Rewrites a log record's arguments; never drops the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _YIELDED and isinstance(record.args, tuple) and len(record.args) == 2:
            record.args = (record.args[0], f"<{type(record.args[1]).__name__}>")
        elif isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        return True


_FILTER = RecordContentFilter()


def install_record_redaction() -> None:
    """Idempotent: adds the filter once to each record-logging logger."""
    for name in RECORD_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
