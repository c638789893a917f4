"""The submission journey (服务有效性): file one complaint as a citizen, then track it.

A citizen finds the submission entry (我要投诉, 网上留言 … on the homepage, or the WeChat H5
site in a phone with WeChat's user agent), registers with an SMS code or logs in, solves the
captcha, fills the form from the round's scenario, presses submit, keeps the receipt and looks
the case up on the tracking page; days later ``recheck_case`` looks again for the reply. The
journey records what happened (``SubmissionObservation``) and judges nothing.

Never twice (DESIGN §5): the case ledger gets the intent BEFORE submit is pressed. A case that
has a receipt is only tracked again; a case left at ``intent``/``unknown`` by a crash is first
looked for on the site ("my submissions" after logging in, or the tracking page's lookup by
phone): found, its receipt is kept; shown absent in a list the site gives, it may be filed once
more; otherwise it stays ``unknown`` for a person.

One phone serves every hotline: SMS codes that name the hotline's city are awaited side by side,
any other code with no other wait running (``_SmsGate``).

Evidence: a screenshot per stage (of the entry page only where the journey stops there: the next
stage's shows it). The persona's values are masked in the page (inputs and
text, by script) just for each screenshot and put back before anything is pressed; saved page
text and HTML pass through ``redact``. Passwords are never shown.

Library entry points (the round and ``recheck --due`` call these)::

    tools = effectiveness_tools(settings, round_dir)        # once per round: persona, SMS, OCR
    ledger = Ledger(store)
    obs, verdict, evidence = await run_effectiveness(ctx, hotline, channels, ledger, "2026-Q4",
                                                     tools=tools)
    results = await recheck_due(ctx, ledger, tools=tools)   # every case past its reply deadline,
                                                            # as many at a time as the pool has tabs
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import signal
import time
import unicodedata
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from playwright.async_api import Dialog, Locator, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from checks.effectiveness import (
    CODE_LABELS,
    NUMBER_LABELS,
    judge_effectiveness,
    parse_receipt,
    reply_due,
)
from crawler.entries import entry_kind, read_link
from crawler.extract import decode_html
from crawler.forms import purposes as form_purposes
from hotline_audit.config import Settings
from hotline_audit.ledger import (
    INTENT,
    SUBMITTED,
    UNKNOWN,
    Case,
    Ledger,
    LedgerConflict,
    china_date,
    persona_key,
)
from hotline_audit.model import (
    Channel,
    EvidenceFile,
    FilingProof,
    Hotline,
    NetRequest,
    ProgressCheck,
    ReplyRecord,
    Side,
    StageFailure,
    SubmissionObservation,
    SubmitStage,
    Verdict,
    utcnow,
)
from hotline_audit.personas import Persona, load_persona, redact
from hotline_audit.politeness import host_of
from hotline_audit.scenarios import Scenario, pick_scenario

from . import citizen_js as js
from .browser import Tab, shot_format
from .capture import Capture
from .netlog import TALKING_TYPES, NetRecord, Sent, submissions
from .pageload import (
    FROZEN_FAULTS,
    classify_browser_error,
    full_page_shot,
    goto_unless_cut,
    page_fault,
    page_responds,
    stop_loading,
    unreachable_kind,
)
from .stability import JourneyContext, evidence_record
from .verification import (
    CaptchaSolver,
    FirstOf,
    OperatorCaptchaSolver,
    OperatorSmsInbox,
    SmsInbox,
    SmsInboxError,
    captcha_solver,
    extract_code,
    sms_inbox,
)

CHECK = "effectiveness"
CRASH_ENV = "HOTLINE_AUDIT_CRASH_AT"
CHINA_TZ = timezone(timedelta(hours=8))
CAPTCHA_TRIES = 4  # OCR misreads now and then; a site that refuses four answers is refusing
MAX_GATES = 3  # pages before the form (须知, a letters list) a person clicks through
GATE_WAIT_POLLS = 40  # 20 s: the longest 请仔细阅读 countdown we wait out
PICKER_LEVELS = 4  # columns of a cascading picker (province, city, district, street)
PICKER_POLLS = 10  # 1.5 s for a drop-down to draw its list
CAPTCHA_READS = 3  # images OCR may look at for one answer (it refuses ones it cannot read)
CAPTCHA_REFRESH_POLLS = 20  # 5 s for a captcha (clicked for another) to show its image
NAV_PATIENCE = 2  # times the navigation timeout a person waits for one click's pages
SCRIPT_TIMEOUT_S = 10.0  # a page that answers no script within this long is stuck
REACTION_S = 1.5  # a press that starts no request within this long did nothing (yet)
STALE_PEEK_S = 1.0  # one look at the SMS inbox
MAX_RESUBMITS = 1  # after a crash, a case shown absent on the site may be filed once more
MAX_POSTBACKS = 4  # changes that reload the form (ASP.NET AutoPostBack) one fill waits out
POSTBACK_START_S = 0.4  # a change that posts the page back starts its request at once
POSTBACK_LOAD_S = 30.0  # and its page takes at most as long as any page
TICK_TIMEOUT_MS = 2000  # a radio a kit hides under its own drawing is ticked another way

NOT_ALLOWED = "未获准在真实网站注册或提交(effectiveness.allow_submit 未开启或使用测试身份)，已在入口处停止"
WECHAT_ONLY = re.compile(r"请在微信(?:客户端)?中?打开|仅支持微信|请使用微信")
MINE_LINK = re.compile(r"我的(?:诉求|信件|留言|办件|工单|投诉|咨询|事项|来信)|个人中心|用户中心|会员中心")
REGISTER_LINK = re.compile(r"注\s*册")
SUCCESS = re.compile(r"提交成功|已提交|受理成功|提交完成|留言成功|成功提交|感谢您的(?:来信|反映|留言)")
ERROR_WORDS = re.compile(r"错误|失败|不正确|有误|不能为空|请填写|请输入|请选择|异常|繁忙|过期|无效|不存在|"
                         r"不少于|不能少于|必填|已注册|不一致|不匹配|超时")
# A form asking for what a person would give: a field left empty, a value it will not take.
ASKS_FOR_INPUT = re.compile(r"请(?:选择|填写|输入|上传|勾选|选中)|不能为空|为必填|必须填写|未填写|未选择|"
                            r"格式(?:不正确|错误|有误)|不少于|不能少于|至少")
CAPTCHA_ERROR = re.compile(r"(?<!短信)(?<!手机)验证码.{0,6}(?:错误|不正确|有误|失效|过期|不能为空)|错误的验证码")
NO_RESULT = r"暂无|未查询到|没有查询到|查无|未找到|没有找到|不存在|无记录|无此|错误|有误"
# A case's handling status as portals word it (its words, not one CMS's list: 待/已/正在 + an act).
STATUS = re.compile(r"不予受理|(?:待|已|正在)(?:受理|处理|办理|审核|分派|派单|交办|转办|签收|回复|答复|反馈|评价|办结|结案|归档|完成)|"
                    r"(?:受理|办理|处理|审核|转办|交办|回复)中|办理完毕|处理完毕|办结")
REPLY_STATUS = re.compile(r"已办结|办结|已答复|已回复|已反馈|已处理|已完成|待评价|已评价|已结案|办理完毕|处理完毕")
REPLY_LABEL = re.compile(r"(?:答复|回复|办理结果|处理结果|处理意见)(?:内容|意见)?[:：]\s*(?P<text>[^\n]{10,})")
DATE = re.compile(r"(20\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})日?(?:\s*(\d{1,2}):(\d{2}))?")
PLACEHOLDER = re.compile(r"请选择|请选|^-+|^=+|选择")
NEXT_STEP = re.compile(r"下\s*一\s*步|下一页|继\s*续|^\s*next", re.I)
BUTTON_LABEL = """() => { const b = document.querySelector('[data-ha-b="submit"]');
  return b ? (b.innerText || b.value || b.title || '').trim() : ''; }"""
MAX_STEPS = 4  # a wizard's steps before the real submit (填写信息 → 确认 → 提交)
FORM_LIKE_FIELDS = 3  # visible fields on a page that make it a form (a search box is one)
VISIBLE_FIELDS = """() => [...document.querySelectorAll('input, textarea, select')].filter(el => {
  const type = (el.getAttribute('type') || 'text').toLowerCase();
  if (['hidden', 'submit', 'button', 'image', 'reset'].includes(type)) return false;
  const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length"""
# The scenario's case type, then the nearest a portal may offer instead (a 求助 is a problem to
# fix: a 投诉/反映 where there is no 求助).
CASE_TYPES = {"投诉": ("投诉", "举报", "反映"), "咨询": ("咨询", "求助"), "求助": ("求助", "投诉", "反映"),
              "建议": ("建议", "意见")}
SLIDER_NEEDS_PERSON = "滑块验证码需由人工拖动完成(检测工具不代替人操作)，需人工复核"

_sms_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SmsGate] = weakref.WeakKeyDictionary()


# -- safety --------------------------------------------------------------------------------------


def crash_point(name: str) -> None:
    """Test hook: SIGKILL this process here when ``HOTLINE_AUDIT_CRASH_AT`` names this point
    (``before_submit``, ``after_submit``, ``before_receipt_saved``)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def is_sandbox_url(url: str) -> bool:
    """Loopback addresses and ``.test`` names (simweb) are never a real hotline."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".test") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hotline_urls(hotline: Hotline) -> list[str]:
    return [u for u in (hotline.website, hotline.h5, hotline.gov_portal) if u]


def submissions_allowed(settings: Settings, hotlines: Iterable[Hotline]) -> tuple[bool, str]:
    """Whether a round may press submit: always on simweb (loopback, ``.test``); on real sites
    only with ``effectiveness.allow_submit`` and a real persona file. The message says how many
    complaints would be filed, for the command line to show before it starts."""
    with_site = [h for h in hotlines if _hotline_urls(h)]
    real = [h for h in with_site if not all(is_sandbox_url(u) for u in _hotline_urls(h))]
    if not real:
        return True, f"将在模拟站点提交 {len(with_site)} 件诉求 (simweb only: {len(with_site)} complaints)"
    eff = settings.effectiveness
    if not eff.allow_submit:
        return False, (f"{len(real)} 个热线是真实网站：未加 --allow-submit（或 effectiveness.allow_submit），不会提交 "
                       f"({len(real)} real hotline sites; add --allow-submit to file one complaint on each)")
    if eff.persona_file is None:
        return False, (f"{len(real)} 个真实网站需要真实身份(persona_file)，测试身份不得向真实热线提交 "
                       "(a real persona file is required to submit to real hotlines)")
    return True, (f"将向 {len(real)} 个真实热线各提交 1 件诉求 "
                  f"(will file {len(real)} complaints on real hotline sites, one each)")


def _may_press(url: str, settings: Settings, persona: Persona) -> bool:
    if is_sandbox_url(url):
        return True
    return settings.effectiveness.allow_submit and not persona.is_test


# -- tools ---------------------------------------------------------------------------------------


@dataclass
class EffectivenessTools:
    """Who submits and how codes are read; build once per round (the OCR model is heavy)."""

    persona: Persona
    inbox: SmsInbox
    solver: CaptchaSolver


def effectiveness_tools(settings: Settings, round_dir: Path) -> EffectivenessTools:
    return EffectivenessTools(persona=load_persona(settings), inbox=sms_inbox(settings),
                              solver=captcha_solver(settings, round_dir / "operator"))


class _SmsGate:
    """Who may wait for an SMS code now: one phone serves every hotline of the round.

    A wait that takes any new code (an operator reading the phone, or an SMS that does not
    name its sender) must be the only one: it runs ``alone``. A wait for an SMS that names the
    hotline's city (the 【南京12345】 signature Chinese SMS carry) cannot take another site's
    code, so such ``named`` waits run side by side, unless one city's name contains the
    other's. A waiting ``alone`` goes first (else a busy round would starve it)."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._named: list[str] = []
        self.known: set[str] = set()  # every city awaited this round: an SMS naming one is theirs
        self._alone = False
        self._alone_waiting = 0

    @asynccontextmanager
    async def named(self, hint: str) -> AsyncIterator[None]:
        def free() -> bool:
            return not (self._alone or self._alone_waiting or any(hint in h or h in hint for h in self._named))

        self.known.add(hint)
        async with self._cond:
            await self._cond.wait_for(free)
            self._named.append(hint)
        try:
            yield
        finally:
            async with self._cond:
                self._named.remove(hint)
                self._cond.notify_all()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        async with self._cond:
            self._alone_waiting += 1
            try:
                await self._cond.wait_for(lambda: not (self._alone or self._named))
            finally:
                self._alone_waiting -= 1
                self._cond.notify_all()  # if cancelled: the named waits it held back go on
            self._alone = True
        try:
            yield
        finally:
            async with self._cond:
                self._alone = False
                self._cond.notify_all()


def _sms_gate() -> _SmsGate:
    loop = asyncio.get_running_loop()
    gate = _sms_gates.get(loop)
    if gate is None:
        gate = _sms_gates[loop] = _SmsGate()
    return gate


def _sms_hint(run: _Run, inbox: SmsInbox) -> str | None:
    """What an SMS from this hotline names: its city (南京市 -> 南京). None: wait alone."""
    if isinstance(inbox, OperatorSmsInbox):
        return None  # a person reads the newest SMS, whoever sent it
    city = (run.hotline.city or "").strip()
    if city.endswith("市") and len(city) > 2:
        city = city[:-1]
    return city if len(city) >= 2 else None


def _password(persona: Persona, hotline_id: str) -> str:
    """The account password on one site: derived, so a later run (or recheck) logs in again;
    letters, digits and a symbol satisfy common password rules."""
    h = hashlib.sha256(f"{persona.phone}\x00{persona.id_number}\x00{hotline_id}".encode()).hexdigest()
    return f"Ha{h[:8]}#{int(h[8:12], 16) % 90 + 10}"


# -- one journey's state ---------------------------------------------------------------------------


class _Clock:
    """The audit's clock: ``now`` (e.g. simweb's simulated time) moving with real time."""

    def __init__(self, now: datetime | None) -> None:
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self.start = now or utcnow()
        self.t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


@dataclass
class _Nav:
    ok: bool
    status: int | None = None
    error: str | None = None
    side: Side = "site"
    retryable: bool = False
    timed_out: bool = False
    # With a timeout: the document came and its frames or images did not (a slow site: the
    # stability check's finding), or nothing came at all (a site not answering).
    answered: bool = False
    garbled: bool = False  # the page's words did not decode: no link can be read by its words
    # The page froze the tab (busy or dialog loop), keeps reloading itself or sent the browser
    # into the auditor's network (refused): the site's own failure, not a slow one.
    fault: str | None = None


@dataclass
class _Scan:
    fields: list[dict[str, Any]]
    submit: bool
    sms: bool
    captcha_img: bool
    next_step: bool = False  # its button goes on to another step (下一步), not the last one
    later: list[str] = field(default_factory=list)  # kinds of the fields of steps not shown yet
    slider: bool = False  # a slider captcha on the page: a person's step

    def has(self, kind: str) -> bool:
        return any(f["kind"] == kind for f in self.fields)

    @property
    def kind(self) -> str:
        if self.has("password"):
            register = any(self.has(k) for k in ("sms_code", "password2", "name", "id_number"))
            return "register" if register else "login"
        if self.has("content") or self.has("title"):
            return "form"
        if self.next_step and (any(self.has(k) for k in ("name", "phone", "address", "text", "email", "id_number"))
                               or {"content", "title"} & set(self.later)):
            return "form"  # a wizard's first step (contact details, then 下一步 to the letter)
        if self.has("phone") and self.has("sms_code"):
            return "sms_login"
        return "other"


@dataclass
class Entry:
    url: str
    mobile: bool
    found_on: str
    track_url: str | None = None


@dataclass
class _Run:
    ctx: JourneyContext
    hotline: Hotline
    persona: Persona
    obs: SubmissionObservation
    clock: _Clock
    prefix: str = ""
    evidence: list[EvidenceFile] = field(default_factory=list)
    tab: Tab | None = None
    dialogs: list[str] = field(default_factory=list)
    step: int = 0
    track_url: str | None = None
    intent_day: date | None = None  # China date of the last press, when reconciling
    taken: set[str] = field(default_factory=set)  # case numbers the ledger already holds
    captcha_seen: bytes | None = None  # the last captcha image answered
    har: str | None = None  # the current borrow's HAR (round-relative), cited by requests
    sms_asked: bool = False  # a 获取验证码 press started a request to the site

    @property
    def page(self) -> Page:
        assert self.tab is not None
        return self.tab.page

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def timeout_ms(self) -> float:
        """A citizen waits out a slow redirect chain (submit -> login is two documents); a
        page slower than the census timeout is the stability check's finding, not this one's."""
        return self.settings.browser.navigation_timeout_s * NAV_PATIENCE * 1000

    def now(self) -> datetime:
        return self.clock.now()

    def redact(self, text: str) -> str:
        return redact(text, self.persona)

    def fail(self, stage: SubmitStage, message: str, side: Side = "site", *,
             operator_timeout: bool = False, screenshot: str | None = None,
             request: NetRequest | None = None, review: bool = False) -> None:
        """Record a stage that went wrong. ``review``: whose failing it is is not proven (a
        person looks); ``request``: the request whose answer refused us."""
        message = self.redact(message)[:300]
        self.obs.failures.append(StageFailure(stage=stage, side=side, message=message,
                                              operator_timeout=operator_timeout, screenshot=screenshot,
                                              request=request, review=review))
        if side == "site" and not review and message and message not in self.obs.error_texts:
            self.obs.error_texts.append(message)
        self.obs.needs_operator = self.obs.needs_operator or operator_timeout

    def _path(self, name: str) -> Path:
        self.step += 1
        return self.ctx.evidence_path(self.hotline.hotline_id, CHECK, f"{self.prefix}{self.step:02d}-{name}")

    def _keep(self, path: Path, media_type: str) -> str:
        record = evidence_record(self.ctx, self.hotline.hotline_id, CHECK, path, media_type)
        self.evidence.append(record)
        self.obs.evidence.append(record.path)
        return record.path

    async def shot(self, name: str) -> str | None:
        """A screenshot with the persona masked in the page; None if the page would not."""
        fmt = shot_format(self.settings.browser)
        path = self._path(name + fmt.suffix)
        try:
            async with asyncio.timeout(SCRIPT_TIMEOUT_S * 2):
                width, height = await self.page.evaluate(MASK_AND_SIZE, [self._mask_pairs(), self._mask_patterns()])
                try:  # the whole page, desktop or phone width as measured
                    await full_page_shot(self.page, path, self.settings.browser, height, width)
                finally:
                    await self.page.evaluate(js.UNMASK)
        except (PlaywrightError, PlaywrightTimeout, TimeoutError):
            return None
        return self._keep(path, fmt.media_type)

    def image(self, name: str, png: bytes) -> str:
        """An image as we read it (a captcha OCR could not read): what a person is asked to read."""
        path = self._path(f"{name}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return self._keep(path, "image/png")

    async def snapshot(self, name: str) -> str | None:
        """The page's HTML, redacted (what was on the page, not what was typed)."""
        try:
            async with asyncio.timeout(SCRIPT_TIMEOUT_S):
                html = await self.page.content()
        except (PlaywrightError, TimeoutError):
            return None
        path = self._path(f"{name}.html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.redact(html), encoding="utf-8")
        return self._keep(path, "text/html")

    def _mask_pairs(self) -> list[list[str]]:
        p = self.persona
        return [[p.id_number, "[身份证号]"], [p.phone, "[手机号]"], [p.email, "[邮箱]"], [p.name, "[姓名]"]]

    def _mask_patterns(self) -> list[list[str]]:
        phone, idn = self.persona.phone, self.persona.id_number
        return [[f"{phone[:3]}[*＊●•xX]{{4}}{phone[7:]}", "[手机号]"],
                [f"{idn[:6]}[*＊●•]{{8,10}}{idn[-4:]}", "[身份证号]"]]


# -- the browser, gently -------------------------------------------------------------------------


# Mask and measure in one script: each round trip to a busy page costs (a shot per stage).
MASK_AND_SIZE = (f"(args) => {{ ({js.MASK})(args); const d = document.documentElement; "
                 "return [d.clientWidth, d.scrollHeight]; }")


async def _settle(run: _Run) -> None:
    assert run.tab is not None
    settle_s = run.settings.browser.settle_s
    await run.tab.events.settle(quiet_s=0.15, max_s=settle_s)
    try:
        await run.page.wait_for_load_state("load", timeout=settle_s * 1000)
    except PlaywrightTimeout:
        pass


async def _open(run: _Run, url: str, retries: int = 1, patient: bool = True) -> _Nav:
    """Navigate like a person: a 5xx or dropped connection is tried again once. A homepage
    (not ``patient``) gets the census timeout; pages behind clicks get ``timeout_ms``."""
    nav = _Nav(False)
    pacer = run.tab.pacer if run.tab is not None else None
    throttled = 0
    while retries >= 0:
        mark = len(pacer.throttles) if pacer else 0
        nav = await _open_once(run, url, patient)
        if pacer is not None and throttled < run.settings.politeness.retries and await pacer.throttled_since(mark) \
                and not pacer.budget.refusing(url):
            # The site's firewall answered, not the page: open it again once the host's
            # back-off is over (a GET; nothing is sent twice).
            throttled += 1
            continue
        if nav.ok or not nav.retryable:
            return nav
        retries -= 1
    return nav


async def _open_once(run: _Run, url: str, patient: bool) -> _Nav:
    assert run.tab is not None
    run.tab.events.navigations.clear()
    events = run.tab.events
    navs_before, dialogs_before = len(events.frame_navigations), events.dialogs
    timeout_ms = run.timeout_ms if patient else run.timeout_ms / NAV_PATIENCE
    try:
        # Stopped at once when the guard cut the page at the size limit (its top is read).
        response = await goto_unless_cut(run.tab, url, timeout_ms / 1000)
    except (PlaywrightTimeout, TimeoutError):
        # Stopped, else the half-loaded page answers no script, no screenshot; a page stuck in
        # its own scripts is not touched again (the tab is discarded after the journey).
        if not await stop_loading(run.tab.page, run.tab.cdp, len(events.frame_navigations) > navs_before):
            fault = (page_fault(run.tab, [url, run.page.url], navs_before, dialogs_before)
                     or ("unresponsive", "页面脚本卡死, 浏览器无法操作"))
            return _faulted(run, url, fault)
        answered = bool(run.tab.events.navigations)
        what = "未加载完成" if answered else "没有任何应答"
        return _Nav(False, error=f"页面{timeout_ms / 1000:g}秒内{what} ({url})", timed_out=True, answered=answered)
    except PlaywrightError as exc:
        message = str(exc).splitlines()[0][:300]
        kind, side = unreachable_kind(run.tab, [url, run.page.url]) or classify_browser_error(message)
        return _Nav(False, error=message, side=side,  # type: ignore[arg-type]
                    retryable=side == "site" and kind in ("protocol", "connect"))
    try:
        await _settle(run)
    except PlaywrightError as exc:
        if "context was destroyed" not in str(exc):
            raise
        # The page replaced itself while we waited: once (a script's redirect) or for ever.
        await events.settle(quiet_s=0.5, max_s=run.timeout_ms / 1000 / NAV_PATIENCE)
    fault = page_fault(run.tab, [url, run.page.url], navs_before, dialogs_before)
    if fault is None and not await page_responds(run.page, run.tab.cdp):
        fault = "unresponsive", "页面加载后脚本卡死, 浏览器无法操作"
    if fault is not None and fault[0] != "oversize":
        return _faulted(run, url, fault)
    cut = fault is not None
    navs = run.tab.events.navigations
    status = navs[-1] if navs else (response.status if response else None)
    if status is not None and status >= 500 and (mapped := unreachable_kind(run.tab, [url, run.page.url])):
        return _Nav(False, status, f"{mapped[0]}: HTTP {status} ({url})", side=mapped[1])  # type: ignore[arg-type]
    if status is not None and status >= 400:
        return _Nav(False, status, f"HTTP {status} ({url})", retryable=status >= 500)
    return _Nav(True, status, fault="oversize" if cut else None)


def _faulted(run: _Run, url: str, fault: tuple[str, str]) -> _Nav:
    """A page that failed by its own doing (pageload.page_fault); a frozen tab is discarded."""
    assert run.tab is not None
    if fault[0] in FROZEN_FAULTS:
        run.tab.unfit = True
    return _Nav(False, error=f"{fault[1]} ({url})", fault=fault[0])


async def _eval(run: _Run, script: str, arg: Any = None) -> Any:
    """Evaluate, once more if a late navigation replaced the document meanwhile."""
    for attempt in range(2):
        try:
            async with asyncio.timeout(SCRIPT_TIMEOUT_S):
                return await run.page.evaluate(script, arg)
        except TimeoutError:
            raise PlaywrightTimeout(f"the page did not answer a script within {SCRIPT_TIMEOUT_S:g} s") from None
        except PlaywrightError as exc:
            if attempt or "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            await _settle(run)
    return None


GARBLED_SHARE = 0.02  # U+FFFD among a page's characters beyond which its words are unreadable


def _garbled(text: str) -> bool:
    """Bytes in one encoding declared as another (GBK served as UTF-8) decode to U+FFFD."""
    chars = [c for c in text if not c.isspace()]
    return len(chars) >= 20 and chars.count("\ufffd") / len(chars) > GARBLED_SHARE


async def _text(run: _Run) -> str:
    return str(await _eval(run, js.BODY_TEXT) or "")


async def _press(run: _Run, selector: str) -> None:
    """Click and wait for what it starts (a navigation, an XHR), then for quiet."""
    assert run.tab is not None
    events = run.tab.events
    before = events.last_activity
    await run.page.locator(selector).first.click(timeout=run.timeout_ms)  # includes the wait for a navigation it starts
    deadline = time.monotonic() + REACTION_S
    while time.monotonic() < deadline and events.last_activity == before and not events.in_flight:
        await asyncio.sleep(0.03)
    # A slow site's answer (and its redirect) may take as long as any page load.
    await events.settle(quiet_s=0.15, max_s=run.timeout_ms / 1000)
    try:
        await run.page.wait_for_load_state("load", timeout=run.timeout_ms)
    except PlaywrightTimeout:  # whether its document came is not known here: only stopped
        await stop_loading(run.tab.page, run.tab.cdp, committed=False)
    await _settle(run)


def _scan_of(found: dict[str, Any]) -> _Scan:
    return _Scan(found.get("fields", []), bool(found.get("submit")), bool(found.get("sms")),
                 bool(found.get("captchaImg")), bool(found.get("next")), list(found.get("later", [])),
                 bool(found.get("slider")))


async def _scan(run: _Run) -> _Scan:
    scan = _scan_of(await _eval(run, js.SCAN_FORM) or {})
    if scan.submit and scan.kind in ("other", "sms_login"):
        # Only here does the button's word matter: contact details before 下一步 are a wizard's
        # first step, not a page without a form.
        label = str(await _eval(run, BUTTON_LABEL) or "")
        scan.next_step = bool(NEXT_STEP.search(label))
    return scan


def _fields_changed(before: _Scan, after: _Scan) -> bool:
    """Another set of fields is on show (a wizard's next step), not the same form again."""
    def keys(scan: _Scan) -> set[tuple[str, str, str]]:
        return {(f["kind"], f.get("name", ""), f.get("label", "")) for f in scan.fields}
    return keys(before) != keys(after)


async def _frame_with(run: _Run, script: str, arg: Any, wanted: Callable[[dict[str, Any]], bool]) -> str | None:
    """The address of a frame where ``script`` finds what ``wanted`` looks for. Many CMS pages
    frame their forms (我要写信, 办件查询), often from another origin, and a person fills them
    in place; opened on its own the frame is the same form in the same session."""
    for frame in run.page.frames[1:]:
        if not frame.url.startswith(("http:", "https:")) or frame.url == run.page.url:
            continue
        try:
            async with asyncio.timeout(SCRIPT_TIMEOUT_S):
                found = await frame.evaluate(script, arg) or {}
        except (PlaywrightError, TimeoutError):
            continue  # a frame gone or stuck: not where a person fills anything
        if wanted(found):
            return frame.url
    return None


async def _past_gate(run: _Run) -> bool:
    """Go on from a page before the form as a person does: tick 我已阅读并同意, wait out the
    countdown, press 同意/我要写信/下一步 (a link that opens a new window is opened here).
    False when the page has no such control."""
    gate = await _eval(run, js.GATE) or {}
    for _ in range(GATE_WAIT_POLLS):
        if gate.get("gate") or not gate.get("counting"):
            break
        # A button still counting down (请认真阅读写信须知（5秒）) says what it is only once it
        # may be pressed: read it then, as a person does.
        await run.page.wait_for_timeout(500)
        gate = await _eval(run, js.GATE) or {}
    if not gate.get("gate"):
        return False
    if gate.get("agree"):
        with contextlib.suppress(PlaywrightError, PlaywrightTimeout):
            await run.page.locator('[data-ha-b="agree"]').first.check(timeout=3000)
    if gate.get("href"):
        return (await _open(run, gate["href"])).ok
    control = run.page.locator('[data-ha-b="gate"]').first
    for _ in range(GATE_WAIT_POLLS):
        if await control.evaluate(js.GATE_READY):
            break
        await run.page.wait_for_timeout(500)
    await _press(run, '[data-ha-b="gate"]')
    return True


async def _track_form(run: _Run) -> dict[str, Any]:
    """The tracking page's fields (``SCAN_TRACK`` marks them), from its frame where it has one."""
    args = [list(NUMBER_LABELS), list(CODE_LABELS)]
    found = await _eval(run, js.SCAN_TRACK, args) or {}
    if found.get("number") or found.get("lookup"):
        return found
    framed = await _frame_with(run, js.SCAN_TRACK, args, lambda f: bool(f.get("number") or f.get("lookup")))
    if framed is None or not (await _open(run, framed)).ok:
        return found
    return await _eval(run, js.SCAN_TRACK, args) or {}


async def _links(run: _Run) -> list[dict[str, str]]:
    return list(await _eval(run, js.LINKS) or [])


async def _errors(run: _Run) -> list[str]:
    return [t for t in (await _eval(run, js.ERRORS) or []) if ERROR_WORDS.search(t)]


def _on_dialog(run: _Run) -> Any:
    async def handle(dialog: Dialog) -> None:  # alert()s carry errors; dismissing keeps going
        run.dialogs.append(dialog.message[:300])
        try:
            await dialog.accept()
        except PlaywrightError:
            pass

    return handle


# -- finding the entry -----------------------------------------------------------------------------


def _host(url: str | None) -> str:
    return (urlsplit(url or "").hostname or "").lower()


def _h5_hosts(hotline: Hotline, channels: list[Channel]) -> set[str]:
    return {_host(u) for u in [hotline.h5, *(c.value for c in channels if c.kind == "h5")] if u}


def _channel_entry(hotline: Hotline, channels: list[Channel]) -> Entry | None:
    """Discovery's submission channel, preferring the website over an H5 page."""
    h5 = _h5_hosts(hotline, channels)
    submits = [c for c in channels if c.kind == "submit"]
    submits.sort(key=lambda c: _host(c.value) in h5)
    if not submits:
        return None
    c = submits[0]
    track = next((t.value for t in channels if t.kind == "track" and _host(t.value) == _host(c.value)), None)
    return Entry(c.value, _host(c.value) in h5, f"discovery ({c.found_on})", track)


def _via_wechat(link: dict[str, str], h5: set[str]) -> bool:
    """A link into the WeChat side: to an H5 host, or saying 微信 (open it in the phone)."""
    return _host(link["href"]) in h5 or "微信" in link["text"]


def _pick_links(links: list[dict[str, str]], h5: set[str]) -> tuple[dict[str, str] | None, str | None]:
    """(submission link, tracking URL) among a page's links, by what their words mean."""
    submit = [link for link in links if entry_kind(link["text"]) == "submit"]
    track = [link["href"] for link in links if entry_kind(link["text"]) == "track"]
    submit.sort(key=lambda link: _via_wechat(link, h5))
    return (submit[0] if submit else None), (track[0] if track else None)


MAX_COLUMNS = 3  # column links (互动交流, 政民互动) a person opens looking for the letter form


def _column_links(links: list[dict[str, str]]) -> list[dict[str, str]]:
    """Links whose words name a section as often as the letter form (互动交流, 政民互动): only
    the page behind them says which (``crawler.entries``). The first few, each page once."""
    columns: dict[str, dict[str, str]] = {}
    for link in links:
        if read_link(link["text"]).ambiguous:
            href = link["href"]
            page = href if re.search(r"#!?/", href) else href.split("#")[0]  # a hash route is a page
            columns.setdefault(page, link)
    return list(columns.values())[:MAX_COLUMNS]


async def _page_purposes(run: _Run) -> set[str]:
    """What the open page's forms are for — ``submit`` (a letter form), ``track`` (a case
    lookup) — read from its rendered DOM and its frames' as discovery reads HTML
    (``crawler.forms``): forms drawn by scripts and forms framed from a platform count."""
    found: set[str] = set()
    for frame in run.page.frames:
        if frame is not run.page.main_frame and not frame.url.startswith(("http:", "https:")):
            continue
        try:
            async with asyncio.timeout(SCRIPT_TIMEOUT_S):
                html = await frame.content()
        except (PlaywrightError, TimeoutError):
            continue  # a frame gone or stuck holds nothing a person could fill
        found |= form_purposes(html)
    return found


@dataclass
class _Columns:
    """What opening a homepage's column links showed: the entry, if one held it."""

    entry: Entry | None = None
    track: str | None = None  # a column page that looks a case up
    opened: list[str] = field(default_factory=list)  # texts of the column links opened
    failed: list[_Nav] = field(default_factory=list)  # column pages that would not open


async def _entry_behind_columns(run: _Run, home: str, links: list[dict[str, str]], h5: set[str],
                                mobile: bool) -> _Columns:
    """Where a homepage's words name no submission entry, open its column links as a person
    does (互动交流 …): the first page that holds a letter form is the entry; a page that only
    links to one by its words (互动交流 → 我要写信) leads to it."""
    out = _Columns()
    for link in _column_links(links):
        out.opened.append(link["text"])
        nav = await _open(run, link["href"])
        if not nav.ok:
            out.failed.append(nav)
            continue
        kinds = await _page_purposes(run)
        inner, inner_track = _pick_links(await _links(run), h5)
        if "track" in kinds and out.track is None:
            out.track = link["href"]
        out.track = out.track or inner_track
        wechat = _host(link["href"]) in h5
        if "submit" in kinds:
            out.entry = Entry(link["href"], mobile or wechat, f"{home} 「{link['text']}」(页面含诉求表单)")
        elif inner is not None:
            wechat = _via_wechat(inner, h5)
            out.entry = Entry(inner["href"], mobile or wechat, f"{home} 「{link['text']}」→「{inner['text']}」")
        if out.entry is not None:
            return out
    return out


def _misdeclared(body: bytes) -> str | None:
    """The text of a page whose bytes are not the UTF-8 it declares but GB18030 (GBK, GB2312):
    the commonest mislabelling on Chinese government sites, read as discovery reads it
    (``crawler.extract.decode_html``). None when that is not it (valid UTF-8: the garbling is
    in the text itself)."""
    text, charset = decode_html(body, "utf-8")
    return text if charset == "gb18030" else None


async def _reopen_decoded(run: _Run, url: str) -> bool:
    """Open the page again read as GB18030, as a person switches the browser's text encoding
    (Chinese browsers keep that menu): its links' words become readable. True when they did.
    The bytes are the browser's own answer (no request of our own: ``route.fetch`` through an
    HTTP proxy tunnels with CONNECT, which proxies refuse for port 80)."""
    document = url.split("#")[0]  # a route's pattern is the request's URL, which has no fragment
    try:
        response = await run.page.goto(document, wait_until="domcontentloaded", timeout=run.timeout_ms)
        body = await response.body() if response else b""
    except (PlaywrightError, PlaywrightTimeout):
        return False
    text = _misdeclared(body)
    if text is None or response is None:
        return False
    headers = {k: v for k, v in response.headers.items()
               if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")}
    headers["content-type"] = "text/html; charset=utf-8"

    async def decoded(route: Any) -> None:
        await route.fulfill(status=response.status, headers=headers, body=text.encode("utf-8"))

    await run.page.route(document, decoded)
    try:
        nav = await _open(run, url)
    finally:
        await run.page.unroute(document, decoded)
    return nav.ok and not _garbled(await _text(run))


async def _entry_from_home(run: _Run, home: str, h5: set[str], mobile: bool) -> tuple[Entry | None, _Nav, _Columns]:
    """The submission entry on one homepage: a link whose words name it, else a column link
    whose page holds the letter form (``_entry_behind_columns``)."""
    # Patient, and tried again: a homepage slow on a loaded day is the stability check's
    # finding; here it would only hide the entry a person finds once the page is up.
    nav = await _open(run, home)
    if nav.timed_out:
        nav = await _open(run, home)
    if not nav.ok:
        return None, nav, _Columns()
    note = ""
    links = await _links(run)
    link, track = _pick_links(links, h5)
    if link is None and _garbled(await _text(run)):
        # No entry among words that did not decode: read the page as GB18030, else a person
        # looks (a page we cannot read is not a page without an entry).
        if not await _reopen_decoded(run, run.page.url):
            return None, _Nav(False, nav.status, "首页文字显示为乱码(编码声明与内容不符)", garbled=True), _Columns()
        note = "(首页编码声明有误，按GB18030读取) "
        links = await _links(run)
        link, track = _pick_links(links, h5)
    if link is None:
        columns = await _entry_behind_columns(run, home, links, h5, mobile)
        if columns.entry is not None:
            columns.entry.track_url = track or columns.track
        return columns.entry, nav, columns
    wechat = _via_wechat(link, h5)
    return Entry(link["href"], mobile or wechat, f"{note}{home} 「{link['text']}」", track), nav, _Columns()


async def _find_entry(run: _Run, channels: list[Channel], mobile: bool) -> Entry | None:
    """The submission page as a person finds it: the website's homepage first, else the H5 site
    (in the phone). Records why when there is none."""
    hotline = run.hotline
    h5 = _h5_hosts(hotline, channels)
    websites = [hotline.website] if hotline.website else [c.value for c in channels if c.kind == "website"]
    h5_homes = sorted({u for u in [hotline.h5, *(c.value for c in channels if c.kind == "h5")] if u})
    homes = h5_homes if mobile else websites
    problems: list[_Nav] = []
    columns: list[_Columns] = []
    cut: list[_Nav] = []
    for home in homes[:2]:
        entry, nav, looked = await _entry_from_home(run, home, h5, mobile)
        if entry is not None:
            return entry
        if not nav.ok:
            problems.append(nav)
        elif nav.fault == "oversize":
            cut.append(nav)
        columns.append(looked)
    if not mobile and h5_homes:
        raise _WantMobile()
    run.obs.url, run.obs.channel = homes[0] if homes else None, "h5" if mobile else "website"
    opened = [text for c in columns for text in c.opened]
    frozen = any(p.fault in FROZEN_FAULTS for p in problems)
    if opened and not frozen:  # the shot is of the homepage the verdict is about, not of the last column opened
        await _open(run, homes[0], patient=False)
    shot = await run.shot("no-entry") if homes and not frozen else None
    if any(p.fault for p in problems) and not await run.ctx.browser.browser_works():
        # Only a browser that works on a control page can call the page's failure its own.
        problems = [replace(p, side="tool") if p.fault else p for p in problems]
    unopened = [nav for c in columns for nav in c.failed]
    unread = [p for p in problems if (p.timed_out and p.answered) or p.garbled]
    if any(p.side == "tool" for p in problems):
        run.fail("entry", f"打开首页时检测工具故障: {problems[0].error}", "tool", screenshot=shot)
    elif unread:
        # A homepage that would not load in time, or whose words did not decode, hides its
        # links from us, not necessarily from a citizen: whether it has an entry is not shown.
        run.fail("entry", f"首页未能读取({unread[0].error})，无法确认是否有提交入口(需人工复核)",
                 screenshot=shot, review=True)
    elif cut and not problems:
        # Only the beginning of a homepage over the size limit was read: an entry further down
        # is not shown to be missing.
        run.fail("entry", "首页超过大小上限, 只读取了开头部分, 其中未见提交入口(需人工复核)",
                 screenshot=shot, review=True)
    elif problems:
        run.fail("entry", f"网站无法访问: {problems[0].error}", screenshot=shot)
    elif unopened:
        # A column that may hold the form would not open: whether the site has an entry is
        # not shown, so a person looks (a column page failing is not a missing entry).
        run.fail("entry", f"首页栏目“{'、'.join(opened)}”中有页面未能打开({unopened[0].error})，"
                          "无法确认是否有提交入口(需人工复核)", unopened[0].side, screenshot=shot, review=True)
    elif opened:
        run.fail("entry", f"首页没有“我要投诉/我要咨询/网上留言”等提交入口；已打开栏目“{'、'.join(opened)}”，"
                          "其中也没有诉求表单或写信入口", screenshot=shot)
    else:
        run.fail("entry", "首页没有“我要投诉/我要咨询/网上留言”等提交入口", screenshot=shot)
    return None


class _WantMobile(Exception):
    """The page wants WeChat: carry on in the phone."""


# -- forms -------------------------------------------------------------------------------------


def _address(scenario: Scenario, city: str) -> str:
    """The made-up place of the scenario's body (same district and street), no house number."""
    return scenario.model_copy(update={"title": "{city}{district}{street}"}).render(city)[0]


def _values(run: _Run, scenario: Scenario | None) -> dict[str, str]:
    p = run.persona
    values = {"name": p.name, "phone": p.phone, "email": p.email, "id_number": p.id_number,
              "password": _password(p, run.hotline.hotline_id)}
    values["password2"] = values["password"]
    if scenario is not None:
        values.update(title=run.obs.title or "", content=run.obs.body or "",
                      address=_address(scenario, run.hotline.city))
    return values


def _words(text: str) -> str:
    """Words as a person reads them: NFKC, no spaces of any kind, no colons or stars."""
    return re.sub(r"[\s:*\u200b\ufeff]+", "", unicodedata.normalize("NFKC", text))


def _option_for(options: list[str], case_type: str | None) -> str | None:
    """The option that says the scenario's case type (投诉 -> 投诉/投诉举报/举报 …), else the
    nearest the portal offers; None when none fits."""
    wanted = CASE_TYPES.get(case_type or "", ())
    for word in wanted:
        hit = next((o for o in options if word in _words(o)), None)
        if hit:
            return hit
    return None


def _placeholder(text: str) -> bool:
    return not _words(text) or bool(PLACEHOLDER.search(text))


class _Navigations:
    """The main frame's navigations while a form is filled: a change that posts the page back
    (ASP.NET's AutoPostBack) starts one, and the fields must then be found again."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.started = 0  # navigation requests of the main frame
        self.pending = False

    def _request(self, request: Any) -> None:
        try:
            if request.is_navigation_request() and request.frame == self.page.main_frame:
                self.started += 1
                self.pending = True
        except PlaywrightError:
            pass  # a request of no frame (a service worker's): not the page's

    def _landed(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self.pending = False

    def _failed(self, request: Any) -> None:
        with contextlib.suppress(PlaywrightError):
            if request.is_navigation_request() and request.frame == self.page.main_frame:
                self.pending = False

    def __enter__(self) -> _Navigations:
        self.page.on("request", self._request)
        self.page.on("framenavigated", self._landed)
        self.page.on("requestfailed", self._failed)
        return self

    def __exit__(self, *exc: object) -> None:
        self.page.remove_listener("request", self._request)
        self.page.remove_listener("framenavigated", self._landed)
        self.page.remove_listener("requestfailed", self._failed)

    async def after_change(self, since: int) -> bool:
        """Whether the change just made started loading another page (a postback)."""
        deadline = time.monotonic() + POSTBACK_START_S
        while self.started == since and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.started != since

    async def arrived(self) -> None:
        """Wait for the page a postback loads."""
        deadline = time.monotonic() + POSTBACK_LOAD_S
        while self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        with contextlib.suppress(PlaywrightTimeout, PlaywrightError):
            await self.page.wait_for_load_state("load", timeout=POSTBACK_LOAD_S * 1000)
        await asyncio.sleep(0.2)  # the new page's own scripts (a captcha's JSON, a kit's drawing)


async def _fill(run: _Run, scan: _Scan, values: dict[str, str]) -> _Scan:
    """Type each recognised field as a citizen would; unknown optional fields stay empty. A
    change that reloads the page (a postback) is waited out, the fields are found again in the
    new page and whatever it lost is typed again. Returns the form as it now stands."""
    with _Navigations(run.page) as navs:
        for _ in range(MAX_POSTBACKS + 1):
            before = navs.started
            await _fill_once(run, scan, values, navs)
            if navs.started == before:
                return scan
            await navs.arrived()
            scan = await _scan(run)
    return scan


async def _fill_once(run: _Run, scan: _Scan, values: dict[str, str], navs: _Navigations) -> None:
    """One pass over the form; stops as soon as the page starts going away."""
    page = run.page
    start = navs.started
    groups_done: set[str] = set()
    for f in scan.fields:
        if navs.started != start:
            return  # a postback: the caller finds the fields again in the page it brings
        loc = page.locator(f'[data-ha-f="{f["key"]}"]').first
        kind = f["kind"]
        try:
            if kind in values and kind not in ("captcha", "sms_code"):
                value = values[kind][: f["maxlength"]] if f.get("maxlength") else values[kind]
                if f.get("value") != value:
                    await loc.fill(value, timeout=5000)
            elif f.get("picker") and (kind == "case_type" or f["required"]):
                if _placeholder(f["value"]):
                    await _pick(run, loc, run.obs.case_type if kind == "case_type" else None)
                    await navs.after_change(navs.started)
            elif kind in ("case_type", "select") and f["options"]:
                await _choose_option(f, loc, run.obs.case_type, navs)
            elif kind == "agree":
                await _tick(loc)
            elif kind == "radio" and f.get("group", "") not in groups_done:
                groups_done.add(f.get("group", ""))
                await _choose_radio(run, scan, f, navs)
        except (PlaywrightError, PlaywrightTimeout):
            continue  # a field that will not take text: the site's answer will say if it mattered


async def _choose_option(f: dict[str, Any], loc: Locator, case_type: str | None, navs: _Navigations) -> None:
    """A native select: the case type the scenario has; any other select that shows no choice
    gets its first real option, as a person picks something where a form insists."""
    options: list[str] = f["options"]
    option = _option_for(options, case_type) if f["kind"] == "case_type" else None
    if option is None and _placeholder(f.get("chosen", "")):
        option = next((o for o in options if not _placeholder(o)), None)
    if option is None or option == f.get("chosen"):
        return  # already so: choosing again would post the page back once more
    since = navs.started
    await loc.select_option(index=options.index(option), timeout=5000)
    await navs.after_change(since)


async def _choose_radio(run: _Run, scan: _Scan, f: dict[str, Any], navs: _Navigations) -> None:
    """A radio group: the radio whose own words fit the scenario's case type when the group
    asks for one; otherwise leave a ticked one, or tick the first (a group always wants one)."""
    peers = [g for g in scan.fields if g["kind"] == "radio" and g.get("group", "") == f.get("group", "")]
    target = None
    if f.get("caseGroup"):
        wanted = _option_for([g["label"] for g in peers], run.obs.case_type)
        target = next((g for g in peers if g["label"] == wanted), None)
    if target is None and not any(g.get("checked") for g in peers):
        target = peers[0]
    if target is None or target.get("checked"):
        return
    since = navs.started
    await _tick(run.page.locator(f'[data-ha-f="{target["key"]}"]').first)
    await navs.after_change(since)


async def _tick(loc: Locator) -> None:
    """Tick a radio or checkbox; one that a UI kit hides under its own drawing is clicked
    where a person clicks: its label, or the kit's box beside it."""
    try:
        await loc.check(timeout=TICK_TIMEOUT_MS)
    except (PlaywrightError, PlaywrightTimeout):
        await loc.evaluate(js.TICK)


async def _pick(run: _Run, picker: Locator, case_type: str | None) -> None:
    """Work a UI kit's drop-down as a person does: click it, click the option that fits (the
    case type, else the first real one), column by column for a cascader (省/市/区), and a
    wheel's 确认. Stops when the field shows a value."""
    page = run.page

    async def chosen() -> bool:
        await page.wait_for_timeout(100)
        value = await picker.input_value(timeout=2000)
        return bool(value) and not PLACEHOLDER.search(value)

    await page.evaluate(js.MARK_SEEN)
    await picker.click(timeout=5000)
    if not await _choose_in_list(page, case_type, chosen):
        await page.keyboard.press("Escape")  # close what stayed open: it would cover the form


async def _choose_in_list(page: Page, case_type: str | None, chosen: Callable[[], Awaitable[bool]]) -> bool:
    for _ in range(PICKER_LEVELS):
        opened: dict[str, Any] = {"options": [], "confirm": False}
        for _ in range(PICKER_POLLS):  # the list is drawn after the click, sometimes animated in
            await page.wait_for_timeout(150)
            opened = await page.evaluate(js.NEW_OPTIONS)
            if opened["options"] or opened["confirm"]:
                break
        usable = [o for o in opened["options"] if not o["disabled"]]
        texts = [o["text"] for o in usable]
        choice = (_option_for(texts, case_type) if case_type else None) or next(
            (t for t in texts if not PLACEHOLDER.search(t)), None)
        if choice is None:
            return False  # nothing to choose: the form's answer will say if it mattered
        await page.evaluate(js.MARK_SEEN)  # what is open now is old news for the next column
        await page.locator(f'[data-ha-o="{usable[texts.index(choice)]["key"]}"]').first.click(timeout=3000)
        if await chosen():
            return True
        if opened["confirm"]:
            await page.locator('[data-ha-o="confirm"]').first.click(timeout=3000)
            if await chosen():
                return True
    return False


async def _captcha_png(run: _Run) -> bytes | None:
    """The captcha image once it has loaded (its own pixels): a script-set image (base64 from JSON, a
    step of a wizard just shown) may still be empty when the form is read, and a busy machine
    paints it late; OCR of an empty box reads nothing and costs one of our tries."""
    img = run.page.locator('[data-ha-img="captcha"]').first
    deadline = time.monotonic() + run.timeout_ms / 1000  # a person waits as long for it as for a page
    try:
        while not await img.evaluate(js.IMAGE_READY):
            if time.monotonic() > deadline:
                return None  # never drawn: nothing a person or OCR could read
            await run.page.wait_for_timeout(250)
        return await _captcha_pixels(img, 10_000)
    except (PlaywrightError, PlaywrightTimeout):
        return None


async def _captcha_pixels(img: Locator, timeout_ms: float) -> bytes:
    """The captcha as the site drew it: the loaded image's own pixels (no second request, so
    the same captcha), else a screenshot of it (another origin's image). A screenshot depends
    on layout: on a phone-sized H5 page under load it came out shifted, the image cut and its
    input box beside it, and OCR read none of three images (seed 3 suizhou, gold no_progress,
    judged needs_review); the image's own pixels read at once."""
    data = await img.evaluate(js.IMAGE_PIXELS)
    if isinstance(data, str) and data.startswith("data:image/png;base64,"):
        return base64.b64decode(data.split(",", 1)[1])
    return await img.screenshot(timeout=timeout_ms)


def _solvers(solver: CaptchaSolver) -> tuple[list[CaptchaSolver], list[CaptchaSolver]]:
    """(machines, people) among the configured solvers, each in its order."""
    solvers = list(solver.solvers) if isinstance(solver, FirstOf) else [solver]
    people = [s for s in solvers if isinstance(s, OperatorCaptchaSolver)]
    return [s for s in solvers if s not in people], people


async def _first_answer(solvers: list[CaptchaSolver], png: bytes) -> str | None:
    for s in solvers:
        if answer := await s.solve(png):
            return answer
    return None


async def _fresh_captcha(tab: Tab, old: bytes) -> bytes | None:
    """Another captcha image, as a person gets one: click 换一张 or the image, else load its
    src again. None when the image stays the same."""
    page = tab.page
    img = page.locator('[data-ha-img="captcha"]').first
    try:
        src = await page.evaluate(js.CAPTCHA_REFRESH)
        if src is None:
            return None
        control = page.locator('[data-ha-b="captcha-refresh"]').first
        if await control.count():
            events, before = tab.events, tab.events.last_activity
            await control.click(timeout=3000)
            clicked = time.monotonic()
            for _ in range(CAPTCHA_REFRESH_POLLS):  # the click's new image takes a request
                await page.wait_for_timeout(250)
                if await img.evaluate(js.IMAGE_READY):
                    png = await _captcha_pixels(img, 5000)
                    if png != old:
                        return png
                quiet = events.last_activity == before and not events.in_flight
                if quiet and time.monotonic() - clicked >= REACTION_S:
                    break  # a click that asked nothing did nothing (as _press judges): load the address again
        if str(src).startswith(("http:", "https:")) and await img.evaluate(js.RELOAD_IMAGE):
            png = await _captcha_pixels(img, 5000)
            return png if png != old else None
    except (PlaywrightError, PlaywrightTimeout):
        pass  # the page moved on or the image went: nothing more to read
    return None


async def _read_captcha(run: _Run, solver: CaptchaSolver, png: bytes) -> tuple[str | None, str, bool]:
    """(answer, who answered, whether a person was asked). OCR first, and when it can make
    nothing of an image it asks for another (as a person squinting at an unreadable one does),
    up to ``CAPTCHA_READS`` images; only then a person, once, on the last image. (Asking the
    person after the first unreadable image ended batch rounds there: nobody answers, and two
    or three hotlines per seed whose next image OCR reads went to review.)"""
    machines, people = _solvers(solver)
    assert run.tab is not None
    if png == run.captcha_seen:  # the site kept the image it just refused: that answer is spent
        png = await _fresh_captcha(run.tab, png) or png
    for read in range(CAPTCHA_READS if machines else 0):
        answer = await _first_answer(machines, png)
        if answer:
            run.captcha_seen = png
            return answer, "ocr", False
        fresh = await _fresh_captcha(run.tab, png) if read < CAPTCHA_READS - 1 else None
        if fresh is None:
            break
        png = fresh
    run.captcha_seen = png
    answer = await _first_answer(people, png)
    return answer, "operator" if answer else "", bool(people)


async def _fill_captcha(run: _Run, scan: _Scan, solver: CaptchaSolver, stage: SubmitStage) -> bool:
    """Read the image captcha and type the answer; False (with the reason recorded) when no
    answer could be had. A slider captcha is a person's step: recorded as such, never pressed
    past (nothing is filed, and the hotline is not blamed)."""
    if scan.slider:
        if stage == "captcha":
            run.obs.captcha_present, run.obs.captcha_solved = True, False
        run.fail(stage, SLIDER_NEEDS_PERSON, "tool", operator_timeout=True, review=True,
                 screenshot=await run.shot("slider"))
        return False
    if not scan.has("captcha"):
        return True
    png = await _captcha_png(run) if scan.captcha_img else None
    if png is None:
        run.fail(stage, "验证码图片无法读取", "tool")
        return False
    answer, who, asked = await _read_captcha(run, solver, png)
    run.obs.captcha_solver = who or run.obs.captcha_solver
    if not answer:
        if stage == "captcha":
            run.obs.captcha_solved = False
        run.fail(stage, "验证码需要人工识别但无人响应" if asked else "OCR 无法识别验证码", "tool",
                 operator_timeout=asked, screenshot=run.image("captcha-unread", run.captcha_seen or png))
        return False
    await run.page.locator('[data-ha-f="captcha"]').first.fill(answer, timeout=5000)
    return True


async def _codes_already_there(run: _Run, inbox: SmsInbox, since: datetime, hint: str | None) -> set[str]:
    """Codes the inbox shows before we ask: an inbox tolerates clock skew, so a code sent to
    the same phone by another site a moment ago would otherwise pass for ours."""
    if isinstance(inbox, OperatorSmsInbox):
        return set()  # a person reads the newest SMS; asking now would only confuse them
    code = await inbox.wait_for_code(run.persona.phone, since, STALE_PEEK_S, hint=hint)
    return {code} if code else set()


async def _fresh_code(run: _Run, inbox: SmsInbox, since: datetime, wait_s: float,
                      stale: set[str], hint: str | None) -> str | None:
    deadline = time.monotonic() + wait_s
    while True:
        left = deadline - time.monotonic()
        code = await inbox.wait_for_code(run.persona.phone, since, max(left, STALE_PEEK_S), hint=hint)
        if code is None or code not in stale:
            return code
        if time.monotonic() + 1.0 > deadline:
            return None
        await asyncio.sleep(1.0)


async def _ask_code(run: _Run, inbox: SmsInbox, button: str, hint: str | None) -> tuple[str | None, datetime]:
    since = run.now()
    stale = await _codes_already_there(run, inbox, since, hint)
    net = run.tab.net if run.tab is not None else None
    mark = net.mark() if net else 0
    await _press(run, button)
    # Whether the site was asked at all: a code it was never asked for cannot be its silence.
    run.sms_asked = run.sms_asked or net is None or any(r.resource_type in TALKING_TYPES for r in net.since(mark))
    return await _fresh_code(run, inbox, since, run.settings.effectiveness.sms_wait_s, stale, hint), since


async def _unnamed_sms_came(inbox: SmsInbox, phone: str, since: datetime, known: set[str]) -> bool:
    """Whether a code arrived since ``since`` in an SMS naming none of the round's cities (a
    signature like 【政务服务】): it may be ours, so the code is asked for again, alone. When
    the inbox cannot list its messages, assume so."""
    texts_since = getattr(inbox, "texts_since", None)
    if texts_since is None:
        return True
    texts: list[str] = await texts_since(phone, since)
    return any(extract_code(t) and not any(k in t for k in known) for t in texts)


async def _get_sms_code(run: _Run, inbox: SmsInbox, button: str, stage: SubmitStage,
                        record: bool = True) -> str | None:
    """Press 获取验证码 and wait for the code. ``record``: whether a missing code is a finding
    (not for a mere lookup of our own cases).

    First a wait for an SMS naming the hotline's city, beside other hotlines' waits; when none
    comes but an SMS naming no city of the round did, the code is asked for once more and any
    new SMS taken, with no other wait running (an SMS that names no sender must not make a
    hotline look silent; a site that sent nothing at all is not asked twice)."""
    eff = run.settings.effectiveness
    gate, hint = _sms_gate(), _sms_hint(run, inbox)
    run.sms_asked = False
    code, retry = None, False
    try:
        if hint is not None:
            async with gate.named(hint):
                code, asked = await _ask_code(run, inbox, button, hint)
            # No SMS at all is the site's silence: asking again alone would only hold up every
            # other hotline's wait for another sms_wait_s.
            retry = code is None and await _unnamed_sms_came(inbox, run.persona.phone, asked, gate.known)
        if hint is None or retry:
            async with gate.alone():
                code, _ = await _ask_code(run, inbox, button, None)
    except SmsInboxError as exc:
        if record:
            run.fail("sms", f"短信收件箱无法读取: {exc}", "tool")
            run.obs.sms_code_received = False
        return None
    except (PlaywrightError, PlaywrightTimeout) as exc:
        if record:
            run.fail(stage, f"获取验证码按钮无法点击: {str(exc).splitlines()[0][:200]}", "tool")
        return None
    if not record:
        return code
    if code is None:
        run.obs.sms_code_received = False
        shot = await run.shot("sms-wait")
        if not run.sms_asked:
            run.fail("sms", "点击获取验证码后网页未发出任何请求，短信验证码无从发送(需人工复核)", "tool",
                     screenshot=shot, review=True)
        elif isinstance(inbox, OperatorSmsInbox):
            run.fail("sms", "短信验证码需要人工输入但无人响应", "tool", operator_timeout=True, screenshot=shot)
        else:
            run.fail("sms", f"点击获取验证码后{eff.sms_wait_s:g}秒内未收到短信验证码", screenshot=shot)
        return None
    run.obs.sms_code_received = True
    return code


@dataclass
class _Pressed:
    """What one press did: what the page (or an alert) complained about, every request the
    press started, and the page's text and alerts around it (for what is new after it)."""

    problems: list[str]
    records: list[NetRecord]
    before_text: str
    dialogs: list[str]

    def sent(self, values: dict[str, str], hosts: set[str]) -> Sent:
        return submissions(self.records, values, hosts)


async def _press_and_listen(run: _Run, selector: str, crash_at: str | None = None) -> _Pressed:
    """Press, then what the page (or an alert) complains about: everything on a new page,
    only new messages when the page stayed (an old error is not this press's answer)."""
    assert run.tab is not None
    before = set(await _errors(run))
    before_text = await _text(run)
    navigations = len(run.tab.events.navigations)
    mark = run.tab.net.mark()
    run.dialogs.clear()
    await _press(run, selector)
    if crash_at:
        crash_point(crash_at)
    if len(run.tab.events.navigations) != navigations:
        before = set()
    await run.tab.net.answers_read()
    dialogs = list(run.dialogs)
    return _Pressed(await _problems(run, before), run.tab.net.since(mark), before_text, dialogs)


async def _problems(run: _Run, before: set[str]) -> list[str]:
    """What the page (or an alert) complains about, beyond ``before``."""
    shown = [t for t in await _errors(run) if t not in before]
    dialogs = [d for d in run.dialogs if ERROR_WORDS.search(d) and not SUCCESS.search(d)]
    run.dialogs.clear()
    return [run.redact(t) for t in dialogs + shown]


def _site_hosts(run: _Run, *urls: str | None) -> set[str]:
    """The hosts a form of this journey may post to: the entry's and the page's (framed
    forms and platform hosts included), never a third party's."""
    return {h for h in (_host(u) for u in (*urls, run.page.url)) if h}


def _cite(run: _Run, record: NetRecord | None, fields: list[str] | None = None) -> NetRequest | None:
    """A request as evidence (no body, no query string), with the HAR it will be saved in."""
    if record is None:
        return None
    return NetRequest(**record.summary(fields), har=run.har)


def _new_text(before: str, after: str) -> str:
    """The lines of ``after`` that were not on the page before: a step label or a notice
    shown all along is no answer to a press."""
    old = {line.strip() for line in before.splitlines()}
    return "\n".join(line for line in after.splitlines() if line.strip() and line.strip() not in old)


# -- login and registration -----------------------------------------------------------------------


def _account_refusal(run: _Run, pressed: _Pressed) -> tuple[str, Side, bool, NetRequest | None]:
    """(message, side, review, request) for a login or registration the page refused: the
    site's refusal only when our request (it carries the phone number) reached it; what the
    page's own script said without sending anything is ours for a person to look at."""
    sent = pressed.sent({"phone": run.persona.phone}, _site_hosts(run))
    best = sent.best()
    if best is None:
        return f"页面未发出请求即提示“{pressed.problems[0]}”(需人工复核)", "tool", True, None
    message, side = _refusal(pressed.problems)
    return message, side, False, _cite(run, *best)


async def _login(run: _Run, scan: _Scan, solver: CaptchaSolver) -> tuple[bool, _Pressed | None]:
    """(logged in, the last press). A refused captcha is typed again, so that a misread is
    never taken for a missing account (which would lead to registering twice)."""
    pressed: _Pressed | None = None
    for _ in range(CAPTCHA_TRIES):
        scan = await _fill(run, scan, _values(run, None))
        if not await _fill_captcha(run, scan, solver, "login"):
            return False, None
        pressed = await _press_and_listen(run, '[data-ha-b="submit"]')
        scan = await _scan(run)
        if scan.kind != "login":
            return True, pressed
        if not any(CAPTCHA_ERROR.search(p) for p in pressed.problems):
            return False, pressed
    run.fail("login", f"登录时连续{CAPTCHA_TRIES}次提示验证码错误", "tool")
    return False, pressed


async def _register(run: _Run, scan: _Scan, inbox: SmsInbox, solver: CaptchaSolver) -> bool:
    obs = run.obs
    scan = await _fill(run, scan, _values(run, None))
    if scan.has("sms_code"):
        if not scan.sms:
            run.fail("register", "注册页有短信验证码栏但没有获取验证码按钮", "tool")
            return False
        code = await _get_sms_code(run, inbox, '[data-ha-b="sms"]', "register")
        if code is None:
            return False
        await run.page.locator('[data-ha-f="sms_code"]').first.fill(code, timeout=5000)
    if not await _fill_captcha(run, scan, solver, "register"):
        return False
    shot = await run.shot("register-filled")
    pressed = await _press_and_listen(run, '[data-ha-b="submit"]')
    after = await _scan(run)
    if after.kind == "register" and pressed.problems:
        obs.registered = False
        message, side, review, request = _account_refusal(run, pressed)
        run.fail("register", message, side, screenshot=await run.shot("register-refused") or shot,
                 request=request, review=review)
        return False
    if after.kind == "register":
        obs.registered = False
        run.fail("register", "提交注册后页面没有变化", "tool", screenshot=await run.shot("register-stuck"))
        return False
    obs.registered = True
    return True


async def _register_from_login(run: _Run, inbox: SmsInbox, solver: CaptchaSolver) -> bool:
    link = next((a for a in await _links(run) if REGISTER_LINK.search(a["text"]) and "登录" not in a["text"]), None)
    if link is None:
        run.obs.registered = False
        run.fail("register", "登录页没有注册入口，无法注册账号", screenshot=await run.shot("no-register"))
        return False
    nav = await _open(run, link["href"])
    scan = await _scan(run)
    if not nav.ok or scan.kind != "register":
        run.obs.registered = False
        run.fail("register", f"注册页面无法打开: {nav.error or '页面上没有注册表单'}",
                 nav.side if not nav.ok else "tool", screenshot=await run.shot("register-page"))
        return False
    return await _register(run, scan, inbox, solver)


async def _sms_login(run: _Run, scan: _Scan, inbox: SmsInbox) -> bool:
    """Phone + SMS code, no password (a common 12345 login)."""
    scan = await _fill(run, scan, _values(run, None))
    code = await _get_sms_code(run, inbox, '[data-ha-b="sms"]', "login") if scan.sms else None
    if code is None:
        return False
    await run.page.locator('[data-ha-f="sms_code"]').first.fill(code, timeout=5000)
    pressed = await _press_and_listen(run, '[data-ha-b="submit"]')
    if (await _scan(run)).kind == "sms_login":
        run.obs.logged_in = False
        shot = await run.shot("login-refused")
        if pressed.problems:
            message, side, review, request = _account_refusal(run, pressed)
            run.fail("login", message, side, screenshot=shot, request=request, review=review)
        else:
            run.fail("login", "短信登录后页面没有变化", "tool", screenshot=shot)
        return False
    run.obs.logged_in = True
    return True


async def _reach_form(run: _Run, entry: Entry, inbox: SmsInbox, solver: CaptchaSolver) -> _Scan | None:
    """From the submission page to its form, through login and registration when asked."""
    obs = run.obs
    registered, gates = False, 0
    for _ in range(5 + MAX_GATES):
        scan = await _scan(run)
        kind = scan.kind
        if kind == "form":
            obs.entry_found = True
            return scan
        if kind == "other":
            framed = await _frame_with(run, js.SCAN_FORM, None, lambda f: _scan_of(f).kind != "other")
            if framed is None:  # a platform's 须知 page inside the frame, before its form
                framed = await _frame_with(run, js.GATE, None, lambda g: bool(g.get("gate")))
            if framed is not None and (await _open(run, framed)).ok:
                continue  # the framed page, opened on its own, is the form (or its login, its notice)
            if gates < MAX_GATES and await _past_gate(run):
                gates += 1
                continue
            break
        obs.entry_found = obs.needs_login = True
        if kind == "sms_login":
            if not await _sms_login(run, scan, inbox):
                return None
        elif kind == "register":
            if registered or not await _register(run, scan, inbox, solver):
                return None
            registered = True
        else:
            ok, pressed = await _login(run, scan, solver)
            if ok:
                obs.logged_in = True
            elif registered:
                obs.logged_in = False
                shot = await run.shot("login-refused")
                if pressed is not None and pressed.problems:
                    message, side, review, request = _account_refusal(run, pressed)
                    run.fail("login", message, side, screenshot=shot, request=request, review=review)
                else:
                    run.fail("login", "注册后仍无法登录", "tool", screenshot=shot)
                return None
            elif any(f.stage == "login" and f.side == "tool" for f in obs.failures):
                return None  # the login captcha could not be read: no verdict on the site
            else:
                if not await _register_from_login(run, inbox, solver):
                    return None
                registered = True
                continue
        if (await _scan(run)).kind != "form":
            nav = await _open(run, entry.url)
            if not nav.ok:
                break
    shot = await run.shot("no-form")
    if gates and (await _eval(run, js.GATE) or {}).get("gate"):
        # Still on the notice page after pressing its 同意: a step we did not get past (a box we
        # did not find, a control that answered otherwise), not a hotline without a form.
        run.fail("entry", "未能通过写信须知页面(已勾选并点击同意，仍停留在该页)，需人工复核", "tool",
                 screenshot=shot, review=True)
        return None
    obs.entry_found = False
    shown = int(await _eval(run, VISIBLE_FIELDS) or 0)
    if shown >= FORM_LIKE_FIELDS:
        # Fields a person could fill, in a shape we did not read as a letter form: ours to
        # learn, not the hotline's missing entry.
        run.fail("entry", f"提交页面上有{shown}个输入项，但检测工具未能识别为诉求表单(需人工复核)", "tool",
                 screenshot=shot, review=True)
    else:
        run.fail("entry", "提交页面上没有可填写的诉求表单", screenshot=shot)
    return None


# -- looking a case up -------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"[\s“”\"'…]", "", text)


def _title_matches(shown: str, title: str) -> bool:
    a, b = _norm(shown), _norm(title)
    return bool(a) and (a == b or (len(a) >= 8 and (b.startswith(a) or a.startswith(b))))


def _receipt_from_rows(rows: list[dict[str, str]], title: str, since: date | None,
                       taken: set[str]) -> dict[str, str] | None:
    """The row of our case: same title, not dated before our intent, and not a case the ledger
    already holds (the same scenario may have been filed in an earlier round)."""
    for row in rows:
        if not any(_title_matches(v, title) for v in row.values()):
            continue
        day = _when(" ".join(row.values()))
        if since and day and china_date(day) < since - timedelta(days=1):
            continue
        receipt = parse_receipt(" ".join(f"{k}：{v}" for k, v in row.items()))
        if receipt.get("number") and receipt["number"] not in taken:
            return receipt
    return None


async def _read_case_list(run: _Run, title: str) -> tuple[dict[str, str] | None, bool]:
    """(receipt of our case, whether the page was a list we can trust to be complete)."""
    rows = await _eval(run, js.TABLES) or []
    text = await _text(run)
    listed = bool(rows) or bool(re.search(r"暂无|无记录|没有记录", text))
    return _receipt_from_rows(rows, title, run.intent_day, run.taken), listed


async def _lookup_mine(run: _Run, title: str) -> tuple[dict[str, str] | None, bool]:
    link = next((a for a in await _links(run) if MINE_LINK.search(a["text"])), None)
    if link is None:
        return None, False
    nav = await _open(run, link["href"])
    if not nav.ok:
        return None, False
    await run.shot("my-cases")
    return await _read_case_list(run, title)


async def _lookup_by_phone(run: _Run, track_url: str, title: str, inbox: SmsInbox) -> tuple[dict[str, str] | None, bool]:
    nav = await _open_fresh(run, track_url)
    if not nav.ok:
        return None, False
    found = await _track_form(run)
    if not found.get("lookup"):
        return None, False
    await run.page.locator('[data-ha-t="lookup_phone"]').first.fill(run.persona.phone, timeout=5000)
    code = await _get_sms_code(run, inbox, '[data-ha-t="lookup_sms"]', "sms", record=False)
    if code is None:
        return None, False
    await run.page.locator('[data-ha-t="lookup_code"]').first.fill(code, timeout=5000)
    await _press(run, '[data-ha-t="lookup_press"]')
    await run.shot("cases-by-phone")
    return await _read_case_list(run, title)


async def _find_filed(run: _Run, title: str, inbox: SmsInbox) -> tuple[dict[str, str] | None, bool]:
    """Look for a case we may have filed: "my submissions" (logged in), else the tracking page's
    lookup by phone. (receipt, authoritative)."""
    receipt, listed = await _lookup_mine(run, title)
    if receipt or listed:
        return receipt, listed
    if run.track_url:
        return await _lookup_by_phone(run, run.track_url, title, inbox)
    return None, False


# -- tracking ------------------------------------------------------------------------------------


def _when(text: str) -> datetime | None:
    m = DATE.search(text)
    if not m:
        return None
    y, mo, d, hh, mm = (int(x) if x else 0 for x in m.groups())
    try:
        return datetime(y, mo, d, hh, mm, tzinfo=CHINA_TZ).astimezone(UTC)
    except ValueError:
        return None


def _read_progress(rows: list[str], notes: list[str], text: str, seen_at: datetime) -> tuple[bool, str | None, list[ReplyRecord]]:
    """(our case is shown, its latest status or the page's "nothing found" text, replies)."""
    steps = [(row, STATUS.search(DATE.sub(" ", row))) for row in rows]
    steps = [(row, m) for row, m in steps if m]
    replies: list[ReplyRecord] = []
    for row, m in steps:
        if REPLY_STATUS.fullmatch(m.group()):
            detail = STATUS.sub("", DATE.sub(" ", row), count=1).strip()
            if len(detail) >= 10:
                replies.append(ReplyRecord(text=detail, replied_at=_when(row), seen_at=seen_at))
    if not replies:
        labelled = REPLY_LABEL.search(text)
        if labelled and steps:
            replies.append(ReplyRecord(text=labelled["text"].strip(), seen_at=seen_at))
    if steps:
        return True, steps[-1][1].group(), replies
    return False, (notes[0] if notes else None), []


async def _open_fresh(run: _Run, url: str) -> _Nav:
    """Open ``url`` as a new visit. On a single-page app the tracking route differs from the
    page we are on only by its #fragment: going there would keep the old view's leftovers (a
    receipt dialog over the whole page, taking every click)."""
    current = urlsplit(run.page.url)
    target = urlsplit(url)
    if current.fragment != target.fragment and current._replace(fragment="") == target._replace(fragment=""):
        with contextlib.suppress(PlaywrightError, PlaywrightTimeout):
            await run.page.goto("about:blank", timeout=5000)
    return await _open(run, url)


async def _track_from_home(run: _Run) -> str | None:
    """The tracking entry as a person finds it when the receipt page named none: the homepage's
    办件查询 / 我的诉求 … link (the website's, else the H5 site's)."""
    home = run.hotline.website or run.hotline.h5
    if not home or not (await _open(run, home, patient=False)).ok:
        return None
    return _pick_links(await _links(run), set())[1]


async def _track(run: _Run, track_url: str | None, receipt: dict[str, str]) -> None:
    """Look our case up with its receipt; append a ProgressCheck (and replies) to the obs."""
    obs = run.obs
    now = run.now()
    if not receipt.get("number"):
        obs.progress.append(ProgressCheck(checked_at=now, url=track_url, shown=False,
                                          status_text="回执中没有受理编号，无法查询进度"))
        return
    if not track_url:
        track_url = run.track_url = await _track_from_home(run)
    if not track_url:
        # We looked (discovery, the receipt page, the homepage) and found none; a person may.
        obs.progress.append(ProgressCheck(checked_at=now, shown=False, status_text="未找到进度查询入口",
                                          review=True))
        return
    nav = await _open_fresh(run, track_url)
    if not nav.ok:
        obs.progress.append(ProgressCheck(checked_at=now, url=track_url, shown=False, side=nav.side,
                                          error=nav.error, status_text="查询页面无法打开",
                                          screenshot=await run.shot("track-down")))
        return
    found = await _track_form(run)
    if not (found.get("number") and found.get("button")):
        obs.progress.append(ProgressCheck(checked_at=now, url=track_url, shown=False, side="tool",
                                          error="查询页面上没有找到受理编号输入框",
                                          screenshot=await run.shot("track-form")))
        return
    await run.page.locator('[data-ha-t="number"]').first.fill(receipt["number"], timeout=5000)
    if found.get("code") and receipt.get("code"):
        await run.page.locator('[data-ha-t="code"]').first.fill(receipt["code"], timeout=5000)
    await _press(run, '[data-ha-t="press"]')
    result = await _eval(run, js.PROGRESS, NO_RESULT) or {}
    text = run.redact(await _text(run))
    shown, status, replies = _read_progress(result.get("rows", []), result.get("notes", []), text, now)
    shot = await run.shot("track")
    await run.snapshot("track")
    # Not shown is the site's answer only when the page says so (暂无/未查询到 …); a page that
    # shows neither our case nor such a message is one we could not read.
    obs.progress.append(ProgressCheck(checked_at=now, url=run.page.url, shown=shown,
                                      status_text=run.redact(status) if status else None, screenshot=shot,
                                      review=not shown and not status))
    known = {r.text for r in obs.replies}
    obs.replies += [r.model_copy(update={"text": run.redact(r.text)}) for r in replies
                    if run.redact(r.text) not in known]


# -- submitting ----------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """What a press of the form's button came to, read from the network and the page."""

    sent: Sent  # the requests that could have carried our form
    receipt: dict[str, str] = field(default_factory=dict)
    captcha_rejected: bool = False
    problems: list[str] = field(default_factory=list)
    accepted: bool = False  # filed: our request answered, then a receipt or success after it
    proof: FilingProof | None = None
    request: NetRequest | None = None  # the submitting request, as cited
    text: str = ""

    @property
    def status(self) -> int | None:
        return self.request.status if self.request else None


def _complaint(run: _Run) -> dict[str, str]:
    """Our letter's own words: what a submitting request must carry (a name or a phone number
    is also sent by logins and SMS requests, so they prove nothing here)."""
    return {"title": run.obs.title or "", "content": run.obs.body or ""}


async def _read_outcome(run: _Run, pressed: _Pressed, hosts: set[str]) -> _Outcome:
    """Filed only on proof: the network shows our submitting request sent after the press and
    answered 2xx/3xx, and a receipt or a success message appears after it — in its answer, an
    alert, or page text that was not there before. A step label (提交成功 in a wizard's
    header), the form itself, or a toast with no request is not a receipt."""
    text = await _text(run)
    sent = pressed.sent(_complaint(run), hosts)
    best = sent.best()
    out = _Outcome(sent=sent, text=text, problems=pressed.problems)
    if best is not None:
        out.request = _cite(run, best[0], best[1])
    fresh = "\n".join([_new_text(pressed.before_text, text), *pressed.dialogs])
    answers = [r.answer for r, _ in sent.carrying if r.answer] + [r.answer for r in sent.opaque if r.answer]
    page_receipt = {k: v for k, v in parse_receipt(fresh).items()}
    answer_receipt = parse_receipt("\n".join(answers))
    receipt = page_receipt if page_receipt.get("number") else answer_receipt
    said_in: Literal["response", "page"] = "page" if page_receipt.get("number") else "response"
    success = SUCCESS.search(fresh)
    if not receipt.get("number") and not success:
        success = next((m for m in (SUCCESS.search(a) for a in answers) if m), None)
        said_in = "response"
    # A page that says 提交失败 beside a success word (a wizard's 提交完成 step label, reloaded
    # with the error) is a refusal, not a receipt: only a receipt number outweighs it. (A
    # prompt such as 请输入查询码 on a receipt page refuses nothing.)
    refusals = [m for m in [*out.problems, *(line.strip() for line in fresh.splitlines())]
                if len(m) <= 80 and ERROR_WORDS.search(m) and not SUCCESS.search(m) and not ASKS_FOR_INPUT.search(m)]
    answered = [(r, f) for r, f in sent.carrying if r.answered_ok]
    if answered and (receipt.get("number") or (success and not refusals)):
        out.accepted = True
    elif not answered and any(r.answered_ok for r in sent.opaque) and receipt.get("number"):
        out.accepted = True  # an encrypted form: no values to see, but its answer is a new receipt
    if out.accepted:
        out.receipt = receipt if receipt.get("number") else {}
        said = _around(fresh if said_in == "page" else "\n".join(answers),
                       receipt.get("number") or (success.group() if success else ""))
        if answered:
            answered.sort(key=lambda rf: -len(rf[1]))
            out.request = _cite(run, answered[0][0], answered[0][1])
        out.proof = FilingProof(kind="request", request=out.request, said=run.redact(said), said_in=said_in)
    if not out.accepted and not out.problems:
        # A refusal the page showed as before (a toast still up from the last try) is new all
        # the same when the answer to this press says it.
        out.problems = [run.redact(m) for m in _answer_messages(answers) if ERROR_WORDS.search(m) and not SUCCESS.search(m)]
        if not out.problems and success and refusals:
            out.problems = [run.redact(m) for m in dict.fromkeys(refusals)]
    out.captcha_rejected = not out.accepted and any(CAPTCHA_ERROR.search(p) for p in out.problems)
    return out


MESSAGE_KEYS = ("msg", "message", "errmsg", "errMsg", "error", "info", "tip", "tips", "desc", "resultMsg")


def _answer_messages(answers: list[str]) -> list[str]:
    """What an answer to a press says to the person: a JSON answer's message fields, or a short
    plain-text answer (a page's whole HTML is not a message)."""
    out: list[str] = []
    for text in answers:
        stripped = text.strip()
        try:
            data = json.loads(stripped)
        except ValueError:
            if stripped and len(stripped) <= 200 and "<" not in stripped:
                out.append(stripped)
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                out += [str(v)[:200] for k, v in item.items() if k in MESSAGE_KEYS and isinstance(v, str) and v]
                stack += [v for v in item.values() if isinstance(v, (dict, list))]
            elif isinstance(item, list):
                stack += item
    return out


def _around(text: str, needle: str, width: int = 60) -> str:
    i = text.find(needle) if needle else -1
    return text[max(0, i - width): i + len(needle) + width].strip() if i >= 0 else text[:2 * width].strip()


def _due(run: _Run, submitted_at: datetime) -> date:
    return reply_due(china_date(submitted_at), run.obs.case_type, run.settings.effectiveness)


def _accept(run: _Run, ledger: Ledger, case: Case, receipt: dict[str, str], text: str,
            submitted_at: datetime) -> Case:
    obs = run.obs
    obs.form_accepted, obs.submitted_at, obs.receipt = True, submitted_at, dict(receipt)
    obs.receipt_text = run.redact(text)[:2000]
    if obs.captcha_present:
        obs.captcha_solved = True
    crash_point("before_receipt_saved")
    return ledger.record_receipt(case, receipt, submitted_at=submitted_at, due_at=_due(run, submitted_at),
                                 observation=obs, track_url=run.track_url)


async def _submit_form(run: _Run, ledger: Ledger, case: Case, entry: Entry, scan: _Scan,
                       scenario: Scenario, solver: CaptchaSolver, inbox: SmsInbox, resubmit: bool) -> Case:
    """Fill, write the intent, press; again after a refused captcha; on through a wizard's
    steps (a 下一步 that sent nothing shows the next step's fields). Returns the case as the
    ledger now has it."""
    obs = run.obs
    obs.captcha_present = scan.has("captcha")
    channel = "h5" if entry.mobile else "website"
    pressed_at = run.now()
    refusals, steps, sent_any = 0, 0, False
    while True:
        scan = await _fill(run, scan, _values(run, scenario))
        if scan.has("sms_code") and scan.sms:  # some forms verify the phone by SMS themselves
            code = await _get_sms_code(run, inbox, '[data-ha-b="sms"]', "form")
            if code is None:
                return _stopped(run, ledger, case)
            await run.page.locator('[data-ha-f="sms_code"]').first.fill(code, timeout=5000)
        if not await _fill_captcha(run, scan, solver, "captcha"):
            return ledger.save(case, obs)
        obs.captcha_present = obs.captcha_present or scan.has("captcha")
        obs.captcha_attempts += int(scan.has("captcha"))
        shot = await run.shot("form-filled")
        if not _may_press(entry.url, run.settings, run.persona):
            obs.error_texts.append(NOT_ALLOWED)
            return ledger.save(case, obs)
        if not scan.submit:
            run.fail("form", "表单上没有找到提交按钮", "tool", screenshot=shot)
            return ledger.save(case, obs)
        hosts = _site_hosts(run, entry.url)
        pressed_at = run.now()
        case = ledger.mark_submitting(case, channel=channel, url=entry.url, observation=obs,
                                      resubmit=resubmit, at=pressed_at)
        resubmit = False  # counted once; captcha retries of this run are not resubmissions
        crash_point("before_submit")
        pressed = await _press_and_listen(run, '[data-ha-b="submit"]')
        out = await _read_outcome(run, pressed, hosts)
        if out.sent.any:
            crash_point("after_submit")  # the site has it (a wizard's 下一步 sent nothing)
        sent_any = sent_any or out.sent.any
        if out.accepted:
            _note_track_link(run, await _links(run))
            await run.shot("receipt")
            await run.snapshot("receipt")
            obs.filing = out.proof
            return _accept(run, ledger, case, out.receipt, out.text, pressed_at)
        if out.captcha_rejected:
            obs.error_texts.append(out.problems[0])
            refusals += 1
            if refusals >= CAPTCHA_TRIES:
                break
            scan = await _scan(run)
            if scan.kind != "form":  # refused the captcha, then showed something else
                return await _unclear_press(run, ledger, case, inbox, pressed_at, out)
            continue
        if out.problems:
            obs.form_accepted = False
            message, side = _refusal(out.problems)
            shot = await run.shot("form-refused")
            if not out.sent.any:
                # The page's own script stopped the press: nothing reached the site, so this
                # is our typing (or a widget we could not work), never the hotline's refusal.
                run.fail("form", f"表单未发出提交请求，页面提示“{out.problems[0]}”(需人工复核)", "tool",
                         screenshot=shot, review=True)
            else:
                run.fail("form", message, side, screenshot=shot, request=out.request)
            return ledger.record_failure(case, "form", obs.failures[-1].message, obs)
        if not out.sent.any:
            after = await _scan(run)
            if after.kind == "form" and _fields_changed(scan, after) and steps < MAX_STEPS:
                steps += 1  # a wizard's next step: nothing was sent yet, fill it in turn
                scan = after
                continue
            return _nothing_sent(run, ledger, case, out)
        if out.status is not None and out.status >= 500:
            obs.form_accepted = False
            run.fail("form", f"提交请求被网站拒绝：HTTP {out.status}", "site",
                     screenshot=await run.shot("form-refused"), request=out.request)
            return ledger.record_failure(case, "form", obs.failures[-1].message, obs)
        return await _unclear_press(run, ledger, case, inbox, pressed_at, out)
    obs.captcha_solved = False
    shot = await run.shot("captcha-refused")
    if not sent_any:
        run.fail("captcha", f"连续{CAPTCHA_TRIES}次提示验证码错误，但表单未发出提交请求(需人工复核)", "tool",
                 screenshot=shot, review=True)
        return ledger.record_failure(case, "captcha", obs.failures[-1].message, obs)
    run.fail("captcha", f"连续{CAPTCHA_TRIES}次提交均提示验证码错误", screenshot=shot, request=out.request)
    return ledger.record_failure(case, "captcha", obs.failures[-1].message, obs)


def _nothing_sent(run: _Run, ledger: Ledger, case: Case, out: _Outcome) -> Case:
    """The press sent nothing that could carry our letter (the network shows it), so nothing
    was filed — whatever the page says. Whose failing that is, a person decides."""
    run.obs.form_accepted = False
    said = " (页面显示“" + SUCCESS.search(out.text).group() + "”，但并无提交请求)" if SUCCESS.search(out.text) else ""
    run.fail("form", "按下提交后未发出任何提交请求，诉求未送达网站" + said + "(需人工复核)", "tool", review=True)
    return ledger.record_failure(case, "form", run.obs.failures[-1].message, run.obs)


def _refusal(problems: list[str]) -> tuple[str, Side]:
    """What to report of a refused form, and whose failing it is: the site's own error if it
    gave one; else what the form asked for, which a person would simply have given (a field we
    did not recognise, a widget we could not work), so it is ours and never held against the
    hotline."""
    site = [p for p in problems if not ASKS_FOR_INPUT.search(p)]
    if site:
        return site[0], "site"
    return f"表单要求“{problems[0]}”，检测工具未能完成该项(需人工复核)", "tool"


LOOKUP_WORDS = re.compile(r"查询|查看|进度|跟踪")


def _note_track_link(run: _Run, links: list[dict[str, str]]) -> None:
    """The receipt's own way to track the case: of the page's tracking links, one that looks a
    case up (信件查询, 办理进度查询) before a personal list behind a login (我的诉求 in the page's
    user bar), and the last such (the receipt follows the page's chrome)."""
    tracks = [link for link in links if entry_kind(link["text"]) == "track"]
    lookups = [link for link in tracks if LOOKUP_WORDS.search(link["text"])]
    chosen = (lookups or tracks)[-1:]
    run.track_url = chosen[0]["href"] if chosen else run.track_url


async def _unclear_press(run: _Run, ledger: Ledger, case: Case, inbox: SmsInbox,
                         pressed_at: datetime, out: _Outcome) -> Case:
    """A request went out, but neither a receipt nor an error came of it: look for the case
    before deciding anything."""
    shot = await run.shot("after-submit")
    receipt, listed = await _find_filed(run, case.title, inbox)
    if receipt:
        run.obs.filing = FilingProof(kind="listed", request=out.request, said=receipt.get("number"), said_in="list")
        return _accept(run, ledger, case, receipt, out.text, pressed_at)
    run.obs.error_texts.append("提交后页面既无回执也无错误提示")
    if listed:
        run.fail("form", "提交后页面既无回执也无错误提示，且“我的诉求”中没有该件", "tool", screenshot=shot,
                 request=out.request, review=True)
        return ledger.record_failure(case, "form", "提交后无回执，网站上也查不到该件", run.obs)
    return ledger.mark_unknown(case, "提交后无回执，且无法在网站上查到是否已受理", run.obs)


async def _reconcile(run: _Run, ledger: Ledger, case: Case, inbox: SmsInbox) -> tuple[Case, bool]:
    """A case left at intent/unknown: (case, may submit). Found: its receipt is recorded."""
    receipt, listed = await _find_filed(run, case.title, inbox)
    if receipt:
        submitted_at = case.pressed_at or run.now()
        run.obs.filing = FilingProof(kind="listed", said=receipt.get("number"), said_in="list")
        return _accept(run, ledger, case, receipt, "", submitted_at), False
    if listed and case.resubmits < MAX_RESUBMITS:
        return case, True
    reason = ("上次提交中断，网站上查不到该件，且已重新提交过一次" if listed
              else "上次提交中断，无法在网站上核实是否已受理")
    run.obs.error_texts.append(reason)
    return ledger.mark_unknown(case, reason, run.obs), False


# -- the journey -------------------------------------------------------------------------------


async def _flow(run: _Run, ledger: Ledger, case: Case, entry: Entry, scenario: Scenario,
                inbox: SmsInbox, solver: CaptchaSolver) -> Case:
    obs = run.obs
    obs.url, obs.channel = entry.url, "h5" if entry.mobile else "website"
    obs.entry_via = run.redact(entry.found_on)[:300]
    run.track_url = entry.track_url or run.track_url
    nav = await _open(run, entry.url)
    if nav.ok and not entry.mobile and WECHAT_ONLY.search(await _text(run)):
        raise _WantMobile()
    if not nav.ok:
        run.fail("entry", f"提交页面无法打开: {nav.error}", nav.side, screenshot=await run.shot("entry"))
        return _stopped(run, ledger, case)
    # No shot of an entry that opened: the next stage's shot shows it (a shot is ~0.5 s of a
    # busy 2-core machine), except where the journey stops here.
    if not _may_press(entry.url, run.settings, run.persona):
        # Registering an account is already acting on a real site: stop at the entry.
        await run.shot("entry")
        obs.entry_found = True
        obs.error_texts.append(NOT_ALLOWED)
        return ledger.save(case, obs)
    scan = await _reach_form(run, entry, inbox, solver)
    if scan is None:
        return _stopped(run, ledger, case)
    resubmit = False
    run.taken = ledger.receipt_numbers(case.hotline_id)
    run.intent_day = china_date(case.pressed_at) if case.pressed_at else None
    if case.state in (INTENT, UNKNOWN):
        case, resubmit = await _reconcile(run, ledger, case, inbox)
        if not resubmit:
            return case
        if not (await _open(run, entry.url)).ok or (scan := await _reach_form(run, entry, inbox, solver)) is None:
            return ledger.save(case, obs)
    return await _submit_form(run, ledger, case, entry, scan, scenario, solver, inbox, resubmit)


def _stopped(run: _Run, ledger: Ledger, case: Case) -> Case:
    """The journey stopped before pressing submit. A site refusal is recorded as such, except
    for a case a crash left pending: it may have been filed, so it keeps its state."""
    site = [f for f in run.obs.failures if f.side == "site"]
    if case.state in (INTENT, UNKNOWN, SUBMITTED) or not site:
        return ledger.save(case, run.obs)
    return ledger.record_failure(case, site[-1].stage, site[-1].message, run.obs)


def _new_obs(hotline: Hotline, scenario: Scenario, title: str, body: str) -> SubmissionObservation:
    return SubmissionObservation(hotline_id=hotline.hotline_id, scenario_id=scenario.id,
                                 case_type=scenario.case_type, title=title, body=body,
                                 keywords=list(scenario.keywords))


async def submit_case(ctx: JourneyContext, hotline: Hotline, channels: list[Channel], ledger: Ledger,
                      round_name: str, persona: Persona, scenario: Scenario, inbox: SmsInbox,
                      solver: CaptchaSolver, *, now: datetime | None = None
                      ) -> tuple[SubmissionObservation, list[EvidenceFile]]:
    """File ``scenario`` with ``hotline`` once (per round), then look its progress up.

    ``now`` is the audit's clock (simweb's simulated time in tests); the SMS inbox is asked for
    codes sent after it. A case the ledger already has with a receipt is only tracked again."""
    since = time.time()
    title, body = scenario.render(hotline.city)
    case = ledger.begin(hotline.hotline_id, round_name, scenario, title=title, persona=persona_key(persona))
    if case.state == SUBMITTED:
        obs, evidence = await _follow_up(ctx, ledger, case, hotline, persona, now)
        obs.throttles += ctx.throttles_since(hotline.hotline_id, {host_of(u) for u in (
            hotline.website, hotline.h5, case.track_url) if u}, since)
        return obs, evidence
    run = _Run(ctx, hotline, persona, _new_obs(hotline, scenario, title, body), _Clock(now))
    entry = _channel_entry(hotline, channels)
    mobile = bool(entry and entry.mobile)
    tracked = False
    for _ in range(3):
        want_mobile = False
        capture = Capture(ctx.evidence_path(hotline.hotline_id, CHECK, f"{run.prefix}{'h5-' if mobile else ''}submit"),
                          secrets=persona, options=ctx.settings.evidence, check=CHECK)
        run.har = _har_of(ctx, capture)
        async with ctx.browser.tab(mobile=mobile, capture=capture, hotline_id=hotline.hotline_id) as tab:
            run.tab = tab
            handler = _on_dialog(run)
            tab.page.on("dialog", handler)
            try:
                if entry is None:
                    entry = await _find_entry(run, channels, mobile)
                if entry is not None and entry.mobile and not mobile:
                    want_mobile = True
                elif entry is not None:
                    case = await _flow(run, ledger, case, entry, scenario, inbox, solver)
                    if case.state == SUBMITTED:
                        # The first look at progress, in this tab (one borrow, one archive),
                        # logged out as every later look is.
                        await tab.context.clear_cookies()
                        await _look_up(run, case)
                        ledger.record_check(case, run.obs, now=run.now())
                        tracked = True
            except _WantMobile:
                want_mobile = True
            except (PlaywrightError, PlaywrightTimeout) as exc:
                run.obs.tool_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            finally:
                tab.page.remove_listener("dialog", handler)
                run.tab = None
        for path, media_type in capture.saved:
            run._keep(path, media_type)
        if not want_mobile or mobile:
            break
        mobile = True
        if entry is not None:
            entry = replace(entry, mobile=True)
    if entry is None:
        case = _stopped(run, ledger, case)
    if case.state == SUBMITTED and not tracked:  # the tab broke after the receipt was kept
        await _check_progress(run, ledger, case)
    _note_throttles(run, channels, since)
    return run.obs, run.evidence


def _note_throttles(run: _Run, channels: list[Channel], since: float) -> None:
    """The throttling answers the hotline's sites gave us since ``since``, kept with the
    observation (each look adds its own): what makes a block no accusation."""
    urls = [run.hotline.website, run.hotline.h5, run.obs.url, run.track_url, *(c.value for c in channels),
            *(p.url for p in run.obs.progress)]
    hosts = {host_of(u) for u in urls if u and u.startswith("http")}
    seen = {(t.host, t.at, t.url) for t in run.obs.throttles}
    run.obs.throttles += [t for t in run.ctx.throttles_since(run.hotline.hotline_id, hosts, since)
                          if (t.host, t.at, t.url) not in seen]


def _har_of(ctx: JourneyContext, capture: Capture) -> str | None:
    """Where this borrow's HAR will be, relative to the round (None when HARs are off)."""
    if not ctx.settings.evidence.har:
        return None
    return capture.path("har").relative_to(ctx.round_dir).as_posix()


async def _look_up(run: _Run, case: Case) -> None:
    """One look at the case's progress in the current tab; a browser failure is recorded as
    the tool's."""
    try:
        await _track(run, case.track_url or run.track_url, case.receipt)
    except (PlaywrightError, PlaywrightTimeout) as exc:
        run.obs.progress.append(ProgressCheck(checked_at=run.now(), url=case.track_url, shown=False,
                                              side="tool", error=str(exc).splitlines()[0][:300]))


async def _track_case(run: _Run, case: Case) -> None:
    """One look at the case's progress in a tab of its own, in the kind of browser it was filed
    with."""
    capture = Capture(run.ctx.evidence_path(run.hotline.hotline_id, CHECK, f"{run.prefix}track"),
                      secrets=run.persona, options=run.settings.evidence, check=CHECK)
    async with run.ctx.browser.tab(mobile=case.channel == "h5", capture=capture,
                                   hotline_id=run.hotline.hotline_id) as tab:
        run.tab = tab
        try:
            await _look_up(run, case)
        finally:
            run.tab = None
    for path, media_type in capture.saved:
        run._keep(path, media_type)


async def _check_progress(run: _Run, ledger: Ledger, case: Case) -> None:
    await _track_case(run, case)
    ledger.record_check(case, run.obs, now=run.now())


def _run_for_case(ctx: JourneyContext, case: Case, hotline: Hotline, persona: Persona,
                  now: datetime | None, prefix: str = "") -> _Run:
    obs = case.observed() or SubmissionObservation(hotline_id=case.hotline_id)
    return _Run(ctx, hotline, persona, obs, _Clock(now), prefix=prefix, track_url=case.track_url)


async def _follow_up(ctx: JourneyContext, ledger: Ledger, case: Case, hotline: Hotline,
                     persona: Persona, now: datetime | None) -> tuple[SubmissionObservation, list[EvidenceFile]]:
    run = _run_for_case(ctx, case, hotline, persona, now, prefix="again-")
    await _check_progress(run, ledger, case)
    return run.obs, run.evidence


async def recheck_case(ctx: JourneyContext, case: Case, persona: Persona, *, now: datetime | None = None
                       ) -> tuple[SubmissionObservation, list[EvidenceFile]]:
    """Look a submitted case up again: its progress and any reply, added to the observation the
    ledger keeps (so ``judge_effectiveness`` sees every look). Does not write the ledger."""
    hotline = Hotline(hotline_id=case.hotline_id, name=case.hotline_id, province="", city="")
    clock = _Clock(now)
    run = _run_for_case(ctx, case, hotline, persona, clock.now(),
                        prefix=f"recheck-{clock.now().astimezone(CHINA_TZ):%Y%m%dT%H%M}-")
    since = time.time()
    await _track_case(run, case)
    _note_throttles(run, [], since)
    return run.obs, run.evidence


# -- what the round and the recheck command call -------------------------------------------------


def has_channel(hotline: Hotline, channels: list[Channel]) -> bool:
    return bool(hotline.website or hotline.h5
                or any(c.kind in ("website", "h5", "submit") for c in channels))


async def observe_effectiveness(ctx: JourneyContext, hotline: Hotline, channels: list[Channel],
                                ledger: Ledger, round_name: str, *, tools: EffectivenessTools | None = None,
                                now: datetime | None = None) -> tuple[SubmissionObservation, list[EvidenceFile]]:
    """The round's journey for one hotline: its scenario for this round, filed at most once."""
    if not has_channel(hotline, channels):
        return SubmissionObservation(hotline_id=hotline.hotline_id), []
    tools = tools or effectiveness_tools(ctx.settings, ctx.round_dir)
    scenario = pick_scenario(hotline.hotline_id, round_name)
    return await submit_case(ctx, hotline, channels, ledger, round_name, tools.persona, scenario,
                             tools.inbox, tools.solver, now=now)


async def run_effectiveness(ctx: JourneyContext, hotline: Hotline, channels: list[Channel],
                            ledger: Ledger, round_name: str, *, tools: EffectivenessTools | None = None,
                            now: datetime | None = None) -> tuple[SubmissionObservation, Verdict, list[EvidenceFile]]:
    """Observe, judge, and keep the verdict with the case.

    >>> obs, verdict, evidence = await run_effectiveness(ctx, hotline, channels, Ledger(store), "R1")  # doctest: +SKIP
    """
    obs, evidence = await observe_effectiveness(ctx, hotline, channels, ledger, round_name, tools=tools, now=now)
    verdict = judge_effectiveness(obs, ctx.settings.effectiveness)
    case = ledger.get(hotline.hotline_id, round_name, obs.scenario_id) if obs.scenario_id else None
    if case is not None:
        ledger.save(case, verdict=verdict.verdict.value, verdict_reason=verdict.reason)
    return obs, verdict, evidence


@dataclass
class RecheckResult:
    case: Case
    observation: SubmissionObservation
    verdict: Verdict
    evidence: list[EvidenceFile]
    elapsed_s: float = 0.0


async def recheck_due(ctx: JourneyContext, ledger: Ledger, *, tools: EffectivenessTools | None = None,
                      now: datetime | None = None, round_name: str | None = None,
                      on_done: Callable[[RecheckResult], None] | None = None) -> list[RecheckResult]:
    """``recheck --due``: every submitted case past its reply deadline, looked up and judged;
    the ledger keeps each look and closes cases with a final verdict. Evidence goes to
    ``settings.out / case.round`` (each case's own round directory).

    Cases are looked up as many at a time as the browser pool has tabs (``browser.contexts``);
    each is written to the ledger (a version-checked update) and handed to ``on_done`` as soon
    as it is judged, so an interrupted recheck keeps what it did. A case another process
    updated meanwhile is left to that process. Results come back in ``ledger.due`` order.

    >>> results = await recheck_due(ctx, Ledger(store), now=datetime.now(UTC))  # doctest: +SKIP
    """
    now = now or utcnow()
    persona = tools.persona if tools else load_persona(ctx.settings)
    cases = [c for c in ledger.due(now) if round_name is None or c.round == round_name]
    # Phone tabs are a second pool: bound the total, not just the desktop tabs.
    slots = asyncio.Semaphore(ctx.settings.browser.contexts)
    done: dict[int, RecheckResult] = {}

    async def one(i: int, case: Case) -> None:
        async with slots:
            started = time.perf_counter()
            case_ctx = replace(ctx, round_dir=ctx.settings.out / case.round)
            obs, evidence = await recheck_case(case_ctx, case, persona, now=now)
        verdict = judge_effectiveness(obs, ctx.settings.effectiveness)
        try:
            case = ledger.record_check(case, obs, verdict, now=now)
        except LedgerConflict:
            return
        done[i] = RecheckResult(case, obs, verdict, evidence, time.perf_counter() - started)
        if on_done is not None:
            on_done(done[i])

    async with asyncio.TaskGroup() as group:
        for i, case in enumerate(cases):
            group.create_task(one(i, case))
    return [done[i] for i in sorted(done)]
