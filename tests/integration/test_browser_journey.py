"""Issues 12 and 13's acceptance in a real browser: Debian's chromium (Playwright, no
download) walks the demo site as a known lead — pricing three times, the case-study
download, the contact form as a 部長 at a 150-person manufacturer — and the lead's MQL
alert arrives on the hand-off topic with those reasons, from a real worker. Then the same
walk anonymously: the form names the lead, and the page views made before it are among
the reasons of that lead's MQL alert (the anonymous history merged)."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from scorer.collector.identity import lead_id_from_email
from scorer.contracts import topics as contract
from scorer.devstack import ManagedProcess, free_port
from scorer.stream.admin import apply_topics
from tests.support import WorkerProcess, http_get, read_topic, run, wait_for
from tests.support_collector import (
    BROWSER_UA,
    CHROMIUM,
    CHROMIUM_ARGS,
    CollectorProcess,
    events_on,
    walk_known_lead_journey,
)

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SECRET = "browser-test-secret-0123456789"  # noqa: S105 - a test key
ANONYMOUS_EMAIL = "suzuki.hanako@example-kogyo.co.jp"


@pytest.fixture
def demo_site(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    started: list[ManagedProcess] = []

    def start(collector_url: str) -> str:
        port = free_port()
        site = ManagedProcess(
            "demo site",
            [sys.executable, "-m", "scorer.collector.demo_site", "--collector", collector_url,
             "--port", str(port)],
            log_path=tmp_path / "demo-site.log",
        )  # fmt: skip
        started.append(site)
        site.start()
        url = f"http://127.0.0.1:{port}"
        site.wait_until(lambda: http_get(url + "/")[0] == 200, 20, "serving")
        return url

    yield start
    for site in started:
        site.stop()


def _mql_alert(settings: Any, lead: str) -> dict[str, Any] | None:
    for message in run(read_topic(settings, contract.HANDOFF_ALERTS)):
        alert = orjson.loads(message.value)
        if alert.get("lead_id") == lead and alert.get("kind") == "mql":
            return dict(alert)
    return None


def _views_of(settings: Any, lead: str, timeout_s: float) -> list[dict[str, Any]]:
    """A lead's web events, polled until there are some (in a thread of its own: the sync
    Playwright API keeps an event loop running in this one)."""
    from concurrent.futures import ThreadPoolExecutor

    deadline = time.monotonic() + timeout_s
    with ThreadPoolExecutor(max_workers=1) as pool:
        while True:
            web = pool.submit(events_on, settings, contract.WEB_EVENTS).result()
            views = [e for e in web if e["lead_id"] == lead]
            if views or time.monotonic() > deadline:
                return views
            time.sleep(0.2)


def test_a_known_lead_walks_the_demo_site_and_becomes_an_mql(
    make_settings: Callable[..., Any],
    start_worker: Callable[..., WorkerProcess],
    demo_site: Callable[[str], str],
    tmp_path: Path,
) -> None:
    assert os.path.exists(CHROMIUM), (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; "
        "scripts/bootstrap does it as root). Playwright must not download a browser."
    )
    from playwright.sync_api import sync_playwright

    collector_port = free_port()
    settings = make_settings(
        collector_port=collector_port,
        collector_lead_id_secret=SECRET,
        collector_allowed_origins="",  # set below, once the site's port is known
    )
    run(apply_topics(settings))
    worker = start_worker(settings)
    collector_url = f"http://127.0.0.1:{collector_port}"
    site = demo_site(collector_url)
    settings = settings.model_copy(update={"collector_allowed_origins": site})
    collector = CollectorProcess(settings, tmp_path / "collector.log").start()
    lead = f"lead-browser-{uuid.uuid4().hex[:8]}"
    private_lead = f"lead-gpc-{uuid.uuid4().hex[:8]}"
    consent_lead = f"lead-consent-{uuid.uuid4().hex[:8]}"
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "demo-contact-form.png"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Headless chromium says "HeadlessChrome" in its user agent, which the crawler
            # filter rightly drops; a person's browser says Chrome.
            context = browser.new_context(user_agent=BROWSER_UA, accept_downloads=True,
                                          locale="ja-JP")  # fmt: skip
            page = context.new_page()
            walk_known_lead_journey(page, site, lead)
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"\nscreenshot of the demo page: {screenshot}")
            assert page.input_value("input[name=_lead_id]") == lead, "tracker.js tagged the form"
            page.click("button[type=submit]")
            page.wait_for_url(f"{site}/thanks.html")
            # A browser signalling Global Privacy Control (or Do Not Track) is not tracked.
            private = browser.new_context(user_agent=BROWSER_UA)
            private.add_init_script(
                "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
                "{get: () => true});"
            )
            private_page = private.new_page()
            private_page.goto(f"{site}/pricing.html?lead={private_lead}")
            private_page.click("header nav >> text=Case study")
            private_page.wait_for_url("**/case-study.html")
            private_page.close()
            # With data-consent="required", nothing is sent until the site's banner says yes.
            consenting = browser.new_context(user_agent=BROWSER_UA).new_page()
            beacons: list[str] = []
            consenting.on(
                "request", lambda r: beacons.append(r.url) if "/v1/events" in r.url else None
            )
            consenting.goto(f"{site}/newsletter.html?lead={consent_lead}")
            # tracker.js has run (it starts synchronously once the document is parsed): had it
            # ignored the missing consent, its visitor cookie would be set by now.
            consenting.wait_for_function(
                "typeof window.scorer === 'function' && !window.scorer.q"
                " && document.readyState !== 'loading'"
            )
            assert "_scorer_vid" not in consenting.evaluate("document.cookie")
            assert beacons == []
            with consenting.expect_request(lambda r: r.url.endswith("/v1/events")):
                consenting.click("#accept")
            assert "_scorer_vid" in consenting.evaluate("document.cookie")
            # The browser stays open until the beacon has reached the topic.
            consented = _views_of(settings, consent_lead, timeout_s=10)
            # Issue 13: the same journey by a visitor nobody knows until the form.
            anonymous = browser.new_context(user_agent=BROWSER_UA, accept_downloads=True,
                                            locale="ja-JP").new_page()  # fmt: skip
            walk_known_lead_journey(anonymous, site, None, ANONYMOUS_EMAIL)
            assert anonymous.evaluate("localStorage.getItem('_scorer_lead')") is None, "unknown"
            visitor = anonymous.input_value("input[name=_visitor_id]")
            anonymous.click("button[type=submit]")
            anonymous.wait_for_url(f"{site}/thanks.html")
            browser.close()
        deadline = time.monotonic() + 45
        alert = _mql_alert(settings, lead)
        while alert is None and time.monotonic() < deadline:
            time.sleep(0.5)
            alert = _mql_alert(settings, lead)
        assert alert is not None, (
            f"no MQL alert for {lead} within 45 s; collector log:\n{collector.log_text()[-2000:]}"
        )
        labels = [reason["label"] for reason in alert["reasons"]]
        for reason in ("お問い合わせ", "料金ページ閲覧", "導入事例ダウンロード"):
            assert reason in labels, labels
        assert {"部長クラス以上", "従業員数100名以上", "製造業"} & set(labels), labels
        assert alert["score"] >= 80
        status, body = http_get(f"{worker.base_url}/leads/{lead}")
        assert status == 200
        contributions = orjson.loads(body)["contributions"]
        assert contributions["web.pricing_view"] == pytest.approx(15, abs=0.01)  # three views
        assert contributions["web.case_study_download"] == pytest.approx(15, abs=0.01)
        assert contributions["web.contact_form"] == pytest.approx(20, abs=0.01)
        for fit in (
            "fit.title.manager_plus",
            "fit.employees.100_plus",
            "fit.industry.manufacturing",
        ):
            assert contributions[fit] == 10, contributions
        assert screenshot.stat().st_size > 10_000
        links = [orjson.loads(m.value) for m in run(read_topic(settings, contract.IDENTITY_LINKS))]
        # The tracked email link (`?lead=`) and the form each link the visitor to the lead.
        known = sorted(link["method"] for link in links if link["lead_id"] == lead)
        assert known == ["email_click", "form"], links

        # The anonymous visitor: its page views before the form count for the lead the
        # form named (the keyed hash of the email), and are among its MQL alert's reasons.
        email_lead = lead_id_from_email(ANONYMOUS_EMAIL, SECRET.encode())
        assert [link["visitor_id"] for link in links if link["lead_id"] == email_lead] == [visitor]
        anonymous_alert = wait_for(
            lambda: _mql_alert(settings, email_lead), 45, "the anonymous visitor's MQL alert"
        )
        reasons = {reason["rule_id"] for reason in anonymous_alert["reasons"]}
        assert {"web.pricing_view", "web.case_study_download"} <= reasons, reasons

        def served_contributions() -> dict[str, float] | None:
            status, body = http_get(f"{worker.base_url}/leads/{email_lead}")
            document = orjson.loads(body) if status == 200 else {}
            return document["contributions"] if document.get("stage") == "mql" else None

        merged = wait_for(served_contributions, 10, "the merged lead served (read model flush)")
        assert merged["web.pricing_view"] == pytest.approx(15, abs=0.01), merged
        assert merged["web.case_study_download"] == pytest.approx(15, abs=0.01), merged
        assert not [
            a for a in (orjson.loads(m.value)
                        for m in run(read_topic(settings, contract.HANDOFF_ALERTS)))
            if str(a.get("lead_id", "")).startswith("anon:")
        ], "an anonymous visitor never alerts"  # fmt: skip

        # One page view, sent after the click: one sent before consent would be here too.
        assert [e["url"] for e in consented] == ["/newsletter.html"], consented
        web = events_on(settings, contract.WEB_EVENTS)
        assert not [e for e in web if e["lead_id"] == private_lead], "GPC was not honoured"
        for topic in (contract.WEB_EVENTS, contract.PROFILE_UPDATES, contract.IDENTITY_LINKS):
            for message in run(read_topic(settings, topic)):
                assert b"yamada.taro" not in message.value
                assert "山田 太郎".encode() not in message.value
    finally:
        collector.stop()
