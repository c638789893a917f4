"""The findability journey in real Chromium against simweb: entry points found with the right
clicks, questions typed into every kind of search widget, knowledge base and robot, and every
failure (hang, 5xx, alert, download, off-site redirect, picture results, proxy down) recorded
as an outcome with a reason, never a crash.

Portals are picked by their simweb traits: the 24-portal population where it has the trait,
the 344-portal one for the rarer ones (search timeout and error, unlinked search, robot only)."""

import asyncio
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.simweb import build_population
from fixtures.simweb.corpus import TOPICS
from fixtures.simweb.gold import channel_values
from fixtures.simweb.layouts import LAYOUTS
from fixtures.simweb.population import DEAD_TRAITS
from hotline_audit.config import load_settings
from hotline_audit.model import Channel, Hotline, SearchHit
from journeys.browser import BrowserPool
from journeys.findability import (
    KB_OPEN,
    REASON_KB_LIST,
    REASON_OFFSITE,
    REASON_SKIPPED,
    REASON_UNREADABLE,
    _kb_picks,
    observe_findability,
)
from journeys.stability import JourneyContext

from .conftest import COUNT, SEED

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("findability_journey")]

# The hanging search (full population) waits this long; short, so the suite stays fast.
QUERY_TIMEOUT_S = 5.0
# Nothing in the small population hangs: a generous bound there keeps a loaded CI machine
# (2 cores, several Chromiums) from turning a slow answer into a timeout.
SMALL_TIMEOUT_S = 12.0
# Healthy enough that only findability traits matter (flapping front pages are retried once).
LIVE = ("healthy", "stale_homepage", "js_challenge", "gbk_mislabelled", "flapping")


@dataclass(frozen=True)
class Q:
    """A stand-in for hotline_audit.questions.Question: the journey needs only these two."""

    id: str
    text: str

    def query_for(self, city: str) -> str:
        return self.text.replace("{city}", city)


TOPIC_QUESTIONS = [Q(t.key, t.question) for t in TOPICS if t.area in ("社保", "医保")][:5]
TOPIC_OF = {t.key: t for t in TOPICS}


def pick(portals, **want):
    return next(p for p in portals if p.host and p.trait in LIVE
                and all(getattr(p, k) == v for k, v in want.items()))


def hotline_of(p):
    return Hotline(hotline_id=p.hotline_id, name=p.name, province=p.province, city=p.city,
                   website=p.website or None)


def channels_of(p, extra=()):
    """What discovery finds for the portal (simweb's gold channels), plus ``extra``."""
    rows = [*channel_values(p).items(), *extra]
    return [Channel(hotline_id=p.hotline_id, kind=k, value=v, found_on="test") for k, v in rows]


def observe_all(proxy, round_dir, plans, query_timeout_s=QUERY_TIMEOUT_S):
    """Run the journey for (key, portal, channels, questions) plans in one browser, two at a time."""
    settings = load_settings(None, proxy=proxy, out=round_dir.parent)
    settings.findability.query_timeout_s = query_timeout_s

    async def main():
        async with BrowserPool(settings.browser, proxy, settings.network) as pool:
            ctx = JourneyContext(settings, pool, round_dir, asyncio.Semaphore(4))
            slots = asyncio.Semaphore(settings.browser.contexts)

            async def one(key, portal, channels, questions):
                # One evidence folder per plan: two plans may visit the same portal.
                hotline = hotline_of(portal).model_copy(update={"hotline_id": f"{portal.hotline_id}-{key}"})
                async with slots:
                    t0 = time.monotonic()
                    obs, evidence = await observe_findability(ctx, hotline, channels, questions)
                    return key, (obs, evidence, time.monotonic() - t0)

            return dict(await asyncio.gather(*(one(*plan) for plan in plans)))

    return asyncio.run(main())


