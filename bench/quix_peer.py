"""The QUIX peer: what a user picking a Python stream processor today would write instead.

A Quix Streams application doing the naive stateful job, one `state.set` per event:

    sdf.update(lambda event, state: state.set("points", state.get("points", 0) + pts),
               stateful=True)

RocksDB state, changelog topics on, Quix's defaults otherwise (checkpoint every 5 s,
at-least-once). It runs in its own environment (`.venv/peers/quix`, made by
scripts/bootstrap from bench/quix-constraints.txt): quixstreams 3.28 caps pydantic and
confluent-kafka below the versions the scorer pins. So this module imports nothing
but the standard library, quixstreams and bench.points. Run as a child process:

    .venv/peers/quix/bin/python -m bench.quix_peer --bootstrap HOST:PORT --topics A,B \
        --group G --state-dir DIR --port PORT

GET http://127.0.0.1:PORT/ answers {"events": n}: how many events the app has handled.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.points import POINTS


class Counter:
    events = 0


class ProgressHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"events": Counter.events}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log on the worker's output


def add_points(event: dict[str, Any], state: Any) -> None:
    state.set("points", state.get("points", 0) + POINTS.get(event["type"], 0))
    Counter.events += 1


def run(bootstrap: str, topics: list[str], group: str, state_dir: Path) -> None:
    from quixstreams import Application

    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=str(state_dir),
        loglevel="WARNING",
        # The scorer's and the Faust peer's group timeouts: start-up is not timed, but a
        # long session costs the run's wall clock on a broker that waits it out.
        consumer_extra_config={"session.timeout.ms": 10_000, "heartbeat.interval.ms": 1_000},
    )
    for name in topics:
        sdf = app.dataframe(app.topic(name, value_deserializer="json"))
        sdf.update(add_points, stateful=True)
    app.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated")
    parser.add_argument("--group", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), ProgressHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run(args.bootstrap, args.topics.split(","), args.group, args.state_dir)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
