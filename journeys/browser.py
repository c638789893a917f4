"""One Chromium for a round, a few contexts each with one reused page.

Reusing pages is ~5x faster than a new page per URL on these machines (DESIGN §7), and more
than two contexts per core made it slower, so the pool is small (3 on 2 cores by default: the
search and submission journeys wait on sites) and pages are recycled.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    CDPSession,
    ConsoleMessage,
    Dialog,
    Frame,
    Page,
    Playwright,
    Request,
    Response,
    async_playwright,
)

from hotline_audit.config import (
    CHROMIUM_ARGS,
    PLAYWRIGHT_ARGS_WE_DROP,
    BrowserSettings,
    NetworkSettings,
)
from hotline_audit.netguard import GuardProxy, Refusal, TargetPolicy
from hotline_audit.politeness import Politeness, user_agent, who_we_are

from .capture import STOP_TIMEOUT_S, Capture, Recorder
from .netlog import NetLog
from .pacing import TabPacer

# WeChat's in-app browser on a phone: WeChat H5 sites answer "请在微信客户端打开" to anything
# else. The same user agent as discovery (crawler/spider.py WECHAT_UA).
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN")
MOBILE_CONTEXT: dict[str, Any] = {
    "user_agent": WECHAT_UA, "viewport": {"width": 390, "height": 844},
    "is_mobile": True, "has_touch": True, "device_scale_factor": 2,
}


# Chromium starts a renderer process for every new site. Past this limit it reuses one of the
# same browser context (never another context's: each tab is its own context), so a tab keeps
# its process from hotline to hotline. Site isolation is what would force a fresh process.
REUSE_RENDERER_ARGS = ["--renderer-process-limit=1", "--disable-site-isolation-trials"]

# Typing into a form makes Chromium's spell checker fetch a Hunspell dictionary from
# redirector.gvt1.com (measured on Chromium 156 in 2 of 2 runs; no switch or locale stopped it
# reliably). The check only starts for a field that spell-checks, so the fields we focus don't.
NO_SPELLCHECK = ("document.addEventListener('focusin', e => { const t = e.target;"
                 " if (t && 'spellcheck' in t) t.spellcheck = false; }, true);")


DISABLE_FEATURES = "--disable-features="


def launch_args(settings: BrowserSettings) -> list[str]:
    """The project's switches, then the settings' own. Chromium keeps only the last
    --disable-features, so a list given in ``extra_args`` is added to the project's one instead
    of replacing it (which would let Chromium's background requests back in)."""
    args = [*CHROMIUM_ARGS, *(REUSE_RENDERER_ARGS if settings.reuse_renderers else []), *settings.extra_args]
    features: list[str] = []
    merged: list[str] = []
    for arg in args:
        if not arg.startswith(DISABLE_FEATURES):
            merged.append(arg)
            continue
        if not features:
            merged.append(DISABLE_FEATURES)  # where the project's list stands; filled below
        features += [f for f in arg.removeprefix(DISABLE_FEATURES).split(",") if f]
    return [DISABLE_FEATURES + ",".join(dict.fromkeys(features)) if a == DISABLE_FEATURES else a for a in merged]


@dataclass(frozen=True)
class ShotFormat:
    """How evidence screenshots are encoded: file suffix, media type, Playwright's options."""

    suffix: str
    media_type: str
    options: dict[str, Any]


def shot_format(settings: BrowserSettings) -> ShotFormat:
    if settings.screenshot_format == "png":
        return ShotFormat(".png", "image/png", {"type": "png"})
    return ShotFormat(".jpg", "image/jpeg", {"type": "jpeg", "quality": settings.screenshot_quality})


class BrowserUnavailable(RuntimeError):
    """Chromium could not be started: a problem of this machine, not of any hotline."""


@dataclass
class PageEvents:
    """What a page reported during the current visit (reset for each visit)."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    navigations: list[int] = field(default_factory=list)
    in_flight: set[Request] = field(default_factory=set)
    last_activity: float = 0.0  # time.monotonic() of the last request start or end
    dialogs: int = 0  # alert/confirm/prompt/beforeunload dialogs, each dismissed
    popups: int = 0  # windows the page opened
    frame_navigations: list[float] = field(default_factory=list)  # monotonic times, main frame
    holds: Callable[[float], float] | None = None  # TabPacer.held_s, when the tab is paced

    def reset(self) -> None:
        self.console_errors.clear()
        self.failed_requests.clear()
        self.navigations.clear()
        self.in_flight.clear()
        self.frame_navigations.clear()
        self.dialogs = self.popups = 0
        self.last_activity = time.monotonic()

    async def settle(self, quiet_s: float, max_s: float) -> bool:
        """Wait until no request has been in flight for ``quiet_s`` (at most ``max_s``).

        Playwright's "networkidle" always waits 500 ms; most pages are quiet far sooner, and
        this also catches a reload started by a script (JS challenges) or an SPA's API call."""
        started = time.monotonic()
        # Time our politeness budget held the page's requests back is added: it is not the
        # page's, and a page waiting for its API calls has not settled.
        while time.monotonic() < started + max_s + min(self.held(started), MAX_HELD_EXTENSION_S):
            if not self.in_flight and time.monotonic() - self.last_activity >= quiet_s:
                return True
            await asyncio.sleep(0.025)
        return False

    def held(self, since: float) -> float:
        """Seconds since ``since`` our budget held the page's requests (the tab's pacer sets this)."""
        return self.holds(since) if self.holds is not None else 0.0


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    events: PageEvents
    mobile: bool = False  # a phone in WeChat (MOBILE_CONTEXT), not a desktop browser
    net: NetLog = field(default_factory=NetLog)  # every request of the context, this borrow
    guard: GuardProxy | None = None  # the context's proxy, which keeps pages off our network
    tag: str = ""  # the context's listener on ``guard``
    # A page stuck in its own scripts or dialogs: the tab is discarded after this borrow.
    unfit: bool = False
    # A CDP session to the page, opened once: asks whether the page answers (and stops it)
    # without waiting for a navigation in progress, and is never detached (that can hang).
    cdp: CDPSession | None = None
    # Paces the context's page-level requests by their hosts' politeness budget (None: unpaced).
    pacer: TabPacer | None = None

    def held_s(self, since: float) -> float:
        """Seconds since ``since`` (monotonic) our politeness budget held this tab's requests."""
        return self.pacer.held_s(since) if self.pacer else 0.0

    def refusals(self) -> list[Refusal]:
        """Requests of this borrow refused because they aimed at the auditor's network."""
        return self.guard.refusals(self.tag) if self.guard else []

    def unreachable(self, host: str) -> str | None:
        """Why the guard could not reach ``host`` this borrow (dns, connect, timeout; proxy: ours)."""
        return self.guard.failure(self.tag, host) if self.guard else None

    def cut(self) -> list[str]:
        """URLs whose response was cut at the size limit this borrow."""
        return self.guard.cut(self.tag) if self.guard else []


# Deadlines for the browser's own housekeeping: a page must never make one of these wait.
MAX_HELD_EXTENSION_S = 60.0  # a wait is made longer by our budget's holds, at most this much
CLOSE_TIMEOUT_S = 10.0
CONTROL_TIMEOUT_S = 15.0
DIALOG_GRACE_S = 0.05
CONTROL_PAGE = "data:text/html;charset=utf-8,<title>control</title><p>hotline-audit control page 对照页</p>"


class BrowserPool:
    """``network`` says which local hosts pages may reach (none by default): every context
    goes through its own listener of a ``GuardProxy``, which forwards to ``proxy``.
    ``budget`` paces every tab's page-level requests (journeys/pacing.py); every tab's
    User-Agent ends with who we are and ``contact`` (WeChat's for phone tabs, which WeChat H5
    sites require, Chrome's of this Chromium's version for the others)."""

    def __init__(self, settings: BrowserSettings, proxy: str | None = None,
                 network: NetworkSettings | None = None, budget: Politeness | None = None,
                 contact: str = "") -> None:
        self.settings = settings
        self.proxy = proxy
        self.network = network or NetworkSettings()
        self.budget = budget.for_component("browser") if budget is not None else None
        self.contact = contact
        self.agent = user_agent(contact)
        self.guard: GuardProxy | None = None
        self._made = 0
        self._control: tuple[float, bool] | None = None
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._tabs: asyncio.Queue[Tab] = asyncio.Queue()
        # Phone tabs are rare (WeChat H5 sites): made on first use, at most ``contexts`` of them.
        self._mobile_tabs: asyncio.Queue[Tab] = asyncio.Queue()
        self._mobile_made = 0

    async def __aenter__(self) -> BrowserPool:
        exe = self.settings.executable
        if not os.path.exists(exe):
            raise BrowserUnavailable(
                f"Chromium not found at {exe}. Run `make demo` (it installs Debian's chromium) "
                "or set HOTLINE_AUDIT_BROWSER__EXECUTABLE to your Chromium."
            )
        self.guard = GuardProxy(TargetPolicy(self.network.allow_hosts), self.proxy,
                                max_page_bytes=int(self.network.max_page_mb * 1_000_000),
                                max_response_bytes=int(self.network.max_response_mb * 1_000_000)).start()
        self._pw = await async_playwright().start()
        try:
            self._browser = await self._pw.chromium.launch(
                executable_path=exe,
                args=launch_args(self.settings),
                # Playwright turns Chromium's popup blocker off; a citizen's browser has it on,
                # so a page that opens windows by itself (a popup storm) opens none, as there.
                ignore_default_args=PLAYWRIGHT_ARGS_WE_DROP,
                headless=True,
                # Contexts have listeners of their own; this one is for anything else.
                proxy={"server": self.guard.listen("browser")},
            )
            self.agent = user_agent(self.contact, chrome=self._browser.version)
            for _ in range(self.settings.contexts):
                self._tabs.put_nowait(await self._new_tab())
        except Exception as exc:
            await self.close()
            raise BrowserUnavailable(f"Chromium at {exe} did not start: {exc}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        try:
            if self._browser is not None:
                await self._browser.close()
        except Exception:  # already gone (crash, Ctrl-C): nothing left to close
            pass
        finally:
            self._browser = None
            if self._pw is not None:
                try:
                    await self._pw.stop()
                except Exception:
                    pass
                self._pw = None
            if self.guard is not None:
                self.guard.stop()
                self.guard = None

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def _new_tab(self, mobile: bool = False, **context_options: Any) -> Tab:
        assert self._browser is not None
        options: dict[str, Any] = {
            "viewport": {"width": self.settings.viewport_width, "height": self.settings.viewport_height},
            "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai",
            "ignore_https_errors": False,
            "user_agent": self.agent,
        }
        options.update(MOBILE_CONTEXT if mobile else {})
        if mobile:
            options["user_agent"] = f"{WECHAT_UA} {who_we_are(self.contact)}"
        options.update(context_options)
        self._made += 1
        tag = f"tab{self._made}"
        assert self.guard is not None
        # Loopback too (Chromium sends it around a proxy by default; Playwright's forcing can be
        # switched off by an environment variable): the guard decides, not Chromium.
        options["proxy"] = {"server": self.guard.listen(tag), "bypass": "<-loopback>"}
        context = await self._browser.new_context(**options)
        await context.add_init_script(NO_SPELLCHECK)
        page = await context.new_page()
        if self.settings.small_windows:
            await shrink_window(context, page)
        cdp = await asyncio.wait_for(context.new_cdp_session(page), CLOSE_TIMEOUT_S)
        events = PageEvents()
        _listen(page, events)
        context.on("page", lambda _: setattr(events, "popups", events.popups + 1))
        net = NetLog()
        net.attach(context)
        pacer = None
        if self.budget is not None:
            pacer = TabPacer(self.budget)
            await asyncio.wait_for(pacer.attach(context, page, cdp), CLOSE_TIMEOUT_S)
            events.holds = pacer.held_s
        return Tab(context, page, events, mobile=mobile, net=net, guard=self.guard, tag=tag, cdp=cdp, pacer=pacer)

    async def _take(self, mobile: bool) -> Tab:
        if not mobile:
            return await self._tabs.get()
        if self._mobile_tabs.empty() and self._mobile_made < self.settings.contexts:
            self._mobile_made += 1
            try:
                return await self._new_tab(mobile=True)
            except BaseException:
                self._mobile_made -= 1
                raise
        return await self._mobile_tabs.get()

    def _give_back(self, tab: Tab) -> None:
        (self._mobile_tabs if tab.mobile else self._tabs).put_nowait(tab)

    @asynccontextmanager
    async def tab(self, mobile: bool = False, capture: Capture | None = None,
                  hotline_id: str = "") -> AsyncIterator[Tab]:
        """Borrow a tab: cookies cleared, events reset. A tab that broke is replaced.

        ``mobile=True`` borrows a phone with WeChat's user agent instead (for H5 sites).
        ``capture`` records the borrow's network traffic (every page of the context) and a
        trace; the files are written when the borrow ends, also when the journey failed, and
        listed in ``capture.saved``. ``hotline_id`` is whom the tab's requests are booked to in
        the politeness log."""
        tab = await self._take(mobile)
        healthy, save = True, True
        recorder: Recorder | None = None
        try:
            await asyncio.wait_for(tab.context.clear_cookies(), CLOSE_TIMEOUT_S)
            tab.events.reset()
            tab.net.reset()
            if tab.guard is not None:
                tab.guard.reset(tab.tag)
            if tab.pacer is not None:
                tab.pacer.reset(hotline_id)
            if capture is not None and capture.wanted:
                recorder = Recorder(tab, capture)
                await recorder.start()
            yield tab
        except BaseException as exc:
            healthy = False
            save = isinstance(exc, Exception)  # not when cancelled or interrupted: leave quickly
            raise
        finally:
            if recorder is not None:
                healthy = await _halt_recording(recorder, save) and healthy
            # Windows the site opened, its service workers, a page stuck in its own scripts:
            # nothing of this hotline may live on into the next one's visit (and evidence).
            if tab.unfit or len(tab.context.pages) > 1 or tab.context.service_workers:
                healthy = False
            if healthy and not tab.page.is_closed():
                try:  # stop whatever the last site is still loading
                    await asyncio.wait_for(tab.page.goto("about:blank", timeout=5000), 8)
                except Exception:
                    healthy = False
            if healthy and not tab.page.is_closed():
                self._give_back(tab)
            else:
                await self._replace(tab)
            if recorder is not None and save:
                await recorder.save()
            elif recorder is not None:
                recorder.discard()

    async def _replace(self, tab: Tab) -> None:
        try:  # closing a context kills its renderer, busy or not (measured: ~20 ms)
            await asyncio.wait_for(tab.context.close(), CLOSE_TIMEOUT_S)
        except Exception:
            pass
        if tab.guard is not None:
            tab.guard.forget(tab.tag)
        if self.connected:
            try:
                self._give_back(await self._new_tab(mobile=tab.mobile))
                return
            except Exception:
                pass
        # Browser gone: put the dead tab back so waiters fail fast instead of hanging.
        self._give_back(tab)

    async def browser_works(self) -> bool:
        """Whether our browser renders, runs a script and takes a screenshot of a control page
        (no network) in a fresh context: after a page hung or looped, this is what makes the
        failure the site's and not ours. Remembered for half a minute."""
        now = time.monotonic()
        if self._control is not None and now - self._control[0] < 30:
            return self._control[1]
        works = False
        if self._browser is not None and self.connected:
            context: BrowserContext | None = None
            try:
                async with asyncio.timeout(CONTROL_TIMEOUT_S):
                    context = await self._browser.new_context()
                    page = await context.new_page()
                    await page.goto(CONTROL_PAGE, timeout=CONTROL_TIMEOUT_S * 1000)
                    works = await page.evaluate("() => document.title") == "control"
                    await page.screenshot(timeout=CONTROL_TIMEOUT_S * 1000)
            except Exception:
                works = False
            finally:
                if context is not None:
                    try:
                        await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_S)
                    except Exception:
                        pass
        self._control = (time.monotonic(), works)
        return works


# Headless Chromium still composites each tab's window (tab strip, toolbar, the page's pixels)
# and redraws it ~35 times a second while the loading animation turns: the browser process
# used 30% of a submission round's CPU, mostly on windows nobody sees. The cost follows the
# window's area. The page keeps the viewport Playwright emulates (layout, media queries, lazy
# loading, screenshots unchanged). A minimized window would cost less, but there full-page
# screenshots, and clicks on a page just loaded, wait 1-2 s for frames.
SMALL_WINDOW = {"width": 100, "height": 100}


async def shrink_window(context: BrowserContext, page: Page) -> bool:
    """Make the headless window that holds ``page`` small (``SMALL_WINDOW``). False where the
    browser has no windows (headless shell) or refused: a saving only, never a failure."""
    try:
        async with asyncio.timeout(5):
            cdp = await context.new_cdp_session(page)
            try:
                window = await cdp.send("Browser.getWindowForTarget")
                await cdp.send("Browser.setWindowBounds", {"windowId": window["windowId"], "bounds": SMALL_WINDOW})
            finally:
                await cdp.detach()
    except Exception:
        return False
    return True


async def _halt_recording(recorder: Recorder, save: bool) -> bool:
    """Whether the tab is still fit to lend: recorders that will not stop leave it unfit."""
    if not save:
        return False  # the context still records; replacing the tab ends that
    try:
        await asyncio.wait_for(recorder.halt(), STOP_TIMEOUT_S)
        return True
    except Exception as exc:
        recorder.capture.problems.append(f"recording not stopped: {type(exc).__name__}: {str(exc)[:200]}")
        return False


def _listen(page: Page, events: PageEvents) -> None:
    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            events.console_errors.append(msg.text[:300])

    def on_request(req: Request) -> None:
        events.in_flight.add(req)
        events.last_activity = time.monotonic()

    def on_finished(req: Request) -> None:
        events.in_flight.discard(req)
        events.last_activity = time.monotonic()

    def on_failed(req: Request) -> None:
        on_finished(req)
        events.failed_requests.append(f"{req.failure or 'failed'} {req.url[:300]}")

    def on_response(resp: Response) -> None:
        req = resp.request
        if req.is_navigation_request() and resp.frame == page.main_frame:
            events.navigations.append(resp.status)
        elif resp.status >= 400 and not req.url.endswith("/favicon.ico"):
            events.failed_requests.append(f"HTTP {resp.status} {req.url[:300]}")

    async def on_dialog(dialog: Dialog) -> None:
        # Counted (an endless alert loop is the page's behaviour, and evidence) and dismissed,
        # as a person closing it would, unless a journey's own listener answered it first (the
        # journeys press OK, as a person filing a letter does): hence the short wait.
        events.dialogs += 1
        await asyncio.sleep(DIALOG_GRACE_S)
        try:
            await dialog.dismiss()
        except Exception:  # answered already, or the page is gone
            pass

    def on_frame(frame: Frame) -> None:
        if frame == page.main_frame:
            events.frame_navigations.append(time.monotonic())

    page.on("dialog", on_dialog)
    page.on("framenavigated", on_frame)
    page.on("console", on_console)
    page.on("pageerror", lambda err: events.console_errors.append(f"pageerror: {str(err)[:300]}"))
    page.on("request", on_request)
    page.on("requestfinished", on_finished)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