POP24 = build_population(SEED, COUNT)
POP344 = build_population(SEED, 344)
SMALL = {
    "form_get": pick(POP24, search_widget="form_get", search_quality="accurate", has_kb=True, has_robot=True),
    "new_tab": pick(POP24, search_widget="new_tab", search_quality="accurate"),
    "ajax_jsonp": pick(POP24, search_widget="ajax_jsonp", search_quality="accurate"),
    "iframe": pick(POP24, search_widget="iframe", search_quality="accurate", site_kind="standalone"),
    "kb_only": pick(POP24, search_widget="none", has_kb=True, has_robot=False, h5_host=""),
    "h5_only": pick(POP24, site_kind="h5_only"),
}
DEAD = next(p for p in POP24 if p.trait in DEAD_TRAITS and p.trait != "hang")
FULL = {  # without an H5 site, so that only the website is observed
    "timeout": pick(POP344, search_widget="form_get", search_quality="timeout", h5_host=""),
    "error": pick(POP344, search_widget="new_tab", search_quality="error", h5_host=""),
    "iframe_error": pick(POP344, search_widget="iframe", search_quality="error", h5_host=""),
    "ajax_error": pick(POP344, search_widget="ajax_jsonp", search_quality="error", h5_host=""),
    "unlinked": pick(POP344, search_widget="unlinked", has_kb=False, has_robot=False, h5_host=""),
    "robot_only": pick(POP344, search_widget="none", has_kb=False, has_robot=True, h5_host=""),
    "nothing": pick(POP344, search_widget="none", has_kb=False, has_robot=False, h5_host=""),
    "empty": pick(POP344, search_widget="iframe", search_quality="empty", site_kind="standalone"),
}
# Magic words make simweb's HTML search misbehave (fixtures/simweb/services.py TEST_QUERY_WORDS).
ODD_QUESTIONS = [Q("alert", "simweb-alert 社保卡"), Q("download", "simweb-download 社保卡"),
                 Q("offsite", "simweb-offsite 社保卡"), Q("images", "simweb-images {city}社保卡丢了怎么补办")]


@pytest.fixture(scope="module")
def small(simweb, tmp_path_factory):
    round_dir = tmp_path_factory.mktemp("findability") / "r"
    plans = [(k, p, channels_of(p), TOPIC_QUESTIONS) for k, p in SMALL.items()]
    plans += [("dead", DEAD, channels_of(DEAD), TOPIC_QUESTIONS),
              ("odd", SMALL["form_get"], channels_of(SMALL["form_get"]), ODD_QUESTIONS)]
    return observe_all(simweb, round_dir, plans, query_timeout_s=SMALL_TIMEOUT_S), round_dir


@pytest.fixture(scope="module")
def full(simweb_full, tmp_path_factory):
    round_dir = tmp_path_factory.mktemp("findability") / "r"
    unlinked = FULL["unlinked"]
    hidden_search = f"{unlinked.scheme}://{unlinked.host}{LAYOUTS[unlinked.template].unlinked_search}"
    plans = [(k, p, channels_of(p, [("search", hidden_search)] if k == "unlinked" else []), TOPIC_QUESTIONS)
             for k, p in FULL.items()]
    return observe_all(simweb_full, round_dir, plans)


def entry(obs, via):
    return next(e for e in obs.entry_points if e.via == via)


def attempts(obs, via):
    return [a for a in obs.attempts if a.via == via]


def answers(topic, hits):
    return any(any(w in h.title for w in topic.answer_words) for h in hits)


