"""Forms read as a person reads them (``citizen_js.SCAN_FORM`` and ``effectiveness._fill``) on
pages written here, in the ways real portals write them: labels in a table cell padded with
full-width spaces, starred, with either colon; labels only as text beside the box; only
placeholders; field names as pinyin initials or ASP.NET server-control names and no label at
all; radios each with their own words (also hidden under a UI kit's drawing); a select whose
change posts the page back and loses what was typed. Every case runs in one browser."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiohttp import web

from hotline_audit.config import BrowserSettings
from journeys.browser import BrowserPool
from journeys.effectiveness import _fill, _option_for, _scan
from tests import local_site

# One module fixture drives every case: one worker runs them all, so it is set up once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("form_reading")]

PAGE = "<!doctype html><meta charset=utf-8><title>{name}</title><h2>我要写信</h2>{body}"

# Labels in the previous cell: padded with U+3000 or &emsp;, starred before or after, with a
# full-width or a plain colon; opaque names (f1 …) say nothing. The case type as radios whose
# group label sits in the cell before them, the first one ticked already; a 是否公开 group.
TABLE = """<form method=post action=/done><table>
<tr><td align=right><span class=red>*</span>姓\u3000\u3000名：</td><td><input name=f1></td></tr>
<tr><td>联系电话<font color=red>*</font>:</td><td><input name=f2></td></tr>
<tr><td>标&emsp;&emsp;题</td><td><input name=f3></td></tr>
<tr><td>信件类别：</td><td><input type=radio name=f4 value=1 checked>咨询&nbsp;<input type=radio name=f4 value=2>投诉举报&nbsp;
  <input type=radio name=f4 value=3>意见建议</td></tr>
