"""The submission journey in real Chromium against simweb: file one complaint per hotline, keep
the ledger, recheck after simweb's clock has moved on, and agree with the gold labels. Each
fixture runs its own simweb, because these tests move its clock and count its cases."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from checks.effectiveness import judge_effectiveness
from crawler.known import known_channels
from fixtures.simweb import build_population, gold_rows
from fixtures.simweb.layouts import channel_urls
from fixtures.simweb.population import Portal
from hotline_audit.config import Settings
from hotline_audit.ledger import FAILED, SUBMITTED, Ledger
from hotline_audit.model import Channel, Hotline, SubmissionObservation, Verdict
from hotline_audit.personas import fake_persona
from hotline_audit.scenarios import pick_scenario
from hotline_audit.simweb_process import simweb_process
from hotline_audit.store import Store
from journeys.browser import BrowserPool
from journeys.effectiveness import (
    effectiveness_tools,
    recheck_due,
    run_effectiveness,
    submit_case,
)
from journeys.stability import JourneyContext

from .effectiveness_support import COUNT, SEED, journey_settings, population

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("effectiveness_journey"), pytest.mark.timeout(900)]

ROUND = "eff-t"
ROOT = Path(__file__).resolve().parents[1]
PERSONA = fake_persona()


@dataclass
class World:
    """One simweb, every listed hotline submitted once, then rechecked 30 days later."""

    proxy: str
    settings: Settings
    ledger: Ledger
    portals: dict[str, Portal]
    gold: dict[str, tuple[str, str]]  # hotline -> (verdict, cannot_reason)
    first: dict[str, tuple[SubmissionObservation, Verdict]] = field(default_factory=dict)
    final: dict[str, Verdict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    recheck_timings: dict[str, float] = field(default_factory=dict)

    def cases(self, hotline_id: str) -> list[dict]:
        return sim_get(self.proxy, "/_cases", hotline_id=hotline_id)

    def clock(self) -> datetime:
        return datetime.fromisoformat(sim_get(self.proxy, "/_clock")["now"])


def sim_get(proxy: str, path: str, **params: str):
    with httpx.Client(proxy=proxy, trust_env=False, timeout=10) as c:
        return c.get(f"http://simweb.test{path}", params=params).json()


def sim_post(proxy: str, path: str, body: dict):
    with httpx.Client(proxy=proxy, trust_env=False, timeout=10) as c:
        return c.post(f"http://simweb.test{path}", json=body).json()


def context(settings: Settings, pool: BrowserPool, round_name: str = ROUND) -> JourneyContext:
    return JourneyContext(settings, pool, settings.out / round_name, asyncio.Semaphore(4))


async def submit_all(world: World, hotlines: list[Hotline], channels: dict[str, list[Channel]]) -> None:
    settings = world.settings
    async with BrowserPool(settings.browser, settings.proxy, settings.network) as pool:
        ctx = context(settings, pool)
        tools = effectiveness_tools(settings, ctx.round_dir)
        slots = asyncio.Semaphore(settings.browser.contexts)  # timings without waiting for a tab
        now = world.clock()

        async def one(h: Hotline) -> None:
            async with slots:
                started = time.perf_counter()
                obs, verdict, _ = await run_effectiveness(
                    ctx, h, channels.get(h.hotline_id, known_channels(h)), world.ledger, ROUND, tools=tools, now=now)
                world.timings[h.hotline_id] = time.perf_counter() - started
                world.first[h.hotline_id] = (obs, verdict)

        await asyncio.gather(*(one(h) for h in hotlines))
        sim_post(world.proxy, "/_clock", {"advance_days": 30})
        for r in await recheck_due(ctx, world.ledger, tools=tools, now=world.clock()):
            world.final[r.case.hotline_id] = r.verdict
            world.recheck_timings[r.case.hotline_id] = r.elapsed_s
    for hid, (_, verdict) in world.first.items():
        world.final.setdefault(hid, verdict)


def make_world(proxy: str, tmp: Path, seed: int, count: int, pick: list[str] | None = None,
               channels: dict[str, list[Channel]] | None = None) -> World:
    portals = {p.hotline_id: p for p in build_population(seed, count)}
    gold = {g["hotline_id"]: (g["verdict"], g["detail"]) for g in gold_rows(list(portals.values()))
            if g["check"] == "effectiveness"}
    hotlines = [h for h in population(seed, count) if h.hotline_id in (pick or portals)]
    run = {h.hotline_id for h in hotlines}
    gold = {hid: g for hid, g in gold.items() if hid in run}
    settings = journey_settings(proxy, tmp)
    world = World(proxy, settings, Ledger(Store(settings.db)), portals, gold)
    asyncio.run(submit_all(world, hotlines, channels or {}))
    print_timings(world)
    return world


def print_timings(world: World) -> None:
    print("\nhotline        gold            first           final          submit_s recheck_s")
    for hid, secs in sorted(world.timings.items(), key=lambda kv: -kv[1]):
        print(f"{hid:14} {world.gold[hid][0]:15} {world.first[hid][1].verdict.value:15} "
              f"{world.final[hid].verdict.value:14} {secs:8.1f} {world.recheck_timings.get(hid, 0):9.1f}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """All 24 hotlines but the slow site, whose every page sleeps 5-10 s: its journey only
    waits (126 s of the fixture's 187 s, measured), and a slow site is filed in the 344-hotline
    acceptance round (test_effectiveness_round) and in every seed of bench/seeds.py."""
    quick = [p.hotline_id for p in build_population(SEED, COUNT) if p.trait != "slow"]
    with simweb_process(SEED, COUNT) as proxy:
        yield make_world(proxy, tmp_path_factory.mktemp("eff24"), SEED, COUNT, quick)


def pick(world: World, **want: object) -> str:
    return next(hid for hid, p in world.portals.items()
                if hid in world.first and all(getattr(p, k) == v for k, v in want.items()))


# -- agreement with gold -------------------------------------------------------------------------


def test_every_hotline_agrees_with_gold(world):
    wrong = {hid: (gold, world.final[hid].verdict.value, world.final[hid].reason)
             for hid, gold in world.gold.items()
             if (world.final[hid].verdict.value, world.final[hid].metrics.get("cannot_reason") or "")
             != (gold[0], gold[1] if gold[0] == "cannot_submit" else "")}
    print(f"effectiveness agreement: {len(world.gold) - len(wrong)}/{len(world.gold)}")
    assert not wrong
    # The ledger keeps every look: judging its observation again gives the same verdict.
    for case in world.ledger.cases(ROUND):
        again = judge_effectiveness(case.observed(), world.settings.effectiveness)
        assert again.verdict == world.final[case.hotline_id].verdict, case


def test_no_hotline_is_accused_before_its_reply_is_due(world):
    """Right after submitting, a hotline that will answer is pending, never failed."""
    for hid, (obs, verdict) in world.first.items():
        if world.gold[hid][0] in ("solved", "not_solved", "no_reply"):
            assert verdict.verdict.value == "needs_review", (hid, verdict.reason)
            assert "未到答复期限" in verdict.reason and obs.receipt.get("number")


@pytest.mark.parametrize("gold", ["solved", "not_solved", "no_reply", "no_progress"])
def test_submitted_outcome(world, gold):
    hid = pick(world, effectiveness=gold, submit_via="website")
    obs, _ = world.first[hid]
    assert obs.form_accepted and obs.entry_found and obs.channel == "website"
    assert obs.receipt["number"] and obs.receipt["code"] and obs.submitted_at
    assert len(world.cases(hid)) == 1 and world.cases(hid)[0]["number"] == obs.receipt["number"]
    case = world.ledger.get(hid, ROUND, obs.scenario_id)
    assert case.state == SUBMITTED and case.due_at and case.checks >= 2 and case.verdict == gold
    assert case.closed  # a final verdict, seen after the deadline
    checks = case.observed().progress
    assert len(checks) >= 2 and all(c.shown == (gold != "no_progress") for c in checks)
    replies = case.observed().replies
    assert bool(replies) == (gold in ("solved", "not_solved"))
    if gold == "no_progress":
        assert checks[-1].status_text == "暂无该件办理信息"
    if replies:
        assert replies[0].replied_at and obs.title in replies[0].text


def test_login_portals_register_with_the_sms_code(world):
    hid = pick(world, needs_login=True, effectiveness="solved", sms="late")
    obs, _ = world.first[hid]
    assert (obs.needs_login, obs.sms_code_received, obs.registered, obs.logged_in) == (True, True, True, True)
    captcha = pick(world, captcha="image", effectiveness="solved")
    obs, _ = world.first[captcha]
    assert obs.captcha_present and obs.captcha_solved and obs.captcha_solver == "ocr"


def test_h5_only_hotline_submits_in_wechat(world):
    hid = pick(world, submit_via="h5", site_kind="h5_only")
    obs, _ = world.first[hid]
    assert obs.channel == "h5" and obs.form_accepted and obs.url.startswith(world.portals[hid].h5)
    assert world.cases(hid)[0]["channel"] == "h5"
    assert world.final[hid].verdict.value == world.gold[hid][0]


def test_dead_sites_cannot_take_a_submission(world):
    for hid, p in world.portals.items():
        if p.trait in ("always_5xx", "hang", "redirect_loop", "tls_error"):
            obs, verdict = world.first[hid]
            assert verdict.verdict.value == "cannot_submit" and verdict.metrics["cannot_reason"] == "无提交入口"
            assert obs.failures[0].stage == "entry" and obs.failures[0].side == "site"
            assert world.ledger.get(hid, ROUND, obs.scenario_id).state == FAILED
            assert not world.cases(hid)


def test_no_channel_files_nothing(world):
    hid = pick(world, effectiveness="no_channel")
    obs, verdict = world.first[hid]
    assert verdict.verdict.value == "no_channel" and obs.scenario_id is None
    assert world.ledger.cases(ROUND) and all(c.hotline_id != hid for c in world.ledger.cases(ROUND))


# -- never twice ---------------------------------------------------------------------------------


def test_submitting_again_only_tracks_the_case(world):
    hid = pick(world, effectiveness="solved", submit_via="website")
    hotline = next(h for h in population() if h.hotline_id == hid)
    before = world.ledger.get(hid, ROUND, world.first[hid][0].scenario_id)

    async def again() -> SubmissionObservation:
        async with BrowserPool(world.settings.browser, world.settings.proxy, world.settings.network) as pool:
            ctx = context(world.settings, pool)
            tools = effectiveness_tools(world.settings, ctx.round_dir)
            obs, _ = await submit_case(ctx, hotline, known_channels(hotline), world.ledger, ROUND, tools.persona,
                                       pick_scenario(hid, ROUND), tools.inbox, tools.solver, now=world.clock())
            return obs

    obs = asyncio.run(again())
    assert len(world.cases(hid)) == 1
    after = world.ledger.get(hid, ROUND, obs.scenario_id)
    assert after.presses == before.presses == 1 and after.checks == before.checks + 1
    assert obs.receipt == before.receipt and len(obs.progress) == len(before.observed().progress) + 1


def test_ledger_keeps_no_persona_data(world):
    raw = Path(world.settings.db.removeprefix("sqlite:///")).read_bytes()
    for value in (PERSONA.phone, PERSONA.id_number, PERSONA.email):
        assert value.encode() not in raw
    for case in world.ledger.cases(ROUND):
        assert PERSONA.phone not in json.dumps(case.observation, ensure_ascii=False)
    texts = [p for p in (world.settings.out / ROUND).rglob("*") if p.suffix in (".html", ".txt")]
    assert texts
    for path in texts:
        assert PERSONA.phone not in path.read_text(encoding="utf-8")
    shots = list((world.settings.out / ROUND).rglob("*form-filled.jpg"))
    assert len(shots) >= sum(1 for c in world.ledger.cases(ROUND) if c.state == SUBMITTED)


def test_a_person_needed_in_batch_mode_gives_needs_review(world, tmp_path):
    """Operator SMS and captcha with no terminal: nothing filed, nobody accused."""
    cases: dict[str, Verdict] = {}
    login = pick(world, needs_login=True, captcha="none", effectiveness="solved")
    captcha = pick(world, captcha="image", effectiveness="solved")
    for hid, eff in ((login, {"sms_inbox_url": None}), (captcha, {"captcha_mode": "operator"})):
        (tmp_path / hid).mkdir()
        settings = journey_settings(world.proxy, tmp_path / hid, **eff)
        hotline = next(h for h in population() if h.hotline_id == hid)
        ledger = Ledger(Store(settings.db))

        async def go(settings: Settings = settings, hotline: Hotline = hotline, ledger: Ledger = ledger) -> Verdict:
            async with BrowserPool(settings.browser, settings.proxy, settings.network) as pool:
                ctx = context(settings, pool, "op")
                # A new person: the round's persona already has accounts on these sites.
                tools = replace(effectiveness_tools(settings, ctx.round_dir), persona=fake_persona("operator"))
                _, verdict, _ = await run_effectiveness(ctx, hotline, known_channels(hotline), ledger, "op",
                                                        tools=tools, now=world.clock())
                return verdict

        before = len(world.cases(hid))
        cases[hid] = asyncio.run(go())
        assert len(world.cases(hid)) == before
        assert ledger.cases("op")[0].state not in ("intent", SUBMITTED)
    assert [v.verdict.value for v in cases.values()] == ["needs_review", "needs_review"]
    assert "人工" in cases[captcha].reason


# -- crashes -------------------------------------------------------------------------------------


def crash_run(proxy: str, tmp: Path, hotline_id: str, crash_at: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_AUDIT_CRASH_AT"}
    if crash_at:
        env["HOTLINE_AUDIT_CRASH_AT"] = crash_at
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.effectiveness_crash_run", proxy, f"sqlite:///{tmp / 'ledger.db'}",
         str(tmp), hotline_id, "crash"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        try:  # a SIGKILLed run leaves its browser behind: end that process group (ours)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def crash_portals() -> list[tuple[str, str]]:
    portals = [p for p in build_population(SEED, COUNT) if p.trait == "healthy"
               and p.effectiveness in ("solved", "not_solved", "no_reply", "no_progress")]
    login = next(p for p in portals if p.needs_login and p.captcha == "none" and p.sms == "prompt")
    anonymous = next(p for p in portals if not p.needs_login)
    return [(point, login.hotline_id) for point in ("before_submit", "after_submit", "before_receipt_saved")] \
        + [("after_submit", anonymous.hotline_id)]


@pytest.mark.xdist_group("effectiveness_crash")  # its own simweb per case: can run on another worker
@pytest.mark.parametrize("crash_at,hotline_id", crash_portals())
def test_sigkill_mid_submission_files_exactly_one_case(tmp_path, crash_at, hotline_id):
    with simweb_process(SEED, COUNT) as proxy:
        crashed = crash_run(proxy, tmp_path, hotline_id, crash_at)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        filed = sim_get(proxy, "/_cases", hotline_id=hotline_id)
        assert len(filed) == (0 if crash_at == "before_submit" else 1)

        rerun = crash_run(proxy, tmp_path, hotline_id, None)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        case = json.loads(rerun.stdout.strip().splitlines()[-1])
        filed = sim_get(proxy, "/_cases", hotline_id=hotline_id)
        assert len(filed) == 1
        assert case["state"] == SUBMITTED and case["receipt"]["number"] == filed[0]["number"]
        assert case["resubmits"] == (1 if crash_at == "before_submit" else 0)

        third = crash_run(proxy, tmp_path, hotline_id, None)
        assert third.returncode == 0 and len(sim_get(proxy, "/_cases", hotline_id=hotline_id)) == 1


# -- the larger population: every reason a submission fails, and H5 behind a website ---------------


def portals_344() -> tuple[list[str], dict[str, list[Channel]]]:
    portals = [p for p in build_population(SEED, 344) if p.trait == "healthy"]
    picked = [next(p for p in portals if p.cannot_reason == reason)
              for reason in ("无提交入口", "注册失败", "收不到验证码", "验证码", "表单报错")]
    via_h5 = [p for p in portals if p.submit_via == "h5" and p.site_kind != "h5_only"
              and p.effectiveness != "cannot_submit"]
    homepage_h5 = next(p for p in via_h5 if p.needs_login)
    discovered_h5 = next(p for p in via_h5 if not p.needs_login)
    urls = channel_urls(discovered_h5)
    channels = {discovered_h5.hotline_id: [
        Channel(hotline_id=discovered_h5.hotline_id, kind=kind, value=urls[kind], found_on=discovered_h5.website)
        for kind in ("website", "submit", "track", "h5")]}
    return [p.hotline_id for p in [*picked, homepage_h5, discovered_h5]], channels


@pytest.fixture(scope="module")
def world344(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ids, channels = portals_344()
    with simweb_process(SEED, 344) as proxy:
        yield make_world(proxy, tmp_path_factory.mktemp("eff344"), SEED, 344, ids, channels)


@pytest.mark.acceptance  # a 344-portal simweb: make acceptance
def test_each_cannot_submit_reason_and_h5_behind_a_website(world344):
    assert len(world344.first) == 7
    for hid, verdict in world344.final.items():
        gold, reason = world344.gold[hid]
        assert verdict.verdict.value == gold, (hid, verdict.reason)
        assert (verdict.metrics.get("cannot_reason") or "") == (reason if gold == "cannot_submit" else "")
        filed = world344.cases(hid)
        assert len(filed) == (gold != "cannot_submit")
    via_h5 = [hid for hid, p in world344.portals.items() if hid in world344.first and p.submit_via == "h5"]
    assert len(via_h5) >= 2
    for hid in via_h5:  # the website links to the WeChat H5 page: filled in the phone
        obs, _ = world344.first[hid]
        assert obs.channel == "h5" and obs.url.startswith(world344.portals[hid].h5)
        assert bool(obs.form_accepted) == (world344.gold[hid][0] != "cannot_submit")


@pytest.mark.acceptance
def test_refused_captcha_is_retried_then_reported(world344):
    hid = next(h for h, p in world344.portals.items() if p.captcha == "broken" and h in world344.first)
    obs, verdict = world344.first[hid]
    assert obs.captcha_attempts == 4 and obs.captcha_solved is False
    assert verdict.confidence < 0.9  # OCR answers can be wrong: weaker than a person's


# -- one phone for every hotline: SMS waits side by side -------------------------------------------


class Phone:
    """The persona's phone behind ``HttpSmsInbox``: a site texts a fresh code when its button is
    pressed (``_press`` stands in for the browser), signed 【city12345】 unless ``unsigned``."""

    def __init__(self, delays: dict[str, float], unsigned: set[str] = frozenset(),
                 silent: set[str] = frozenset()) -> None:
        self.delays, self.unsigned, self.silent = delays, unsigned, silent
        self.presses: Counter[str] = Counter()
        self.messages: list[dict] = []
        self.latest: dict[str, str] = {}  # the code each site accepts now
        self.waiting = self.most_waiting = 0

    def inbox(self):
        from journeys.verification import HttpSmsInbox

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=self.messages)

        return HttpSmsInbox("http://inbox.test/_sms?phone={phone}", transport=httpx.MockTransport(answer),
                            poll_s=0.1)

    async def press(self, run, selector: str) -> None:
        city = run.hotline.city
        self.presses[city] += 1
        if city in self.silent:
            return
        code = f"{len(self.messages) + 100000:06d}"
        self.latest[city] = code
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)

        def deliver() -> None:
            sign = "" if city in self.unsigned else f"【{city}12345】"
            self.messages.append({"to": PERSONA.phone, "text": f"{sign}您的验证码为{code}，5分钟内有效。",
                                  "received_at": datetime.now(UTC).isoformat()})
            self.waiting -= 1

        asyncio.get_running_loop().call_later(self.delays.get(city, 0.0), deliver)


def sms_codes(monkeypatch, phone: Phone, cities: list[str]) -> dict[str, str | None]:
    import journeys.effectiveness as eff
    from hotline_audit.config import load_settings

    monkeypatch.setattr(eff, "_press", phone.press)

    async def no_shot(self, name):  # no browser here: a missing code is recorded without one
        return None

    monkeypatch.setattr(eff._Run, "shot", no_shot)
    settings = load_settings(None, effectiveness={"sms_wait_s": 1.5})
    ctx = JourneyContext(settings, None, Path("."), asyncio.Semaphore(1))  # type: ignore[arg-type]
    inbox = phone.inbox()

    async def one(city: str) -> str | None:
        hotline = Hotline(hotline_id=city, name=f"{city}12345", province="", city=city)
        run = eff._Run(ctx, hotline, PERSONA, SubmissionObservation(hotline_id=city), eff._Clock(None))
        return await eff._get_sms_code(run, inbox, "button", "register")

    async def every() -> list[str | None]:
        return await asyncio.gather(*(one(c) for c in cities))

    return dict(zip(cities, asyncio.run(every()), strict=True))


def test_sms_codes_that_name_their_city_are_awaited_side_by_side(monkeypatch):
    phone = Phone({"南京": 0.6, "苏州": 0.6, "无锡": 0.0})
    codes = sms_codes(monkeypatch, phone, ["南京", "苏州", "无锡"])
    assert codes == phone.latest  # each site's own code, although they came in any order
    assert phone.most_waiting >= 2  # not one at a time


def test_an_sms_naming_nobody_is_awaited_alone(monkeypatch):
    """No SMS names the city: asked again with no other wait running, and the new code is taken
    (a hotline is never called silent because its SMS lacks a signature)."""
    phone = Phone({"南京": 0.0, "苏州": 0.3}, unsigned={"南京"})
    codes = sms_codes(monkeypatch, phone, ["南京", "苏州"])
    assert codes == phone.latest
    assert sum(1 for m in phone.messages if "【" not in m["text"]) == 2  # 南京 was asked twice


def test_a_site_that_sends_no_sms_is_not_asked_again_alone(monkeypatch):
    """Silence is the site's: a second, exclusive wait would hold up every other hotline's."""
    phone = Phone({"南京": 0.2, "苏州": 0.0}, silent={"苏州"})
    codes = sms_codes(monkeypatch, phone, ["南京", "苏州"])
    assert codes == {"南京": phone.latest["南京"], "苏州": None}
    assert phone.presses == {"南京": 1, "苏州": 1}  # 苏州 asked once: no exclusive second wait
