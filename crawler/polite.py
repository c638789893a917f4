"""The discovery crawl asks each host as politely as the rest of the round (issue 18).

Government portals sit behind firewalls that block an address sending too fast, and a blocked
crawl would then report the block as the hotline's failure. So:

- every request the crawl sends (pages, redirect hops, retries, QR images, robots.txt) takes a
  slot from its host's shared budget first (``PoliteMiddleware``, hotline_audit/politeness.py),
  booked to the hotline it is for; so do the XHR and fetch calls of pages Chromium renders
  (``browser_request_headers``), while the rendered page's scripts, styles and images do not
  (they load as a visitor's browser loads them);
- a throttling answer (429, 503 with Retry-After, a firewall's page) is never read as the page:
  the host backs off (``Politeness.throttled``) and the page is sent again afterwards, up to
  ``politeness.retries`` times, then left (a ``rate_limited`` or ``waf_blocked`` failure);
- robots.txt is read once per host: its Crawl-delay goes into the budget for every component,
  its Disallow is obeyed (or, with ``robots_disallow: ignore``, noted) for crawled links. The
  page a registry names is fetched anyway: a person named it, and it is what is audited;
- the scheduler (``PoliteQueue``) hands out a host's requests only while it has a free slot and
  is not backing off, so that one slow or throttled host never fills the crawl's concurrency
  with requests that merely wait, and the other hosts crawl on.

What happened is kept per hotline (``HotlineNotes``) and written by the spider as a
``politeness`` item before the hotline's ``done``; discovery copies it into the hotline's
observations, so it stays short (lists capped at ``NOTES_CAP``)."""

from __future__ import annotations

import asyncio
import html
import re
import time
import weakref
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pqueues import DownloaderAwarePriorityQueue

from hotline_audit.politeness import (
    Politeness,
    PolitenessSettings,
    Ticket,
    classify,
    form_fields,
    host_of,
    retry_after_s,
)

from .extract import decode_html
from .robots import HostRobots, read_robots

# Request meta keys.
REGISTRY_ENTRY = "registry_entry"  # the page a registry names: fetched even where robots.txt disallows it
ROBOTS_REQUEST = "polite_robots"  # this request fetches a host's robots.txt
RETRIES = "polite_retries"  # times this page was sent again after a throttling answer
THROTTLE = "polite_throttle"  # on a robots.txt request: a dict its throttling answer goes into
COUNTED = "polite_counted"  # PoliteQueue counted this request as its host's when it handed it out

NOTES_CAP = 20  # entries per list in a hotline's notes (they go into its observations)
MAX_TEXT_BYTES = 100_000  # HTML read for a firewall's words; a firewall's page is small
BACKOFF_RECHECK_S = 1.0  # how often the scheduler asks the budget whether a host backs off
BROWSER_PAGE_LEVEL = ("xhr", "fetch")  # what a rendered page asks for that takes a slot

_HIDDEN = re.compile(r"(?is)<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->")
_TAG = re.compile(r"(?s)<[^>]*>")


class RobotsDisallowed(IgnoreRequest):
    """robots.txt disallows the page and the settings say to obey: not sent."""

    def __init__(self, url: str) -> None:
        super().__init__(f"robots.txt disallows {url}")


class Throttled(IgnoreRequest):
    """The host throttled this page every time it was asked: left, never read as the page."""

    def __init__(self, kind: str, status: int | None, url: str, tries: int) -> None:
        super().__init__(f"{kind} (HTTP {status}) after {tries} retries: {url}")
        self.kind = kind
        self.status = status


def visible_text(response: Response) -> str:
    """What a person reads on a short HTML or plain-text answer (no tags, scripts, styles);
    empty for anything else, so that classifying a page costs next to nothing. The body is
    still as sent (this middleware sees answers before Scrapy decompresses them)."""
    if len(response.body) > MAX_TEXT_BYTES:
        return ""
    ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
    body = _decompressed(response)
    head = body.lstrip()[:1]
    if "html" in ctype or head == b"<":
        text, _ = decode_html(body, ctype.partition("charset=")[2].strip() or None)
        return html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", text)))
    return decode_html(body, None)[0] if ctype.startswith("text/plain") else ""


