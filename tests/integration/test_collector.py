"""The HTTP collector on the embedded broker: bad requests of 20+ kinds each get their
documented status and counter, the collector stays up, and no valid event is lost;
webhooks with real-shaped, signed, badly signed and unsigned payloads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from scorer.contracts import topics as contract
from scorer.devstack import free_port
from scorer.stream.admin import apply_topics
from tests.support import Servers, http_get, isolated_settings, read_topic, run
from tests.support_collector import CollectorProcess, events_on
from tests.support_webhooks import (
    MAILGUN_KEY,
    dumps,
    mailgun_body,
    sendgrid_events,
    sendgrid_headers,
    sendgrid_keys,
)

pytestmark = pytest.mark.integration

SITE = "https://www.example.com"
SENDGRID_PRIVATE, SENDGRID_PUBLIC = sendgrid_keys()
JSON = {"Content-Type": "application/json"}


@dataclass
class Collector:
    process: CollectorProcess
    settings: Any
    accepted: set[str]  # event ids the collector answered as accepted
    refused: set[str]  # event ids it refused


@pytest.fixture(scope="module")
def collector(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    tmp: Path = tmp_path_factory.mktemp("collector")
    settings = isolated_settings(
        servers, tmp,
        collector_port=free_port(),
        collector_lead_id_secret="integration-test-secret-0123",  # noqa: S106 - a test key
        collector_allowed_origins=SITE,
        collector_trust_forwarded=True,
        collector_visitor_rate=1.0, collector_visitor_burst=20,
        # 1/s, not more: the flood test sends 70 requests against the burst of 50 and
        # expects 15 refused, which at 5/s held only if they all went within a second.
        collector_address_rate=1.0, collector_address_burst=50,
        collector_max_body_bytes=65536,
        collector_sendgrid_public_key=SENDGRID_PUBLIC,
        collector_mailgun_signing_key=MAILGUN_KEY,
    )  # fmt: skip
    run(apply_topics(settings))
    process = CollectorProcess(settings, tmp / "collector.log").start()
    yield Collector(process, settings, set(), set())
    process.stop()


def _address() -> str:
    """A client address of its own per request kind, so rate caps do not interfere."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _event(**fields: Any) -> dict[str, Any]:
    return {"type": "web.page_view", "url": "/pricing", "event_id": f"ok-{uuid.uuid4().hex[:12]}",
            "lead_id": "lead-collector-1", **fields}  # fmt: skip


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


