"""The browser under the politeness budget (journeys/pacing.py): a page's documents and XHRs
take their host's slots, its images do not; our holds are not the site's time; a throttling
answer is booked to the host and the page is opened again after the back-off; a site that
only ever shows its firewall is needs_review, never down."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from checks.stability import judge_stability
from hotline_audit.config import BrowserSettings, StabilityRules, load_settings
from hotline_audit.model import Hotline
from hotline_audit.politeness import Politeness, PolitenessSettings
from journeys.browser import BrowserPool
from journeys.pageload import load_page
from journeys.stability import JourneyContext, observe_stability

from .local_site import LOOPBACK, serve

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser_pacing")]

XHRS = 4
PAGE = ("<!doctype html><html><head><meta charset=utf-8><title>pace</title></head><body><p>12345热线</p>"
        + "".join(f"<img src='/img/{i}.gif'>" for i in range(4))
        + "<script>for (let i = 0; i < %d; i++) fetch('/api/' + i).then(r => r.text());</script>"
        "</body></html>") % XHRS
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
       b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


@dataclass
class Site:
    """What the server saw: (time, path, Sec-Fetch-Dest) per request; 429s for the first
    ``refuse`` homepage requests, a firewall page for ``waf`` ones."""

    seen: list[tuple[float, str, str]] = field(default_factory=list)
    refuse: int = 0
    waf: int = 0

    def routes(self) -> dict:
        async def home(request: web.Request) -> web.Response:
            self.seen.append((time.monotonic(), request.path, request.headers.get("Sec-Fetch-Dest", "")))
            if self.refuse > 0:
                self.refuse -= 1
                return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "2"})
            if self.waf > 0:
                self.waf -= 1
                return web.Response(text="<html><body><h3>您的访问过于频繁，请稍后再试。</h3>"
                                         "<p>事件ID: 7731</p></body></html>", content_type="text/html")
            return web.Response(text=PAGE, content_type="text/html")

        async def api(request: web.Request) -> web.Response:
            self.seen.append((time.monotonic(), request.path, request.headers.get("Sec-Fetch-Dest", "")))
            return web.json_response({"ok": True})

        async def img(request: web.Request) -> web.Response:
            self.seen.append((time.monotonic(), request.path, request.headers.get("Sec-Fetch-Dest", "")))
            return web.Response(body=GIF, content_type="image/gif")

        return {"/": home, "/api/{n}": api, "/img/{n}": img}

    def starts(self, prefix: str) -> list[float]:
        """When requests for ``prefix`` ("/" alone: the homepage) came."""
        return [t for t, path, _ in self.seen if (path == "/" if prefix == "/" else path.startswith(prefix))]


POLITE = PolitenessSettings(per_minute=600, min_interval_s=0.4, jitter=0.0, in_flight=2, backoff_s=1.0,
                            give_up_after=2)


def _run(coro):  # noqa: ANN001, ANN202
    return asyncio.run(coro)


def test_xhrs_wait_for_their_slots_and_images_do_not(tmp_path):
    site = Site()
    budget = Politeness(tmp_path / "p.sqlite", POLITE, round_name="t")

    async def main():
        runner, base = await serve(site.routes())
        try:
            async with BrowserPool(BrowserSettings(contexts=1), None, LOOPBACK, budget) as pool:
                async with pool.tab(hotline_id="h1") as tab:
                    t0 = time.monotonic()
                    load = await load_page(tab, base + "/", BrowserSettings(), None)
                    await tab.events.settle(quiet_s=0.3, max_s=5)
                    return load, time.monotonic() - t0, tab.held_s(t0)
        finally:
            await runner.cleanup()

    load, wall, held = _run(main())
    assert load.ok and load.throttle is None
    api = sorted(site.starts("/api/"))
    assert len(api) == XHRS
    pages = sorted([*site.starts("/api/"), *site.starts("/")])
    gaps = [b - a for a, b in zip(pages, pages[1:], strict=False)]
    # One slot per page-level request, 0.4 s apart: so the budget booked them, and so (give or
    # take the way through the browser and the guard) the site saw them, not all at once.
    slots = [t for (t,) in budget._db().execute("SELECT t FROM requests ORDER BY t")]
    assert all(b - a >= 0.4 - 1e-6 for a, b in zip(slots, slots[1:], strict=False)), slots
    assert min(gaps) >= 0.2 and sum(gaps) / len(gaps) >= 0.35, gaps
    images = sorted(site.starts("/img/"))
    assert len(images) == 4 and images[-1] - images[0] < 0.4  # sub-resources load as a browser loads them
    assert held >= 0.4 * (XHRS - 1) - 0.1  # the holds are known ...
    assert load.paced_ms is not None and load.elapsed_ms < wall * 1000  # ... and not the site's time
    stats = {s.host: s for s in budget.host_stats("t")}
    assert stats["127.0.0.1"].requests == 1 + XHRS and stats["127.0.0.1"].components == "browser"
    assert all(dest in ("document", "empty") for _, path, dest in site.seen if not path.startswith("/img/"))


def _stability(tmp_path, site: Site):  # noqa: ANN202
    settings = load_settings(None, out=tmp_path, network=LOOPBACK.model_dump(),
                             browser={"contexts": 1}, probe={"count": 4, "spacing_s": 0.1},
                             politeness=POLITE.model_dump())
    budget = Politeness(tmp_path / "p.sqlite", settings.politeness, round_name="t")

    async def main():
        runner, base = await serve(site.routes())
        try:
            async with BrowserPool(settings.browser, None, settings.network, budget) as pool:
                ctx = JourneyContext(settings=settings, browser=pool, round_dir=tmp_path,
                                     probe_limiter=asyncio.Semaphore(8), budget=budget)
                hotline = Hotline(hotline_id="h1", name="测试热线", province="测试省", city="测试市", website=base + "/")
                return await observe_stability(ctx, hotline)
        finally:
            await runner.cleanup()

    obs, _ = _run(main())
    return obs, judge_stability(obs, StabilityRules())


def test_a_429_homepage_is_opened_again_after_retry_after_and_judged_on_what_it_shows(tmp_path):
    site = Site(refuse=1)
    obs, verdict = _stability(tmp_path, site)
    assert obs.page_load.ok and obs.page_load.throttle is None  # the second visit, after the wait
    homes = site.starts("/")
    assert homes[1] - homes[0] >= 2.0 - 0.05  # Retry-After: 2 was honoured
    assert [t.status for t in obs.throttles] == [429] and obs.throttles[0].retry_after_s == 2
    assert verdict.verdict.value == "ok" and len(obs.probes) == 4, verdict.reason


def test_a_site_that_only_shows_its_firewall_is_needs_review_not_down(tmp_path):
    site = Site(waf=100)  # every homepage request, the browser's and the probes', gets the firewall
    obs, verdict = _stability(tmp_path, site)
    assert obs.page_load.throttle == "rate_limited"
    assert all(p.error_kind == "rate_limited" for p in obs.probes)
    assert verdict.verdict.value == "needs_review" and verdict.metrics["reason_code"] == "rate_limited"
    assert "限流" in verdict.reason and obs.throttles
