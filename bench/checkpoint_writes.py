"""A checkpoint's table writes alone: Faust's per-key table path against the bulk writer.

    python -m bench.checkpoint_writes --keys 1000 --rounds 5 [--store rocksdb://]

Writes `--keys` records (`--value-bytes` each, about a compressed lead record) to the
scorer's lead table (`--store`, memory by default; Faust's way needs an event's
partition on RocksDB, so only the bulk writer there) on the embedded broker, with the
worker's producer settings (1-record batches there, as in the benchmark), and waits
until the broker acknowledged them; the two ways interleaved per round. Prints the
process CPU time per checkpoint (this process also runs aiokafka's sender, so its share
is counted) and the wall time. Faust's way: `table[key] = value` per key, then the
producer's flush; the bulk way: workarounds/bulk_changelog.py's `write` and `flush`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from scorer.devstack import DevStack
from scorer.rules import load_rules
from scorer.settings import load_settings
from scorer.stream.app import create_app
from scorer.stream.workarounds.bulk_changelog import BulkChangelogWriter

PARTITIONS = 4


async def _measure(stack: DevStack, keys: int, rounds: int, value_bytes: int, store: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tag = f"cw{int(time.time()) % 10**6}"
        settings = load_settings(
            {}, kafka_bootstrap=stack.kafka_bootstrap, redis_url=stack.redis_url,
            partitions=PARTITIONS, topic_prefix=f"{tag}.", app_id=tag, data_dir=Path(tmp),
            store=store, **stack.client_overrides(),
        )  # fmt: skip
        app: Any = create_app(settings, load_rules(settings.rules_file)).app
        app.loop = asyncio.get_running_loop()
        app.finalize()
        await app.producer.start()
        try:
            table = app.tables["lead-state"]
            await table.changelog_topic.maybe_declare()
            writer = BulkChangelogWriter(table, PARTITIONS)

            async def per_key(records: list[tuple[bytes, bytes]]) -> None:
                for key, value in records:
                    table[key] = value
                await app.producer.flush()

            async def bulk(records: list[tuple[bytes, bytes]]) -> None:
                writer.write(records)
                await writer.flush()

            ways: dict[str, Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]] = {
                "Faust's per-key path": per_key, "bulk writer": bulk,
            }  # fmt: skip
            if store.startswith("rocksdb"):
                del ways["Faust's per-key path"]
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
            for round_no in range(rounds + 1):  # round 0 warms both up (metadata, topics)
                for name, write in ways.items():
                    records = [
                        (f"lead-{round_no}-{n}".encode(), os.urandom(value_bytes))
                        for n in range(keys)
                    ]
                    cpu, wall = time.process_time(), time.perf_counter()
                    await write(records)
                    if round_no:
                        results[name].append(
                            (time.process_time() - cpu, time.perf_counter() - wall)
                        )
            for name, samples in results.items():
                cpus = sorted(c * 1000 for c, _ in samples)
                walls = sorted(w * 1000 for _, w in samples)
                print(
                    f"{name:22} CPU {cpus[len(cpus) // 2]:7.1f} ms per {keys:,} keys "
                    f"({cpus[0]:.1f} - {cpus[-1]:.1f}), wall {walls[len(walls) // 2]:7.1f} ms "
                    f"({walls[0]:.1f} - {walls[-1]:.1f})"
                )
        finally:
            await app.producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--value-bytes", type=int, default=600)
    parser.add_argument("--store", default="memory://", help="memory:// or rocksdb://")
    args = parser.parse_args()
    with DevStack() as stack:
        asyncio.run(_measure(stack, args.keys, args.rounds, args.value_bytes, args.store))


if __name__ == "__main__":
    main()
