"""The citizen flow of simweb, driven over HTTP in-process (so the test can read captchas the
way an operator would read the image): every effectiveness stage fails as labelled."""

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from aiohttp.test_utils import TestServer

from fixtures.simweb import build_population
from fixtures.simweb.citizen import FLOW_PATHS, LATE_SMS_S
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
    """A person with a phone, using one portal through simweb's proxy."""

    def __init__(self, sim, client, p):
        self.sim, self.client, self.p = sim, client, p
        self.template = "h5" if p.submit_via == "h5" else p.template
        self.layout = LAYOUTS[self.template]
        self.base = f"http://{p.h5_host if p.submit_via == 'h5' else p.host}"
        self.flow = self.base + FLOW_PATHS[self.template]

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

    async def submit(self, answer_captcha=True):
        url = self.base + self.layout.submit
        page = await self.client.get(url)
        assert page.status_code == 200, page.text[:300]
        data = dict(COMPLAINT, phone=PHONE)
        if "captcha.png" in page.text:
            img = await self.client.get(self.flow + "captcha.png")
            assert img.headers["content-type"] == "image/png"
            token = self.client.cookies.get("SIMCAPTCHA")
            data["captcha"] = self.sim.citizens.desk.captchas.get(token, "") if answer_captcha else "XXXX"
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


def receipt(text):
    number = re.search(r'class="case-no">([^<]+)<', text)
    code = re.search(r'class="query-code">([^<]+)<', text)
    return (number.group(1), code.group(1)) if number and code else None


@pytest.mark.parametrize("stage", ["solved", "not_solved", "no_reply", "no_progress"])
def test_submittable_portals_reply_as_labelled(stage):
    p = pick(effectiveness=stage, needs_login=True, sms="prompt")

    async def body(sim, c):
        assert await c.register_and_login() is None
        r = await c.submit()
        got = receipt(r.text)
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
        got = receipt((await c.submit()).text)
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
        assert receipt(r.text) is None
        assert ("验证码错误" in r.text) if reason == "验证码" else ("系统异常" in r.text)
        assert not sim.citizens.desk.cases

    asyncio.run(with_citizen(p, body))


def test_form_validation_errors_and_wrong_captcha():
    p = pick(captcha="image", needs_login=False, effectiveness="solved")

    async def body(sim, c):
        r = await c.submit(answer_captcha=False)
        assert "验证码错误" in r.text and receipt(r.text) is None
        r = await c.client.post(c.base + c.layout.submit, data={"title": "", "content": "太短", "category": "投诉"})
        assert "诉求内容不少于10个字" in r.text and "请填写标题" in r.text
        assert "正确的手机号码" in r.text

    asyncio.run(with_citizen(p, body))


def test_late_sms_arrives_after_a_while_and_login_is_required():
    p = pick(sms="late", needs_login=True, effectiveness="solved")

    async def body(sim, c):
        r = await c.client.get(c.base + c.layout.submit)
        assert r.status_code == 302 and "login" in r.headers["location"]
        await c.client.post(c.flow + "sms", data={"phone": PHONE})
        assert await c.sms_code() is None
        assert await c.sms_code(LATE_SMS_S + 0.5) is not None

    asyncio.run(with_citizen(p, body))
