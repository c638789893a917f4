"""Run discovery for a list of hotlines in this process and append JSON lines.

Scrapy's reactor can start once per process, so ``hotline-audit`` runs this module as a child
process: ``python -m crawler.run IN.json OUT.jsonl [--proxy URL] [--politeness-state PATH --round NAME
--politeness JSON]``. Every line is flushed as it is written, so a crawl killed at any moment leaves
whole findings and the ``done`` marks of the hotlines it finished; ``hotline_audit.discovery``
resumes from there.

Politeness (issue 18) is crawler/polite.py's: every request takes a slot from its host's budget,
shared with the round through the state file, so no fixed delay is set here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import IO, Any

from scrapy import Spider
from scrapy.crawler import CrawlerProcess

from hotline_audit.config import CHROMIUM_ARGS, DEFAULT_CHROMIUM, PLAYWRIGHT_ARGS_WE_DROP
from hotline_audit.netguard import GuardProxy, TargetPolicy
from hotline_audit.politeness import PolitenessSettings, user_agent

from .spider import HotlineSpider

SETTINGS = {
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    # robots.txt is crawler/polite.py's (Crawl-delay into the shared budget, Disallow per
    # settings, the registry's own entry page fetched anyway): Scrapy's middleware stays off.
    "ROBOTSTXT_OBEY": False,
    "CONCURRENT_REQUESTS": 32,  # across hosts: many hotlines crawl at once, each at its host's pace
    "SCHEDULER_PRIORITY_QUEUE": "crawler.polite.PoliteQueue",
    # No fixed delay: the budget spaces each host's requests (with its own jitter) and
    # AutoThrottle widens the spacing for a host that answers slowly.
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_DELAY_JITTER": 0,
    "AUTOTHROTTLE_ENABLED": True,
    "DOWNLOAD_TIMEOUT": 15,
    "DOWNLOAD_MAXSIZE": 5_000_000,
    "DOWNLOAD_WARNSIZE": 0,
    "RETRY_TIMES": 1,  # one more try: flaky front servers answer the second time
    # Not 429: an immediate retry is what trips a firewall; crawler/polite.py sends a throttled
    # page again after the host's back-off. A 503 without Retry-After keeps its one retry.
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
    "DEPTH_LIMIT": 0,  # the spider's own depth and page budget bound the crawl
    "COOKIES_ENABLED": True,
    "LOG_LEVEL": "ERROR",
    "TELNETCONSOLE_ENABLED": False,
    "HTTPERROR_ALLOWED_CODES": [],
    # Every request Chromium makes gets Scrapy's headers (our User-Agent); XHR and fetch calls
    # also take a budget slot.
    "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": "crawler.polite.browser_request_headers",
}
# The guard first (a refused target takes no slot), politeness last before the downloader (its
# slot is taken as late as possible and given back as soon as the answer is in).
DOWNLOADER_MIDDLEWARES = {"crawler.guard.GuardMiddleware": 50, "crawler.polite.PoliteMiddleware": 950}


def polite_settings(politeness: PolitenessSettings, state_file: Path, round_name: str) -> dict[str, Any]:
    """The Scrapy settings that follow from the politeness settings."""
    return {
        "HOTLINE_AUDIT_POLITENESS": politeness.model_dump(mode="json"),
        "HOTLINE_AUDIT_POLITENESS_STATE": str(state_file),
        "HOTLINE_AUDIT_ROUND": round_name,
        # Scrapy's slot per host never holds more than the budget lets one host have.
        "CONCURRENT_REQUESTS_PER_DOMAIN": politeness.in_flight,
        "AUTOTHROTTLE_START_DELAY": politeness.min_interval_s,
        # A slow host gets a delay of its latency over this: about one request at a time by
        # default, never more than the budget's in-flight slots.
        "AUTOTHROTTLE_TARGET_CONCURRENCY": max(1.0, politeness.in_flight / 2),
        # One User-Agent for the whole crawl, Scrapy's and Chromium's: who we are, and how a
        # site's administrator reaches the auditor. WeChat H5 pages still ask as WeChat.
        "USER_AGENT": user_agent(politeness.contact),
    }


class JsonLinesWriter:
    """Append each item as one JSON line, flushed at once (Scrapy's feed exports buffer)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> JsonLinesWriter:
        return cls(crawler.settings["HOTLINE_AUDIT_OUT"])

    def open_spider(self, spider: Spider) -> None:
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close_spider)

    def close_spider(self, spider: Spider) -> None:
        if self.file:
            self.file.close()

    def process_item(self, item: dict, spider: Spider) -> dict:
        assert self.file is not None
        self.file.write(json.dumps(item, ensure_ascii=False) + "\n")
        self.file.flush()
        return item


