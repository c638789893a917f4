"""Forms as real portals build them. Drop-downs drawn by UI kits (layui, Element, a cascader, a
Vant wheel on H5 pages): a read-only input that opens a list somewhere on the page, worked as a
person does. And a form inside a frame from another origin. The pages imitate each kit's markup
and behaviour (no kit is loaded: nothing leaves 127.0.0.1); every case runs in one browser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web

from hotline_audit.config import BrowserSettings, load_settings
from hotline_audit.model import Hotline, SubmissionObservation
from hotline_audit.personas import fake_persona
from journeys.browser import BrowserPool
from journeys.effectiveness import Entry, _Clock, _fill, _reach_form, _Run, _scan, _track_form
from journeys.stability import JourneyContext

from . import local_site

# One module fixture drives every case: one worker runs them all, so it is set up once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("form_widgets")]

BASE_FORM = """<!doctype html><meta charset=utf-8><title>{name}</title>
<style>.hidden {{ display: none }} li, dd {{ cursor: pointer; padding: 2px }}</style>
<form id=f><p><label>姓名 <input name=name></label></p>
<p><label>诉求内容 <textarea name=content></textarea></label></p>
{widget}
<button type=submit>提交</button></form>
<script>
const $ = s => document.querySelector(s), $$ = s => [...document.querySelectorAll(s)];
const show = (el, on) => el.classList.toggle('hidden', !on);
{script}
</script>"""

WIDGETS = {
    # layui: the real <select> is hidden; a title input and a <dl> of <dd> stand in for it
    "layui": ("""<div class="layui-form-item"><label class="layui-form-label">诉求类型</label>
<div class="layui-input-block"><select name="type" lay-verify="required" style="display:none">
<option value="">请选择</option><option>咨询</option><option>投诉</option><option>建议</option></select>
<div class="layui-unselect layui-form-select"><div class="layui-select-title">
<input type="text" placeholder="请选择" readonly class="layui-input layui-unselect"></div>
<dl class="layui-anim hidden"><dd lay-value="" class="layui-select-tips">请选择</dd><dd lay-value="咨询">咨询</dd>
<dd lay-value="投诉">投诉</dd><dd lay-value="建议">建议</dd></dl></div></div></div>""",
              """$('.layui-select-title').onclick = () => show($('dl'), true);
$$('dd').forEach(dd => dd.onclick = () => { $('select').value = dd.getAttribute('lay-value');
  $('.layui-select-title input').value = dd.getAttribute('lay-value') ? dd.textContent : ''; show($('dl'), false); });"""),
    # Element: the list is drawn into <body>, far from the field, after a moment; one item disabled
    "element": ("""<div class="el-form-item is-required"><label class="el-form-item__label">所属区县</label>
<div class="el-form-item__content"><div class="el-select"><div class="el-input">
<input readonly placeholder="请选择" class="el-input__inner"></div></div></div></div>""",
                """$('.el-select').onclick = () => setTimeout(() => {
  if ($('.el-select-dropdown')) return;
  const d = document.createElement('div'); d.className = 'el-select-dropdown el-popper';
  d.innerHTML = '<ul><li class="el-select-dropdown__item is-disabled">暂不可选</li>'
    + '<li class="el-select-dropdown__item">玄武区</li><li class="el-select-dropdown__item">秦淮区</li></ul>';
  document.body.append(d);
  d.querySelectorAll('li').forEach(li => li.onclick = () => {
    if (li.classList.contains('is-disabled')) return;
    $('.el-input__inner').value = li.textContent; d.remove(); });
}, 300);"""),
    # a cascader: one column per level, the value is set at the last one
    "cascader": ("""<div class="form-item"><label>事发地点 *</label><div class="el-cascader">
<input readonly placeholder="请选择省/市/区"></div></div><div class="el-cascader-panel hidden"></div>""",
                 """const tree = {'江苏省': {'南京市': ['玄武区', '秦淮区'], '苏州市': ['姑苏区']}, '浙江省': {'杭州市': ['西湖区']}};
const panel = $('.el-cascader-panel'), path = [];
const column = (items) => { const ul = document.createElement('ul'); ul.className = 'el-cascader-menu';
  for (const name of items) { const li = document.createElement('li'); li.className = 'el-cascader-node';
    li.textContent = name; li.onclick = () => pick(ul, name); ul.append(li); }
  panel.append(ul); };
