"""Collector parts without a server: token buckets, event validation, form mapping,
webhook signatures and mapping, safe redirects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorer.collector.endpoints import safe_redirect
from scorer.collector.forms import (
    FormsFileError,
    Submission,
    load_forms,
    map_submission,
)
from scorer.collector.identity import lead_id_from_email
from scorer.collector.intake import Record, Rejection, Sender, normalize_events
from scorer.collector.ratelimit import TokenBuckets
from scorer.collector.webhooks import (
    BadSignature,
    map_mailgun,
    map_sendgrid,
    sendgrid_key,
    verify_mailgun,
    verify_sendgrid,
)
from scorer.settings import DEFAULT_FORMS_FILE
from tests.support_webhooks import (
    MAILGUN_KEY,
    dumps,
    mailgun_body,
    sendgrid_events,
    sendgrid_headers,
    sendgrid_keys,
)

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SECRET = b"unit-test-secret-0123456789"


# -- token buckets ---------------------------------------------------------------------------


def test_bucket_allows_the_burst_then_the_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.take("v", 0.0) for _ in range(4)] == [True, True, True, False]
    assert buckets.retry_after("v") == pytest.approx(0.5)
    assert buckets.take("v", 0.5)
    assert not buckets.take("v", 0.5)
    assert buckets.take("other", 0.5), "buckets are per key"


def test_bucket_cost_larger_than_what_is_left_spends_nothing() -> None:
    buckets = TokenBuckets(rate=1.0, burst=10)
    assert buckets.take("v", 0.0, cost=8)
    assert not buckets.take("v", 0.0, cost=3)
    assert buckets.take("v", 0.0, cost=2)


def test_buckets_forget_the_least_recently_used_beyond_max_keys() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=2)
    for key in ("a", "b", "c"):
        buckets.take(key, 0.0)
    assert len(buckets) == 2


@given(st.lists(st.tuples(st.floats(0, 100), st.integers(1, 5)), max_size=60))
def test_bucket_never_grants_more_than_burst_plus_rate_times_time(
    steps: list[tuple[float, int]],
) -> None:
    buckets = TokenBuckets(rate=3.0, burst=5)
    granted = 0.0
    now = 0.0
    for delta, cost in steps:
        now += delta
        if buckets.take("v", now, cost=cost):
            granted += cost
    assert granted <= 5 + 3.0 * now + 1e-6


# -- events ----------------------------------------------------------------------------------

SENDER = Sender("visitor-0001", NOW, frozenset({"web"}))


@pytest.mark.parametrize(
    ("event", "field", "reason"),
    [
        ({"type": "web.page_view"}, "url", "schema"),
        ({"type": "web.page_view", "url": "/", "colour": "crimson"}, "colour", "schema"),
        ({"type": "web.nope", "url": "/"}, "type", "schema"),
        ({"type": "nope", "url": "/"}, "type", "schema"),
        ({"type": "email.open", "campaign_id": "c"}, "type", "type_not_accepted"),
        ({"type": "web.page_view", "url": "/", "lead_id": "taro@example.com"}, "lead_id", "schema"),
        ({"type": "web.page_view", "url": "/", "lead_id": "x" * 129}, "lead_id", "schema"),
        ({"type": "web.page_view", "url": "/", "lead_id": "a/../b c"}, "lead_id", "bad_lead_id"),
        ({"type": "web.page_view", "url": "/", "visitor_id": "<script>"}, "visitor_id", "bad_visitor_id"),
        ({"type": "web.page_view", "url": "/", "occurred_at": "yesterday"}, "occurred_at", "schema"),
        ({"type": "web.page_view", "url": "x" * 3000}, "url", "schema"),
        ([1, 2], "(event)", "not_an_object"),
    ],
)  # fmt: skip
def test_a_bad_event_names_its_field_never_its_value(
    event: object, field: str, reason: str
) -> None:
    records, rejections = normalize_events([event], SENDER)
    assert records == []
    assert [(r.field, r.reason) for r in rejections] == [(field, reason)]
    text = orjson.dumps(rejections[0].to_json()).decode()
    for secret_value in ("taro@example.com", "<script>", "crimson", "yesterday", "a/../b c"):
        assert secret_value not in text


def test_good_events_are_filled_in_and_routed_and_the_bad_one_alone_refused() -> None:
    body = [
        {"type": "web.page_view", "url": "/pricing", "utm_campaign": "abm-1"},
        {"type": "web.page_view"},
        {"type": "web.content_download", "asset_id": "case-1", "asset_type": "case_study",
         "lead_id": "lead-7", "visitor_id": "visitor-0002", "event_id": "t-1"},
    ]  # fmt: skip
    records, rejections = normalize_events(body, SENDER)
    assert [r.index for r in rejections] == [1]
    first, second = (orjson.loads(r.value) for r in records)
    assert first["lead_id"] == "anon:visitor-0001"
    assert first["utm_campaign"] == "abm-1"
    assert first["event_id"].startswith("c-")
    assert first["occurred_at"].startswith("2026-11-24")
    assert second == {**second, "lead_id": "lead-7", "event_id": "t-1"}
    assert "visitor_id" not in second
    assert {r.topic for r in records} == {"leads.web-events.v1"}
    assert records[1].key == "lead-7"


def test_other_categories_when_configured() -> None:
    sender = Sender("visitor-0001", NOW, frozenset({"web", "seminar"}))
    records, _ = normalize_events(
        {"type": "seminar.attended", "webinar_id": "w1", "lead_id": "l1"}, sender
    )
    assert records[0].topic == "leads.seminar-events.v1"


# -- forms -----------------------------------------------------------------------------------


def _submit(fields: dict[str, str], form_id: str = "contact") -> list[Record] | Rejection:
    spec = load_forms(DEFAULT_FORMS_FILE).forms[form_id]
    outcome = map_submission(spec, Submission(form_id, fields, "visitor-0001", NOW, SECRET,
                                              "https://www.example.com/contact?email=x"))  # fmt: skip
    return outcome if isinstance(outcome, Rejection) else outcome.records


def test_contact_form_becomes_profile_submit_and_identity_link_without_the_email() -> None:
    records = _submit({"email": "Taro@Example.co.jp ", "company": "山田製作所", "employees": "150名",
                       "industry": "製造業", "title": "製造本部 部長", "name": "山田 太郎",
                       "phone": "03-1234-5678", "budget": "はい", "timeframe": "3ヶ月以内"})  # fmt: skip
    assert not isinstance(records, Rejection)
    profile, submit, link = (orjson.loads(r.value) for r in records)
    lead = lead_id_from_email("taro@example.co.jp", SECRET)
    assert {r.key for r in records} == {lead}
    assert profile == {**profile, "type": "profile.updated", "employee_count": 150,
                       "industry": "manufacturing", "title": "製造本部 部長",
                       "email_domain": "example.co.jp", "budget": True, "timeframe": "0-3m"}  # fmt: skip
    assert submit == {**submit, "type": "web.form_submit", "form_id": "contact", "url": "/contact"}
    assert link == {**link, "visitor_id": "visitor-0001", "anonymous_lead_id": "anon:visitor-0001",
                    "lead_id": lead, "method": "form"}  # fmt: skip
    everything = b"".join(r.value for r in records).decode()
    for personal in ("Taro", "taro@", "山田 太郎", "03-1234-5678", "email=x"):
        assert personal not in everything


def test_known_lead_wins_over_the_email_hash_and_both_are_linked() -> None:
    records = _submit({"email": "taro@example.co.jp", "_lead_id": "lead-42"})
    assert not isinstance(records, Rejection)
    link = orjson.loads(records[-1].value)
    assert link["lead_id"] == "lead-42"
    assert link["email_lead_id"] == lead_id_from_email("taro@example.co.jp", SECRET)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({}, "email", "missing_field"),
        ({"email": "not-an-address"}, "email", "schema"),
        ({"email": "a@example.com", "_lead_id": "bad id!"}, "_lead_id", "bad_lead_id"),
        ({"email": "a@example.com", "company": "x" * 3000}, "company", "schema"),
    ],
)
def test_bad_form_names_the_submitted_field(
    fields: dict[str, str], field: str, reason: str
) -> None:
    outcome = _submit(fields)
    assert isinstance(outcome, Rejection)
    assert (outcome.field, outcome.reason) == (field, reason)


def test_lead_ids_from_email_are_keyed_and_normalized() -> None:
    assert lead_id_from_email(" A@B.example ", b"k1" * 8) == lead_id_from_email(
        "a@b.example", b"k1" * 8
    )
    assert lead_id_from_email("a@b.example", b"k1" * 8) != lead_id_from_email(
        "a@b.example", b"k2" * 8
    )
    assert "@" not in lead_id_from_email("a@b.example", b"k1" * 8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "forms: {contact: {fields: {email: emial}}}",
            "forms.contact.fields.email.to: unknown target",
        ),
        ("forms: {contact: {feilds: {}}}", "forms.contact.feilds: Extra inputs"),
        ("forms: [", "not valid YAML"),
    ],
)
def test_forms_file_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "forms.yaml"
    path.write_text(text)
    with pytest.raises(FormsFileError, match=message.replace(".", r"\.")):
        load_forms(path)


# -- webhooks --------------------------------------------------------------------------------


def test_sendgrid_signature_verifies_and_forgeries_do_not() -> None:
    private, public = sendgrid_keys()
    key = sendgrid_key(public)
    body = dumps(sendgrid_events("lead-1", "u1"))
    headers = sendgrid_headers(private, body)
    signature, timestamp = headers.values()
    verify_sendgrid(key, body, signature, timestamp)
    for args, reason in [
        ((body + b" ", signature, timestamp), "bad_signature"),
        ((body, signature, str(int(timestamp) + 1)), "bad_signature"),
        ((body, "bm90IGEgc2lnbmF0dXJl", timestamp), "bad_signature"),
        ((body, "%%%", timestamp), "bad_signature"),
        ((body, None, timestamp), "unsigned"),
    ]:
        with pytest.raises(BadSignature, match=reason):
            verify_sendgrid(key, *args)
    other = sendgrid_key(sendgrid_keys()[1])
    with pytest.raises(BadSignature, match="bad_signature"):
        verify_sendgrid(other, body, signature, timestamp)


def test_sendgrid_events_map_to_email_events() -> None:
    mapped = map_sendgrid(sendgrid_events("lead-1", "u1"), SECRET)
    values = [orjson.loads(r.value) for r in mapped.records]
    assert mapped.ignored == 1  # processed
    assert [(v["type"], v.get("bounce_type")) for v in values] == [
        ("email.delivered", None), ("email.open", None), ("email.click", None),
        ("email.bounce", "hard"), ("email.unsubscribe", None),
    ]  # fmt: skip
    assert values[0]["lead_id"] == "lead-1"
    assert values[0]["campaign_id"] == "nl-2026-11"
    assert values[0]["event_id"] == "sg-u1-delivered"
    assert values[2]["url"] == "https://www.example.com/pricing"
    assert values[3]["lead_id"] == lead_id_from_email("hanako@example.co.jp", SECRET)
    assert b"@" not in b"".join(r.value for r in mapped.records)


def test_mailgun_signature_and_mapping() -> None:
    body = mailgun_body("failed", "lead-9", "m1", severity="permanent")
    verify_mailgun(MAILGUN_KEY.encode(), body)
    with pytest.raises(BadSignature, match="bad_signature"):
        verify_mailgun(b"another-key", body)
    with pytest.raises(BadSignature, match="unsigned"):
        verify_mailgun(MAILGUN_KEY.encode(), {"event-data": body["event-data"]})
    (record,) = map_mailgun(body, SECRET).records
    value = orjson.loads(record.value)
    assert (value["type"], value["bounce_type"], value["lead_id"]) == (
        "email.bounce",
        "hard",
        "lead-9",
    )
    assert value["campaign_id"] == "newsletter"
    assert map_mailgun(mailgun_body("accepted", None, "m2"), SECRET).ignored == 1
    (anon,) = map_mailgun(mailgun_body("opened", None, "m3"), SECRET).records
    assert anon.key == lead_id_from_email("taro@example.co.jp", SECRET)


# -- redirects -------------------------------------------------------------------------------

ALLOWED = frozenset({"https://www.example.com"})


@pytest.mark.parametrize(
    ("wanted", "referer", "expected"),
    [
        ("/thanks.html", "https://www.example.com/contact", "https://www.example.com/thanks.html"),
        ("https://www.example.com/ok", None, "https://www.example.com/ok"),
        ("https://evil.example.net/", "https://www.example.com/contact", None),
        ("//evil.example.net/", "https://www.example.com/contact", None),
        ("/\\evil.example.net", "https://www.example.com/contact", None),
        ("/thanks.html", "https://evil.example.net/contact", None),
        ("javascript:alert(1)", "https://www.example.com/contact", None),
        (None, "https://www.example.com/contact", "https://www.example.com/contact"),
        (None, "https://evil.example.net/contact", None),
    ],
)
def test_form_redirects_only_to_allowed_origins(
    wanted: str | None, referer: str | None, expected: str | None
) -> None:
    assert safe_redirect(wanted, referer, ALLOWED) == expected


@pytest.mark.parametrize(
    ("user_agent", "bot"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", True),
        ("python-requests/2.32.3", True),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36", True),
        ("", True),
        (None, True),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", False),
        ("ExampleFormBackend/1.0 (+https://www.example.com)", False),
    ],
)  # fmt: skip
def test_crawlers_and_missing_user_agents_are_bots(user_agent: str | None, bot: bool) -> None:
    from scorer.collector.bots import is_bot

    assert is_bot(user_agent) is bot


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["web.page_view", "web.content_download", "email.open", "x"])},
    optional={"url": _json, "lead_id": _json, "visitor_id": _json, "event_id": _json,
              "occurred_at": _json, "asset_id": _json, "extra": _json},
)  # fmt: skip


@given(st.one_of(_json, _event_like, st.lists(_event_like | _json, max_size=5)))
def test_any_json_body_is_accepted_or_refused_by_field_never_raises(body: object) -> None:
    records, rejections = normalize_events(body, SENDER)
    items = body if isinstance(body, list) else [body]
    assert len(records) + len(rejections) == len(items)
    for record in records:
        assert "@" not in record.key
        assert orjson.loads(record.value)["lead_id"] == record.key
