"""The browser pool with renderer processes reused (the default): a tab keeps its process from
site to site, but two tabs never share one, so a site that hangs its page holds up only its own
tab, and that tab is fit again for the next hotline."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from hotline_audit.config import BrowserSettings
from journeys.browser import (
    REUSE_RENDERER_ARGS,
    SMALL_WINDOW,
    BrowserPool,
    Tab,
    launch_args,
    shot_format,
)
from journeys.pageload import full_page_shot

from . import local_site

pytestmark = pytest.mark.browser

HUNG = "<!doctype html><title>hung</title><p>busy</p><script>setTimeout(() => { for (;;) {} }, 50)</script>"
FINE = "<!doctype html><title>fine</title><p>ok</p>"
# 2000 px tall, red at the very bottom: a whole-page shot must reach it.
TALL = ("<!doctype html><meta name=viewport content='width=device-width'><title>tall</title><body style='margin:0'><div style='height:1900px'>top</div>"
        "<div style='height:100px;background:#f00'></div>")
FRAMES = ("new Promise(done => { let n = 0; const t0 = performance.now(); const f = () => "
          "{ n++; if (performance.now() - t0 < 300) requestAnimationFrame(f); else done(n); }; "
          "requestAnimationFrame(f); })")


async def serve(host: str) -> tuple[web.AppRunner, str]:
    async def page(request: web.Request) -> web.Response:
        text = {"/hung": HUNG, "/tall": TALL}.get(request.path, FINE)
        return web.Response(text=text, content_type="text/html")

    return await local_site.serve({"/{name}": page}, host)


def test_settings_choose_the_launch_flags_and_screenshot_encoding():
    assert set(REUSE_RENDERER_ARGS) <= set(launch_args(BrowserSettings()))
    assert not set(REUSE_RENDERER_ARGS) & set(launch_args(BrowserSettings(reuse_renderers=False)))
    assert launch_args(BrowserSettings(extra_args=["--lang=zh-CN"]))[-1] == "--lang=zh-CN"
    assert shot_format(BrowserSettings()).options == {"type": "jpeg", "quality": 80}
    png = shot_format(BrowserSettings(screenshot_format="png"))
    assert (png.suffix, png.media_type, png.options) == (".png", "image/png", {"type": "png"})


def test_a_hung_page_holds_up_only_its_own_tab():
    async def go() -> None:
        # Two sites (two loopback addresses), as two hotlines are.
        (r1, one), (r2, two) = await serve("127.0.0.1"), await serve("127.0.0.2")
        try:
            async with BrowserPool(BrowserSettings(contexts=2), network=local_site.LOOPBACK) as pool:
                async with pool.tab() as stuck:
                    await stuck.page.goto(one + "/hung")
                    await asyncio.sleep(0.3)  # the loop has started
                    async with pool.tab() as other:
                        t0 = time.monotonic()
                        await other.page.goto(two + "/fine", timeout=10_000)
                        assert await other.page.evaluate("document.title") == "fine"
                        assert time.monotonic() - t0 < 10
                # The hung tab went back to the pool (replaced if it would not leave the page):
                # both tabs load the next site.
                for _ in range(2):
                    async with pool.tab() as tab:
                        await tab.page.goto(two + "/fine", timeout=10_000)
                        assert await tab.page.evaluate("document.title") == "fine"
                        shot = await tab.page.screenshot(**shot_format(pool.settings).options)
                        assert shot[:3] == b"\xff\xd8\xff"
        finally:
            await r1.cleanup()
            await r2.cleanup()

    asyncio.run(asyncio.wait_for(go(), 90))


async def window_size(tab: Tab) -> tuple[int, int]:
    cdp = await tab.context.new_cdp_session(tab.page)
    window = await cdp.send("Browser.getWindowForTarget")
    bounds = (await cdp.send("Browser.getWindowBounds", {"windowId": window["windowId"]}))["bounds"]
    await cdp.detach()
    return bounds["width"], bounds["height"]


def test_small_windows_leave_what_the_page_sees_and_the_screenshots_unchanged(tmp_path: Path):
    async def go() -> None:
        (r1, one), (r2, two) = await serve("127.0.0.1"), await serve("127.0.0.2")
        try:
            async with BrowserPool(BrowserSettings(contexts=1), network=local_site.LOOPBACK) as pool:
                for mobile, width in ((False, pool.settings.viewport_width), (True, 390)):
                    async with pool.tab(mobile=mobile) as tab:
                        assert await window_size(tab) == (SMALL_WINDOW["width"], SMALL_WINDOW["height"])
                        await tab.page.goto(one + "/fine")
                        await tab.page.set_content(f"<a href='{two}/tall'>next</a>")
                        t0 = time.monotonic()  # a click to a new site: a new document and widget
                        await tab.page.click("a")
                        await tab.page.wait_for_url(two + "/tall")
                        assert await tab.page.evaluate("[innerWidth, document.visibilityState]") == [width, "visible"]
                        assert await tab.page.evaluate(FRAMES) >= 5  # animation frames run
                        shot = tmp_path / f"tall-{mobile}.jpg"
                        await full_page_shot(tab.page, shot, pool.settings, 2000, width)
                        assert time.monotonic() - t0 < 5
                        image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
                        scale = 2 if mobile else 1  # the phone's device pixels
                        assert image.size == (width * scale, 2000 * scale)
                        r, g, b = image.getpixel((10, image.height - 10))
                        assert r > 200 and g < 60 and b < 60
            async with BrowserPool(BrowserSettings(contexts=1, small_windows=False), network=local_site.LOOPBACK) as pool:
                async with pool.tab() as tab:
                    assert await window_size(tab) == (pool.settings.viewport_width, pool.settings.viewport_height)
        finally:
            await r1.cleanup()
            await r2.cleanup()

    asyncio.run(asyncio.wait_for(go(), 90))