def _decompressed(response: Response) -> bytes:
    """The body without its Content-Encoding (gzip, deflate, br), at most MAX_TEXT_BYTES of it;
    empty when it cannot be read."""
    encoding = response.headers.get(b"Content-Encoding", b"").decode("latin-1").strip().lower()
    body = response.body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_TEXT_BYTES)
        if encoding == "deflate":
            try:
                return zlib.decompressobj().decompress(body, MAX_TEXT_BYTES)
            except zlib.error:  # raw deflate, as some servers send it
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, MAX_TEXT_BYTES)
        if encoding == "br":
            import brotli

            return brotli.decompress(body)[:MAX_TEXT_BYTES]
    except Exception:  # noqa: BLE001 (unreadable: judged by its status alone)
        return b""
    return body if encoding in ("", "identity") else b""


def _headers(response: Response) -> dict[str, str]:
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in response.headers.items()}


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _capped(items: list[Any], item: Any) -> None:
    if len(items) < NOTES_CAP:
        items.append(item)


@dataclass
class HotlineNotes:
    """What politeness did to one hotline's crawl: throttling answers, robots.txt facts."""

    throttled: list[dict[str, Any]] = field(default_factory=list)
    throttled_count: int = 0
    gave_up: int = 0
    robots: dict[str, dict[str, Any]] = field(default_factory=dict)  # per host
    skipped_count: int = 0

    def item(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.throttled_count:
            out.update(throttled=self.throttled, throttled_count=self.throttled_count, gave_up=self.gave_up)
        if self.robots:
            out["robots"] = list(self.robots.values())[:NOTES_CAP]
            out["disallowed_count"] = self.skipped_count
        return out


class CrawlPoliteness:
    """One crawl's side of the budget, shared by the middleware, the scheduler's queue, the
    browser hook and the spider (``for_crawler``)."""

    def __init__(self, budget: Politeness, settings: PolitenessSettings) -> None:
        self.budget = budget
        self.settings = settings
        self.holding: Counter[str] = Counter()  # per host: requests inside PoliteMiddleware
        self.backoff_until: dict[str, float] = {}  # per host, as far as this process knows
        self._checked: dict[str, float] = {}
        self.notes: dict[str, HotlineNotes] = {}
        self.rendering: dict[str, str] = {}  # URL of a page Chromium renders -> its hotline
        self.tasks: set[asyncio.Task[None]] = set()  # browser requests waiting for their answer

    def notes_for(self, hotline_id: str) -> HotlineNotes:
        return self.notes.setdefault(hotline_id, HotlineNotes())

    def may_send(self, host: str) -> bool:
        """Whether a request to ``host`` should leave the scheduler now: the host has a free
        slot among ours and is not waiting out a throttling answer."""
        return self.holding[host] < self.settings.in_flight and not self.backing_off(host)

    def backing_off(self, host: str) -> bool:
        now = time.time()
        if self.backoff_until.get(host, 0.0) > now:
            return True
        if now - self._checked.get(host, 0.0) >= BACKOFF_RECHECK_S:
            # Another process (the round, a recheck) may have been throttled by this host.
            self._checked[host] = now
            wait = self.budget.waiting_s(f"http://[{host}]/" if ":" in host else f"http://{host}/")
            if wait > 0:
                self.backoff_until[host] = now + wait
                return True
        return False

    def throttled(self, url: str, kind: str, status: int | None, retry_after: float | None, hotline_id: str,
                  tries: int, gave_up: bool, browser: bool = False) -> float:
        """Book a throttling answer to the host (it backs off) and to the hotline's notes;
        returns the seconds the host now waits."""
        wait = self.budget.throttled(url, kind, status, retry_after, hotline_id)
        now = time.time()
        host = host_of(url)
        self.backoff_until[host] = max(self.backoff_until.get(host, 0.0), now + wait)
        notes = self.notes_for(hotline_id)
        notes.throttled_count += 1
        notes.gave_up += gave_up
        seen = {"url": url[:300], "status": status, "kind": kind, "at": _when(now), "retry": tries,
                "wait_s": round(wait, 1), "gave_up": gave_up}
        if browser:
            seen["browser"] = True  # an XHR or fetch call of a rendered page
        _capped(notes.throttled, seen)
        return wait

    def robots_seen(self, hotline_id: str, robots: HostRobots) -> dict[str, Any]:
        """The host's robots.txt facts in the hotline's notes (added once per host)."""
        facts = self.notes_for(hotline_id).robots
        if robots.host not in facts and len(facts) < NOTES_CAP:
            facts[robots.host] = dict(robots.facts)
        return facts.get(robots.host, {})

    def disallowed(self, hotline_id: str, robots: HostRobots, url: str, what: str) -> None:
        """A page robots.txt disallows: ``what`` is ``skipped`` (obeyed), ``crawled_anyway``
        (``robots_disallow: ignore``) or ``entry_anyway`` (the registry names it)."""
        facts = self.robots_seen(hotline_id, robots)
        if what == "skipped":
            self.notes_for(hotline_id).skipped_count += 1
        _capped(facts.setdefault({"skipped": "disallowed_skipped", "crawled_anyway": "crawled_despite_robots",
                                  "entry_anyway": "entry_despite_robots"}[what], []), url[:300])

    async def browser_request(self, request: Any, page_url: str) -> None:
        """An XHR or fetch call of a page Chromium renders: it waits for its host's slot,
        which is given back when its answer arrives (or after ``max_hold_s``)."""
        url = request.url
        if not host_of(url) or not url.startswith(("http://", "https://")):
            return
        hotline_id = self.rendering.get(page_url, "")
        ticket = await self.budget.acquire(url, hotline_id)
        task = asyncio.ensure_future(self._browser_answer(ticket, request, hotline_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _browser_answer(self, ticket: Ticket, request: Any, hotline_id: str) -> None:
        status: int | None = None
        headers: dict[str, str] = {}
        try:
            response = await asyncio.wait_for(request.response(), self.settings.max_hold_s)
            if response is not None:
                status, headers = response.status, dict(response.headers)
        except Exception:  # noqa: BLE001, S110 (failed, page closed, timed out: the slot is given back all the same)
            pass
        finally:
            # A script's data is not read for a firewall's words: the status says enough.
            kind = classify(status, headers) if status is not None else None
            self.budget.release(ticket, status=status, throttle=kind)
        if kind is not None:
            self.throttled(request.url, kind, status, retry_after_s(headers.get("retry-after")), hotline_id,
                           tries=0, gave_up=True, browser=True)

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()


_STATES: weakref.WeakKeyDictionary[Any, CrawlPoliteness] = weakref.WeakKeyDictionary()
_CURRENT: list[CrawlPoliteness] = []  # the process's crawl, for the browser hook (one crawl per process)


def for_crawler(crawler: Any) -> CrawlPoliteness:
    """The crawl's politeness, from ``HOTLINE_AUDIT_POLITENESS`` (PolitenessSettings as a dict),
    ``HOTLINE_AUDIT_POLITENESS_STATE`` (the shared SQLite file) and ``HOTLINE_AUDIT_ROUND``."""
    state = _STATES.get(crawler)
    if state is None:
        s = crawler.settings
        path = s.get("HOTLINE_AUDIT_POLITENESS_STATE")
        if not path:
            raise ValueError("HOTLINE_AUDIT_POLITENESS_STATE is not set: a crawl without a budget is not polite")
        settings = PolitenessSettings.model_validate(s.getdict("HOTLINE_AUDIT_POLITENESS"))
        budget = Politeness(Path(path), settings, s.get("HOTLINE_AUDIT_ROUND") or "", "crawl")
        state = _STATES[crawler] = CrawlPoliteness(budget, settings)
        _CURRENT[:] = [state]
    return state


def notes_of(crawler: Any, hotline_id: str) -> dict[str, Any]:
    """The hotline's politeness notes as an item's fields, once (empty when there are none)."""
    state = _STATES.get(crawler)
    notes = state.notes.pop(hotline_id, None) if state else None
    return notes.item() if notes else {}


class PoliteMiddleware:
    """A downloader middleware, placed last before the downloader (so that a request the guard
    refuses never takes a slot, and its answer is seen first): robots.txt, then the host's slot
    (``process_request``); the slot given back and throttling answers handled
    (``process_response``, ``process_exception``)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.state = for_crawler(crawler)
        self.held: dict[Request, tuple[Ticket, str]] = {}
        self.robots: dict[str, asyncio.Future[HostRobots]] = {}
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> PoliteMiddleware:
        return cls(crawler)

    # -- a slot per request ---------------------------------------------------------------------

    async def process_request(self, request: Request, spider: Any = None) -> None:
        host = host_of(request.url)
        counted = request.meta.pop(COUNTED, False)
        if not host or not request.url.startswith(("http://", "https://")):
            if counted:
                self.state.holding[host] -= 1
            return
        hotline_id = request.meta.get("hotline_id") or ""
        if not counted:  # not from the scheduler: a robots.txt, a redirect hop Scrapy sends itself
            self.state.holding[host] += 1
        try:
            if self.state.budget.refusing(request.url) and (last := self.state.budget.last_throttle(request.url)):
                # The host keeps throttling us: the rest of its pages are not asked for.
                raise Throttled(last.kind, last.status, request.url, request.meta.get(RETRIES, 0))
            if not request.meta.get(ROBOTS_REQUEST):
                await self.obey_robots(request, host, hotline_id)
            # Scrapy's own per-host delay (AutoThrottle's) runs after this middleware: wait it
            # out first, so that the slot's start is when the request really leaves.
            await asyncio.sleep(self.scrapy_delay_left(request))
            ticket = await self.state.budget.acquire(request.url, hotline_id)
        except BaseException:
            self.state.holding[host] -= 1
            raise
        if request.meta.get("playwright"):
            # A rendered page's XHR and fetch calls take this host's slots while the page waits
            # for the network to go idle: the navigation keeps its place in the rate (and its
            # status in the log) but not an in-flight slot, or two renders of one host would
            # starve their own scripts' calls until the page timed out.
            self.state.budget.release(ticket)
            self.state.rendering[request.url] = hotline_id
        self.held[request] = (ticket, host)

    def scrapy_delay_left(self, request: Request) -> float:
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is None or not slot.delay:
            return 0.0
        # Capped at the delay itself: older Scrapy versions keep lastseen in time.time().
        return max(0.0, min(slot.delay, slot.lastseen + slot.delay - time.monotonic()))

    def give_back(self, request: Request, status: int | None = None, throttle: str | None = None) -> bool:
        held = self.held.pop(request, None)
        if held is None:
            if request.meta.pop(COUNTED, False):
                # Handed out by PoliteQueue, stopped before it reached us (the guard refused it).
                self.state.holding[host_of(request.url)] -= 1
            return False
        ticket, host = held
        self.state.budget.release(ticket, status=status, throttle=throttle)
        self.state.holding[host] -= 1
        self.state.rendering.pop(request.url, None)
        return True

    async def process_response(self, request: Request, response: Response, spider: Any = None) -> Response | Request:
        kind = self.throttle_kind(request, response)
        if not self.give_back(request, response.status, kind) or kind is None:
            return response
        return await self.throttled(request, response, kind)

    async def process_exception(self, request: Request, exception: BaseException, spider: Any = None) -> None:
        self.give_back(request)

    def spider_closed(self, spider: Any) -> None:
        # Requests still queued in a downloader slot when the crawl ends never answer.
        for request in list(self.held):
            self.give_back(request)
        self.state.close()

    # -- throttling answers ---------------------------------------------------------------------

    def throttle_kind(self, request: Request, response: Response) -> str | None:
        if response.status == 412 and not request.meta.get("playwright"):
            return None  # a JavaScript challenge: the spider has Chromium pass it (no throttle)
        return classify(response.status, _headers(response), visible_text(response),
                        form_fields(_decompressed(response)[:MAX_TEXT_BYTES].decode("latin-1")))

    async def throttled(self, request: Request, response: Response, kind: str) -> Response | Request:
        """The page is sent again once the host's back-off is over (the budget makes every
        request to the host wait for it), or left after ``retries`` tries."""
        tries = request.meta.get(RETRIES, 0)
        robots = bool(request.meta.get(ROBOTS_REQUEST))
        # A host that keeps blocking is left alone: no page of it is worth ten minutes' wait.
        gave_up = robots or tries >= self.state.settings.retries or self.state.budget.refusing(request.url)
        retry_after = retry_after_s(response.headers.get(b"Retry-After", b"").decode("latin-1") or None)
        wait = self.state.throttled(request.url, kind, response.status, retry_after,
                                    request.meta.get("hotline_id") or "", tries, gave_up)
        page = request.meta.pop("playwright_page", None)
        if page is not None:
            try:
                await page.close()
            except Exception:  # noqa: BLE001, S110 (already closed with its context)
                pass
        if robots:
            request.meta[THROTTLE]["kind"] = kind  # no rules from a firewall's page (read_robots)
            return response
        if gave_up:
            raise Throttled(kind, response.status, request.url, tries)
        self.wake_after(wait)
        retry = request.copy()
        retry.meta[RETRIES] = tries + 1
        retry.dont_filter = True
        return retry

    def wake_after(self, seconds: float) -> None:
        """Have the engine look at the scheduler again when the back-off ends (it otherwise
        looks every few seconds only, when nothing else is going on)."""
        def wake() -> None:
            slot = getattr(self.crawler.engine, "_slot", None)
            nextcall = getattr(slot, "nextcall", None)
            if nextcall is not None:
                nextcall.schedule()

        asyncio.get_running_loop().call_later(seconds + 0.05, wake)

    # -- robots.txt ---------------------------------------------------------------------------

    async def obey_robots(self, request: Request, host: str, hotline_id: str) -> None:
        parts = urlsplit(request.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        future = self.robots.get(origin)
        if future is None:
            future = self.robots[origin] = asyncio.ensure_future(self.read_robots(origin, host, request))
        # Shielded: a request cancelled while it waits must not cancel the host's reading.
        robots = await asyncio.shield(future)
        self.state.robots_seen(hotline_id, robots)
        if robots.allows(request.url):
            return
        if request.meta.get(REGISTRY_ENTRY):
            # Obey means obey for the links we follow; the page the registry names is fetched
            # anyway, because a person named it and the audit is about it.
            self.state.disallowed(hotline_id, robots, request.url, "entry_anyway")
        elif self.state.settings.robots_disallow == "ignore":
            self.state.disallowed(hotline_id, robots, request.url, "crawled_anyway")
        else:
            self.state.disallowed(hotline_id, robots, request.url, "skipped")
            raise RobotsDisallowed(request.url)

    async def read_robots(self, origin: str, host: str, request: Request) -> HostRobots:
        """The host's robots.txt, fetched once through the budget (it is a page-level request,
        booked to the hotline that first needed it); its Crawl-delay goes into the budget."""
        throttle: dict[str, str] = {}  # shared by the redirect hops, whose meta is a copy
        meta: dict[str, Any] = {ROBOTS_REQUEST: True, THROTTLE: throttle, "dont_retry": True,
                                "hotline_id": request.meta.get("hotline_id") or "", "dont_obey_robotstxt": True}
        proxy = request.meta.get("proxy") or getattr(self.crawler.spider, "proxy", None)
        if proxy:
            meta["proxy"] = proxy  # a rendered page's request has none (Chromium has it)
        fetch = Request(f"{origin}/robots.txt", meta=meta, callback=NO_CALLBACK, dont_filter=True)
        try:
            response = await self.download(fetch)
        except Exception as exc:  # noqa: BLE001 (no robots.txt to read: no rules)
            return HostRobots(host, type(exc).__name__)
        if throttle:
            return HostRobots(host, throttle["kind"])
        robots = read_robots(host, response.status,
                             response.headers.get(b"Content-Type", b"").decode("latin-1"), response.body)
        if robots.fetched == "read":
            # Always honoured, by every component: 0 when the file no longer asks for one.
            self.state.budget.set_crawl_delay(host, robots.crawl_delay or 0.0)
        return robots

    async def download(self, request: Request) -> Response:
        engine = self.crawler.engine
        if hasattr(engine, "download_async"):  # Scrapy 2.14+
            return await engine.download_async(request)
        from scrapy.utils.defer import maybe_deferred_to_future

        return await maybe_deferred_to_future(engine.download(request))


class PoliteQueue(DownloaderAwarePriorityQueue):
    """Scrapy's per-host round-robin queue that also skips hosts with no free slot among ours
    or waiting out a throttling answer. Without it the crawl's concurrency
    (CONCURRENT_REQUESTS) fills with requests of one host that only wait for its budget,
    and every other host waits with them."""

    def __init__(self, crawler: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(crawler, *args, **kwargs)
        self._polite_crawler = crawler
        self._polite_last: str | None = None

    def pop(self) -> Request | None:
        state = for_crawler(self._polite_crawler)
        stats = [(active + state.holding[slot], slot)
                 for active, slot in self._downloader_interface.stats(self.pqueues)
                 if state.holding[slot] < state.settings.in_flight]
        last = self._polite_last or ""
        # The least busy hosts first; among equals, the one after the last chosen (round robin).
        for _, slot in sorted(stats, key=lambda s: (s[0], s[1] <= last, s[1])):
            if state.backing_off(slot):
                continue
            self._polite_last = slot
            queue = self.pqueues[slot]
            request = queue.pop()
            if len(queue) == 0:
                del self.pqueues[slot]
                queue.close()
            if request is not None and (host := host_of(request.url)):
                # Counted from now on, not from when PoliteMiddleware sees it: the engine takes
                # several requests in one go, and they would all be the same host's.
                state.holding[host] += 1
                request.meta[COUNTED] = True
            return request
        return None


async def browser_request_headers(*, browser_type_name: str, playwright_request: Any,
                                  scrapy_request_data: dict[str, Any]) -> dict[str, str]:
    """scrapy-playwright's ``PLAYWRIGHT_PROCESS_REQUEST_HEADERS``, awaited for every request
    the crawler's Chromium makes: Scrapy's headers as the default hook sets them (our
    User-Agent), and a budget slot for XHR and fetch calls. The navigation itself took its
    slot in PoliteMiddleware; frames, scripts, styles and images take none."""
    from scrapy_playwright.headers import use_scrapy_headers

    headers = await use_scrapy_headers(browser_type_name=browser_type_name, playwright_request=playwright_request,
                                       scrapy_request_data=scrapy_request_data)
    if _CURRENT and playwright_request.resource_type in BROWSER_PAGE_LEVEL:
        await _CURRENT[0].browser_request(playwright_request, scrapy_request_data["url"])
    return headers
