"""Keep the crawl out of the auditor's own network (hotline_audit/netguard.py).

Scrapy's downloads (redirects included: each hop is a new request through the downloader
middlewares) are checked here before they are sent; the crawler's Chromium goes through a
``GuardProxy`` of its own (crawler/run.py), which does the same for everything a rendered page
asks for."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy.exceptions import IgnoreRequest

from hotline_audit.netguard import Refusal, TargetPolicy


class TargetRefused(IgnoreRequest):
    """The request aimed at a loopback, private, link-local or CGNAT address: not sent."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused: {refusal.reason_en}")
        self.refusal = refusal


class GuardMiddleware:
    """A downloader middleware: refuses off-limits targets (``HOTLINE_AUDIT_ALLOW_HOSTS``
    names the exceptions); lookups are remembered per scheme and host."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self.seen: dict[str, Refusal | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> GuardMiddleware:
        return cls(TargetPolicy(crawler.settings.getlist("HOTLINE_AUDIT_ALLOW_HOSTS")))

    async def process_request(self, request: Any, spider: Any = None) -> None:
        scheme, _, rest = request.url.partition("://")
        key = f"{scheme}://{rest.split('/', 1)[0]}"
        if key not in self.seen:
            self.seen[key] = await asyncio.to_thread(self.policy.refusal, request.url)
        refusal = self.seen[key]
        if refusal is not None:
            raise TargetRefused(refusal)
