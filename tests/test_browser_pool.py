"""The browser pool with renderer processes reused (the default): a tab keeps its process from
site to site, but two tabs never share one, so a site that hangs its page holds up only its own
tab, and that tab is fit again for the next hotline."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from hotline_audit.config import BrowserSettings
from journeys.browser import REUSE_RENDERER_ARGS, BrowserPool, launch_args, shot_format

pytestmark = pytest.mark.browser

HUNG = "<!doctype html><title>hung</title><p>busy</p><script>setTimeout(() => { for (;;) {} }, 50)</script>"
FINE = "<!doctype html><title>fine</title><p>ok</p>"


async def serve(host: str) -> tuple[web.AppRunner, str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=HUNG if request.path == "/hung" else FINE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    return runner, f"http://{host}:{runner.addresses[0][1]}"


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
            async with BrowserPool(BrowserSettings(contexts=2)) as pool:
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
