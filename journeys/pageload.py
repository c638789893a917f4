"""One full page load in Chromium, observed as a citizen would see it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import CDPSession, Page, Response
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from hotline_audit.config import BrowserSettings
from hotline_audit.model import PageLoad, utcnow
from hotline_audit.politeness import THROTTLE_REASONS, classify, retry_after_s
from hotline_audit.workdays import china_date

from .browser import Tab, shot_format

# Chromium network errors that mean our own side failed (proxy or browser), not the site.
TOOL_SIDE_ERRORS = (
    "ERR_PROXY_CONNECTION_FAILED",
    "ERR_TUNNEL_CONNECTION_FAILED",
    "ERR_PROXY_CERTIFICATE_INVALID",
    "ERR_NO_SUPPORTED_PROXIES",
    "ERR_INTERNET_DISCONNECTED",
    "Target page, context or browser has been closed",
    "Browser has been closed",
    "Target closed",
    "browser has disconnected",
)

SITE_ERROR_KINDS = {
    "ERR_TOO_MANY_REDIRECTS": "redirect_loop",
    "ERR_NAME_NOT_RESOLVED": "dns",
    "ERR_CONNECTION_REFUSED": "connect",
    "ERR_CONNECTION_RESET": "protocol",
    "ERR_CONNECTION_CLOSED": "protocol",
    "ERR_EMPTY_RESPONSE": "protocol",
    "ERR_TIMED_OUT": "timeout",
    "ERR_CONNECTION_TIMED_OUT": "timeout",
    "ERR_SSL_": "tls",
    "ERR_CERT_": "tls",
    "ERR_HTTP_RESPONSE_CODE_FAILURE": "http_status",
    "ERR_INVALID_RESPONSE": "protocol",
}

# Dated items are rows that carry a link and a date; a bare date (e.g. the "今天是…" greeting
# many portals print) says nothing about when the site was last updated.
DATED_ITEMS_JS = r"""
() => {
  const re = /(20\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})/g;
  // The first rows only: a page of 100,000 rows must not take a minute (its top is what a
  // citizen sees, and where portals list their news).
  const rows = Array.from(document.querySelectorAll('li, tr, dd, dt, p, div')).slice(0, 3000);
  const out = [];
  for (const row of rows) {
    const links = row.querySelectorAll('a');
    if (links.length !== 1) continue;
    const text = row.innerText || '';
    if (text.length > 200) continue;
    for (const m of text.matchAll(re)) out.push([+m[1], +m[2], +m[3]]);
  }
  return out;
}
"""

# A load during which our budget held the page's requests this long cannot show a timeout is the site's.
PACED_DOUBT_S = 1.0
# Fillable fields a person sees (a page with several is a form, not a firewall's page).
FIELDS_JS = """() => [...document.querySelectorAll('input, textarea, select')].filter(e =>
  !['hidden', 'submit', 'button', 'image', 'reset', 'checkbox', 'radio'].includes((e.type || '').toLowerCase())
  && e.offsetParent !== null).length"""
BODY_TEXT_JS = "() => document.body ? document.body.innerText : ''"


def classify_browser_error(message: str) -> tuple[str, str]:
    """(error_kind, side) for a Playwright navigation error message."""
    if any(marker in message for marker in TOOL_SIDE_ERRORS):
        return "browser" if "ERR_" not in message else "proxy", "tool"
    for marker, kind in SITE_ERROR_KINDS.items():
        if marker in message:
            return kind, "site"
    return "navigation", "site"


# How long a page may take to answer a trivial script before it counts as stuck in its own
# scripts (a busy loop, an endless dialog loop): a page that is merely loading answers at once.
RESPONSIVE_S = 3.0
# Dialogs in one visit past which a page is in a dialog loop (a person could not use it).
DIALOG_LOOP = 20
# ... or this many on a page that no longer answers: it is stuck in them.
STUCK_DIALOGS = 3
# Main-frame navigations after the first load, within the settle time, past which a page keeps
# replacing itself (meta refresh to itself, reload scripts); JS challenges reload once or twice.
REFRESH_LOOP = 4
# How long a page that navigated while being read is watched for more navigations.
REFRESH_WATCH_S = 3.0
# How long the first layout of a page cut at the size limit may take (measured: seconds).
CUT_LAYOUT_S = 30.0
# Faults that leave the tab frozen (its renderer stuck in scripts or dialogs): it is discarded.
FROZEN_FAULTS = ("unresponsive", "dialog_loop")


async def page_responds(page: Page, cdp: CDPSession | None = None, timeout_s: float = RESPONSIVE_S) -> bool:
    """Whether the page runs a trivial script within ``timeout_s``: False when its main thread
    is stuck (a busy loop, a dialog loop) or it is gone. Asked through the tab's own CDP
    session (``Tab.cdp``) where there is one: Playwright's evaluate waits for a navigation in
    progress, so a page merely waiting for a slow server would look stuck."""
    if page.is_closed():
        return False
    try:
        async with asyncio.timeout(timeout_s):
            if cdp is not None:
                await cdp.send("Runtime.evaluate", {"expression": "0", "returnByValue": True})
            else:
                await page.evaluate("0")
        return True
    except TimeoutError:
        return False
    except PlaywrightError as exc:
        return "context was destroyed" in str(exc) or "navigation" in str(exc).lower()


async def stop_loading(page: Page, cdp: CDPSession | None = None, committed: bool = True) -> bool:
    """Stop a page that is still loading (Chromium's stop button), so it answers scripts and
    screenshots. False when the page is stuck in its own scripts (nothing more is sent to it
    then: a CDP session to such a page never detaches) or gone; the caller discards the tab.

    ``committed``: whether the navigation's document arrived. Before that the page cannot be
    stuck in its scripts, and DevTools holds messages to it until the navigation ends, so it
    is only stopped, through a session of its own (as before there was a tab session)."""
    if committed and not await page_responds(page, cdp):
        return False
    try:
        async with asyncio.timeout(RESPONSIVE_S):
            if cdp is not None and committed:
                await cdp.send("Page.stopLoading")
                return True
            session = await page.context.new_cdp_session(page)
            try:
                await session.send("Page.stopLoading")
            finally:
                await session.detach()
    except (PlaywrightError, TimeoutError):
        return not committed or await page_responds(page, cdp)
    return True


def page_fault(tab: Tab, urls: list[str | None], navs_before: int = 0,
               dialogs_before: int = 0) -> tuple[str, str] | None:
    """(fault, what the page did) for a visit, from what the tab saw: a main document refused
    because it aimed at the auditor's network, or cut at the size limit, a dialog loop, or a
    page that keeps replacing itself. (A busy page is found by ``page_responds``.)"""
    hosts = {urlsplit(u).hostname for u in urls if u}
    for refusal in tab.refusals():
        if refusal.host in hosts:
            return "private_address", f"页面跳转{refusal.reason_zh}, 已拒绝访问 (redirects: {refusal.reason_en}; refused)"
    # The document itself (a tunnel's cut is known only by its host: a page over https).
    documents = {u.split("#")[0] for u in urls if u}
    cut = [u for u in tab.cut() if u in documents or (u.startswith("https://") and urlsplit(u).path == "/"
                                                       and urlsplit(u).hostname in hosts)]
    if cut:
        return "oversize", f"页面超过大小上限, 未完整加载 (page over the size limit, cut: {cut[0][:200]})"
    dialogs = tab.events.dialogs - dialogs_before
    if dialogs >= DIALOG_LOOP:
        return "dialog_loop", f"页面连续弹出对话框{dialogs}次 (dialog loop: {dialogs} dialogs)"
    n = len(tab.events.frame_navigations) - navs_before
    if n > REFRESH_LOOP:
        return "refresh_loop", f"页面不断自行刷新/跳转 ({n}次) (keeps reloading itself: {n} navigations)"
    return None


def unreachable_kind(tab: Tab, urls: list[str | None]) -> tuple[str, str] | None:
    """(error_kind, side) when our guard proxy could not reach one of these URLs' hosts this
    borrow: the target's own failure (dns, connect, timeout: the site's) or the round's proxy's
    (``proxy``: ours). Chromium only sees the guard's refusal (a tunnel failure, an error page
    or a 502), so this is what tells the two apart."""
    for url in urls:
        kind = tab.unreachable(urlsplit(url).hostname or "") if url else None
        if kind is not None:
            return ("proxy", "tool") if kind == "proxy" else (kind, "site")
    return None


def newest_date(triples: list[list[int]], today: date) -> tuple[int, str | None]:
    """How many valid dates were found, and the newest not in the future (ISO)."""
    found = []
    for y, m, d in triples:
        try:
            day = date(y, m, d)
        except ValueError:
            continue
        found.append(day)
    current = [d for d in found if d.toordinal() <= today.toordinal() + 1]
    return len(found), (max(current).isoformat() if current else None)


async def load_page(tab: Tab, url: str, settings: BrowserSettings, screenshot: Path | None) -> PageLoad:
    """Navigate, let scripts settle, then record timings, text facts and a screenshot.

    Every step has a deadline: a page stuck in its own scripts or dialogs, one that keeps
    reloading itself, one that sends the browser into the auditor's network or is too big to
    render is recorded as such (``fault``), and a stuck tab is marked for discarding."""
    page = tab.page
    started = utcnow()
    t0 = time.perf_counter()
    navs_before, dialogs_before = len(tab.events.frame_navigations), tab.events.dialogs
    result = PageLoad(url=url, started_at=started, ok=False)
    m0 = time.monotonic()
    message = ""
    headers: dict[str, str] = {}
    try:
        response = await goto_unless_cut(tab, url, settings.navigation_timeout_s)
        result.status = response.status if response else None
        headers = await _headers(response)
    except (PlaywrightTimeout, TimeoutError):
        result.error_kind, result.error = "timeout", f"page did not load within {settings.navigation_timeout_s:g} s"
    except PlaywrightError as exc:
        message = str(exc).splitlines()[0][:300]
        result.error_kind, result.side = unreachable_kind(tab, [url, _url_in(message)]) or classify_browser_error(message)
        result.error = message
    held = tab.held_s(m0)
    result.elapsed_ms = round((time.perf_counter() - t0 - held) * 1000, 1)
    if result.error_kind == "timeout" and held >= PACED_DOUBT_S:
        # Our politeness budget held the page's own requests back while it loaded: the
        # timeout may be ours, so it is no evidence against the site.
        result.side = "tool"
        result.error = f"{result.error} (our politeness budget held its requests {held:.1f} s)"

    responsive = True
    if result.error_kind is None:
        # JS challenges reload the page and single-page apps fetch their content after "load".
        await tab.events.settle(quiet_s=0.15, max_s=settings.settle_s)
        try:
            async with asyncio.timeout(settings.settle_s + 2):
                await page.wait_for_load_state("load", timeout=settings.settle_s * 1000)
        except (PlaywrightTimeout, TimeoutError):
            pass
        except PlaywrightError as exc:
            result.error_kind, result.side = classify_browser_error(str(exc))
            result.error = str(exc).splitlines()[0][:300]
        responsive = await page_responds(page, tab.cdp)
    elif result.error_kind == "timeout":
        # Stop the navigation so what the citizen sees after the timeout can be captured.
        responsive = await stop_loading(tab.page, tab.cdp, len(tab.events.frame_navigations) > navs_before)

    result.navigations = list(tab.events.navigations)
    if result.navigations:
        result.status = result.navigations[-1]
    result.final_url = page.url if not page.is_closed() else None
    if (result.status or 0) >= 500 and (mapped := unreachable_kind(tab, [url, result.final_url])):
        result.error_kind, result.side = mapped  # the guard's 502, not the site's
        result.error = f"{'proxy' if mapped[1] == 'tool' else 'site'} unreachable ({mapped[0]}): HTTP {result.status}"
    fault = page_fault(tab, [url, result.final_url, _url_in(message)], navs_before, dialogs_before)
    if fault is None and not responsive and not page.is_closed():
        fault = _stuck(tab.events.dialogs - dialogs_before)
    if fault is not None:
        result.fault = fault[0]
        result.error_kind, result.error, result.side = fault[0], fault[1], "site"
        if fault[0] in FROZEN_FAULTS:
            tab.unfit = True
    if result.error_kind is None:
        if result.status is not None and result.status >= 400:
            result.error_kind, result.error = "http_status", f"HTTP {result.status}"
        else:
            result.ok = True

    if result.side == "site" and not page.is_closed() and not tab.unfit:
        if result.error_kind in (None, "http_status", "oversize"):
            try:  # a page that answered (even with an error page) can be read
                async with asyncio.timeout(settings.navigation_timeout_s + 5):
                    await _observe_content(page, result, settings, screenshot)
            except (PlaywrightError, TimeoutError) as exc:
                moved = await _replaced_itself(tab, exc)
                if moved == "loop":
                    n = len(tab.events.frame_navigations) - navs_before
                    result.ok, result.fault, result.side, result.error_kind = False, "refresh_loop", "site", "refresh_loop"
                    result.error = f"页面不断自行刷新/跳转 ({n}次) (keeps reloading itself: {n} navigations)"
                elif moved is None:
                    await _explain_unreadable(tab, result, exc, navs_before, dialogs_before)
                else:  # once (a late redirect): read the page it went to
                    try:
                        async with asyncio.timeout(settings.navigation_timeout_s + 5):
                            await _observe_content(page, result, settings, screenshot)
                    except (PlaywrightError, TimeoutError) as again:
                        await _explain_unreadable(tab, result, again, navs_before, dialogs_before)
        elif screenshot is not None and result.fault != "refresh_loop":
            # Chromium's error page or a stopped load: a picture of what the citizen sees is
            # evidence, but scripts are not evaluated (a half-loaded page may never answer).
            try:
                async with asyncio.timeout(5):
                    await full_page_shot(page, screenshot, settings, settings.viewport_height)
                    result.screenshot = str(screenshot)
            except (PlaywrightError, TimeoutError):
                pass
    result.final_url = page.url if not page.is_closed() else None
    result.throttle = result.throttle or classify(result.status, headers)
    if result.throttle is not None:
        # Neither up nor down: the site answered us with its firewall (judged needs_review).
        result.ok = False
        result.error_kind, result.side = result.throttle, "site"
        result.error = f"{THROTTLE_REASONS[result.throttle][1]} (HTTP {result.status})"
        if tab.pacer is not None:
            tab.pacer.booked(result.final_url or url, result.throttle, result.status,
                             retry_after_s(headers.get("retry-after")))
    result.paced_ms = round(tab.held_s(m0) * 1000, 1)
    result.console_errors = tab.events.console_errors[:50]
    result.failed_requests = tab.events.failed_requests[:50]
    result.dialogs = tab.events.dialogs - dialogs_before
    result.popups = tab.events.popups
    result.refused = [f"{r.target[:200]} ({r.kind})" for r in tab.refusals()][:50]
    return result


def _stuck(dialogs: int) -> tuple[str, str]:
    """A page that does not answer: stuck in its dialogs when it kept opening them (on a busy
    machine fewer than DIALOG_LOOP come before we ask), else in its own scripts."""
    if dialogs >= STUCK_DIALOGS:
        return "dialog_loop", f"页面连续弹出对话框{dialogs}次, 浏览器无法操作 (dialog loop: {dialogs} dialogs)"
    return "unresponsive", "页面脚本卡死, 浏览器无法操作 (the page's scripts never let go of the browser)"


async def _replaced_itself(tab: Tab, exc: BaseException) -> str | None:
    """Why reading failed, when the page navigated away meanwhile: "loop" when it is still
    replacing itself after ``REFRESH_WATCH_S`` (a refresh loop), "once" when it went somewhere
    and stayed (a script's late redirect: read it again); None for any other failure."""
    if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
        return None
    start = len(tab.events.frame_navigations)
    await asyncio.sleep(REFRESH_WATCH_S)
    return "loop" if len(tab.events.frame_navigations) - start >= 2 else "once"


async def _explain_unreadable(tab: Tab, result: PageLoad, exc: BaseException, navs_before: int,
                              dialogs_before: int) -> None:
    """The page loaded but could not be read: its own doing (it went busy, looped its dialogs
    or kept reloading) or the browser's (tool)."""
    fault = page_fault(tab, [result.url, result.final_url], navs_before, dialogs_before)
    if fault is None and not await page_responds(tab.page, tab.cdp):
        fault = _stuck(tab.events.dialogs - dialogs_before)
    if fault is not None:
        result.ok, result.fault, result.side = False, fault[0], "site"
        result.error_kind, result.error = fault[0], fault[1]
        tab.unfit = tab.unfit or fault[0] in FROZEN_FAULTS
    elif result.ok:  # the page loaded but the browser would not let us read it
        result.ok, result.side = False, "tool"
        result.error_kind = "browser"
        result.error = (str(exc).splitlines() or ["browser did not answer"])[0][:300]


async def goto_unless_cut(tab: Tab, url: str, timeout_s: float) -> Response | None:
    """``page.goto`` to "load", or, once the guard has cut the document at the size limit,
    stopped there: Chromium leaves a cut page "loading" for 20 s or more (measured) before its
    load event, and Chromium's stop (CDP) did not end that wait; the page's own stop does."""
    page = tab.page
    if tab.pacer is not None:  # the document's slot first: the navigation's timer is the site's
        await tab.pacer.prepay(url)
    nav = asyncio.ensure_future(page.goto(url, wait_until="load", timeout=timeout_s * 1000))

    async def cut_seen() -> None:
        while not (cut := tab.cut()) or not (url in cut or page.url in cut):
            await asyncio.sleep(0.2)

    watch = asyncio.ensure_future(cut_seen())
    try:
        done, _ = await asyncio.wait({nav, watch}, timeout=timeout_s + 5, return_when=asyncio.FIRST_COMPLETED)
        if nav in done:
            return nav.result()
        if watch not in done:
            raise TimeoutError
        # The guard ends a cut page where it cuts it (over plain http): it loads as usual.
        done, _ = await asyncio.wait({nav}, timeout=CUT_LAYOUT_S / 3)
        if nav in done:
            return nav.result()
        # The bytes before the cut are in the browser, not yet all parsed: stopping now would
        # leave an empty page. Wait until the parser stops growing the page, then stop it, then
        # lay it out once, patiently (a 2 MB document's first layout takes seconds, and every
        # script that reads the page has short deadlines of its own).
        with contextlib.suppress(PlaywrightError, TimeoutError):
            async with asyncio.timeout(CUT_LAYOUT_S):
                size = -1
                while (now := await page.evaluate("document.getElementsByTagName('*').length")) != size:
                    size = now
                    await asyncio.sleep(0.5)
        with contextlib.suppress(PlaywrightError, TimeoutError):
            async with asyncio.timeout(RESPONSIVE_S):
                await page.evaluate("window.stop()")
        done, _ = await asyncio.wait({nav}, timeout=RESPONSIVE_S)
        with contextlib.suppress(PlaywrightError, TimeoutError):
            async with asyncio.timeout(CUT_LAYOUT_S):
                await page.evaluate("() => document.documentElement.scrollHeight")
        return nav.result() if nav in done and not nav.exception() else None
    finally:
        for task in (nav, watch):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(nav, watch, return_exceptions=True)


async def _headers(response: Response | None) -> dict[str, str]:
    if response is None:
        return {}
    try:
        async with asyncio.timeout(2):
            return await response.all_headers()
    except Exception:  # the answer is gone: its status is what there is
        return {}


def _url_in(message: str) -> str | None:
    """The URL a Playwright navigation error names (``... at https://x/``)."""
    for word in message.split():
        if word.startswith(("http://", "https://")):
            return word.strip('".,')
    return None


async def _observe_content(page: Page, result: PageLoad, settings: BrowserSettings, screenshot: Path | None) -> None:
    timing = await page.evaluate(
        """() => { const n = performance.getEntriesByType('navigation')[0];
                   return n ? [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd] : null; }"""
    )
    if timing:
        ttfb, dcl, load = (round(x, 1) if x else None for x in timing)
        result.ttfb_ms, result.dom_content_loaded_ms, result.load_ms = ttfb, dcl, load
    result.title = (await page.title())[:300]
    text: str = await page.evaluate(BODY_TEXT_JS)
    result.text_chars = len(text)
    result.throttle = classify(result.status, {}, text, await page.evaluate(FIELDS_JS))
    result.replacement_chars = text.count("\ufffd") + result.title.count("\ufffd")
    result.dates_found, result.newest_date = newest_date(
        await page.evaluate(DATED_ITEMS_JS), china_date(result.started_at)
    )
    if screenshot is not None:
        if result.fault == "oversize":  # the screen a citizen sees: a full-page picture would be slow
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(screenshot), timeout=15000, **shot_format(settings).options)
        else:
            height = await page.evaluate("() => document.documentElement.scrollHeight")
            await full_page_shot(page, screenshot, settings, int(height or settings.viewport_height))
        result.screenshot = str(screenshot)


async def full_page_shot(page: Page, path: Path, settings: BrowserSettings, height: int,
                         width: int | None = None) -> None:
    """Full page (``width`` wide, the viewport's by default), cropped at ``screenshot_max_height``
    so endless pages stay small; encoded as ``settings`` say."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clip_height = max(1, min(height, settings.screenshot_max_height))
    clip_width = max(1, width) if width is not None else settings.viewport_width
    await page.screenshot(
        path=str(path), full_page=True, timeout=15000, **shot_format(settings).options,
        clip={"x": 0, "y": 0, "width": clip_width, "height": clip_height},
    )