# (kind, method, path, body, headers, status, counter name, counter labels)
BAD_REQUESTS: list[tuple[str, str, str, bytes, dict[str, str | None], int, str, dict[str, str]]] = [
    ("oversized body", "POST", "/v1/events", b"[" + b" " * 70_000 + b"]", JSON, 413,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "oversized"}),
    ("broken JSON", "POST", "/v1/events", b'{"type": "web.page_view",', JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "not_json"}),
    ("wrong content type", "POST", "/v1/events", b"<event/>", {"Content-Type": "application/xml"}, 415,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "wrong_content_type"}),
    ("empty body", "POST", "/v1/events", b"", JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "empty"}),
    ("10,000-deep JSON", "POST", "/v1/events", _deep(10_000), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "too_deep"}),
    ("bad UTF-8", "POST", "/v1/events", b'{"type": "web.page_view", "url": "/\xff\xfe"}', JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "bad_encoding"}),
    ("huge lead id", "POST", "/v1/events", orjson.dumps(_event(lead_id="x" * 20_000)), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "schema"}),
    ("hostile lead id", "POST", "/v1/events", orjson.dumps(_event(lead_id="lead\r\n../../x y")), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "bad_lead_id"}),
    ("email as lead id", "POST", "/v1/events", orjson.dumps(_event(lead_id="taro@example.co.jp")), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "schema"}),
    ("hostile visitor id", "POST", "/v1/events", orjson.dumps(_event(visitor_id="<img src=x>")), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "bad_visitor_id"}),
    ("unknown event type", "POST", "/v1/events", orjson.dumps(_event(type="web.hack")), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "schema"}),
    ("unknown field", "POST", "/v1/events", orjson.dumps(_event(score=1000)), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "schema"}),
    ("profile update from a browser", "POST", "/v1/events",
     orjson.dumps({"type": "profile.updated", "lead_id": "l1", "title": "CEO"}), JSON, 400,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "type_not_accepted"}),
    ("too many events", "POST", "/v1/events", orjson.dumps([{}] * 501), JSON, 413,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "too_many_events"}),
    ("forged origin", "POST", "/v1/events", orjson.dumps(_event()), {**JSON, "Origin": "https://evil.example.net"}, 403,
     "scorer_collector_rejected_total", {"endpoint": "events", "reason": "forbidden_origin"}),
    ("forged origin preflight", "OPTIONS", "/v1/events", b"", {"Origin": "https://evil.example.net",
     "Access-Control-Request-Method": "POST"}, 403,
     "scorer_collector_rejected_total", {"endpoint": "preflight", "reason": "forbidden_origin"}),
    ("crawler user agent", "POST", "/v1/events", orjson.dumps(_event()),
     {**JSON, "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, 204,
     "scorer_collector_bots_filtered_total", {"endpoint": "events"}),
    ("no user agent", "POST", "/v1/events", orjson.dumps(_event()), {**JSON, "User-Agent": None}, 204,
     "scorer_collector_bots_filtered_total", {"endpoint": "events"}),
    ("unknown form", "POST", "/v1/forms/no-such-form", b"email=a%40example.com",
     {"Content-Type": "application/x-www-form-urlencoded"}, 404,
     "scorer_collector_rejected_total", {"endpoint": "forms", "reason": "unknown_form"}),
    ("form with bad UTF-8", "POST", "/v1/forms/contact", b"email=a%40example.com&company=%ff%fe",
     {"Content-Type": "application/x-www-form-urlencoded"}, 400,
     "scorer_collector_rejected_total", {"endpoint": "forms", "reason": "bad_encoding"}),
    ("form without the required email", "POST", "/v1/forms/contact", b"company=x",
     {"Content-Type": "application/x-www-form-urlencoded"}, 400,
     "scorer_collector_rejected_total", {"endpoint": "forms", "reason": "missing_field"}),
    ("multipart form", "POST", "/v1/forms/contact", b"--b\r\n\r\n--b--",
     {"Content-Type": "multipart/form-data; boundary=b"}, 415,
     "scorer_collector_rejected_total", {"endpoint": "forms", "reason": "wrong_content_type"}),
    ("pixel with a hostile lead id", "GET", "/p.gif?url=/x&lead=%00%0d%0aSet-Cookie:x", b"", {}, 200,
     "scorer_collector_rejected_total", {"endpoint": "pixel", "reason": "bad_lead_id"}),
    ("unsigned SendGrid webhook", "POST", "/v1/webhooks/sendgrid", dumps(sendgrid_events("l", "x")), JSON, 401,
     "scorer_collector_rejected_total", {"endpoint": "webhook_sendgrid", "reason": "unsigned"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "counter", "labels"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_request_gets_its_status_and_counter(
    collector: Collector, method: str, path: str, body: bytes, headers: dict[str, str | None],
    status: int, counter: str, labels: dict[str, str],
) -> None:  # fmt: skip
    before = collector.process.metric(counter, **labels)
    sent = {"X-Forwarded-For": _address(), **headers}
    got, answer_headers, answer = collector.process.call(method, path, body, sent)  # type: ignore[arg-type]
    assert got == status, answer[:300]
    assert collector.process.metric(counter, **labels) == before + 1
    if path.startswith("/p.gif"):
        assert answer_headers["Content-Type"] == "image/gif"
        return
    if got in {400, 404, 413, 415}:
        document = orjson.loads(answer)
        assert "field" in document or document["rejected"][0]["field"], answer
    for value in (b"taro@example.co.jp", b"<img", b"evil", b"\xff"):
        assert value not in answer


def test_good_and_bad_events_in_one_request(collector: Collector) -> None:
    good = [_event(), _event(url="/case-studies")]
    bad = _event(url=None)
    status, _, answer = collector.process.call(
        "POST", "/v1/events", orjson.dumps([good[0], bad, good[1]]),
        {"Content-Type": "text/plain;charset=UTF-8", "Origin": SITE, "X-Forwarded-For": _address()},
    )  # fmt: skip
    assert status == 400
    assert orjson.loads(answer) == {
        "accepted": 2, "rejected": [{"index": 1, "field": "url", "error": "Input should be a valid string"}]
    }  # fmt: skip
    collector.accepted.update(e["event_id"] for e in good)
    collector.refused.add(bad["event_id"])
    # The lead's two events went out as one event-batch envelope, in order.
    envelopes = [
        orjson.loads(m.value) for m in run(read_topic(collector.settings, contract.WEB_EVENTS))
    ]
    (envelope,) = [v for v in envelopes if good[0]["event_id"] in orjson.dumps(v).decode()]
    assert envelope["schema"] == "leads.event-batch.v1"
    assert [e["event_id"] for e in envelope["events"]] == [e["event_id"] for e in good]


def test_visitor_flood_is_capped_with_429_and_counted(collector: Collector) -> None:
    before = collector.process.metric("scorer_collector_rate_limited_total", scope="visitor")
    statuses = []
    for _ in range(8):  # 8 x 5 events against a burst of 20
        events = [_event(visitor_id="flooding-visitor-1") for _ in range(5)]
        status, headers, _ = collector.process.call(
            "POST", "/v1/events", orjson.dumps(events), {**JSON, "X-Forwarded-For": _address()}
        )
        statuses.append(status)
        (collector.accepted if status == 200 else collector.refused).update(
            e["event_id"] for e in events
        )
        if status == 429:
            assert int(headers["Retry-After"]) >= 1
    assert statuses.count(200) == 4, statuses
    assert statuses.count(429) >= 3, statuses
    assert (
        collector.process.metric("scorer_collector_rate_limited_total", scope="visitor")
        >= before + 3
    )


def test_address_flood_of_pixels_still_gets_gifs(collector: Collector) -> None:
    before = collector.process.metric(
        "scorer_collector_rate_limited_total", endpoint="pixel", scope="address"
    )
    address = _address()
    for _ in range(70):  # burst 50
        status, headers, body = collector.process.call(
            "GET", "/p.gif?url=/flood", None, {"X-Forwarded-For": address}
        )
        assert (status, headers["Content-Type"]) == (200, "image/gif")
        assert body.startswith(b"GIF89a")
    limited = collector.process.metric(
        "scorer_collector_rate_limited_total", endpoint="pixel", scope="address"
    )
    assert limited - before >= 15


def test_pixel_keeps_utm_and_sets_the_visitor_cookie(collector: Collector) -> None:
    event_id = f"ok-{uuid.uuid4().hex[:12]}"
    status, headers, _ = collector.process.call(
        "GET", f"/p.gif?url=/pricing&lead=lead-collector-1&eid={event_id}&utm_source=mail"
        "&utm_campaign=abm-2026&_=123", None, {"X-Forwarded-For": _address()},
    )  # fmt: skip
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert "sc_vid=" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age=31536000" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS (or X-Forwarded-Proto) adds it
    _, https_headers, _ = collector.process.call(
        "GET", "/p.gif?url=/", None, {"X-Forwarded-For": _address(), "X-Forwarded-Proto": "https"}
    )
    assert "Secure" in https_headers["Set-Cookie"]
    collector.accepted.add(event_id)
    web = events_on(collector.settings, contract.WEB_EVENTS)
    (pixel,) = [e for e in web if e["event_id"] == event_id]
    assert (pixel["utm_source"], pixel["utm_campaign"], pixel["url"]) == (
        "mail",
        "abm-2026",
        "/pricing",
    )


def test_cors_preflight_for_the_site(collector: Collector) -> None:
    status, headers, _ = collector.process.call(
        "OPTIONS", "/v1/events", None,
        {"Origin": SITE, "Access-Control-Request-Method": "POST", "X-Forwarded-For": _address()},
    )  # fmt: skip
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == SITE
    assert headers["Access-Control-Allow-Credentials"] == "true"


def test_sendgrid_webhook_signed_badly_signed_and_unsigned(collector: Collector) -> None:
    tag = uuid.uuid4().hex[:8]
    body = dumps(sendgrid_events("lead-collector-1", tag))
    signed = {**JSON, **sendgrid_headers(SENDGRID_PRIVATE, body)}
    forged_tag = uuid.uuid4().hex[:8]
    forged = dumps(sendgrid_events("lead-collector-1", forged_tag))
    before = collector.process.metric(
        "scorer_collector_rejected_total", endpoint="webhook_sendgrid", reason="bad_signature"
    )
    assert collector.process.call("POST", "/v1/webhooks/sendgrid", forged, signed)[0] == 401
    assert collector.process.call("POST", "/v1/webhooks/sendgrid", forged, JSON)[0] == 401
    status, _, answer = collector.process.call("POST", "/v1/webhooks/sendgrid", body, signed)
    assert (status, orjson.loads(answer)) == (200, {"accepted": 5, "ignored": 1, "invalid": 0})
    after = collector.process.metric(
        "scorer_collector_rejected_total", endpoint="webhook_sendgrid", reason="bad_signature"
    )
    assert after == before + 1
    emails = events_on(collector.settings, contract.EMAIL_EVENTS)
    ours = {e["event_id"]: e for e in emails if tag in e["event_id"]}
    assert sorted(ours) == sorted(
        f"sg-{tag}-{k}" for k in ("delivered", "open", "click", "bounce", "spam")
    )
    assert ours[f"sg-{tag}-click"]["type"] == "email.click"
    assert ours[f"sg-{tag}-bounce"]["bounce_type"] == "hard"
    assert not [e for e in emails if forged_tag in e["event_id"]]
    assert all("@" not in m for e in emails for m in (e["lead_id"], orjson.dumps(e).decode()))


def test_mailgun_webhook_signed_badly_signed_and_unsigned(collector: Collector) -> None:
    tag = uuid.uuid4().hex[:8]
    good = [
        mailgun_body(kind, "lead-collector-1", tag) for kind in ("delivered", "opened", "clicked")
    ]
    good.append(mailgun_body("failed", None, tag, severity="permanent"))
    forged = mailgun_body("clicked", "lead-collector-1", tag + "x", key="not-the-key")
    unsigned = {"event-data": mailgun_body("opened", "lead-collector-1", tag + "u")["event-data"]}
    assert collector.process.call("POST", "/v1/webhooks/mailgun", dumps(forged), JSON)[0] == 401
    assert collector.process.call("POST", "/v1/webhooks/mailgun", dumps(unsigned), JSON)[0] == 401
    for body in good:
        assert collector.process.call("POST", "/v1/webhooks/mailgun", dumps(body), JSON)[0] == 200
    emails = events_on(collector.settings, contract.EMAIL_EVENTS)
    ours = sorted(
        (e["event_id"], e["type"]) for e in emails if e["event_id"].startswith(f"mg-{tag}")
    )
    assert ours == [(f"mg-{tag}-clicked", "email.click"), (f"mg-{tag}-delivered", "email.delivered"),
                    (f"mg-{tag}-failed", "email.bounce"), (f"mg-{tag}-opened", "email.open")]  # fmt: skip


def test_the_collector_stayed_up_and_lost_no_accepted_event(collector: Collector) -> None:
    assert collector.process.process.exit_code() is None
    assert collector.process.call("GET", "/health")[0] == 200
    web = {e["event_id"] for e in events_on(collector.settings, contract.WEB_EVENTS)}
    assert collector.accepted, "the tests above accepted events"
    assert collector.accepted <= web, collector.accepted - web
    assert not (collector.refused & web)
    assert "Traceback" not in collector.process.log_text()


def test_broker_unreachable_answers_503_with_retry_after_and_counts_it(tmp_path: Path) -> None:
    from scorer.settings import load_settings

    nothing_there = f"127.0.0.1:{free_port()}"
    settings = load_settings(
        {}, kafka_bootstrap=nothing_there, collector_port=free_port(),
        collector_lead_id_secret="unreachable-test-secret-0123",  # noqa: S106 - a test key
        collector_produce_timeout_s=1.0,
    )  # fmt: skip
    process = CollectorProcess(settings, tmp_path / "collector.log")
    process.process.start()
    try:
        process.process.wait_until(
            lambda: http_get(process.base_url + "/health")[0] == 200, 20, "up"
        )
        assert process.call("GET", "/ready")[0] == 503
        status, headers, _ = process.call("POST", "/v1/events", orjson.dumps(_event()), JSON)
        assert status == 503
        assert headers["Retry-After"] == "5"
        status, headers, _ = process.call("GET", "/p.gif?url=/", None, {})
        assert (status, headers["Content-Type"]) == (200, "image/gif")
        assert process.metric("scorer_collector_kafka_unavailable_total") == 2
        assert (
            process.metric(
                "scorer_collector_requests_total", endpoint="events", outcome="unavailable"
            )
            == 1
        )
    finally:
        process.stop()
    assert "Traceback" not in process.log_text()
