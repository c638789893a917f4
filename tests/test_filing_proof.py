"""A complaint counts as filed only when the network shows it reached the site (issue 16).

Pages written here the way real portals build them: a two-step wizard whose step indicator
always reads 提交成功 (a label, not a result) and whose last button is broken, so nothing is
ever sent; a wizard that works (contact details, 下一步 with no request, then the letter posted
as JSON and a receipt in a modal); a toast that says 提交成功 without any request; a form whose
request the server answers 500; a form whose answer shows a 提交完成 step above 提交失败. Each runs the whole citizen journey (``run_effectiveness``)
in one browser; the server counts what it received."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from hotline_audit.config import load_settings
from hotline_audit.ledger import Ledger
from hotline_audit.model import Channel, Hotline
from hotline_audit.store import Store
from journeys.browser import BrowserPool
from journeys.effectiveness import effectiveness_tools, run_effectiveness
from journeys.stability import JourneyContext
from tests import local_site

# One module fixture drives every case: one worker runs them all, so it is set up once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("filing_proof")]

STEPS = """<ol class="steps"><li class="on">填写个人信息</li><li>填写诉求内容</li><li>提交成功</li></ol>"""

PAGES = {
    # The trap: 下一步 shows a confirmation whose 提交 button throws before sending anything.
    "trap": STEPS + """<form id="f"><div id="s1">
<p>标　　题：<input name="bt"></p><p>诉求内容：<textarea name="nr"></textarea></p>
<p>姓　　名：<input name="xm"></p><p>手机号码：<input name="sjhm"></p>
<button type="button" onclick="document.getElementById('s1').style.display='none';
document.getElementById('s2').style.display='block'">下一步</button></div>
<div id="s2" style="display:none"><p>请确认以上信息无误后提交。</p>
<button type="button" onclick="undefinedFunction()">提交</button></div></form>""",
    # A wizard that works: contact details, 下一步 (nothing sent), the letter, then fetch JSON.
    "wizard": STEPS + """<form id="f"><div id="s1"><p><label>姓名：<input name="xm"></label></p>
<p><label>联系电话：<input name="lxdh"></label></p><button type="button" id="next">下一步</button></div>
<div id="s2" style="display:none"><p><label>信件标题：<input name="bt"></label></p>
<p><label>信件内容：<textarea name="nr"></textarea></label></p>
<button type="button" id="go">提交</button></div></form><div id="modal"></div>
<script>
const $ = s => document.querySelector(s);
$('#next').onclick = () => { $('#s1').style.display = 'none'; $('#s2').style.display = 'block'; };
$('#go').onclick = async () => {
  const data = Object.fromEntries(new FormData($('#f')));
  const r = await fetch('api/submit', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                        body: JSON.stringify(data)});
  const j = await r.json();
  $('#f').style.display = 'none';
  $('#modal').innerHTML = '<h3>' + j.msg + '</h3><p>受理编号：' + j.data.no + '</p><p>查询码：' + j.data.code + '</p>';
};
</script>""",
    # A toast and nothing else: the page claims success, the network shows no request.
    "toast": """<form id="f"><p>标题 <input name="title"></p><p>内容 <textarea name="content"></textarea></p>
<p>手机 <input name="phone" type="tel"></p>
<button type="button" onclick="document.getElementById('t').textContent='提交成功！'">提交</button></form>
<div id="t" class="toast"></div>""",
    # The site's own refusal: our request reached it and it answered 500.
    "broken": """<form id="f"><p>标题 <input name="title"></p><p>内容 <textarea name="content"></textarea></p>
<p>手机 <input name="phone" type="tel"></p><button type="button" id="go">提交</button></form>
<div class="error-msg" id="err"></div>
<script>
document.getElementById('go').onclick = async () => {
  const r = await fetch('api/submit', {method: 'POST', body: new FormData(document.getElementById('f'))});
  const j = await r.json();
  if (!j.ok) document.getElementById('err').textContent = '提交失败：' + j.msg;
};
</script>""",
    # The letter posted, and the answer a page (200) whose step list now reads 提交完成 above
    # the error 提交失败 (a CMS re-renders its wizard with the message): a refusal, not a receipt.
    "reloaded": """<form method="post" action="api/submit"><p>标题 <input name="title"></p>
