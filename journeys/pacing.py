"""The browser's page-level requests take their host's politeness slot (hotline_audit/politeness.py).

Each page of a tab is watched through a CDP session with ``Fetch.enable`` for documents, XHR
and fetch calls only: such a request is paused until its host's budget gives it a slot, then
let through. Scripts, styles and images are not paused (they load as a visitor's browser
loads them; the guard proxy caps their connections per host), and the HTTP cache stays on
(Playwright's own routing would switch it off and make every page fetch its assets again).

Time our budget held a page back is ours, not the site's: ``held_s`` tells how long, over any
stretch, at least one request of the tab was held, and journeys remove it from what they time
and add it to what they wait. A page-level answer that throttles us (429, 503 with
Retry-After) is booked to the host at once (``Politeness.throttled``); a firewall page
(HTTP 200 saying 访问过于频繁) is recognised from its text by the journeys that read it
(``journeys.pageload.throttle_in_page``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from playwright.async_api import BrowserContext, CDPSession, Page, Request, Response

from hotline_audit.politeness import Politeness, Ticket, classify, host_of, retry_after_s

PAUSED_TYPES = ("Document", "XHR", "Fetch")
PAGE_LEVEL = ("document", "xhr", "fetch")
SAME_ANSWER_S = 5.0  # one answer seen by several listeners within this is booked once
READ_S = 2.0  # reading a loaded page's text for a firewall's message, at most
# What a person reads on the page, and whether it has fields to fill in (then it is a form).
WAF_PAGE_JS = """() => { const b = document.body; if (!b) return null;
  const fields = [...document.querySelectorAll('input, textarea, select')].filter(e =>
    !['hidden', 'submit', 'button', 'image', 'reset', 'checkbox', 'radio'].includes((e.type || '').toLowerCase())
    && e.offsetParent !== null).length;
  return {text: (b.innerText || '').slice(0, 4000), fields}; }"""
PREPAID_S = 20.0
MAX_READ_WAIT_S = 120.0  # our in-page reads wait this long for the budget at most  # a slot taken for a navigation that has not asked for it by then is given back


@dataclass
class Seen:
    """A throttling answer one of the tab's pages got."""

    url: str
    kind: str
    status: int | None
    retry_after_s: float | None
    at: float  # time.time()


