"""simweb's pages work in a real browser the way a citizen uses them: every search widget,
the single-page app, the WeChat-only H5 site and the robot."""

import asyncio

import pytest
from playwright.async_api import async_playwright

from fixtures.simweb import build_population
from fixtures.simweb.corpus import TOPICS
from hotline_audit.config import CHROMIUM_ARGS, BrowserSettings

pytestmark = pytest.mark.browser

PORTALS = [p for p in build_population() if p.host and p.trait in ("healthy", "stale_homepage")]
WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.50 NetType/WIFI"
TOPIC = next(t for t in TOPICS if t.key.startswith("sb"))


def pick(**want):
    return next(p for p in PORTALS if all(getattr(p, k) == v for k, v in want.items()))


async def with_page(proxy, body, **context):
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=BrowserSettings().executable, args=CHROMIUM_ARGS,
                                           proxy={"server": proxy})
        try:
            ctx = await browser.new_context(locale="zh-CN", **context)
            return await body(ctx, await ctx.new_page())
        finally:
            await browser.close()


def answered(text):
    return any(w in text for w in TOPIC.answer_words) and any(w in text for w in TOPIC.must_words)


@pytest.mark.parametrize("widget", ["form_get", "ajax_jsonp", "iframe", "new_tab"])
def test_each_search_widget_answers_a_typed_question(simweb_full, widget):
    p = pick(search_widget=widget, search_quality="accurate", site_kind="standalone")
    question = TOPIC.question.format(city=p.city)

    async def body(ctx, page):
        await page.goto(p.website)
        scope = page.frame_locator("iframe[title='站内搜索']") if widget == "iframe" else page
        box = scope.locator("input[type=text]").first
        await box.fill(question)
        if widget == "new_tab":
            async with ctx.expect_page() as new:
                await box.press("Enter")
            results = await new.value
            await results.wait_for_load_state()
            return await results.inner_text("body")
        await box.press("Enter")
        if widget == "ajax_jsonp":
            await page.wait_for_selector("#searchResult li")
            return await page.inner_text("#searchResult")
        if widget == "iframe":
            frame = page.frame_locator("iframe[title='站内搜索']")
            await frame.locator(".result-item, .no-result").first.wait_for()
            return await frame.locator("body").inner_text()
        await page.wait_for_load_state()
        return await page.inner_text("body")

    text = asyncio.run(with_page(simweb_full, body))
    assert answered(text), text[:500]


@pytest.mark.parametrize("routed", [False, True])
def test_single_page_app_renders_menus_from_its_api(simweb_full, routed):
    from fixtures.simweb.layouts import hash_routes

    p = next(p for p in PORTALS if p.template == "spa" and p.submit_via == "website" and hash_routes(p) == routed)

    async def body(ctx, page):
        await page.goto(p.website)
        await page.wait_for_selector("nav.menu a")
        return [await a.get_attribute("href") for a in await page.query_selector_all("nav.menu a")]

    hrefs = asyncio.run(with_page(simweb_full, body))
    prefix = "/#" if routed else ""
    assert prefix + "/letter" in hrefs and prefix + "/query" in hrefs


def test_a_hash_route_shows_the_letter_page_the_server_serves(simweb_full):
    from fixtures.simweb.layouts import hash_routes

    p = next(p for p in PORTALS if hash_routes(p) and not p.needs_login)

    async def body(ctx, page):
        await page.goto(p.website.rstrip("/") + "/#/letter", wait_until="load")
        frame = page.frame_locator("iframe.route-view")
        await frame.locator("textarea").wait_for()
        await page.goto(p.website.rstrip("/") + "/#/query", wait_until="load")
        await page.frame_locator("iframe.route-view").locator("form.track-form").wait_for()
        return page.url

    assert asyncio.run(with_page(simweb_full, body)).endswith("/#/query")


def test_h5_site_opens_only_in_wechat(simweb_full):
    p = pick(site_kind="h5_only")

    async def body(ctx, page):
        await page.goto(p.h5)
        return await page.inner_text("body")

    assert "请在微信客户端打开" in asyncio.run(with_page(simweb_full, body))
    wechat = asyncio.run(with_page(simweb_full, body, user_agent=WECHAT_UA, viewport={"width": 390, "height": 844}))
    assert "掌上热线" in wechat


def test_robot_answers_in_its_popup(simweb_full):
    p = pick(has_robot=True, site_kind="standalone")

    async def body(ctx, page):
        await page.goto(p.website)
        robot_link = page.locator("a[onclick*='robot']").first
        async with ctx.expect_page() as popup:
            await robot_link.click()
        robot = await popup.value
        await robot.fill("#ask", TOPIC.question.format(city=p.city))
        await robot.press("#ask", "Enter")
        await robot.wait_for_selector(".msg.bot >> nth=1")
        return await robot.inner_text("#dialog")

    assert answered(asyncio.run(with_page(simweb_full, body)))
