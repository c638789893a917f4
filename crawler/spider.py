"""The discovery spider: from each hotline's known entry, visit its pages (budgeted, same site
only) and yield every channel found, with provenance. Scrapy does the fetching, politeness,
retries and the page budget; ``extract`` does the reading.

Each hotline ends with a ``done`` item once none of its requests is left in flight, so an
interrupted crawl can resume with the hotlines that never finished (``crawler.run``).

Pages go through Chromium only where they need it: a page drawn by scripts, a JavaScript
challenge, and — once per hotline — the entry page (homepage, H5 home) when the plain crawl
found no submission entry, or no tracking entry beside one. Real portals draw their menus from
a ``common.js`` or a JSON menu endpoint while the page keeps plenty of static text, and nothing
in the HTML says so. What a rendered page shows is reported with provenance that says so.

Politeness is crawler/polite.py's (issue 18): every request waits for its host's slot, a
throttling answer is never read as the page, and robots.txt's Disallow is obeyed for the links
the spider follows — but not for the entry pages the registry names (the hotline's website or
H5 site, the city portal): a person named those, and they are what the audit is about. Each
hotline's ``politeness`` item (throttling answers, robots.txt facts) comes just before its
``done``."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import StopDownload
from scrapy.http import Response

from .extract import (
    LinkSeen,
    PageFindings,
    canonical_url,
    decode_html,
    extract,
    find_hotline_site,
    links_by_script,
)
from .guard import TargetRefused
from .polite import REGISTRY_ENTRY, RobotsDisallowed, Throttled, notes_of

WECHAT_ONLY = re.compile(r"请在微信(客户端|中)打开")
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN")
# What a page, a script or a data endpoint is served as; anything else (PDF, ZIP, APK, video)
# is a download, stopped once its headers have arrived.
READABLE_TYPES = ("text/", "html", "xml", "json", "javascript")
SECOND_LOOK_PAGES = 12  # pages a rendered entry page may still lead to after the budget is spent


class HotlineSpider(scrapy.Spider):
    name = "hotlines"

    def __init__(self, hotlines: list[dict[str, Any]], proxy: str | None = None, page_budget: int = 60,
                 start_depth: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hotlines = hotlines
        self.proxy = proxy
        self.page_budget = page_budget
        self.start_depth = start_depth
        self.pages: dict[str, int] = {}  # pages parsed, per hotline
        self.budget_left: dict[str, int] = {}  # pages that may still be requested, per hotline
        self.in_flight: Counter[str] = Counter()  # requests not yet answered, per hotline
        self.seen: dict[str, set[str]] = {}  # pages requested, per hotline
        self.budget_noted: set[str] = set()  # hotlines whose budget ran out (reported once)
        self.cookies: dict[str, list[dict[str, str]]] = {}  # from a rendered page, per hotline
        self.named: dict[str, set[str]] = {}  # channel values already found, per hotline
        self.kinds: dict[str, set[str]] = {}  # kinds of channel found (by words or by form), per hotline
        self.entry_pages: dict[str, scrapy.Request] = {}  # the entry page as read without a browser
        self.entry_rendered: set[str] = set()  # hotlines whose entry page went (or goes) through Chromium
        self.qr_seen: dict[str, set[str]] = {}  # QR images requested, per hotline

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> HotlineSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.headers_received, signal=signals.headers_received)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for h in self.hotlines:
            # One hotline's entry that cannot even become a request (a URL Scrapy refuses) is
            # that hotline's failure; an exception here would end start() and no hotline after
            # it would be crawled.
            try:
                request = self.entry_request(h)
            except Exception as exc:  # noqa: BLE001 (reported as an item, the crawl goes on)
                url = h.get("website") or h.get("h5") or h.get("gov_portal") or ""
                yield {"type": "failure", "hotline_id": h["hotline_id"], "url": url, "kind": "bad_url",
                       "reason": f"{type(exc).__name__}: {exc}"[:200]}
                yield {"type": "done", "hotline_id": h["hotline_id"], "pages": 0}
                continue
            if request is not None:
                yield request

    def entry_request(self, h: dict[str, Any]) -> scrapy.Request | None:
        """The first request of a hotline: its known website (or H5 site), or else its city
        government portal; raises ValueError for a URL that is none."""
        hid = h["hotline_id"]
        entry = h.get("website") or h.get("h5")
        if entry:
            hosts = {urlsplit(u).hostname for u in (h.get("website"), h.get("h5")) if u}
            request = self.page(entry, hid, hosts, self.start_depth, h5=not h.get("website"), entry=True)
            request.meta[REGISTRY_ENTRY] = True  # fetched even where robots.txt disallows it
            return request
        if h.get("gov_portal"):
            # No known website: look for the hotline's link on the city government portal.
            meta = {"hotline_id": hid, "hosts": {urlsplit(h["gov_portal"]).hostname}, "depth_left": 0,
                    "h5": False, "portal": True, REGISTRY_ENTRY: True,
                    **({"proxy": self.proxy} if self.proxy else {})}
            return self.track(scrapy.Request(h["gov_portal"], callback=self.parse_portal, errback=self.failed,
                                             meta=meta, dont_filter=True))
        return None

    # -- bookkeeping: a hotline is done when none of its requests is in flight -----------------

    def track(self, request: scrapy.Request) -> scrapy.Request:
        self.in_flight[request.meta["hotline_id"]] += 1
        return request

    def guarded(self, hotline_id: str, url: str, work: Iterator[Any]) -> Iterator[Any]:
        """Run a callback's work, then count the request answered. A bug on our side becomes a
        classified failure of that page, and the hotline still finishes."""
        try:
            yield from work
        except Exception as exc:  # noqa: BLE001 (reported as an item, the crawl goes on)
            yield {"type": "failure", "hotline_id": hotline_id, "url": url, "kind": "crawler_error",
                   "reason": f"{type(exc).__name__}: {exc}"[:200]}
        yield from self.answered(hotline_id)

    def answered(self, hotline_id: str) -> Iterator[Any]:
        """Count a request answered. When it was the hotline's last, the hotline is done — unless
        its entry page is now to be rendered (``second_look``), which keeps it in flight."""
        self.in_flight[hotline_id] -= 1
        if self.in_flight[hotline_id] > 0:
            return
        look = self.second_look(hotline_id)
        if look is not None:
            yield {"type": "note", "hotline_id": hotline_id,
                   "note": f"{look.url}: no {' or '.join(self.entries_missing(hotline_id))} entry in the HTML "
                           "of any page; the entry page is rendered in Chromium to read the links its scripts draw"}
            yield look
            return
        polite = self.politeness_item(hotline_id)
        if polite:
            yield polite
        yield {"type": "done", "hotline_id": hotline_id, "pages": self.pages.get(hotline_id, 0)}

    def politeness_item(self, hotline_id: str) -> dict[str, Any] | None:
        """What politeness did to the hotline's crawl (throttling answers, robots.txt), once."""
        crawler = getattr(self, "crawler", None)  # none for a spider driven by hand (tests)
        item = notes_of(crawler, hotline_id) if crawler is not None else {}
        return {"type": "politeness", "hotline_id": hotline_id, **item} if item else None

    def entries_missing(self, hotline_id: str) -> list[str]:
        found = self.kinds.get(hotline_id, set())
        return [kind for kind in ("submit", "track") if kind not in found]

    def second_look(self, hotline_id: str) -> scrapy.Request | None:
        """The entry page through Chromium, once, when the crawl of its HTML ends without a
        submission entry (or without a tracking entry beside one) and it was not rendered yet:
        its menus may be drawn by a script file or from a JSON endpoint, which no sign in the
        HTML betrays. The rendered page is read like any other, its new links followed."""
        request = self.entry_pages.get(hotline_id)
        if request is None or hotline_id in self.entry_rendered or not self.entries_missing(hotline_id):
            return None
        self.entry_rendered.add(hotline_id)  # once per hotline, whatever the render brings
        look = self.rendered(request)
        look.meta["second_look"] = True
        return look

    def headers_received(self, headers: Any, body_length: int, request: scrapy.Request,
                         spider: scrapy.Spider) -> None:
        """Stop a download (PDF, archive, installer) as soon as its headers say it is one."""
        if "qr" in request.meta:
            return  # QR images are what we came for
        ctype = headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if ctype and not any(t in ctype for t in READABLE_TYPES):
            raise StopDownload(fail=False)

    # -- requests ---------------------------------------------------------------------------

    def page(self, url: str, hotline_id: str, hosts: set[str | None], depth: int, h5: bool = False,
             entry: bool = False, found: dict[str, Any] | None = None,
             via: dict[str, Any] | None = None) -> scrapy.Request:
        """A page to read. ``via`` is the link that led here (``LinkSeen`` as a dict, plus the
        ``landing`` page when this is a frame of it): what the page turns out to be is reported
        with that link's provenance."""
        meta: dict[str, Any] = {"hotline_id": hotline_id, "hosts": hosts, "depth_left": depth, "h5": h5}
        if self.proxy:
            meta["proxy"] = self.proxy
        if found:
            meta["found"] = found
        if via:
            meta["via"] = via
        headers = {"User-Agent": WECHAT_UA} if h5 else {}
        self.seen.setdefault(hotline_id, set()).add(url)
        # Duplicates are filtered here, per hotline, not by the scheduler: a request the
        # scheduler dropped would never be answered, and the hotline would never be done.
        return self.track(scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta,
                                         headers=headers, cb_kwargs={"entry": entry}, dont_filter=True,
                                         cookies=self.cookies.get(hotline_id)))

    def parse(self, response: Response, entry: bool = False) -> Iterator[Any]:
        yield from self.guarded(response.meta["hotline_id"], response.url, self.read_page(response, entry))

    async def parse_rendered(self, response: Response, entry: bool = False) -> AsyncIterator[Any]:
        """A page Chromium rendered: hand its cookies (a passed JS challenge) to the plain
        requests that follow, so that QR images and further pages need no browser."""
        page = response.meta.get("playwright_page")
        cookies: list[dict[str, Any]] = []
        if page is not None:
            try:
                cookies = await page.context.cookies()
            finally:
                await page.close()
        self.cookies[response.meta["hotline_id"]] = [
            {"name": c["name"], "value": c["value"], "domain": c["domain"], "path": c.get("path", "/")}
            for c in cookies]
        for item in self.parse_portal(response) if response.meta.get("portal") else self.parse(response, entry):
            yield item

    async def failed_rendered(self, failure: Any) -> AsyncIterator[Any]:
        page = failure.request.meta.get("playwright_page")
        if page is not None:
            await page.close()
        for item in self.failed(failure):
            yield item

    def parse_portal(self, response: Response) -> Iterator[Any]:
        yield from self.guarded(response.meta["hotline_id"], response.url, self.read_portal(response))

    def read_portal(self, response: Response) -> Iterator[Any]:
        """A city government portal: the hotline's website is the link that names it."""
        meta = response.meta
        hid = meta["hotline_id"]
        yield {"type": "page", "hotline_id": hid, "url": response.url, "status": response.status,
               "rendered": False}
        html, _ = decode_html(response.body, None)
        links = find_hotline_site(response.url, html)
        if links:
            url, text, element = links[0]
            found = {"found_on": response.url, "element": element, "text": text}
            hosts = {urlsplit(url).hostname}
            yield self.page(url, hid, hosts, self.start_depth, entry=True, found=found)
        else:
            yield {"type": "failure", "hotline_id": hid, "url": response.url, "kind": "no_website_link",
                   "reason": "the city government portal links to no 12345 hotline site"}

    def read_page(self, response: Response, entry: bool) -> Iterator[Any]:
        meta = response.meta
        hid = meta["hotline_id"]
        yield {"type": "page", "hotline_id": hid, "url": response.url, "status": response.status,
               "rendered": bool(meta.get("playwright")), "second_look": bool(meta.get("second_look"))}
        self.pages[hid] = self.pages.get(hid, 0) + 1
        self.budget_left.setdefault(hid, self.page_budget - 1)
        if not hasattr(response, "text") and not response.body.lstrip().startswith(b"<"):
            return
        declared = response.headers.get(b"Content-Type", b"").decode("latin-1").partition("charset=")[2] or None
        html, charset = decode_html(response.body, declared)
        if not meta["h5"] and WECHAT_ONLY.search(html):
            # "请在微信客户端打开": a WeChat H5 page; ask again as WeChat's browser.
            yield self.track(response.request.replace(headers={"User-Agent": WECHAT_UA},
                                                      meta={**meta, "h5": True}, dont_filter=True))
            return
        hosts = {h for h in meta["hosts"] if h}
        found = extract(response.url, html, hid, hosts)
        if meta.get("playwright"):
            found = as_rendered(found)
        named = self.named.setdefault(hid, set())
        kinds = self.kinds.setdefault(hid, set())
        if entry:
            kind = "h5" if meta["h5"] else "website"
            origin = meta.get("found") or {"found_on": "registry", "element": None, "text": None}
            named.add(canonical_url(response.url))
            if not meta.get("playwright"):
                self.entry_pages.setdefault(hid, response.request)
            yield {"type": "channel", "hotline_id": hid, "kind": kind, "value": canonical_url(response.url),
                   "excerpt": None, **origin}
        via = meta.get("via")
        # A submission (or tracking) page is one entry, however many steps it takes: its own
        # links of that kind on its site or its own host (a platform's framed 须知 and its
        # 进入写信, a wizard's next page) lead through it.
        flow = set() if entry else {k for k in (*found.purposes, (via or {}).get("kind")) if k in ("submit", "track")}
        own = hosts | {urlsplit(response.url).hostname or ""}
        for ch in found.channels:
            if ch.kind in flow and (urlsplit(ch.value).hostname or "") in own:
                continue
            named.add(ch.value)
            kinds.add(ch.kind)
            yield {"type": "channel", **ch.model_dump()}
        if via and not entry:
            yield from self.by_structure(hid, via, found.purposes)
        for name, context in found.mini_program_names:
            yield {"type": "mini_program_name", "hotline_id": hid, "value": name, "found_on": response.url,
                   "text": context}
        if needs_browser(html) and not meta.get("playwright"):
            # A page that draws itself with JavaScript (single-page app), or whose scripts
            # write its links: render it once.
            yield self.rendered(response.request)
        qr_seen = self.qr_seen.setdefault(hid, set())
        for img in found.qr_images:
            if img.url in qr_seen:
                continue  # the same image on the page's rendered copy
            qr_seen.add(img.url)
            yield self.track(scrapy.Request(
                img.url, callback=self.parse_qr, errback=self.failed, dont_filter=True,
                headers={"User-Agent": WECHAT_UA} if meta["h5"] else {},
                cookies=self.cookies.get(hid), meta=self.plain_meta({**meta, "qr": img, "page": response.url})))
        seen = self.seen.setdefault(hid, set())
        for frame in found.frames:
            if frame not in seen:
                # A frame of a page a link led to is that page's content: what it turns out to
                # be is the linked page's (a route of a single-page app that frames the form).
                framed = {**via, "landing": via.get("landing") or via["url"]} if via and not entry else None
                yield self.page(frame, hid, meta["hosts"], depth=0, h5=meta["h5"], via=framed)
        if meta["depth_left"] > 0:
            # The budget counts requests, not parsed pages: a calendar or an endless query
            # string cannot queue more than the budget while earlier pages are in flight.
            new = [u for u in found.follow if u not in seen]
            if meta.get("second_look"):
                # The links only scripts draw are what the second look is for: a crawl that
                # spent its budget on the HTML's links still gets to follow a few of them.
                self.budget_left[hid] = max(self.budget_left[hid], SECOND_LOOK_PAGES)
            allowed = new[: max(0, self.budget_left[hid])]
            self.budget_left[hid] -= len(allowed)
            if len(allowed) < len(new) and hid not in self.budget_noted:
                self.budget_noted.add(hid)
                yield {"type": "failure", "hotline_id": hid, "url": response.url, "kind": "page_budget_exhausted",
                       "reason": f"page budget of {self.page_budget} spent; {len(new) - len(allowed)} links "
                                 "on this page not visited"}
            for url in allowed:
                yield self.page(url, hid, meta["hosts"], depth=meta["depth_left"] - 1, h5=meta["h5"],
                                via=vars(found.links[url]))
        for url, text in found.offsite:
            yield {"type": "offsite", "hotline_id": hid, "url": url, "text": text, "found_on": response.url}
        if charset != (declared or "utf-8").lower():
            yield {"type": "note", "hotline_id": hid, "note": f"{response.url} declared {declared}, decoded as {charset}"}

    def by_structure(self, hid: str, via: dict[str, Any], kinds: set[str]) -> Iterator[dict[str, Any]]:
        """The entries a linked page is by its forms (a letter form, a case lookup), where the
        link's words did not say so: reported as the linked page, found through that link."""
        link = LinkSeen(**{k: v for k, v in via.items() if k != "landing"})
        page = via.get("landing") or link.url
        named = self.named.setdefault(hid, set())
        if not link.may_be_entry or page in named:
            return
        for kind in sorted(kinds):
            named.add(page)
            self.kinds.setdefault(hid, set()).add(kind)
            # Kept only where no link's words found this kind of entry (``results.resolve``).
            yield {"type": "form_channel", "hotline_id": hid, "kind": kind, "value": page,
                   "found_on": link.found_on, "element": link.element, "text": link.text or None,
                   "excerpt": link.excerpt}

    def parse_qr(self, response: Response) -> Iterator[dict[str, Any]]:
        yield from self.guarded(response.meta["hotline_id"], response.url, self.read_qr(response))

    def read_qr(self, response: Response) -> Iterator[dict[str, Any]]:
        import zxingcpp
        from PIL import Image, UnidentifiedImageError

        meta = response.meta
        try:
            texts = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(response.body)))]
        except (UnidentifiedImageError, OSError):
            return
        qr = meta["qr"]
        for text in texts:
            own_page = (urlsplit(text).hostname or "") in meta["hosts"]
            if qr.page_qr or own_page:  # "扫一扫在手机打开当前页": the page itself, not an account
                yield {"type": "page_qr", "hotline_id": meta["hotline_id"], "url": text, "found_on": meta["page"]}
            elif "weixin.qq.com/" in text:
                kind = "mini_program_qr" if "小程序" in qr.context else "wechat_qr"
                yield {"type": kind, "hotline_id": meta["hotline_id"], "value": text, "found_on": meta["page"],
                       "element": qr.element, "text": qr.context}

    def plain_meta(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Meta for a plain HTTP follow-up of a (possibly rendered) page: through the proxy."""
        plain = {k: v for k, v in meta.items() if not k.startswith(("playwright", "render_", "handle_httpstatus"))}
        if self.proxy:
            plain["proxy"] = self.proxy
        return plain

    def rendered(self, request: scrapy.Request) -> scrapy.Request:
        """The same page through Chromium (scrapy-playwright), after its scripts have run. A
        WeChat H5 page renders as WeChat's browser on a phone (``as_wechat``)."""
        from scrapy_playwright.page import PageMethod

        if request.cb_kwargs.get("entry"):
            self.entry_rendered.add(request.meta["hotline_id"])
        meta = {**request.meta, "playwright": True, "handle_httpstatus_list": [412],
                "playwright_include_page": True,
                "playwright_page_methods": [PageMethod("wait_for_load_state", "networkidle")],
                # A render's time is Chromium's (scripts, waiting for the network to go idle),
                # not the server's latency: AutoThrottle would take it for a slow host.
                "autothrottle_dont_adjust_delay": True}
        if getattr(self, "crawler", None) is not None:
            # The browser context's own User-Agent (navigator.userAgent included) is the crawl's.
            meta["playwright_context_kwargs"] = {"user_agent": self.settings["USER_AGENT"]}
        if request.meta.get("h5"):
            # In the page, not in a context of its own: a second context doubles the pages
            # Chromium may hold open at once (PLAYWRIGHT_MAX_PAGES_PER_CONTEXT), and its memory.
            meta["playwright_page_init_callback"] = "crawler.spider.as_wechat"
        meta.pop("proxy", None)  # the browser has the proxy in its launch options
        return self.track(request.replace(meta=meta, dont_filter=True, callback=self.parse_rendered,
                                          errback=self.failed_rendered))

    def failed(self, failure: Any) -> Iterator[Any]:
        request = failure.request
        yield from self.guarded(request.meta["hotline_id"], request.url, self.read_failure(failure))

    def read_failure(self, failure: Any) -> Iterator[Any]:
        request = failure.request
        if isinstance(failure.value, RobotsDisallowed):
            return  # not the site's failure: the hotline's politeness notes list the page
        if isinstance(failure.value, Throttled):
            # Throttled every time it was asked: left (never rendered or retried at once), and
            # said to be the site's throttling, not the page's absence.
            yield {"type": "failure", "hotline_id": request.meta.get("hotline_id"), "url": request.url,
                   "kind": failure.value.kind, "reason": str(failure.value)[:200]}
            return
        reason = failure.getErrorMessage()[:200] or type(failure.value).__name__
        status = getattr(getattr(failure.value, "response", None), "status", None)
        if status == 412 and not request.meta.get("playwright"):
            # A JavaScript challenge (412 until a script sets a cookie): a browser passes it.
            yield self.rendered(request)
            return
        if request.meta.get("playwright") and not request.meta.get("render_retried"):
            # Rendering is the slow path and the first to time out on a busy machine, or on a
            # slow site whose frames each take seconds (the page's load waits for them): once
            # more, and patiently.
            meta = {k: v for k, v in request.meta.items() if k != "playwright_page"}
            meta["playwright_page_goto_kwargs"] = {"timeout": RENDER_RETRY_TIMEOUT_MS}
            yield self.track(request.replace(meta={**meta, "render_retried": True}, dont_filter=True))
            return
        yield {"type": "failure", "hotline_id": request.meta.get("hotline_id"), "url": request.url,
               "kind": classify_failure(failure.value, status), "reason": reason}


RENDERED = " (rendered in Chromium)"
RENDER_RETRY_TIMEOUT_MS = 45_000  # a second render's patience: 8-10 s documents, a frame or two


async def as_wechat(page: Any, request: scrapy.Request) -> None:
    """A page about to render as WeChat's browser on a phone shows it: scripts of WeChat H5
    sites test ``navigator.userAgent`` (the request's header is already WeChat's)."""
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.add_init_script(f"Object.defineProperty(navigator, 'userAgent', {{get: () => {json.dumps(WECHAT_UA)}}});")


def as_rendered(found: PageFindings) -> PageFindings:
    """A rendered page's findings, each element's provenance saying that it was drawn by the
    page's scripts as Chromium ran them (not in the HTML the server sent)."""
    def mark(element: str | None) -> str:
        return (element or "page text") + RENDERED

    found.channels = [c.model_copy(update={"element": mark(c.element)}) for c in found.channels]
    found.links = {url: replace(link, element=mark(link.element)) for url, link in found.links.items()}
    found.qr_images = [replace(img, element=mark(img.element)) for img in found.qr_images]
    return found


def needs_browser(html: str) -> bool:
    """A page whose visible content is drawn by scripts: next to no text, and scripts to run
    (or a noscript notice), or inline scripts that write links. Plain pages with text are read
    as they come."""
    body = re.sub(r"(?is)<(script|style|noscript)\b.*?</\1>|<[^>]+>", " ", html)
    text = re.sub(r"\s+", "", body)
    has_scripts = "<script" in html.lower()
    drawn = len(text) < 120 or ("<noscript" in html.lower() and len(text) < 400)
    return has_scripts and (drawn or links_by_script(html))


def classify_failure(exc: BaseException, status: int | None) -> str:
    if isinstance(exc, TargetRefused):  # the page pointed into the auditor's network
        return "private_address"
    name = type(exc).__name__
    text = str(exc)
    if status == 412:
        return "blocked_by_challenge"
    if "redirections" in text or "redirect" in text.lower():
        return "redirect_loop"
    if status:
        return f"http_{status}"
    if "DNS" in name or "DNSLookup" in name:
        return "dns"
    if "Timeout" in name or "timed out" in text:
        return "timeout"
    if "SSL" in name or "SSL" in text or "TLS" in text:
        return "tls"
    if "Connection" in name:
        return "connect"
    return name
