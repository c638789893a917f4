"""The citizen flow of simweb, driven over HTTP in-process (so the test can read captchas the
way an operator would read the image): every effectiveness stage fails as labelled."""

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from aiohttp.test_utils import TestServer
from parsel import Selector

from fixtures.simweb import build_population
from fixtures.simweb.citizen import FLOW_PATHS, LATE_SMS_S
from fixtures.simweb.forms import ASPNET_PREFIX, form_style
from fixtures.simweb.layouts import LAYOUTS
from fixtures.simweb.population import DEAD_TRAITS
from fixtures.simweb.server import SimWeb

PORTALS = [p for p in build_population() if p.host and p.trait not in (*DEAD_TRAITS, "slow", "js_challenge", "flapping")]
WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"
PHONE = "13800138000"
COMPLAINT = {"category": "投诉", "title": "小区门口路灯不亮", "content": "幸福路与和平路交叉口的路灯已经连续一周不亮，夜间行人很不安全。",
             "address": "幸福路88号", "name": "测试用户"}


def pick(**want):
    return next(p for p in PORTALS if all(getattr(p, k) == v for k, v in want.items()))


class Citizen:
    """A person with a phone, using one portal through simweb's proxy: reads the form of the
    portal's family (names, hidden fields, captcha kind) off the page and posts it as a
    browser would (a form post, a postback, JSON)."""

    def __init__(self, sim, client, p):
        self.sim, self.client, self.p = sim, client, p
        self.template = "h5" if p.submit_via == "h5" else p.template
        self.layout = LAYOUTS[self.template]
        self.fs = form_style(p, self.template)
        self.base = f"http://{p.h5_host if p.submit_via == 'h5' else p.host}"
        self.form_base = f"http://{self.fs.platform_host}" if self.fs.family == "framed" else self.base
        self.flow = self.form_base + FLOW_PATHS[self.template]

    @property
    def form_url(self):
        return self.form_base + (self.fs.platform_path if self.fs.family == "framed" else self.layout.submit)

    async def sms_code(self, wait_s=0.0):
        await asyncio.sleep(wait_s)
        messages = self.sim.citizens.desk.sms_for(PHONE)
        codes = re.findall(r"验证码为(\d{6})", messages[-1]["text"]) if messages else []
        return codes[-1] if codes else None

    async def register_and_login(self, wait_s=0.0):
        await self.client.post(self.flow + "sms", data={"phone": PHONE})
        code = await self.sms_code(wait_s)
        if code is None:
            return "收不到验证码"
        r = await self.client.post(self.flow + "register",
                                   data={"name": "测试用户", "phone": PHONE, "code": code, "password": "secret123"})
        if r.status_code != 302:
            return "注册失败" if "注册失败" in r.text else r.text[-300:]
        r = await self.client.post(self.flow + "login", data={"phone": PHONE, "password": "secret123"})
        assert r.status_code == 302
        return None

    async def sign_in(self):
        """An account where the portal asks for one (waiting out a late SMS code)."""
        if self.p.needs_login:
            assert await self.register_and_login(LATE_SMS_S + 0.5 if self.p.sms == "late" else 0.0) is None

    async def open_form(self):
        """(address, page) of the form, past the 须知 page as a person would."""
        url = self.form_url
        page = await self.client.get(url)
        gate = self.fs.gate
        if gate is not None and gate.kind != "modal":
            assert gate.title in page.text and "<form method=\"post\" class=\"letter-form\"" not in page.text
            if gate.kind == "form":
                r = await self.client.post(url, data={"gate": "1", "agree": "1"})
                assert r.status_code == 302
            else:
                url += f"?{gate.param}=1"
            page = await self.client.get(url)
        assert page.status_code == 200, page.text[:300]
        return url, page

    async def captcha_fields(self, html, answer_captcha):
        fs, desk = self.fs, self.sim.citizens.desk
        if fs.captcha == "image":
            img = await self.client.get(self.flow + fs.captcha_path)
            assert img.headers["content-type"] == "image/png"
            answer = desk.captchas.get(self.client.cookies.get("SIMCAPTCHA"), "")
            return {fs.name_of("captcha"): answer if answer_captcha else "XXXX"}
        if fs.captcha == "base64":
            got = (await self.client.get(self.flow + "captcha.json")).json()
            assert got["img"].startswith("data:image/png;base64,")
            answer = desk.captchas[got["key"]]
            return {fs.name_of("captcha"): answer if answer_captcha else "XXXX", "captchaKey": got["key"]}
        if fs.captcha == "slider":
            key = re.search(r'(?:data-key="|"slider": ")([0-9a-f]+)"', html).group(1)
            gap = desk.sliders[key]
            track = [[round(gap * i / 10), 300 + i % 3, 1000 + 40 * i] for i in range(11)]
            r = (await self.client.post(self.flow + "slider.json", json={"key": key, "x": gap, "track": track})).json()
            return {"slideToken": r.get("token", "") if answer_captcha else ""}
        return {}

    async def submit(self, answer_captcha=True, category="投诉", drop=()):
        fs = self.fs
        url, page = await self.open_form()
        html = page.text
        values = dict(COMPLAINT, phone=PHONE)
        option = next(o for o in (category, *fs.case_options) if o in fs.case_options)
        data = {fs.name_of(k): v for k, v in values.items() if k in fs.fields and k != "category"}
        data[fs.name_of("category")] = fs.case_values[fs.case_options.index(option)]
        if fs.open_options:
            data[fs.name_of("open")] = "0"
        if fs.pledge:
            data[fs.name_of("agree")] = "1"
        if fs.family == "ajax":
            data.update(await self.captcha_fields(html, answer_captcha))
            for k in drop:
                data.pop(fs.name_of(k), None)
            return await self.client.post(self.flow + "api/letter", json=data)
        hidden = hidden_inputs(html)
        if fs.family == "postback":  # a select's postback brings the fields that depend on it
            target = fs.postback_on
            if target == "district":
                data[fs.name_of("district")] = Selector(html).xpath(
                    f"//select[@name='{fs.name_of('district')}']/option[@value!='']/@value").get()
            back = await self.client.post(url, data={**hidden, **data, "__EVENTTARGET": fs.name_of(target)})
            assert back.status_code == 200 and "提交成功" not in back.text
            html = back.text
            dependent = "street" if target == "district" else "subtype"
            data[fs.name_of(dependent)] = Selector(html).xpath(
                f"//select[@name='{fs.name_of(dependent)}']/option[@value!='']/@value").get()
            data[ASPNET_PREFIX + "btnSubmit"] = fs.submit_word
        hidden = hidden_inputs(html)
        data = {**hidden, **data, **await self.captcha_fields(html, answer_captcha)}
        for k in drop:
            data.pop(fs.name_of(k), None)
        return await self.client.post(url, data=data)

    async def track(self, number, code):
        return await self.client.get(self.base + self.layout.track, params={"no": number, "code": code})


