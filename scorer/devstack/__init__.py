"""The embedded dev stack: a Kafka-compatible broker and a Redis server from wheels."""

from scorer.devstack.processes import ManagedProcess, StackError
from scorer.devstack.servers import DevStack, EmbeddedKafka, EmbeddedRedis, free_port

__all__ = [
    "DevStack",
    "EmbeddedKafka",
    "EmbeddedRedis",
    "ManagedProcess",
    "StackError",
    "free_port",
]