@pytest.mark.parametrize("widget", ["form_get", "new_tab", "ajax_jsonp", "iframe"])
def test_each_search_widget_is_found_on_the_homepage_and_answers(small, widget):
    obs = small[0][widget][0]
    search = entry(obs, "search")
    assert search.clicks == 0 and search.reachable
    asked = attempts(obs, "search")
    assert [a.question_id for a in asked] == [q.id for q in TOPIC_QUESTIONS]
    assert all(a.outcome == "results" and a.side == "site" and not a.unreadable for a in asked), \
        [(a.outcome, a.reason) for a in asked]
    # The portal's search is accurate: each question's results name its topic.
    assert all(answers(TOPIC_OF[a.question_id], a.hits) for a in asked), [a.hits[:2] for a in asked]
    assert all(len(a.hits) <= 10 and all(h.title and h.url.startswith("http") for h in a.hits) for a in asked)
    assert all(a.elapsed_ms is not None and a.elapsed_ms < SMALL_TIMEOUT_S * 1000 for a in asked)


def test_a_new_tab_search_keeps_its_results_tab_for_the_next_question(simweb, tmp_path):
    """As a person does: the next question is typed in the results tab, not a new tab each."""
    p = SMALL["new_tab"]
    settings = load_settings(None, proxy=simweb, out=tmp_path, browser={"contexts": 1})

    async def main():
        async with BrowserPool(settings.browser, simweb, settings.network) as pool:
            ctx = JourneyContext(settings, pool, tmp_path / "r", asyncio.Semaphore(4))
            opened = []
            async with pool.tab() as tab:  # the pool's only tab: the journey borrows it next
                tab.context.on("page", lambda page: opened.append(page))
            obs, _ = await observe_findability(ctx, hotline_of(p), channels_of(p), TOPIC_QUESTIONS)
            async with pool.tab() as tab:
                left = len(tab.context.pages)
            return obs, opened, left

    obs, opened, left = asyncio.run(main())
    asked = attempts(obs, "search")
    assert [a.outcome for a in asked] == ["results"] * len(TOPIC_QUESTIONS)
    assert all(answers(TOPIC_OF[a.question_id], a.hits) for a in asked)
    assert len(opened) == 1 and left == 1  # one results tab, closed when the journey ended


def test_a_question_answered_is_not_asked_again_elsewhere(simweb, tmp_path):
    """With the judging rule at hand, the search goes first and the knowledge base and robot
    are asked only what it left open; when nothing is left open, one question each."""
    p = SMALL["form_get"]  # search, knowledge base and robot
    settings = load_settings(None, proxy=simweb, out=tmp_path, browser={"contexts": 1})
    by_search = {q.id for q in TOPIC_QUESTIONS[:3]}

    async def main(answered):
        async with BrowserPool(settings.browser, simweb, settings.network) as pool:
            ctx = JourneyContext(settings, pool, tmp_path / "r", asyncio.Semaphore(4))
            obs, _ = await observe_findability(ctx, hotline_of(p), channels_of(p), TOPIC_QUESTIONS, answered)
            return obs

    obs = asyncio.run(main(lambda q, a: a.via == "search" and q.id in by_search))
    assert [a.via for a in obs.attempts][:len(TOPIC_QUESTIONS)] == ["search"] * len(TOPIC_QUESTIONS)
    left = [q.id for q in TOPIC_QUESTIONS[3:]]
    assert [a.question_id for a in attempts(obs, "knowledge_base")] == left
    assert [a.question_id for a in attempts(obs, "robot")] == left
    obs = asyncio.run(main(lambda q, a: a.outcome == "results"))
    assert len(attempts(obs, "search")) == len(TOPIC_QUESTIONS)
    first = [TOPIC_QUESTIONS[0].id]
    assert [a.question_id for a in attempts(obs, "knowledge_base")] == first
    assert [a.question_id for a in attempts(obs, "robot")] == first


def test_results_carry_snippets_and_dates_as_shown(small):
    obs = small[0]["form_get"][0]
    hit = attempts(obs, "search")[0].hits[0]
    assert len(hit.snippet) >= 10 and hit.date and len(hit.date) == 10