const pick = (ul, name) => { while (ul.nextSibling) ul.nextSibling.remove();
  path.length = [...panel.children].indexOf(ul); path.push(name);
  let node = tree; for (const p of path) node = node[p];
  if (Array.isArray(node) || typeof node === 'object' && !Array.isArray(node)) column(Array.isArray(node) ? node : Object.keys(node));
  if (path.length === 3) { $('.el-cascader input').value = path.join('/'); show(panel, false); } };
$('.el-cascader').onclick = () => { panel.innerHTML = ''; show(panel, true); column(Object.keys(tree)); };"""),
    # Vant on a phone: a wheel in a popup; tapping an item only highlights it, 确认 sets the value
    "vant": ("""<div class="van-cell van-field"><div class="van-field__label">&nbsp;</div>
<div class="van-field__value"><div class="van-field__body">
<input readonly placeholder="请选择反映类型" class="van-field__control"></div></div></div>
<div class="van-popup hidden"><div class="van-picker__toolbar"><button type=button class="van-picker__cancel">取消</button>
<button type=button class="van-picker__confirm">确认</button></div>
<ul class="van-picker-column"><li class="van-picker-column__item">咨询</li><li class="van-picker-column__item">投诉</li>
<li class="van-picker-column__item">建议</li></ul></div>""",
             """let active = '咨询';
$('.van-field__body').onclick = () => show($('.van-popup'), true);
$$('.van-picker-column__item').forEach(li => li.onclick = () => { active = li.textContent; });
$('.van-picker__confirm').onclick = () => { $('.van-field__control').value = active; show($('.van-popup'), false); };"""),
    # a drop-down whose list never comes: nothing chosen, nothing left open, no error
    "dead": ("""<div class="form-item"><label>所属街道 *</label><div class="x-select">
<input readonly placeholder="请选择"></div></div>""", ""),
}

READ = {  # what the form would send, read off the page
    "layui": "() => [document.querySelector('select').value, document.querySelector('.layui-select-title input').value]",
    "element": "() => [document.querySelector('.el-input__inner').value, document.querySelectorAll('.el-select-dropdown').length]",
    "cascader": "() => [document.querySelector('.el-cascader input').value, document.querySelector('.el-cascader-panel').className]",
    "vant": "() => [document.querySelector('.van-field__control').value, document.querySelector('.van-popup').className]",
    "dead": "() => [document.querySelector('.x-select input').value, document.activeElement.tagName]",
}


# A CMS page that frames its form, from another origin (localhost vs 127.0.0.1), among other frames.
FRAMED = """<!doctype html><meta charset=utf-8><title>我要写信</title><h1>我要写信</h1>
<iframe src="about:blank"></iframe><iframe src="{base}/banner"></iframe>
<iframe src="{other}/layui" width=600 height=400></iframe>"""
BANNER = "<!doctype html><p>欢迎访问 <form><input name=q><button>搜索</button></form>"
TRACK_FRAMED = """<!doctype html><meta charset=utf-8><title>办件查询</title><h1>办件查询</h1>
<iframe src="{base}/banner"></iframe><iframe src="{other}/track" width=600 height=300></iframe>"""
# 写信须知: tick the box, wait for the countdown, press 下一步 (which goes to the form by script).
NOTICE = """<!doctype html><meta charset=utf-8><title>写信须知</title><h1>写信须知</h1>
<p>一、请如实反映问题……</p><label><input type=checkbox id=ok> 我已阅读并同意《写信须知》</label>
<button type=button id=go disabled>下一步(2)</button><a href="/">返回首页</a>
<script>let n = 2; const go = document.getElementById('go');
const tick = setInterval(() => { n--; go.textContent = n > 0 ? '下一步(' + n + ')' : '下一步';
  if (n <= 0) { clearInterval(tick); go.disabled = false; } }, 1000);
