"""The citizen journey finds the submission entry by structure where words fail (issue 16).

Without a submission channel from discovery, the journey reads the homepage's links by what
their words mean; a link that says only a column word (互动交流, 公众参与, 政民互动) is opened
and its page checked for a letter form, in the DOM as the browser drew it. Pages written here
the way real portals build them: a column whose form a script draws after load (a), a column
that links on to 我要写信 (b), a column that is a notice to accept before the form (g), a column
with a comment box and no letter form (c), a homepage whose GBK bytes claim UTF-8 (m), one whose
text itself is broken (n), a homepage
that never answers (h) and one that answers but whose frame hangs (f). Each runs the
whole journey (``run_effectiveness``) in one browser; the server counts what it received."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiohttp import web

from hotline_audit.config import load_settings
from hotline_audit.ledger import Ledger
from hotline_audit.model import Hotline
from hotline_audit.store import Store
from journeys.browser import BrowserPool
from journeys.effectiveness import effectiveness_tools, run_effectiveness
from journeys.stability import JourneyContext

from . import local_site
from .local_site import serve

# One module fixture drives every case: one worker runs them all, so it is set up once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("journey_entry")]

NEWS = "".join(f"<li><a href='news/{i}.html'>市12345热线第{i}季度工单分析报告</a> 2024-0{i}-15</li>" for i in range(1, 4))
LETTER = """<form method="post" action="post"><table>
<tr><td>标　　题：</td><td><input name="bt"></td></tr>
<tr><td>姓　　名：</td><td><input name="xm"></td></tr><tr><td>手机号码：</td><td><input name="sjhm"></td></tr>
<tr><td>诉求内容：</td><td><textarea name="nr"></textarea></td></tr></table>
<input type="submit" value="提 交"></form>"""


def page(body: str) -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>12345</title></head><body>{body}</body></html>"


def home(links: str) -> str:
    return page(f"""<div class="nav"><a href="./">网站首页</a> <a href="zwgk/">政务公开</a> {links}</div>
<h1>本市12345政务服务便民热线</h1><p>热线受理咨询、求助、投诉、举报和意见建议，全天候人工服务。</p><ul>{NEWS}</ul>""")


PAGES = {
    # a: 互动交流 is a list of answered letters; 公众参与 holds the letter form, drawn by a script.
    "/a/": home('<a href="hdjl/">互动交流</a> <a href="gzcy/">公众参与</a>'),
    "/a/hdjl/": page("""<h2>互动交流</h2><form action="search"><input name="kw" placeholder="请输入关键字">
<button>搜索</button></form><ul><li><a href="x/1.html">关于小区噪音扰民的答复</a> 2024-05-01</li></ul>"""),
    "/a/gzcy/": page("<h2>公众参与</h2><div id='app'>加载中…</div><script>window.addEventListener('load', () => {"
                     f"document.getElementById('app').innerHTML = {LETTER!r}.replace(/\\n/g, ''); }});</script>"),
    # b: 政民互动 is a column page that links on to the form by its words.
    "/b/": home('<a href="zmhd/">政民互动</a>'),
    "/b/zmhd/": page('<h2>政民互动</h2><a href="xjgk/">信件公开</a> <a href="write/">我要写信</a>'),
    "/b/zmhd/write/": page(LETTER),
    # g: 政民互动 opens a notice to accept (写信须知, tick, 下一步 by script), then the form.
    "/g/": home('<a href="zmhd/">政民互动</a>'),
    "/g/zmhd/": page("""<h3>写信须知</h3><p>本信箱受理群众反映的问题和意见建议，请如实反映。</p>
<p><label><input type="checkbox" id="ok"> 我已阅读并同意上述须知</label></p><button type="button" id="go">下一步</button>
<script>document.getElementById('go').onclick = () => { if (document.getElementById('ok').checked)
  location.href = 'write/'; };</script>"""),
    "/g/zmhd/write/": page(LETTER),
    # c: the only column holds a comment box, no letter form anywhere a person would look.
    "/c/": home('<a href="hdjl/">互动交流</a>'),
    "/c/hdjl/": page("""<h2>互动交流</h2><p>网友评论</p><form method="post" action="post">