<p>内容 <textarea name="content"></textarea></p><p>手机 <input name="phone" type="tel"></p>
<input type="submit" value="提交"></form>""",
}

RELOADED = """<!doctype html><meta charset=utf-8><body><ol class="steps"><li>1 联系方式</li><li>2 诉求信息</li>
<li>3 提交完成</li></ol><div class="msg">提交失败：系统异常，请稍后重试（500）</div>""" + PAGES["reloaded"]


class Portal:
    def __init__(self) -> None:
        self.posts: Counter[str] = Counter()
        self.bodies: dict[str, bytes] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{site}/", self.home)
        app.router.add_get("/{site}/write", self.write)
        app.router.add_post("/{site}/api/submit", self.submit)
        return app

    async def home(self, request: web.Request) -> web.Response:
        return web.Response(text='<meta charset=utf-8><a href="write">我要写信</a>', content_type="text/html")

    async def write(self, request: web.Request) -> web.Response:
        site = request.match_info["site"]
        return web.Response(text=f"<!doctype html><meta charset=utf-8><title>我要写信</title><body>{PAGES[site]}</body>",
                            content_type="text/html")

    async def submit(self, request: web.Request) -> web.Response:
        site = request.match_info["site"]
        self.posts[site] += 1
        self.bodies[site] = await request.read()
        if site == "broken":
            return web.json_response({"ok": False, "msg": "系统异常，请稍后再试"}, status=500)
        if site == "reloaded":
            return web.Response(text=RELOADED, content_type="text/html")
        return web.json_response({"ok": True, "msg": "提交成功", "data": {"no": "WZ20261207001", "code": "k3m9qa"}})


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portal, dict]:
    tmp = tmp_path_factory.mktemp("proof")
    portal = Portal()

    async def run() -> dict:
        runner = web.AppRunner(portal.app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        settings = load_settings(None, out=tmp, db=f"sqlite:///{tmp / 'store.db'}",
                                 effectiveness={"captcha_mode": "ocr", "sms_wait_s": 2.0},
                                 browser={"navigation_timeout_s": 10.0})
        store = Store(settings.db)
        ledger = Ledger(store)
        out = {}
        try:
            async with BrowserPool(settings.browser, None, local_site.LOOPBACK) as pool:
                ctx = JourneyContext(settings, pool, tmp / "R", asyncio.Semaphore(4))
                tools = effectiveness_tools(settings, ctx.round_dir)
                for site in PAGES:
                    hotline = Hotline(hotline_id=site, name=f"{site}12345", province="江苏省", city="南京",
                                      website=f"{base}/{site}/")
                    channels = [Channel(hotline_id=site, kind="submit", value=f"{base}/{site}/write",
                                        found_on="test")]
                    out[site] = await run_effectiveness(ctx, hotline, channels, ledger, "R", tools=tools)
        finally:
            await runner.cleanup()
        return out

    return portal, asyncio.run(run())


def test_a_wizard_step_label_is_never_a_receipt(journeys):
    portal, results = journeys
    obs, verdict, _ = results["trap"]
    assert portal.posts["trap"] == 0
    assert obs.form_accepted is not True and obs.filing is None
    assert verdict.verdict == "needs_review" and "未发出" in verdict.reason


def test_a_toast_without_a_request_is_not_a_filing(journeys):
    portal, results = journeys
    obs, verdict, _ = results["toast"]
    assert portal.posts["toast"] == 0
    assert verdict.verdict == "needs_review" and obs.filing is None


def test_a_working_wizard_is_filed_on_the_evidence_of_its_request(journeys):
    portal, results = journeys
    obs, verdict, _ = results["wizard"]
    assert portal.posts["wizard"] == 1
    sent = json.loads(portal.bodies["wizard"])
    assert sent["bt"] == obs.title and sent["nr"] == obs.body  # the letter reached the site whole
    assert sent["xm"] and sent["lxdh"]  # and the first step's contact details with it
    assert obs.form_accepted is True and obs.receipt["number"] == "WZ20261207001"
    proof = obs.filing
    assert proof is not None and proof.kind == "request" and proof.request is not None
    assert proof.request.method == "POST" and proof.request.status == 200
    assert {"title", "content"} <= set(proof.request.fields)
    assert proof.request.url.endswith("/wizard/api/submit") and proof.request.har
    assert "WZ20261207001" in (proof.said or "")


def test_a_refusal_is_held_against_the_site_only_with_the_request_it_answered(journeys):
    portal, results = journeys
    obs, verdict, evidence = results["broken"]
    assert portal.posts["broken"] == 1
    assert verdict.verdict == "cannot_submit" and verdict.metrics["cannot_reason"] == "表单报错"
    failure = obs.failures[-1]
    assert failure.request is not None and failure.request.status == 500
    assert "HTTP 500" in verdict.reason
    har = failure.request.har
    assert har in verdict.evidence and any(e.path == har for e in evidence)
    assert Path(har).suffix == ".har"


def test_a_success_word_beside_the_sites_error_is_a_refusal_not_a_filing(journeys):
    """Seed 17 lincang: the answer re-rendered the wizard, its 提交完成 step label new on the page
    above 提交失败：系统异常. It was recorded as filed, then judged 无法显示受理进度."""
    portal, results = journeys
    obs, verdict, _ = results["reloaded"]
    assert portal.posts["reloaded"] == 1
    assert obs.filing is None and obs.form_accepted is not True
    assert verdict.verdict == "cannot_submit" and verdict.metrics["cannot_reason"] == "表单报错", verdict
    assert obs.failures[-1].request is not None and "系统异常" in verdict.reason
