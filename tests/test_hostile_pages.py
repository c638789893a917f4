"""Pages that fight the browser (issue 17): busy loops, dialog loops, refresh loops and popups
are recorded as what the page did, never hang a tab or the round, and never leak into the next
hotline's visit. Pages are served on loopback by the test itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiohttp import web

from checks.stability import judge_stability
from hotline_audit.config import BrowserSettings, Settings, StabilityRules
from hotline_audit.model import Hotline, StabilityObservation, VerdictStatus
from journeys.browser import BrowserPool
from journeys.pageload import load_page
from journeys.stability import JourneyContext, observe_stability

from . import local_site

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("hostile_pages")]

FAST = BrowserSettings(contexts=3, navigation_timeout_s=4, settle_s=1.5)

PAGES = {
    "/busy": "<title>忙</title><p>正常的文字</p><script>while(true){}</script>",
    "/alerts": "<title>弹</title><p>正常的文字</p><script>for(;;){alert('系统维护中')}</script>",
    "/busy-later": "<title>后</title><p>正常的文字</p><script>onload=()=>setTimeout(()=>{for(;;){}},50)</script>",
    "/refresh": "<title>刷</title><meta http-equiv='refresh' content='0'><p>正常的文字</p>",
    "/popups": "<title>窗</title><p>正常的文字</p><script>for(let i=0;i<10;i++)"
               "window.open('/popup?i='+i,'w'+i)</script>"
               "<button onclick=\"for(let i=0;i<10;i++)window.open('/popup?c='+i,'c'+i)\">打开</button>",
    "/popup": "<title>beacon</title><script>setInterval(()=>fetch('/beacon').catch(()=>0),200)</script>",
    "/": "<title>首页</title><p>正常的政务热线首页文字</p>",
}


async def _site() -> tuple[web.AppRunner, str, list[str]]:
    beacons: list[str] = []

    def page(html: str):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=html, content_type="text/html")
        return handler

    async def beacon(request: web.Request) -> web.Response:
        beacons.append(request.path)
        return web.Response(text="ok")

    routes = {path: page(html) for path, html in PAGES.items()}
    routes["/beacon"] = beacon
    runner, base = await local_site.serve(routes)
    return runner, base, beacons


def test_each_kind_of_hostile_page_is_recorded_as_what_it_did() -> None:
    async def go() -> dict[str, object]:
        runner, base, _ = await _site()
        got: dict[str, object] = {}
        try:
            async with BrowserPool(FAST, None, local_site.LOOPBACK) as pool:
                async def one(path: str) -> None:
                    t0 = time.monotonic()
                    async with pool.tab() as tab:
                        load = await load_page(tab, base + path, pool.settings, None)
                        got[path] = (load.fault, load.side, load.ok, tab.unfit, load.dialogs)
                    got[path + " s"] = time.monotonic() - t0

                await asyncio.gather(*(one(p) for p in ("/busy", "/alerts", "/busy-later", "/refresh", "/")))
                got["control"] = await pool.browser_works()
                async with pool.tab() as tab:  # the pool still lends working tabs
                    got["after"] = (await load_page(tab, base + "/", pool.settings, None)).ok
        finally:
            await runner.cleanup()
        return got

    got = asyncio.run(go())
    assert got["/busy"][:4] == ("unresponsive", "site", False, True)
    assert got["/alerts"][:4] == ("dialog_loop", "site", False, True) and got["/alerts"][4] >= 20
    assert got["/busy-later"][:3] == ("unresponsive", "site", False)
    assert got["/refresh"][:3] == ("refresh_loop", "site", False)
    assert got["/"][:3] == (None, "site", True)
    assert got["control"] is True and got["after"] is True
    # Bounded: the navigation timeout plus a few seconds of checks, never a hang.
    assert max(got[p + " s"] for p in ("/busy", "/alerts", "/busy-later", "/refresh")) < 30


def test_a_stuck_page_is_the_sites_failure_once_the_browser_passes_a_control(tmp_path: Path) -> None:
    """Three busy or alert-loop portals and two normal ones, three tabs: every one is judged,
    the broken ones down with the reason, the normal ones ok."""
    async def go() -> dict[str, StabilityObservation]:
        runner, base, _ = await _site()
        settings = Settings(out=tmp_path, browser=FAST, network=local_site.LOOPBACK)
        settings.probe.count, settings.probe.spacing_s = 2, 0.1
        try:
            async with BrowserPool(settings.browser, None, settings.network) as pool:
                ctx = JourneyContext(settings, pool, tmp_path, asyncio.Semaphore(8))
                paths = {"b1": "/busy", "b2": "/alerts", "b3": "/busy", "n1": "/", "n2": "/"}
                hotlines = {k: Hotline(hotline_id=k, name=k, province="江苏", city="南京", website=base + p)
                            for k, p in paths.items()}
                found = await asyncio.wait_for(asyncio.gather(*(observe_stability(ctx, h) for h in hotlines.values())),
                                               90)
                return {obs.hotline_id: obs for obs, _ in found}
        finally:
            await runner.cleanup()

    observed = asyncio.run(go())
    rules = StabilityRules()
    verdicts = {k: judge_stability(obs, rules) for k, obs in observed.items()}
    assert {k: v.verdict for k, v in verdicts.items()} == {
        "b1": VerdictStatus.down, "b2": VerdictStatus.down, "b3": VerdictStatus.down,
        "n1": VerdictStatus.ok, "n2": VerdictStatus.ok}
    assert "脚本卡死" in verdicts["b1"].reason and "对话框" in verdicts["b2"].reason
    assert observed["b1"].page_load.control_ok is True


def test_a_stuck_page_without_a_working_control_is_never_the_sites_failure() -> None:
    obs = StabilityObservation(hotline_id="x", website="http://x.test/")
    from hotline_audit.model import PageLoad, Probe, utcnow
    obs.page_load = PageLoad(url="http://x.test/", started_at=utcnow(), ok=False, fault="unresponsive",
                             error_kind="unresponsive", error="页面脚本卡死", control_ok=False)
    obs.probes = [Probe(started_at=utcnow(), ok=True, status=200, elapsed_ms=50.0)] * 5
    assert judge_stability(obs, StabilityRules()).verdict == VerdictStatus.tool_error
    obs.page_load.control_ok = None
    assert judge_stability(obs, StabilityRules()).verdict == VerdictStatus.needs_review


def test_popups_die_with_their_visit_and_never_reach_the_next_hotlines_record() -> None:
    async def go() -> tuple[int, int, int, int, list[str]]:
        runner, base, beacons = await _site()
        try:
            async with BrowserPool(BrowserSettings(contexts=1), None, local_site.LOOPBACK) as pool:
                async with pool.tab() as tab:
                    load = await load_page(tab, base + "/popups", pool.settings, None)
                    blocked = load.popups  # opened by the page itself: blocked, as in a citizen's browser
                    await tab.page.click("button")  # opened by a person's click: allowed
                    await asyncio.sleep(1)
                    popups = tab.events.popups
                async with pool.tab() as tab:  # the next hotline's visit, on the one tab there is
                    before = len(beacons)
                    await load_page(tab, base + "/", pool.settings, None)
                    await asyncio.sleep(1.5)
                    pages = len(tab.context.pages)
                    theirs = [r.url for r in tab.net.records if "beacon" in r.url or "popup" in r.url]
                    return blocked, popups, pages, len(beacons) - before, theirs
        finally:
            await runner.cleanup()

    blocked, popups, pages, beacons_after, theirs = asyncio.run(go())
    assert blocked == 0 and popups >= 1  # one window per click, as Chromium allows
    assert pages == 1 and beacons_after == 0 and theirs == []
