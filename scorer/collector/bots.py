"""Crawler user agents, by the maintained list of the crawlerdetect package."""

from __future__ import annotations

from functools import lru_cache

from crawlerdetect import CrawlerDetect

_MAX_UA = 512
_detector = CrawlerDetect()


@lru_cache(maxsize=8192)
def _is_crawler(user_agent: str) -> bool:
    return bool(_detector.isCrawler(user_agent))


def is_bot(user_agent: str | None) -> bool:
    """A crawler, or no user agent at all (every browser sends one)."""
    if not user_agent or not user_agent.strip():
        return True
    return _is_crawler(user_agent[:_MAX_UA])