async def with_citizen(p, body):
    sim = SimWeb(build_population())
    server = TestServer(sim.app(), host="127.0.0.1")
    await server.start_server()
    try:
        async with httpx.AsyncClient(proxy=str(server.make_url("")), trust_env=False, timeout=30,
                                     headers={"User-Agent": WECHAT_UA}) as client:
            return await body(sim, Citizen(sim, client, p))
    finally:
        await server.close()


def hidden_inputs(html):
    return {i.attrib.get("name", ""): i.attrib.get("value", "") for i in Selector(html).css("input[type=hidden]")}


def receipt(r):
    """(case number, query code) from a receipt page or a JSON answer."""
    if r.headers.get("content-type", "").startswith("application/json"):
        data = r.json().get("data") or {}
        return (data["caseNo"], data["queryCode"]) if data else None
    number = re.search(r'class="case-no">([^<]+)<', r.text)
    code = re.search(r'class="query-code">([^<]+)<', r.text)
    return (number.group(1), code.group(1)) if number and code else None


def refusal(r):
    return r.json().get("msg", "") if r.headers.get("content-type", "").startswith("application/json") else r.text


@pytest.mark.parametrize("stage", ["solved", "not_solved", "no_reply", "no_progress"])
def test_submittable_portals_reply_as_labelled(stage):
    p = pick(effectiveness=stage, needs_login=True, sms="prompt")

    async def body(sim, c):
        assert await c.register_and_login() is None
        r = await c.submit()
        got = receipt(r)
        assert got, r.text[-500:]
        first = (await c.track(*got)).text
        assert ("暂无该件办理信息" in first) == (stage == "no_progress")
        sim.clock.advance(30)
        later = (await c.track(*got)).text
        assert ("已办结" in later) == (stage in ("solved", "not_solved"))
        if stage == "solved":
            assert "问题已解决" in later
        if stage == "not_solved":
            assert "联系电话" in later and "问题已解决" not in later
        cases = [case for case in sim.citizens.desk.cases if case.hotline_id == p.hotline_id]
        assert len(cases) == 1

    asyncio.run(with_citizen(p, body))


