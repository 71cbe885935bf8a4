"""A Faust worker that leaves the root logger at the level it was asked for.

At log level WARN or above, Faust's worker draws a terminal spinner that turns once per
log record, and to see every record it sets the root logger to DEBUG
(`faust.Worker._setup_spinner_handler`), whether or not its output is a terminal. Every
`log.debug` call of Faust, mode and aiokafka then builds a record and walks the
handlers before the handler's own level drops it: ~15% of the worker's throughput on
this project's machine (docs/benchmark.md). Related upstream: faust-streaming #495 (the
spinner's output at WARN); no issue found about the cost. Checked on faust-streaming
0.15.3 with mode-streaming 0.7.1; the canary
(tests/unit/stream/workarounds/test_worker_logging.py) fails when Faust stops
lowering the root level, and then this class can go.
"""

from __future__ import annotations

import logging

import faust


class SpinnerlessWorker(faust.Worker):
    """`faust.Worker` without the spinner, so without the root logger at DEBUG."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)