def test_knowledge_base_and_robot_are_one_click_away(small):
    obs = small[0]["form_get"][0]
    kb, robot = entry(obs, "knowledge_base"), entry(obs, "robot")
    assert kb.clicks == 1 and kb.reachable and robot.clicks == 1 and robot.reachable
    listed = attempts(obs, "knowledge_base")
    # simweb's knowledge base has no box: its entry list is what a person reads, for every question.
    assert len(listed) == len(TOPIC_QUESTIONS)
    assert all(a.browsed and a.reason.startswith(REASON_KB_LIST) and len(a.hits) > 20 for a in listed)
    assert all(answers(TOPIC_OF[a.question_id], a.hits) for a in listed)
    # The entries titled most like the question were opened: their text, without the title or
    # the page's chrome, is the snippet (the list itself shows titles and dates only).
    for a in listed:
        read = [h for h in a.hits if h.snippet]
        assert 1 <= len(read) <= KB_OPEN, a.question_id
        assert all(len(h.snippet) >= 20 and h.title not in h.snippet and "首页" not in h.snippet for h in read)
        assert answers(TOPIC_OF[a.question_id], read), [h.title for h in read]
    asked = attempts(obs, "robot")
    assert all(a.outcome == "results" and a.hits for a in asked), [(a.outcome, a.reason) for a in asked]
    assert all(answers(TOPIC_OF[a.question_id], a.hits) for a in asked)


def test_knowledge_base_entries_are_opened_by_their_likeness_to_the_question():
    titles = ["孝感住房公积金异地转移接续办事指南", "居民医保每年什么时候交？常见问题解答",
              "异地就医备案怎么办？常见问题解答", "开餐馆怎么办食品经营许可证？常见问题解答",
              "孝感高龄津贴怎么领？一文看懂", "关于孝感市12345热线的通知"]
    hits = [SearchHit(title=t, url=f"http://kb.test/{n}.html") for n, t in enumerate(titles)]

    def picked(query, n=KB_OPEN):
        return [h.title for h in _kb_picks(query, "孝感", hits, n)]

    assert picked("孝感医保异地就医备案怎么弄", 1) == ["异地就医备案怎么办？常见问题解答"]
    assert picked("开饭店要办食品经营许可证吗", 1) == ["开餐馆怎么办食品经营许可证？常见问题解答"]
    assert picked("80岁以上老人的高龄补贴怎么领", 1) == ["孝感高龄津贴怎么领？一文看懂"]
    assert picked("孝感公积金怎么取出来") == ["孝感住房公积金异地转移接续办事指南"]  # 公积 积金, not 孝感
    assert picked("结婚登记要带什么") == []  # nothing alike: nothing opened
    assert _kb_picks("医保", "", [SearchHit(title="医保关系转移")]) == []  # no URL to open


def test_a_portal_without_search_box_offers_its_knowledge_base(small):
    obs = small[0]["kb_only"][0]
    assert [e.via for e in obs.entry_points] == ["knowledge_base"]
    assert entry(obs, "knowledge_base").clicks == 1


def test_the_wechat_h5_site_is_searched_on_a_phone(small):
    p = SMALL["h5_only"]
    obs = small[0]["h5_only"][0]
    assert obs.website is None and obs.h5 == p.h5  # the judge needs to know an H5 site was there
    search = entry(obs, "search")
    assert search.url.startswith(p.h5) and search.clicks == 0
    asked = attempts(obs, "search")
    assert asked and all(a.outcome == "no_results" for a in asked)  # its search finds nothing


def test_screenshots_are_hashed_evidence(small):
    results, round_dir = small
    obs, evidence, _ = results["form_get"]
    first = attempts(obs, "search")[0]
    assert len(first.screenshots) == 2  # the query typed, then the results
    assert all(len(a.screenshots) == 1 for a in attempts(obs, "search")[1:])
    assert entry(obs, "search").screenshot == first.screenshots[0]
    by_path = {e.path: e for e in evidence}
    for a in obs.attempts:
        for shot in a.screenshots:
            data = (round_dir / shot).read_bytes()
            assert data[:3] == b"\xff\xd8\xff"  # JPEG, the default format
            assert hashlib.sha256(data).hexdigest() == by_path[shot].sha256
            assert by_path[shot].check == "findability"