def test_reply_arrives_after_the_labelled_working_days():
    p = pick(effectiveness="solved", needs_login=False, captcha="none")

    async def body(sim, c):
        got = receipt(await c.submit())
        created = sim.citizens.desk.cases[-1].created
        from hotline_audit.workdays import add_workdays
        due = add_workdays(created.date(), p.reply_days)
        sim.clock.set(created + timedelta(days=(due - created.date()).days - 1))
        assert "已办结" not in (await c.track(*got)).text
        sim.clock.set(created + timedelta(days=(due - created.date()).days))
        assert "已办结" in (await c.track(*got)).text

    asyncio.run(with_citizen(p, body))


@pytest.mark.parametrize("reason", ["注册失败", "收不到验证码", "验证码", "表单报错", "无提交入口"])
def test_cannot_submit_for_the_labelled_reason(reason):
    p = pick(effectiveness="cannot_submit", cannot_reason=reason)

    async def body(sim, c):
        if reason == "无提交入口":
            home = (await c.client.get(p.website or p.h5)).text
            assert LAYOUTS[p.template].submit not in home
            return
        if p.needs_login:
            problem = await c.register_and_login()
            if reason in ("注册失败", "收不到验证码"):
                assert problem == reason
                return
            assert problem is None
        r = await c.submit()
        assert receipt(r) is None
        assert ("验证码错误" in refusal(r)) if reason == "验证码" else ("系统异常" in refusal(r))
        assert not sim.citizens.desk.cases

    asyncio.run(with_citizen(p, body))


def test_form_validation_errors_and_wrong_captcha():
    p = pick(captcha="image", needs_login=False, effectiveness="solved")

    async def body(sim, c):
        r = await c.submit(answer_captcha=False)
        assert "验证码错误" in refusal(r) and receipt(r) is None
        r = await c.submit(drop=("title",))
        assert f"请填写{c.fs.fields['title'].label}" in refusal(r) and receipt(r) is None
        r = await c.submit(drop=("phone",))
        assert "正确的手机号码" in refusal(r) and receipt(r) is None
        assert not sim.citizens.desk.cases

    asyncio.run(with_citizen(p, body))


def test_late_sms_arrives_after_a_while_and_login_is_required():
    p = pick(sms="late", needs_login=True, effectiveness="solved")

    async def body(sim, c):
        r = await c.client.get(c.form_url)
        assert r.status_code == 302 and "login" in r.headers["location"]
        await c.client.post(c.flow + "sms", data={"phone": PHONE})
        assert await c.sms_code() is None
        assert await c.sms_code(LATE_SMS_S + 0.5) is not None

    asyncio.run(with_citizen(p, body))


# -- the form families (forms.py): each files a case over plain HTTP as a browser would ----------


