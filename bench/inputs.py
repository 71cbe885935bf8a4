"""The shared input topics of a throughput run, created before any system reads them.

Every topic is created as the scorer's contracts say, plus an explicit `retention.bytes`
(-1, Kafka's default): Quix Streams reads `retention.ms` and `retention.bytes` of its
input topics back (to configure its changelogs), and the embedded Tansu broker's
DescribeConfigs answers only the configs set at creation (`KeyError: 'retention.bytes'`
in Quix otherwise). On Kafka the explicit default changes nothing.
"""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from scorer.contracts.topics import input_topics
from scorer.settings import Settings
from scorer.stream.admin import client_options, deployed_partitions

PEER_READ_CONFIGS = {"retention.bytes": "-1"}


async def create_input_topics(settings: Settings, prefix: str) -> None:
    """Create the input topics under `prefix` (existing ones are left as they are)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        for spec in input_topics():
            topic = NewTopic(
                f"{prefix}{spec.name}",
                deployed_partitions(spec, settings),
                settings.replication_factor,
                topic_configs={**spec.kafka_configs(), **PEER_READ_CONFIGS},
            )
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
    finally:
        await admin.close()
