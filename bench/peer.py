"""The PEER: the naive Faust pattern from the Faust docs, one table update per event.

    async for event in stream:
        table[event["lead_id"]] += points

With `--bare` the agent only counts its events (no table, no changelog): the most any
Faust agent can consume here, message by message, whatever it does per event.

Memory store, changelog on, Faust's defaults otherwise (but the scorer's group
timeouts). Run as a child process:

    python -m bench.peer --bootstrap HOST:PORT --topics A,B --app-id ID --partitions 4 \
        --web-port PORT --data-dir DIR

GET /bench/progress/ answers {"events": n}: how many events the agent has handled.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import faust

from bench.points import POINTS


class Counter:
    events = 0


def create_app(
    bootstrap: str,
    topics: list[str],
    app_id: str,
    partitions: int,
    web_port: int,
    data_dir: Path,
    *,
    bare: bool = False,
) -> faust.App:
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=partitions,
        web_host="127.0.0.1",
        web_port=web_port,
        datadir=str(data_dir),
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        # The scorer's group timeouts: with Faust's 60 s session, joining a fresh group on
        # Tansu takes ~30 s. Start-up is not timed, but it costs the run's wall clock.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
    )
    source = app.topic(*topics, value_serializer="json")
    if bare:

        @app.agent(source)
        async def count(stream: Any) -> None:
            async for _event in stream:
                Counter.events += 1

    else:
        points = app.Table("lead-points", default=int, partitions=partitions)

        @app.agent(source)
        async def score(stream: Any) -> None:
            async for event in stream:
                points[event["lead_id"]] += POINTS.get(event["type"], 0)
                Counter.events += 1

    @app.page("/bench/progress/")
    async def progress(web: Any, request: Any) -> Any:
        return web.json({"events": Counter.events})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated")
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--bare", action="store_true", help="count events only, no table")
    args = parser.parse_args()
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = create_app(
        args.bootstrap, args.topics.split(","), args.app_id, args.partitions, args.web_port,
        args.data_dir, bare=args.bare,
    )  # fmt: skip
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