@dataclass
class TabPacer:
    """Paces one browser context's page-level requests; one per tab, reset per borrow."""

    budget: Politeness
    hotline_id: str = ""
    holds: list[list[float]] = field(default_factory=list)  # [start, end or 0.0] (monotonic)
    throttles: list[Seen] = field(default_factory=list)
    _prepaid: dict[str, list[Ticket]] = field(default_factory=lambda: defaultdict(list))
    _open: dict[str, list[Ticket]] = field(default_factory=lambda: defaultdict(list))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _reads: set[asyncio.Task[None]] = field(default_factory=set)  # pages being read for a firewall
    _sessions: list[CDPSession] = field(default_factory=list)
    _status: dict[str, int] = field(default_factory=dict)  # url -> status of its last document
    _paced: set[Page] = field(default_factory=set)  # pages whose requests we hold (Fetch enabled)

    # -- wiring --------------------------------------------------------------------------------

    async def attach(self, context: BrowserContext, page: Page, cdp: CDPSession) -> None:
        """Pace ``page`` through ``cdp`` and every page the context opens later (popups)."""
        await self._watch(cdp)
        self._paced.add(page)
        self._read_each_load(page)
        context.on("request", self._started)
        context.on("requestfinished", lambda req: self._ended(req, None))
        context.on("requestfailed", lambda req: self._ended(req, "failed"))
        context.on("response", self._answered)
        context.on("page", lambda popup: self._spawn(self._watch_popup(context, popup)))

    async def _watch(self, cdp: CDPSession) -> None:
        cdp.on("Fetch.requestPaused", lambda event: self._spawn(self._let_through(cdp, event)))
        await cdp.send("Fetch.enable", {"patterns": [
            {"urlPattern": "*", "resourceType": t, "requestStage": "Request"} for t in PAUSED_TYPES]})
        self._sessions.append(cdp)

    def _read_each_load(self, page: Page) -> None:
        page.on("load", lambda loaded: self._reads.add(self._spawn(self._read_page(loaded))))

    async def _read_page(self, page: Page) -> None:
        """A firewall page that answers 200 ("访问过于频繁", a slider "to prove you are human")
        is only known by what it says: read each page the tab loads, briefly."""
        status = self._status.get(_key(page.url))
        try:
            async with asyncio.timeout(READ_S):
                seen = await page.evaluate(WAF_PAGE_JS)
        except Exception:  # gone, busy or navigating: the journeys judge the page itself
            return
        if not seen:
            return
        kind = classify(status, {}, seen["text"], seen["fields"])
        if kind is not None:
            self.booked(page.url, kind, status, None)

    async def _watch_popup(self, context: BrowserContext, popup: Page) -> None:
        self._read_each_load(popup)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self._watch(await context.new_cdp_session(popup))
                self._paced.add(popup)

    def _started(self, request: Request) -> None:
        """A page-level request of a page we do not hold yet (a popup's first document leaves
        before our session is attached): counted in the budget, so what follows keeps the rate."""
        if request.resource_type not in PAGE_LEVEL or not request.url.startswith(("http://", "https://")):
            return
        try:
            page: Page | None = request.frame.page
        except Exception:  # a worker's, or a navigation issued before its frame exists (a popup's first)
            if not request.is_navigation_request():
                return
            page = None
        if page is None or page not in self._paced:
            with contextlib.suppress(Exception):
                self.budget.book(request.url, self.hotline_id)

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._reads.discard)
        return task

    # -- pausing -------------------------------------------------------------------------------

    async def prepay(self, url: str) -> None:
        """Take ``url``'s slot before navigating there, so the navigation's own timer (and the
        page's load timings) never include our wait: the paused document uses this ticket."""
        if not host_of(url) or not url.startswith(("http://", "https://")):
            return
        started = time.monotonic()
        hold = [started, 0.0]
        self.holds.append(hold)
        try:
            ticket = await self.budget.acquire(url, self.hotline_id)
        finally:
            hold[1] = time.monotonic()
        self._prepaid[_key(url)].append(ticket)
        # A navigation that never asked for it (cancelled, or a URL spelt otherwise) frees it.
        asyncio.get_running_loop().call_later(PREPAID_S, self._unused, _key(url), ticket)

    def _unused(self, key: str, ticket: Ticket) -> None:
        waiting = self._prepaid.get(key)
        if waiting and ticket in waiting:
            waiting.remove(ticket)
            self._give_back(ticket)

    async def _let_through(self, cdp: CDPSession, event: dict[str, Any]) -> None:
        request_id = event["requestId"]
        url = event["request"]["url"]
        hold = [time.monotonic(), 0.0]
        ticket: Ticket | None = None
        try:
            prepaid = self._prepaid.get(_key(url))
            if prepaid:
                ticket = prepaid.pop(0)
            elif url.startswith(("http://", "https://")):
                self.holds.append(hold)
                ticket = await self.budget.acquire(url, self.hotline_id)
        except Exception:  # the budget failed: let the page go on rather than hang it
            ticket = None
        finally:
            hold[1] = time.monotonic()
            with contextlib.suppress(Exception):
                await cdp.send("Fetch.continueRequest", {"requestId": request_id})
        if ticket is not None:
            self._open[_key(url)].append(ticket)
            # Never held longer than the budget allows, whatever becomes of the request.
            asyncio.get_running_loop().call_later(self.budget.settings.max_hold_s, self._give_back, ticket)

    def _give_back(self, ticket: Ticket, status: int | None = None, throttle: str | None = None) -> None:
        if ticket.inflight_id is None and status is None:
            return
        with contextlib.suppress(Exception):
            self.budget.release(ticket, status, throttle)

    def _ended(self, request: Request, failure: str | None) -> None:
        if request.resource_type not in PAGE_LEVEL:
            return
        waiting = self._open.get(_key(request.url))
        if waiting:
            self._give_back(waiting.pop(0))

    def _answered(self, response: Response) -> None:
        request = response.request
        if request.resource_type not in PAGE_LEVEL:
            return
        headers = response.headers
        if request.resource_type == "document":
            self._status[_key(response.url)] = response.status
        kind = classify(response.status, headers)
        if kind is None:
            return
        self.booked(response.url, kind, response.status, retry_after_s(headers.get("retry-after")))

    def booked(self, url: str, kind: str, status: int | None, retry_after: float | None) -> float:
        """Record a throttling answer for the host (and this tab); returns the host's wait.
        The same answer seen twice (its status, then its text) is booked once."""
        now = time.time()
        if any(t.url == url and now - t.at < SAME_ANSWER_S for t in self.throttles):
            return self.budget.waiting_s(url)
        self.throttles.append(Seen(url, kind, status, retry_after, now))
        try:
            return self.budget.throttled(url, kind, status, retry_after, self.hotline_id)
        except Exception:
            return 0.0

    async def throttled_since(self, mark: int, wait_s: float = READ_S) -> bool:
        """Whether a throttling answer came after ``mark`` (a ``len(throttles)``), once the
        pages already loaded have been read."""
        pending = [t for t in self._reads if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=wait_s)
        return len(self.throttles) > mark

    def time_for(self, url: str, n: int) -> float:
        """Seconds the budget needs to let ``n`` more page-level requests to ``url``'s host
        through, after what is booked ahead of them (for our own in-page reads, which the
        budget paces like the page's); at most MAX_READ_WAIT_S."""
        try:
            return min(self.budget.expected_wait_s(url, n), MAX_READ_WAIT_S)
        except Exception:  # the budget failed: the reads get their usual time
            return 0.0

    # -- what it cost --------------------------------------------------------------------------

    def held_s(self, since: float, until: float | None = None) -> float:
        """Seconds between ``since`` and ``until`` (monotonic; now) when our budget held back
        at least one of the tab's requests."""
        end = time.monotonic() if until is None else until
        spans = sorted((max(s, since), min(e or end, end)) for s, e in self.holds)
        total, reach = 0.0, since
        for s, e in spans:
            if e <= reach:
                continue
            total += e - max(s, reach)
            reach = e
        return total

    def reset(self, hotline_id: str = "") -> None:
        """A new borrow: holds and throttles start over; slots still out are given back."""
        self.hotline_id = hotline_id
        self.holds.clear()
        self.throttles.clear()
        for tickets in (*self._prepaid.values(), *self._open.values()):
            for ticket in tickets:
                self._give_back(ticket)
        self._prepaid.clear()
        self._open.clear()
        self._status.clear()
        self._paced = {p for p in self._paced if not p.is_closed()}  # the tab's own page stays


def _key(url: str) -> str:
    """One spelling per URL, as Chromium reports it (no fragment, a path of at least "/")."""
    try:
        parts = urlsplit(url.split("#", 1)[0])
        return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))
    except ValueError:
        return url
