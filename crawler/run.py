"""Run discovery for a list of hotlines in this process and append JSON lines.

Scrapy's reactor can start once per process, so ``hotline-audit`` runs this module as a child
process: ``python -m crawler.run IN.json OUT.jsonl [--proxy URL]``. Every line is flushed as it
is written, so a crawl killed at any moment leaves whole findings and the ``done`` marks of the
hotlines it finished; ``hotline_audit.discovery`` resumes from there."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import IO, Any

from scrapy import Spider
from scrapy.crawler import CrawlerProcess

from hotline_audit.config import CHROMIUM_ARGS, DEFAULT_CHROMIUM, PLAYWRIGHT_ARGS_WE_DROP
from hotline_audit.netguard import GuardProxy, TargetPolicy

from .spider import HotlineSpider

SETTINGS = {
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "ROBOTSTXT_OBEY": False,  # public government service pages; politeness comes from the limits below
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "DOWNLOAD_DELAY": 0.05,
    "DOWNLOAD_TIMEOUT": 15,
    "DOWNLOAD_MAXSIZE": 5_000_000,
    "DOWNLOAD_WARNSIZE": 0,
    "RETRY_TIMES": 1,  # one more try: flaky front servers answer the second time
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
    "DEPTH_LIMIT": 0,  # the spider's own depth and page budget bound the crawl
    "COOKIES_ENABLED": True,
    "USER_AGENT": ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/124.0 Safari/537.36 hotline-audit"),
    "LOG_LEVEL": "ERROR",
    "TELNETCONSOLE_ENABLED": False,
    "HTTPERROR_ALLOWED_CODES": [],
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
        chromium: str = DEFAULT_CHROMIUM, allow_hosts: list[str] | None = None) -> None:
    settings = dict(SETTINGS, HOTLINE_AUDIT_OUT=str(out), ITEM_PIPELINES={"crawler.run.JsonLinesWriter": 100},
                    HOTLINE_AUDIT_ALLOW_HOSTS=list(allow_hosts or []),
                    DOWNLOADER_MIDDLEWARES={"crawler.guard.GuardMiddleware": 50})
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
    args = ap.parse_args()
    run(json.loads(args.hotlines.read_text(encoding="utf-8")), args.out, args.proxy, args.depth,
        args.page_budget, args.chromium, args.allow_host)


if __name__ == "__main__":
    main()
