"""A visitor arriving through a tracked email link (`?lead=`): the tracker marks its page
view `link: email_click`, and the collector adds an identity link with a stable id."""

from __future__ import annotations

import orjson

from scorer.collector.intake import normalize_events
from scorer.contracts.identity import parse_link
from tests.unit.collector.test_collector_units import SENDER


def _click(lead_id: str | None) -> dict[str, object]:
    event: dict[str, object] = {"type": "web.page_view", "url": "/pricing", "link": "email_click"}
    if lead_id is not None:
        event["lead_id"] = lead_id
    return event


def test_an_email_click_naming_the_lead_links_the_visitor_with_a_stable_id() -> None:
    first, _ = normalize_events([_click("lead-7")], SENDER)
    again, _ = normalize_events([_click("lead-7")], SENDER)
    assert [r.topic for r in first] == ["leads.web-events.v1", "leads.identity-links.v1"]
    assert "link" not in orjson.loads(first[0].value), "the marker never reaches the topic"
    link = parse_link(first[1].value)
    assert (link.visitor_id, link.lead_id) == ("visitor-0001", "lead-7")
    assert first[1].key == "lead-7"
    assert parse_link(again[1].value).link_id == link.link_id, "a repeat changes nothing"


def test_no_link_without_a_known_lead_and_a_bad_marker_is_refused() -> None:
    records, _ = normalize_events([_click(None)], SENDER)
    assert [r.topic for r in records] == ["leads.web-events.v1"]
    records, rejections = normalize_events([{**_click("lead-7"), "link": "sms"}], SENDER)
    assert records == []
    assert [(r.field, r.reason) for r in rejections] == [("link", "schema")]