def test_a_dead_site_gives_no_entry_points_and_no_crash(small):
    obs = small[0]["dead"][0]
    assert obs.tool_error is None and not obs.entry_points and not obs.attempts


def test_alert_download_offsite_and_picture_results_are_outcomes_with_reasons(small):
    obs = small[0]["odd"][0]
    by_q = {a.question_id: a for a in attempts(obs, "search")}
    assert by_q["alert"].outcome == "blocked" and "非法字符" in by_q["alert"].reason
    assert by_q["download"].outcome == "error" and "search.xls" in by_q["download"].reason
    offsite = by_q["offsite"]
    assert offsite.outcome == "error" and offsite.reason.startswith(REASON_OFFSITE)
    assert "sousuo-cn.test" in offsite.reason
    images = by_q["images"]
    assert images.outcome == "results" and images.unreadable and images.reason == REASON_UNREADABLE
    assert not images.hits
    assert all(a.side == "site" for a in by_q.values())


def test_a_hanging_search_times_out_within_the_bound(full):
    obs, _, seconds = full["timeout"]
    asked = attempts(obs, "search")
    sent = [a for a in asked if a.elapsed_ms is not None]
    assert sent and all(a.outcome == "timeout" for a in asked)
    assert all(QUERY_TIMEOUT_S * 1000 <= a.elapsed_ms <= (QUERY_TIMEOUT_S + 1.5) * 1000 for a in sent)
    # After a timeout the rest are not sent (bounded cost), and say so.
    assert len(sent) == 1 and all(a.reason == REASON_SKIPPED.format(n=1) for a in asked[1:])
    assert len(asked) == len(TOPIC_QUESTIONS)
    assert seconds < 2 * QUERY_TIMEOUT_S + 10


@pytest.mark.parametrize("kind", ["error", "iframe_error", "ajax_error"])
def test_a_failing_search_is_an_error_with_its_status(full, kind):
    obs = full[kind][0]
    asked = attempts(obs, "search")
    assert asked and all(a.outcome == "error" and a.side == "site" and "500" in a.reason for a in asked), \
        [(a.outcome, a.reason) for a in asked]


def test_a_search_page_nobody_links_to_has_no_clicks(full):
    p = FULL["unlinked"]
    obs = full["unlinked"][0]
    hidden = entry(obs, "search")
    assert hidden.clicks is None and hidden.reachable
    assert hidden.url.endswith(LAYOUTS[p.template].unlinked_search)
    # With nothing linked, it is still asked (evidence that a search exists), from its own URL.
    asked = attempts(obs, "search")
    assert asked and all(a.entry_url == hidden.url and a.outcome == "results" for a in asked)


def test_a_robot_alone_answers(full):
    obs = full["robot_only"][0]
    assert [e.via for e in obs.entry_points] == ["robot"] and entry(obs, "robot").clicks == 1
    asked = attempts(obs, "robot")
    assert len(asked) == len(TOPIC_QUESTIONS) and all(a.outcome == "results" for a in asked)
    assert all(answers(TOPIC_OF[a.question_id], a.hits) for a in asked)


def test_nowhere_to_search_is_observed_as_no_entry_points(full):
    obs = full["nothing"][0]
    assert obs.website and not obs.entry_points and not obs.attempts and obs.tool_error is None


def test_an_empty_search_is_no_results(full):
    obs = full["empty"][0]
    asked = attempts(obs, "search")
    assert asked and all(a.outcome == "no_results" and not a.hits for a in asked)


