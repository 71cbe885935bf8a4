"""Bad input never stops a worker and never vanishes: each kind reaches the dead-letter
topic with its reason, and the valid events around it are scored."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.contracts.outputs import rfc3339
from scorer.stream.admin import apply_topics
from tests.support import WorkerProcess, produce, read_topic, run, wait_for

pytestmark = pytest.mark.integration

EMAIL = "taro.yamada@example.co.jp"


def _view(lead: str, n: int, at: float, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"{lead}-{n}", "lead_id": lead, "type": "web.page_view",
        "occurred_at": rfc3339(at), "url": "/pricing", **extra,
    }  # fmt: skip


def test_each_kind_of_bad_input_is_dead_lettered_with_its_reason(
    make_settings: Callable[..., Any], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings = make_settings(max_event_bytes=4096)
    run(apply_topics(settings))
    worker = start_worker(settings)
    now = time.time()
    web = contract.WEB_EVENTS
    key = b"lead-bad"
    good = [_view("lead-bad", n, now - 10 + n) for n in range(3)]
    messages: list[tuple[str, bytes | None, bytes]] = [
        (web, key, orjson.dumps(good[0])),
        (web, key, b"{this is not json " + EMAIL.encode()),                       # not_json
        (web, key, orjson.dumps({**good[1], "event_id": "x1", "url": 42, "note": EMAIL})),  # schema
        (web, key, orjson.dumps({**good[1], "event_id": "x2", "type": "web.teleport"})),   # unknown_type
        (web, key, orjson.dumps({**good[1], "event_id": "x3", "referrer": "x" * 5000})),    # oversized
        (web, key, orjson.dumps(_view("lead-bad", 90, now + 86_400))),             # future_timestamp
        (web, key, orjson.dumps(good[1])),
        (web, key, orjson.dumps(_view("lead-bad", 91, now - 3 * 86_400))),         # too_late
        (web, key, orjson.dumps(good[2])),
    ]  # fmt: skip
    run(produce(settings, messages))
    expected = {"not_json", "schema", "unknown_type", "oversized", "future_timestamp", "too_late"}

    def dead_letters() -> list[Any]:
        return list(run(read_topic(settings, contract.DEAD_LETTERS)))

    def origin(letter: Any) -> tuple[bytes, bytes]:
        headers = dict(letter.headers)
        return headers["scorer.error.partition"], headers["scorer.error.offset"]

    # At-least-once: a rebalance may re-deliver a bad message; its origin identifies it.
    def six_origins() -> list[Any]:
        found = dead_letters()
        return found if len({origin(m) for m in found}) >= 6 else []

    letters = wait_for(six_origins, 60, "six dead letters")
    assert len({origin(m) for m in letters}) == 6
    reasons = set()
    for letter in letters:
        headers = {name: bytes(value).decode() for name, value in letter.headers}
        reasons.add(headers["scorer.error.reason"])
        assert headers["scorer.error.topic"] == settings.topic(web)
        assert headers["scorer.error.partition"].isdigit()
        assert headers["scorer.error.offset"].isdigit()
        assert headers["scorer.error.class"]
        assert EMAIL not in " ".join(headers.values()), "no personal data in headers"
        assert letter.key == key
    assert reasons == expected
    # The original bytes are kept so nothing is lost.
    assert any(bytes(m.value).startswith(b"{this is not json") for m in letters)

    def scored() -> float:
        return worker.metric("scorer_events_total", result="applied")

    assert wait_for(lambda: scored() == 3 and scored(), 30, "the three valid events scored") == 3
    metrics = worker.metrics()
    for reason in expected:
        assert f'scorer_dead_letters_total{{reason="{reason}"}}' in metrics
    assert EMAIL not in metrics
    assert EMAIL not in worker.log_text(), "no personal data in logs"
