"""bench.sampling_profile: each py-spy sample lands in the bucket of the work it shows."""

from __future__ import annotations

import pytest

from bench.sampling_profile import IDLE, bucket_of

FAUST_TASK = "Handle._run (asyncio/events.py:84);App._task.<locals>._wrapped (faust/app/base.py:1)"


@pytest.mark.parametrize(
    ("stack", "bucket"),
    [
        (
            FAUST_TASK + ";Checkpointer.checkpoint (scorer/stream/checkpointer.py:1)"
            ";lead_to_record (scorer/core/lead_records.py:1)",
            "checkpoint: state writes (encode, table set, changelog)",
        ),
        (
            FAUST_TASK + ";RedisReadModel.flush (scorer/serving/read_model.py:1)"
            ";Pipeline.execute (redis/asyncio/client.py:1)",
            "read model: Redis flush",
        ),
        (
            "Handle._run (asyncio/events.py:84);View.dispatch (faust/web/views.py:1)"
            ";generate_latest (prometheus_client/exposition.py:1)"
            ";RequestHandler._handle_request (aiohttp/web_protocol.py:1)",
            "web: /metrics and /ready (the benchmark polls /metrics)",
        ),
        (
            "ScorerContext.handle_lead_batch (scorer/stream/handlers.py:1)"
            ";apply_event (scorer/core/lead.py:1)",
            "core: scorer.core (apply_event, account fold)",
        ),
        (
            "Fetcher._fetcher (faust/transport/consumer.py:1)"
            ";Consumer._drain_messages (faust/transport/consumer.py:1)",
            "Faust consumer path: fetch, records, stream, acks, commit",
        ),
        ("BaseEventLoop._run_once (asyncio/base_events.py:1);select (selectors.py:468)", IDLE),
    ],
    ids=["checkpoint", "redis", "metrics-page", "core", "faust", "idle"],
)
def test_a_sample_goes_to_the_bucket_of_its_work(stack: str, bucket: str) -> None:
    assert bucket_of(stack) == bucket