go.onclick = () => { if (document.getElementById('ok').checked) location.href = '/layui'; };</script>"""
# A list of letters whose 我要写信 opens the form in a new window.
LETTERS = """<!doctype html><meta charset=utf-8><title>网上信箱</title><a href="/track">信件查询</a>
<table><tr><td>关于路灯的问题</td><td>已办结</td></tr></table>
<a class=btn href="/notice" target=_blank>我要写信</a>"""
TRACK = """<!doctype html><meta charset=utf-8><form><label>受理编号 <input name=no></label>
<label>查询码 <input name=code></label><button type=submit>查询</button></form>"""


async def reach_framed(pool: BrowserPool, base: str, tmp: Path) -> tuple:
    settings = load_settings(None, out=tmp)
    ctx = JourneyContext(settings=settings, browser=pool, round_dir=tmp, probe_limiter=asyncio.Semaphore(1))
    hotline = Hotline(hotline_id="framed", name="框架12345", province="江苏省", city="南京")
    run = _Run(ctx, hotline, fake_persona(), SubmissionObservation(hotline_id="framed"), _Clock(None))
    async with pool.tab() as tab:
        run.tab = tab
        await tab.page.goto(f"{base}/framed")
        scan = await _reach_form(run, Entry(f"{base}/framed", False, base), None, None)  # type: ignore[arg-type]
        form_url = tab.page.url
        await tab.page.goto(f"{base}/track-framed")
        track = await _track_form(run)
        track_url = tab.page.url
        await tab.page.goto(f"{base}/letters")  # list -> 须知 (new window) -> form
        gated = await _reach_form(run, Entry(f"{base}/letters", False, base), None, None)  # type: ignore[arg-type]
        return (scan.kind if scan else None), form_url, track, track_url, (gated.kind if gated else None), tab.page.url


STATIC = {"banner": BANNER, "track": TRACK, "notice": NOTICE, "letters": LETTERS}
FRAMING = {"framed": FRAMED, "track-framed": TRACK_FRAMED}


async def run_all(tmp: Path) -> dict[str, object]:
    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in FRAMING:  # the framed page from the other origin
            text = FRAMING[name].format(base=base, other=base.replace("127.0.0.1", "localhost"))
        elif name in STATIC:
            text = STATIC[name]
        else:
            widget, script = WIDGETS[name]
            text = BASE_FORM.format(name=name, widget=widget, script=script)
        return web.Response(text=text, content_type="text/html")

    runner, base = await local_site.serve({"/{name}": page})
    out: dict[str, object] = {}
    try:
        async with BrowserPool(BrowserSettings(contexts=1), network=local_site.LOOPBACK) as pool:
            for name in WIDGETS:
                async with pool.tab(mobile=name == "vant") as tab:
                    await tab.page.goto(f"{base}/{name}")
                    run = SimpleNamespace(page=tab.page, obs=SimpleNamespace(case_type="投诉"))
                    scan = await _scan(run)
                    await _fill(run, scan, {"name": "测试", "content": "小区路灯已经坏了一周，晚上出行不便。"})
                    pickers = [(f["kind"], f["required"]) for f in scan.fields if f.get("picker")]
                    out[name] = (pickers, await tab.page.evaluate(READ[name]),
                                 await tab.page.input_value('[name="name"]'))
            out["framed"] = await reach_framed(pool, base, tmp)
    finally:
        await runner.cleanup()
    return out


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return asyncio.run(run_all(tmp_path_factory.mktemp("widgets")))


def test_layui_select_takes_the_case_type(filled):
    pickers, (hidden, shown), name = filled["layui"]
    assert pickers == [("case_type", True)]  # one field, not the hidden <select> as well
    assert hidden == "投诉" and shown == "投诉" and name == "测试"


def test_element_list_drawn_into_body_later_skips_the_disabled_item(filled):
    pickers, (value, open_lists), _ = filled["element"]
    assert pickers == [("select", True)]  # required by the kit's is-required class
    assert value == "玄武区" and open_lists == 0


def test_cascader_is_walked_column_by_column(filled):
    pickers, (value, panel), _ = filled["cascader"]
    assert pickers == [("select", True)]
    assert value == "江苏省/南京市/玄武区" and "hidden" in panel


def test_vant_wheel_is_confirmed(filled):
    pickers, (value, popup), _ = filled["vant"]
    assert pickers == [("case_type", False)]  # the placeholder names it 反映类型
    assert value == "投诉" and "hidden" in popup


def test_a_list_that_never_opens_leaves_the_field_empty(filled):
    pickers, (value, _), name = filled["dead"]
    assert pickers == [("select", True)] and value == "" and name == "测试"


def test_a_framed_form_is_opened_on_its_own(filled):
    """The form lives in a frame from another origin; the search box in another frame is not it."""
    kind, url, *_ = filled["framed"]
    assert kind == "form" and url.startswith("http://localhost:") and url.endswith("/layui")


def test_a_framed_tracking_form_is_opened_on_its_own(filled):
    _, _, track, url, *_ = filled["framed"]
    assert track["number"] and track["code"] and track["button"]
    assert url.startswith("http://localhost:") and url.endswith("/track")


def test_pages_before_the_form_are_clicked_through(filled):
    """A letters list's 我要写信 (a new window, opened here), then 写信须知: the box ticked and
    the 下一步 countdown waited out."""
    *_, kind, url = filled["framed"]
    assert kind == "form" and url.endswith("/layui")
