"""A `scorer collect` subprocess for the integration tests, and plain HTTP calls to it."""

from __future__ import annotations

import http.client
from typing import Any, Self

import orjson

from scorer.settings import Settings
from tests.support import ScorerProcess, read_topic, run

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)


class CollectorProcess(ScorerProcess):
    """A `scorer collect` subprocess with the given settings."""

    command = "collect"

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.collector_host}:{self.settings.collector_port}"

    def start(self, timeout_s: float = 30.0) -> Self:
        return super().start(timeout_s)

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request with exactly these headers (a browser user agent unless given)."""
        connection = http.client.HTTPConnection(
            self.settings.collector_host, self.settings.collector_port, timeout=10
        )
        try:
            sent = {"User-Agent": BROWSER_UA, **(headers or {})}
            connection.request(
                method, path, body=body, headers={k: v for k, v in sent.items() if v is not None}
            )
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.stop(timeout_s=10)


def events_on(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Every event on an input topic, envelopes (leads.event-batch.v1) unpacked in order."""
    events: list[dict[str, Any]] = []
    for message in run(read_topic(settings, topic)):
        value = orjson.loads(message.value)
        events.extend(value["events"] if "schema" in value else [value])
    return events


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def walk_known_lead_journey(
    page: Any, site: str, lead: str | None, email: str = "yamada.taro@example-seiki.co.jp"
) -> None:
    """The acceptance journey on the demo site, as a known lead (or anonymously, with
    `lead=None`): pricing three times, the case-study download, then the contact form
    filled in as a 部長 at a 150-person manufacturer (not sent: the caller may screenshot
    it first)."""
    # The known-lead link of a marketing email, or a visitor nobody knows yet.
    page.goto(f"{site}/?lead={lead}" if lead is not None else f"{site}/")
    for _ in range(3):
        page.click("header nav >> text=Pricing")
        page.wait_for_url("**/pricing.html")
    page.click("header nav >> text=Case study")
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "case-study-yamada.pdf"
    page.click("header nav >> text=Contact")
    page.fill("input[name=email]", email)
    page.fill("input[name=name]", "山田 太郎")
    page.fill("input[name=company]", "山田精機株式会社")
    page.fill("input[name=employees]", "150")
    page.select_option("select[name=industry]", "製造業")
    page.fill("input[name=title]", "製造部 部長")