def run(hotlines: list[dict], out: Path, proxy: str | None, depth: int = 1, page_budget: int = 60,
        chromium: str = DEFAULT_CHROMIUM, allow_hosts: list[str] | None = None,
        politeness: PolitenessSettings | None = None, state_file: Path | None = None, round_name: str = "") -> None:
    """Crawl ``hotlines``; the politeness budget lives in ``state_file`` (default:
    politeness.sqlite beside ``out``), shared with whatever else asks the same hosts."""
    politeness = politeness or PolitenessSettings()
    state_file = state_file or politeness.state_file or out.parent / "politeness.sqlite"
    settings = dict(SETTINGS, HOTLINE_AUDIT_OUT=str(out), ITEM_PIPELINES={"crawler.run.JsonLinesWriter": 100},
                    HOTLINE_AUDIT_ALLOW_HOSTS=list(allow_hosts or []), DOWNLOADER_MIDDLEWARES=DOWNLOADER_MIDDLEWARES,
                    **polite_settings(politeness, state_file, round_name))
    # What a rendered page asks for (scripts, frames, redirects) goes through a guard of its own.
    guard = GuardProxy(TargetPolicy(allow_hosts or []), proxy).start()
    # Only pages that need JavaScript go through Chromium (scrapy-playwright); the rest are
    # plain HTTP. The browser gets the proxy at launch: it ignores per-request proxies.
    settings["DOWNLOAD_HANDLERS"] = {
        "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    }
    settings["PLAYWRIGHT_LAUNCH_OPTIONS"] = {
        "executable_path": chromium, "args": CHROMIUM_ARGS, "headless": True,
        "ignore_default_args": PLAYWRIGHT_ARGS_WE_DROP,  # a citizen's browser blocks popups
        "proxy": {"server": guard.listen("crawler"), "bypass": "<-loopback>"},
    }
    settings["PLAYWRIGHT_MAX_CONTEXTS"] = 2
    settings["PLAYWRIGHT_MAX_PAGES_PER_CONTEXT"] = 2  # a renderer process each: keep memory bounded
    settings["PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT"] = 15_000
    process = CrawlerProcess(settings)
    process.crawl(HotlineSpider, hotlines=hotlines, proxy=proxy, page_budget=page_budget, start_depth=depth)
    try:
        process.start()
    finally:
        guard.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("hotlines", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--proxy")
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--page-budget", type=int, default=60)
    ap.add_argument("--chromium", default=DEFAULT_CHROMIUM)
    ap.add_argument("--allow-host", action="append", default=[],
                    help="a local host, address or network pages may reach (repeatable)")
    ap.add_argument("--politeness-state", type=Path,
                    help="the shared politeness budget (SQLite); default: politeness.sqlite beside OUT")
    ap.add_argument("--round", default="", help="the round the crawl's requests are booked to")
    ap.add_argument("--politeness", default="{}", help="politeness settings as JSON (PolitenessSettings)")
    args = ap.parse_args()
    run(json.loads(args.hotlines.read_text(encoding="utf-8")), args.out, args.proxy, args.depth,
        args.page_budget, args.chromium, args.allow_host,
        PolitenessSettings.model_validate_json(args.politeness), args.politeness_state, args.round)


if __name__ == "__main__":
    main()