<tr><td>*来信内容</td><td><textarea name=f5></textarea></td></tr>
<tr><td>是否公开</td><td><label><input type=radio name=f6 value=1>是</label><label><input type=radio name=f6 value=0>否</label></td></tr>
</table><div class=line><span class=req>*</span>事\u3000发\u3000地\u3000点：<input name=f7></div>
<button type=submit>提 交</button></form>"""

# No label anywhere: the names say it (pinyin initials), a select of case types says it by its
# options; a captcha box named yzm beside its image.
NAMES = """<form method=post action=/done><p><input name=xm></p><p><input name=sjhm></p><p><input name=bt></p>
<p><textarea name=nr></textarea></p><p><input name=sfdz></p>
<p><select name=f9><option value="">--请选择--</option><option value=a>咨询</option><option value=b>投诉</option>
<option value=c>求助</option></select></p><p><input name=yzm><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width=60 height=20></p>
<input type=submit value="提交"></form>"""

# ASP.NET server controls: the label is an <asp:Label> span in a cell; the names carry prefixes.
ASPNET = """<form method=post action="./Default.aspx" id=form1><input type=hidden name=__VIEWSTATE value=x>
<table><tr><td><span id=lblA>*联 系 人</span></td><td><input name="ctl00$ContentPlaceHolder1$txtLxr" id="ctl00_ContentPlaceHolder1_txtLxr"></td></tr>
<tr><td></td><td><input name="ctl00$ContentPlaceHolder1$txtLxdh"></td></tr>
<tr><td></td><td><input name="ctl00$ContentPlaceHolder1$txtBt"></td></tr>
<tr><td>问题分类</td><td><table id=rbl><tr><td><input id=rbl_0 type=radio name="ctl00$ContentPlaceHolder1$rblLx" value=1><label for=rbl_0>咨询</label></td>
<td><input id=rbl_1 type=radio name="ctl00$ContentPlaceHolder1$rblLx" value=2><label for=rbl_1>求助</label></td>
<td><input id=rbl_2 type=radio name="ctl00$ContentPlaceHolder1$rblLx" value=3><label for=rbl_2>投诉</label></td></tr></table></td></tr>
<tr><td>内　　容</td><td><textarea name="ctl00$ContentPlaceHolder1$txtNr"></textarea></td></tr></table>
<input type=submit name="ctl00$ContentPlaceHolder1$btnSubmit" value="提 交"></form>"""

# Radios a UI kit draws over: Element's el-radio__original sits under its drawing; layui hides
# the input and draws a box after it. The group label is the kit item's.
KITS = """<style>.el-radio__input{position:relative;display:inline-block;width:14px;height:14px}
.el-radio__inner{display:inline-block;width:14px;height:14px;border:1px solid #999}
.el-radio__original{opacity:0;position:absolute;z-index:-1;top:0;left:0;right:0;bottom:0;margin:0}</style>
<div class=el-form><div class="el-form-item is-required"><label class=el-form-item__label>反映类型</label>
<div class=el-form-item__content><div class=el-radio-group role=radiogroup>
<label class=el-radio><span class=el-radio__input><span class=el-radio__inner></span><input type=radio class=el-radio__original name=lx value=zx></span><span class=el-radio__label>咨询</span></label>
<label class=el-radio><span class=el-radio__input><span class=el-radio__inner></span><input type=radio class=el-radio__original name=lx value=ts></span><span class=el-radio__label>投诉</span></label>
</div></div></div>
<div class=el-form-item><label class=el-form-item__label>标题</label><div class=el-form-item__content><input class=el-input__inner name=title></div></div>
<div class=el-form-item><label class=el-form-item__label>内容</label><div class=el-form-item__content><textarea name=content></textarea></div></div></div>"""
LAYUI = """<style>.layui-form input[type=radio]{display:none}</style><form class=layui-form><div class=layui-form-item><label class=layui-form-label>诉求类型</label><div class=layui-input-block>
<input type=radio name=sqlx value=1 title=咨询><div class="layui-unselect layui-form-radio"><i>○</i><div>咨询</div></div>
<input type=radio name=sqlx value=2 title=建议><div class="layui-unselect layui-form-radio"><i>○</i><div>建议</div></div>
</div></div><div class=layui-form-item><label class=layui-form-label>留言内容</label><div class=layui-input-block>
<textarea name=lynr class=layui-textarea></textarea></div></div>
<div class=layui-form-item><label class=layui-form-label>主题</label><div class=layui-input-block><input name=zt class=layui-input></div></div></form>
<script>document.querySelectorAll('.layui-form-radio').forEach(d => d.onclick = () => { d.previousElementSibling.checked = true; });</script>"""

# A postback: choosing 所属区县 posts the form, and the page comes back with 所属街道 to choose
# and the typed text gone (as on some WebForms portals).
POSTBACK = """<form method=post action="/postback?agree=1" id=form1>
<input type=hidden name=__EVENTTARGET value=""><input type=hidden name=__VIEWSTATE value="{state}">
<table><tr><td>姓　　名</td><td><input name=txtXm value="{name}"></td></tr>
<tr><td>所属区县</td><td><select name=ddlQx onchange="document.forms.form1.__EVENTTARGET.value='ddlQx';document.forms.form1.submit()">
<option value="">请选择</option>{districts}</select></td></tr>{street}
<tr><td>标　　题</td><td><input name=txtBt value="{title}"></td></tr>
<tr><td>诉求内容</td><td><textarea name=txtNr>{content}</textarea></td></tr></table>
<input type=submit name=btnSubmit value="提 交"></form>"""
DISTRICTS = ("玄武区", "秦淮区")

VALUES = {"name": "测试用户", "phone": "17012345678", "title": "小区路灯不亮",
          "content": "幸福路路灯已经连续一周不亮，夜间出行很不安全。", "address": "城南片区幸福路"}


# What the page would send: text as typed, a select's chosen words, each radio as name=value.
READ = """() => Object.fromEntries([...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
  .map(e => e.type === 'radio' ? [e.name + '=' + e.value, e.checked]
    : [e.name, e.tagName === 'SELECT' ? (e.selectedIndex > 0 ? e.options[e.selectedIndex].text : '') : e.value]))"""


def postback_page(posted: dict[str, str], posts: list[dict[str, str]]) -> str:
    district = posted.get("ddlQx", "")
    options = "".join(f'<option{" selected" if d == district else ""}>{d}</option>' for d in DISTRICTS)
    street = ""
    if district:
        streets = "".join(f"<option>{district[:-1]}{s}街道</option>" for s in ("东", "西"))
        street = f"<tr><td>所属街道</td><td><select name=ddlJd><option value=''>请选择</option>{streets}</select></td></tr>"
    return POSTBACK.format(state=len(posts), name="", title="", content="", districts=options, street=street)


async def read_all(tmp_path) -> dict[str, object]:
    posts: list[dict[str, str]] = []

    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "postback":
            posted = {k: str(v) for k, v in (await request.post()).items()} if request.method == "POST" else {}
            if posted:
                posts.append(posted)
            body = postback_page(posted, posts)
        else:
            body = {"table": TABLE, "names": NAMES, "aspnet": ASPNET, "element": KITS, "layui": LAYUI}[name]
        return web.Response(text=PAGE.format(name=name, body=body), content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{name}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    out: dict[str, object] = {}
    try:
        async with BrowserPool(BrowserSettings(contexts=1), network=local_site.LOOPBACK) as pool:
            for name, case_type in (("table", "投诉"), ("names", "求助"), ("aspnet", "投诉"), ("element", "投诉"),
                                    ("layui", "投诉"),
                                    ("postback", "咨询")):
                async with pool.tab() as tab:
                    await tab.page.goto(f"{base}/{name}")
                    run = SimpleNamespace(page=tab.page, obs=SimpleNamespace(case_type=case_type))
                    scan = await _scan(run)
                    after = await _fill(run, scan, VALUES)
                    filled = await tab.page.evaluate(READ)
                    out[name] = (scan, after, filled)
    finally:
        await runner.cleanup()
    out["posts"] = posts
    return out


@pytest.fixture(scope="module")
def read(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return asyncio.run(read_all(tmp_path_factory.mktemp("reading")))


def kinds(scan) -> dict[str, str]:
    return {f["name"]: f["kind"] for f in scan.fields if f["kind"] != "radio"}


def test_labels_padded_with_full_width_spaces_starred_and_coloned_are_read(read):
    scan, _, filled = read["table"]
    assert kinds(scan) == {"f1": "name", "f2": "phone", "f3": "title", "f5": "content", "f7": "address"}
    assert filled["f1"] == "测试用户" and filled["f3"] == "小区路灯不亮" and filled["f7"] == "城南片区幸福路"
    required = {f["name"]: f["required"] for f in scan.fields}
    assert required["f1"] and required["f2"] and not required["f3"]


def test_radios_follow_the_scenario_by_their_own_words(read):
    """The group's label (信件类别) is not any radio's: 投诉举报 is ticked for a 投诉, although
    咨询 came ticked; a group that asks something else (是否公开) gets one answer."""
    scan, _, filled = read["table"]
    radios = [f for f in scan.fields if f["kind"] == "radio"]
    assert [f["label"] for f in radios if f["name"] == "f4"] == ["咨询", "投诉举报", "意见建议"]
    assert all(f["caseGroup"] for f in radios if f["name"] == "f4")
    assert not any(f["caseGroup"] for f in radios if f["name"] == "f6")
    labels = {f["label"]: f for f in radios}
    assert "信件类别" in labels["咨询"]["groupLabel"] and "是否公开" in labels["是"]["groupLabel"]
    assert (filled["f4=1"], filled["f4=2"], filled["f4=3"]) == (False, True, False)
    assert (filled["f6=1"], filled["f6=0"]) == (True, False)


def test_radios_a_kit_draws_over_are_ticked_where_a_person_clicks(read):
    scan, _, filled = read["element"]
    assert kinds(scan) == {"title": "title", "content": "content"}
    assert (filled["lx=zx"], filled["lx=ts"]) == (False, True)  # under the kit's drawing
    assert "反映类型" in next(f["groupLabel"] for f in scan.fields if f["kind"] == "radio")
    scan, _, filled = read["layui"]
    assert kinds(scan) == {"lynr": "content", "zt": "title"}
    # layui hides the input and draws a box after it; no 投诉 offered, so the first one
    assert (filled["sqlx=1"], filled["sqlx=2"]) == (True, False)
    assert "诉求类型" in next(f["groupLabel"] for f in scan.fields if f["kind"] == "radio")


def test_field_names_speak_when_no_label_does(read):
    scan, _, filled = read["names"]
    assert kinds(scan) == {"xm": "name", "sjhm": "phone", "bt": "title", "nr": "content", "sfdz": "address",
                           "f9": "case_type", "yzm": "captcha"}
    assert filled["f9"] == "求助" and filled["sjhm"] == VALUES["phone"] and filled["yzm"] == ""


def test_aspnet_server_control_names_and_radio_lists(read):
    scan, _, filled = read["aspnet"]
    assert kinds(scan) == {"ctl00$ContentPlaceHolder1$txtLxr": "name", "ctl00$ContentPlaceHolder1$txtLxdh": "phone",
                           "ctl00$ContentPlaceHolder1$txtBt": "title", "ctl00$ContentPlaceHolder1$txtNr": "content"}
    assert filled["ctl00$ContentPlaceHolder1$txtLxr"] == "测试用户"
    radios = [f for f in scan.fields if f["kind"] == "radio"]
    assert [f["label"] for f in radios] == ["咨询", "求助", "投诉"] and all(f["caseGroup"] for f in radios)
    assert "问题分类" in radios[0]["groupLabel"]
    assert [filled[f"ctl00$ContentPlaceHolder1$rblLx={v}"] for v in (1, 2, 3)] == [False, False, True]


def test_option_for_reads_options_as_a_person_does():
    assert _option_for(["咨　询", "投　诉", "建　议"], "投诉") == "投　诉"
    assert _option_for(["咨询", "投诉举报", "意见建议"], "建议") == "意见建议"
    assert _option_for(["咨询", "投诉", "建议"], "求助") == "投诉"  # no 求助 here: the nearest
    assert _option_for(["表扬", "其他"], "咨询") is None


def test_a_postback_select_reloads_the_page_and_the_form_is_filled_again(read):
    """Choosing 所属区县 posts the page back once; the new page brings 所属街道 and has lost the
    text: both are found and filled again, and nothing is chosen twice."""
    _, after, filled = read["postback"]
    posts = read["posts"]
    assert len(posts) == 1 and posts[0]["__EVENTTARGET"] == "ddlQx"
    assert filled["txtXm"] == "测试用户" and filled["txtBt"] == "小区路灯不亮" and filled["txtNr"].startswith("幸福路")
    assert filled["ddlQx"] == "玄武区" and filled["ddlJd"] == "玄武东街道"
    assert after.kind == "form" and any(f["name"] == "ddlJd" for f in after.fields)