def test_a_dead_proxy_is_our_failure_not_the_sites(tmp_path):
    import socket

    # A port nobody listens on, kept bound (never listening) for the whole test: a port merely
    # freed can be taken by another test's server meanwhile, which then accepts and hangs.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        p = SMALL["form_get"]
        results = observe_all(f"http://127.0.0.1:{port}", tmp_path / "r", [("x", p, channels_of(p), TOPIC_QUESTIONS)])
    obs = results["x"][0]
    assert obs.tool_error and "proxy" in obs.tool_error
    assert not obs.attempts


@pytest.mark.parametrize("after_s", [0.5, 1.5, 3.0])
def test_a_browser_crash_is_our_failure_not_the_sites(simweb, tmp_path, after_s):
    p = SMALL["form_get"]
    settings = load_settings(None, proxy=simweb, out=tmp_path)

    async def main():
        async with BrowserPool(settings.browser, simweb, settings.network) as pool:
            ctx = JourneyContext(settings, pool, tmp_path / "r", asyncio.Semaphore(4))

            async def crash():
                await asyncio.sleep(after_s)  # mid-journey
                await pool._browser.close()

            crashing = asyncio.create_task(crash())
            obs, _ = await observe_findability(ctx, hotline_of(p), channels_of(p), TOPIC_QUESTIONS)
            await crashing
            return obs

    obs = asyncio.run(main())
    assert obs.tool_error
    assert all(a.side == "tool" for a in obs.attempts if a.outcome == "error"), \
        [(a.outcome, a.side, a.reason) for a in obs.attempts]


def test_mobile_tabs_are_phones_with_wechats_user_agent(simweb, tmp_path):
    settings = load_settings(None, proxy=simweb, out=tmp_path)

    async def main():
        async with BrowserPool(settings.browser, simweb, settings.network) as pool:
            async with pool.tab(mobile=True) as phone:
                ua = await phone.page.evaluate("navigator.userAgent")
                width = await phone.page.evaluate("screen.width")
            async with pool.tab() as desktop:
                desktop_ua = await desktop.page.evaluate("navigator.userAgent")
            return ua, width, desktop_ua

    ua, width, desktop_ua = asyncio.run(main())
    assert "MicroMessenger" in ua and width < 500 and "MicroMessenger" not in desktop_ua


def test_timings_are_reported(small, full):
    per_portal = [seconds for key, (_, _, seconds) in small[0].items() if key in SMALL]
    contexts = load_settings(None).browser.contexts
    print(f"\nfindability journey, 5 questions: {sum(per_portal) / len(per_portal):.2f} s per portal "
          f"(max {max(per_portal):.2f}) over {len(per_portal)} portals, {contexts} contexts")
    assert max(per_portal) < 60


def test_round_relative_paths(small):
    results, round_dir = small
    for _obs, evidence, _ in results.values():
        for e in evidence:
            assert not Path(e.path).is_absolute() and (round_dir / e.path).exists()


def test_an_entry_linked_from_a_garbled_homepage_is_one_click_away(simweb, tmp_path):
    """A homepage sent in GBK but labelled UTF-8 shows mojibake: no link's words can be read.
    The knowledge base discovery found is still linked from it (its address is among the
    homepage's links), so it is one click away, not "not linked from the homepage"."""
    import httpx

    portal = next(p for p in POP24 if p.trait == "healthy" and p.has_kb and p.site_kind == "gov_column")
    channels = [c for c in channels_of(portal) if c.kind in ("website", "knowledge_base")]
    fault = {"hotline_id": portal.hotline_id, "fault": "gbk_mislabelled"}
    httpx.post(f"{simweb}/_faults", json=fault, trust_env=False).raise_for_status()
    try:
        results = observe_all(simweb, tmp_path / "r", [("garbled", portal, channels, TOPIC_QUESTIONS[:1])])
    finally:
        httpx.post(f"{simweb}/_faults", json={**fault, "fault": "none"}, trust_env=False).raise_for_status()
    obs = results["garbled"][0]
    kb = entry(obs, "knowledge_base")
    assert kb.clicks == 1 and obs.home_error is None