<textarea name="comment"></textarea><input type="submit" value="发表评论"></form>"""),
    # m: the homepage's bytes are GBK while header and meta say UTF-8: the browser shows
    # U+FFFD; read as GB18030 (as a person switches the encoding) its links say 我要写信.
    "/m/": home('<a href="write/">我要写信</a>').encode("gbk"),
    "/m/write/": page(LETTER),
    # n: valid UTF-8 whose text itself is replacement characters (broken at the source): no
    # encoding reads it; whether the site has an entry is not shown by it.
    "/n/": home('<a href="write/">' + "\ufffd" * 4 + "</a>" + "\ufffd" * 200),
    "/n/write/": page(LETTER),
}


HANG_S = 6.0  # a silent answer's delay: longer than one patient try (2 x 2 s) of the journey
QUICK = {"h", "f"}  # sites judged with a 2 s navigation timeout (patient: 4 s) to keep the test short


class Portal:
    def __init__(self) -> None:
        self.posts: Counter[str] = Counter()

    def routes(self) -> dict:
        def reply(html: str | bytes):
            async def handler(request: web.Request) -> web.Response:
                if isinstance(html, bytes):
                    return web.Response(body=html, content_type="text/html", charset="utf-8")
                return web.Response(text=html, content_type="text/html")
            return handler
        async def silent(request: web.Request) -> web.Response:
            await asyncio.sleep(HANG_S)
            return web.Response(text=page("迟到的页面"), content_type="text/html")

        routes = {path: reply(html) for path, html in PAGES.items()}
        routes["/h/"] = silent
        routes["/f/"] = reply(home('<a href="write/">我要写信</a><iframe src="ad/"></iframe>'))
        routes["/f/ad/"] = silent
        return routes

    async def post(self, request: web.Request) -> web.Response:
        site = request.path.strip("/").split("/")[0]
        self.posts[site] += 1
        await request.post()
        return web.Response(text=page("<h2>提交成功！</h2><p>受理编号：A20260001　查询码：x8k2m9</p>"),
                            content_type="text/html")


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portal, str, dict]:
    tmp = tmp_path_factory.mktemp("entry")
    portal = Portal()
    posts = {path: portal.post for path in ("/a/gzcy/post", "/b/zmhd/write/post", "/c/hdjl/post", "/g/zmhd/write/post", "/m/write/post", "/n/write/post")}

    async def run() -> tuple[str, dict]:
        runner, base = await serve(portal.routes(), posts=posts)
        settings = load_settings(None, out=tmp, db=f"sqlite:///{tmp / 'store.db'}",
                                 effectiveness={"captcha_mode": "ocr", "sms_wait_s": 2.0},
                                 browser={"navigation_timeout_s": 10.0})
        ledger = Ledger(Store(settings.db))
        out = {}
        try:
            async with BrowserPool(settings.browser, None, local_site.LOOPBACK) as pool:
                ctx = JourneyContext(settings, pool, tmp / "R", asyncio.Semaphore(4))
                quick = settings.model_copy(update={"browser": settings.browser.model_copy(
                    update={"navigation_timeout_s": 2.0})})
                quick_ctx = JourneyContext(quick, pool, tmp / "R", asyncio.Semaphore(4))
                tools = effectiveness_tools(settings, ctx.round_dir)
                for site in ("a", "b", "c", "g", "m", "n", "h", "f"):
                    hotline = Hotline(hotline_id=site, name=f"{site}12345", province="江苏省", city="南京",
                                      website=f"{base}/{site}/")
                    out[site] = await run_effectiveness(quick_ctx if site in QUICK else ctx, hotline, [], ledger,
                                                        "R", tools=tools)
        finally:
            await runner.cleanup()
        return base, out

    base, results = asyncio.run(run())
    return portal, base, results


@pytest.mark.parametrize("site,entry,via", [
    ("a", "/a/gzcy/", "「公众参与」(页面含诉求表单)"),  # a column whose page holds a letter form drawn by a script
    ("b", "/b/zmhd/write/", "「政民互动」→「我要写信」"),  # a column page that links on to the form by its words
    ("g", "/g/zmhd/", "「政民互动」"),  # a column that is a notice to accept before the form
], ids=["form-drawn-by-script", "links-on-to-the-form", "notice-before-the-form"])
def test_a_column_that_leads_to_a_letter_form_is_the_entry_and_the_case_is_filed(journeys, site, entry, via):
    portal, base, results = journeys
    obs, verdict, _ = results[site]
    assert obs.url == f"{base}{entry}" and obs.entry_found
    assert portal.posts[site] == 1 and obs.filing is not None
    assert via in obs.entry_via and verdict.metrics["entry_via"] == obs.entry_via  # how it was found, kept


def test_a_homepage_in_gbk_that_claims_utf8_is_read_as_gbk_and_the_case_filed(journeys):
    portal, base, results = journeys
    obs, _, _ = results["m"]
    assert obs.url == f"{base}/m/write/" and obs.entry_found and "GB18030" in obs.entry_via
    assert portal.posts["m"] == 1 and obs.filing is not None


@pytest.mark.parametrize("site,verdict,says", [
    # no letter form behind the columns: no entry, and the reason names where it looked
    ("c", "cannot_submit", "互动交流"),
    # words no encoding reads: a page we cannot read is not a page without an entry
    ("n", "needs_review", "乱码"),
    # nothing at all in twice the patient timeout: the site is not answering (its address and
    # the wait are the evidence), as the stability check's probes also find
    ("h", "cannot_submit", "没有任何应答"),
    # the document came, a frame of it hung: the links were there for a person; whether it
    # has an entry is not shown by our timeout
    ("f", "needs_review", "未加载完成"),
], ids=["no-form-behind-columns", "unreadable-homepage", "homepage-never-answers", "homepage-frame-hangs"])
def test_without_an_entry_nothing_is_filed_and_only_a_site_proven_failing_is_blamed(journeys, site, verdict, says):
    portal, _, results = journeys
    obs, judged, _ = results[site]
    assert portal.posts[site] == 0 and not obs.entry_found
    assert judged.verdict == verdict and says in judged.reason, judged
