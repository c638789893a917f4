"""The browser's switches stay in force: Chromium keeps only the last --disable-features, so
ours must carry Playwright's list and any the settings add (tests/test_foreign_traffic.py shows
what the switches keep the browser from asking)."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest
from aiohttp import web
from playwright.async_api import async_playwright

from hotline_audit.config import CHROMIUM_ARGS, BrowserSettings, NetworkSettings
from journeys.browser import DISABLE_FEATURES, BrowserPool, launch_args

from . import local_site


def disabled(args: list[str]) -> list[list[str]]:
    return [a.removeprefix(DISABLE_FEATURES).split(",") for a in args if a.startswith(DISABLE_FEATURES)]


def test_the_project_passes_one_feature_list_and_the_settings_add_to_it():
    assert len(disabled(CHROMIUM_ARGS)) == 1
    args = launch_args(BrowserSettings(extra_args=["--disable-features=Foo,Translate", "--lang=zh-CN"]))
    [features] = disabled(args)
    assert set(disabled(CHROMIUM_ARGS)[0]) | {"Foo"} == set(features) and features.count("Translate") == 1
    assert args[-1] == "--lang=zh-CN"


@pytest.mark.browser
def test_every_feature_disabled_on_the_command_line_is_disabled_in_chromium():
    """Chromium's own account of what it runs with (chrome://version): every feature that any
    --disable-features names (Playwright's, which come first, and ours) is off. Fails when a
    Playwright upgrade disables a feature that CHROMIUM_ARGS does not repeat."""
    async def read() -> str:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=BrowserSettings().executable,
                                               args=launch_args(BrowserSettings()), headless=True)
            page = await (await browser.new_context()).new_page()
            await page.goto("chrome://version/?show-variations-cmd")
            text = await page.inner_text("body")
            await browser.close()
            return text

    text = asyncio.run(read())
    command_line = next(line for line in text.splitlines() if line.startswith("Command Line"))
    asked = {f for arg in command_line.split() for fs in disabled([arg]) for f in fs if f}
    assert "OptimizationHints" in asked and "AutofillServerCommunication" in asked  # Playwright's, ours
    in_force = re.search(r'--disable-features="([^"]*)"', text)
    assert in_force, text[-2000:]
    effective = {f.split("<")[0].split(":")[0] for f in in_force[1].split(",")}
    assert asked <= effective, f"given but not in force: {sorted(asked - effective)}"


@pytest.mark.browser
def test_loopback_addresses_go_through_the_proxy_too(monkeypatch: pytest.MonkeyPatch):
    """Chromium sends loopback addresses around the proxy unless told otherwise: a request there
    would escape the record of what a round asked for. Playwright tells it so by default, but
    not with this variable set; the project's own switch holds either way. An allowed loopback
    address reaches the round's proxy; one not allowed never leaves (netguard)."""
    monkeypatch.setenv("PLAYWRIGHT_DISABLE_FORCED_CHROMIUM_PROXIED_LOOPBACK", "1")
    seen: list[str] = []

    async def proxy_answer(request: web.Request) -> web.Response:
        seen.append(request.host)
        return web.Response(text="<title>via the proxy</title>", content_type="text/html")

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.2", 0))
        port = s.getsockname()[1]

    async def go(network: NetworkSettings) -> str:
        runner, proxy = await local_site.serve({"/{tail:.*}": proxy_answer})
        try:
            async with BrowserPool(BrowserSettings(contexts=1), proxy, network) as pool, pool.tab() as tab:
                await tab.page.goto(f"http://127.0.0.2:{port}/page")
                return await tab.page.title()
        finally:
            await runner.cleanup()

    assert asyncio.run(go(NetworkSettings(allow_hosts=["127.0.0.2"]))) == "via the proxy"
    assert seen and {host.split(":")[0] for host in seen} == {"127.0.0.2"}
    seen.clear()
    assert asyncio.run(go(NetworkSettings())) != "via the proxy"
    assert seen == []


@pytest.mark.browser
def test_typing_into_a_form_fetches_no_spelling_dictionary(simweb: str):
    """Typing into a text area makes Chromium's spell checker fetch a Hunspell dictionary from
    redirector.gvt1.com (no switch stops it): the pool's tabs turn spell checking off in the
    fields they focus (NO_SPELLCHECK), so nothing leaves for it."""
    import httpx

    async def type_and_wait() -> None:
        async with BrowserPool(BrowserSettings(contexts=1), simweb) as pool, pool.tab() as tab:
            await tab.page.goto("data:text/html,<textarea id=t></textarea><input id=i>")
            await tab.page.fill("#t", "An English sentence with a mispeled word, then 中文")
            await tab.page.type("#i", "helllo wrold", delay=30)
            await asyncio.sleep(6)  # the fetch starts within a second or two of the typing

    before = len(httpx.get(f"{simweb}/_foreign", trust_env=False).json())  # simweb is shared
    asyncio.run(type_and_wait())
    foreign = httpx.get(f"{simweb}/_foreign", trust_env=False).json()[before:]
    assert not [f for f in foreign if "gvt1" in f.get("host", "")], foreign