def family(p):
    return form_style(p, "h5" if p.submit_via == "h5" else p.template)


def pick_form(**want):
    """A submittable portal whose form has every trait in ``want`` (FormStyle attributes)."""
    return next(p for p in PORTALS if p.effectiveness == "solved" and p.trait == "healthy"
                and all(getattr(family(p), k) == v for k, v in want.items()))


CASES = [{"family": f} for f in ("post", "csrf", "postback", "ajax", "wizard", "framed")] + [
    {"captcha": "base64", "family": "post"}, {"captcha": "base64", "family": "ajax"},
    {"case_widget": "radio", "family": "postback"}, {"case_widget": "radio", "family": "ajax"},
    {"markup": "placeholder"}, {"postback_on": "category", "family": "postback"}]
CASES += [{"gate": g} for g in ()]  # gates: see test_every_gate_kind_leads_to_the_form


@pytest.mark.parametrize("want", CASES, ids=lambda w: "-".join(f"{v}" for v in w.values()))
def test_each_form_family_files_a_case_with_its_category(want):
    p = pick_form(**want)

    async def body(sim, c):
        await c.sign_in()
        r = await c.submit(category="建议")
        got = receipt(r)
        assert got, refusal(r)[-600:]
        filed = [case for case in sim.citizens.desk.cases if case.hotline_id == p.hotline_id]
        assert len(filed) == 1 and filed[0].number == got[0]
        expected = next(o for o in ("建议", *c.fs.case_options) if o in c.fs.case_options)
        assert filed[0].category == expected and filed[0].title == COMPLAINT["title"]

    asyncio.run(with_citizen(p, body))


@pytest.mark.parametrize("kind", ["checkbox", "button", "link", "form", "modal"])
def test_every_gate_kind_leads_to_the_form(kind):
    p = next(p for p in PORTALS if p.effectiveness == "solved" and p.trait == "healthy"
             and family(p).gate is not None and family(p).gate.kind == kind)

    async def body(sim, c):
        await c.sign_in()
        if kind == "modal":  # the kit shows its notice over the form it draws
            page = (await c.client.get(c.form_url)).text
            assert c.fs.gate.title in page and '"gate": {' in page
        assert receipt(await c.submit())

    asyncio.run(with_citizen(p, body))


