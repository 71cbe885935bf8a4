"""The LIMIT: a raw aiokafka consumer group that decodes JSON, updates a dict per lead and
commits after every batch. What the machine and broker allow a Python consumer to do.

    python -m bench.limit --bootstrap HOST:PORT --topics A,B --group G --events N --cap S

Prints one JSON line: events, seconds (first batch → last commit), rate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import orjson
from aiokafka import AIOKafkaConsumer

from bench.points import POINTS


async def consume(
    bootstrap: str, topics: list[str], group: str, target: int, cap_s: float
) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    points: dict[str, int] = {}
    count = 0
    first: float | None = None
    give_up = time.perf_counter() + 120.0  # joining the group and the first fetch
    try:
        while count < target:
            now = time.perf_counter()
            if (first is None and now > give_up) or (first is not None and now - first > cap_s):
                break
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                continue
            if first is None:
                first = now
            for records in batch.values():
                for record in records:
                    event = orjson.loads(record.value)
                    lead = event["lead_id"]
                    points[lead] = points.get(lead, 0) + POINTS.get(event["type"], 0)
                count += len(records)
            await consumer.commit()
        elapsed = time.perf_counter() - first if first is not None else 0.0
    finally:
        await consumer.stop()
    return {
        "events": count,
        "seconds": elapsed,
        "rate": count / elapsed if elapsed else 0.0,
        "leads": len(points),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated")
    parser.add_argument("--group", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds of consuming at most")
    args = parser.parse_args()
    result = asyncio.run(
        consume(args.bootstrap, args.topics.split(","), args.group, args.events, args.cap)
    )
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