def test_csrf_post_without_the_token_is_refused():
    p = pick_form(family="csrf", captcha="none")

    async def body(sim, c):
        await c.sign_in()
        url, page = await c.open_form()
        token = hidden_inputs(page.text)[c.fs.csrf_field]
        assert token and c.client.cookies.get(c.fs.csrf_cookie) == token
        data = {c.fs.name_of("title"): "路灯不亮", c.fs.name_of("content"): COMPLAINT["content"]}
        refused = await c.client.post(url, data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert not sim.citizens.desk.cases

    asyncio.run(with_citizen(p, body))


@pytest.mark.parametrize("keeps", [True, False])
def test_a_postback_reloads_the_page_keeping_or_losing_the_text(keeps):
    p = pick_form(family="postback", postback_on="district", postback_keeps=keeps)

    async def body(sim, c):
        await c.sign_in()
        url, page = await c.open_form()
        fs = c.fs
        # WebForms posts back to the page's own address, query (a 须知's ?agree=1) included.
        assert url.endswith(Selector(page.text).css("form#form1::attr(action)").get())
        state = hidden_inputs(page.text)
        assert state["__VIEWSTATE"] and state["__EVENTVALIDATION"]
        assert "__doPostBack" in Selector(page.text).css(f"select[name='{fs.name_of('district')}']::attr(onchange)").get()
        assert not Selector(page.text).css(f"select[name='{fs.name_of('street')}']")
        district = Selector(page.text).css(f"select[name='{fs.name_of('district')}'] option[value!='']::attr(value)").get()
        back = await c.client.post(url, data={**state, fs.name_of("district"): district,
                                              fs.name_of("title"): "关于路灯的问题",
                                              "__EVENTTARGET": fs.name_of("district")})
        assert back.status_code == 200 and not sim.citizens.desk.cases
        streets = Selector(back.text).css(f"select[name='{fs.name_of('street')}'] option[value!='']::attr(value)").getall()
        assert streets and all(s.startswith(district[:-1]) for s in streets)
        assert ("关于路灯的问题" in back.text) == keeps
        # A value the page never offered is refused, as ASP.NET's event validation does.
        forged = await c.client.post(url, data={**hidden_inputs(back.text), fs.name_of("street"): "不存在街道",
                                                "__EVENTTARGET": fs.name_of("street")})
        assert forged.status_code == 500 and "回发或回调参数无效" in forged.text

    asyncio.run(with_citizen(p, body))


def test_a_script_drawn_form_takes_json_only():
    p = pick_form(family="ajax", captcha="none")

    async def body(sim, c):
        await c.sign_in()
        page = (await c.client.get(c.form_url)).text
        assert 'id="app"' in page and "window.__FORM__" in page and "<form method=\"post\"" not in page
        assert (await c.client.post(c.form_url, data={"title": "x"})).status_code == 405
        assert (await c.client.post(c.flow + "api/letter", data={"title": "x"})).status_code == 415
        assert receipt(await c.submit())

    asyncio.run(with_citizen(p, body))


def test_the_framed_form_lives_on_the_platform_host():
    p = pick_form(family="framed")

    async def body(sim, c):
        outer = (await c.client.get(c.base + c.layout.submit)).text
        src = Selector(outer).css("iframe::attr(src)").get()
        assert src.startswith(f"http://{c.fs.platform_host}{c.fs.platform_path}")
        assert "<textarea" not in outer
        assert (await c.client.get(f"http://{c.fs.platform_host}/")).status_code == 404
        if p.needs_login:  # its login lives on the platform host too
            r = await c.client.get(src)
            assert r.status_code == 302 and r.headers["location"].startswith(FLOW_PATHS[p.template] + "login")
            assert await c.register_and_login() is None
        got = receipt(await c.submit())
        assert got and sim.citizens.desk.cases[-1].number == got[0]

    asyncio.run(with_citizen(p, body))


@pytest.mark.parametrize("p", [p for p in build_population() if p.captcha == "slider"], ids=lambda p: p.hotline_id)
def test_a_slider_captcha_needs_a_hand(p):
    """A slider portal's gold is needs_review; simweb still checks the drag like a real one."""
    assert p.effectiveness == "needs_review"

    async def body(sim, c):
        await c.sign_in()
        url, page = await c.open_form()
        key = re.search(r'(?:data-key="|"slider": ")([0-9a-f]+)"', page.text).group(1)
        gap = sim.citizens.desk.sliders[key]
        straight = [[gap, 300, 1000], [gap, 300, 1001]]  # a machine's jump, not a hand's drag
        answer = (await c.client.post(c.flow + "slider.json", json={"key": key, "x": gap, "track": straight})).json()
        assert not answer["ok"]
        r = await c.submit(answer_captcha=False)
        assert "请先完成滑块验证" in refusal(r) and not sim.citizens.desk.cases
        assert receipt(await c.submit())  # a person who drags it files the case

    asyncio.run(with_citizen(p, body))


def test_a_postback_select_showing_a_case_type_already_shows_its_sub_types():
    """No 请选择 line: the page shows the first case type, and the sub-types it brings with it,
    as WebForms renders a dependent list for the selected value."""
    p = pick_form(family="postback", postback_on="category", case_widget="select", case_prompt="")

    async def body(sim, c):
        await c.sign_in()
        _, page = await c.open_form()
        subtypes = Selector(page.text).css(f"select[name='{c.fs.name_of('subtype')}'] option::text").getall()
        assert subtypes[1:] and all(s.startswith(c.fs.case_options[0]) for s in subtypes[1:])

    asyncio.run(with_citizen(p, body))
