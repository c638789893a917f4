"""Firewalls and rate limits in front of simweb's portals (issue 18), the request log that proves
an auditor's rate, and the opt-in population that leaves every other field and all gold alone.
No browser: httpx through simweb's proxy, the firewalls on a clock the test moves."""

from __future__ import annotations

import asyncio
import re
from dataclasses import fields, replace
from html import unescape

import httpx
import pytest
from aiohttp.test_utils import TestServer

from fixtures.simweb import WAF_KINDS, build_population, gold_rows, registry_rows
from fixtures.simweb.__main__ import main as simweb_main
from fixtures.simweb.gold import NOT_AN_ACCUSATION, waf_hotlines
from fixtures.simweb.layouts import mirror_host, search_host
from fixtures.simweb.population import WAF_GROUP_SIZE, WAF_WORDINGS
from fixtures.simweb.server import SimWeb
from fixtures.simweb.waf import LIMITING_KINDS, WORDINGS, Firewall, Traffic, WafRule, page_level
from hotline_audit.simweb_process import simweb_process

PORTALS = build_population(1, 60)
BY_ID = {p.hotline_id: p for p in PORTALS}
HANWEB, TRS, GOVCOL = BY_ID["bayannaoer"], BY_ID["changchun"], BY_ID["zhoushan"]
CLOUDSEARCH = BY_ID["chongzuo"]  # its search is another host (so.chongzuo.gov.cn.test)
MIRRORED = BY_ID["tianjin"]
WAF_FIELDS = {f.name for f in fields(PORTALS[0]) if f.name.startswith("waf")}


class FakeClock:
    """The firewalls' monotonic clock, moved by the test (limits are 60 s windows)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def without_waf(p):
    return replace(p, **{name: type(getattr(p, name))() for name in WAF_FIELDS})


async def run(body, portals=PORTALS, **kw):
    sim = SimWeb(portals, **kw)
    server = TestServer(sim.app(), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with httpx.AsyncClient(proxy=base, trust_env=False, timeout=10) as client:
            return await body(client, base, sim)
    finally:
        await server.close()


def served(body, **kw):
    return asyncio.run(run(body, **kw))


async def set_waf(client, base, p, **rule):
    r = await client.post(f"{base}/_waf", json={"hotline_id": p.hotline_id, **rule})
    assert r.status_code == 200, r.text
    return r.json()


def visible(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S))).split())


# -- the kinds, seen over HTTP ------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "retry_after"), [
    ("limit_retry_after", {429}, "5"), ("limit_429", {429}, None), ("limit_503", {503}, "5"),
    ("too_frequent", {200, 403}, None), ("block_page", {200, 403, 405}, None)])
def test_the_limit_trips_after_exactly_n_page_requests_in_60_s(kind, status, retry_after):
    clock = FakeClock()

    async def body(client, base, sim):
        await set_waf(client, base, HANWEB, waf=kind, per_min=7, retry_after=5, cooldown=20)
        for _ in range(7):
            clock.t += 8.0  # seven inside 56 s: all admitted
            r = await client.get(HANWEB.website)
            assert r.status_code == 200 and "12345" in r.text
        clock.t += 3.0  # the eighth inside the same 60 s
        r = await client.get(HANWEB.website)
        assert r.status_code in status and r.headers.get("Retry-After") == retry_after
        assert HANWEB.city not in r.text and len(visible(r.text)) < 1000
        log = (await client.get(f"{base}/_requests", params={"host": HANWEB.host})).json()
        assert [e["waf"] for e in log] == [False] * 7 + [True] and log[-1]["status"] == r.status_code

    served(body, monotonic=clock)


def test_a_window_of_n_spread_over_more_than_60_s_never_trips():
    clock = FakeClock()

    async def body(client, base, sim):
        await set_waf(client, base, HANWEB, waf="limit_429", per_min=5)
        for _ in range(30):  # one every 12 s: 5 in any 60 s window, never 6
            clock.t += 12.0
            assert (await client.get(HANWEB.website)).status_code == 200
        rates = (await client.get(f"{base}/_rates")).json()["hosts"][HANWEB.host]
        assert rates["peak_per_minute"] == 5 and rates["throttled"] == 0

    served(body, monotonic=clock)


def test_retry_after_blocks_for_its_seconds_then_the_window_starts_afresh():
    clock = FakeClock()

    async def body(client, base, sim):
        await set_waf(client, base, TRS, waf="limit_retry_after", per_min=3, retry_after=6)
        for _ in range(3):
            assert (await client.get(TRS.website)).status_code == 200
        first = await client.get(TRS.website)
        assert first.status_code == 429 and first.headers["Retry-After"] == "6"
        clock.t += 2.5
        later = await client.get(TRS.website)
        assert later.status_code == 429 and later.headers["Retry-After"] == "4"  # what is left
        clock.t += 3.5
        for _ in range(3):  # blocked for 6 s, then counting starts anew
            assert (await client.get(TRS.website)).status_code == 200
        assert (await client.get(TRS.website)).status_code == 429

    served(body, monotonic=clock)


def test_429_without_retry_after_refuses_until_the_window_drains():
    clock = FakeClock()
    start = clock.t

    async def at(client, t):
        clock.t = start + t
        return (await client.get(GOVCOL.website)).status_code

    async def body(client, base, sim):
        await set_waf(client, base, GOVCOL, waf="limit_429", per_min=3)
        assert [await at(client, t) for t in (0, 1, 2)] == [200, 200, 200]
        assert [await at(client, t) for t in (3, 30, 59.9)] == [429, 429, 429]
        assert await at(client, 60.0) == 200  # the request at 0 left the window
        assert await at(client, 60.5) == 429  # 1, 2 and 60 are in it
        assert await at(client, 61.0) == 200

    served(body, monotonic=clock)


@pytest.mark.parametrize("kind", ["too_frequent", "block_page"])
def test_firewall_pages_keep_blocking_for_the_cooldown_then_recover(kind):
    clock = FakeClock()

    async def body(client, base, sim):
        for wording in range(WAF_WORDINGS[kind]):
            await set_waf(client, base, HANWEB, waf=kind, per_min=2, cooldown=20, wording=wording)
            assert [(await client.get(HANWEB.website)).status_code for _ in range(2)] == [200, 200]
            blocked = await client.get(HANWEB.website)
            clock.t += 19.0
            still = await client.get(HANWEB.website + "index.html")
            assert (await client.get(f"{base}/_requests")).json()[-1]["waf"] is True
            assert "Retry-After" not in blocked.headers and HANWEB.city not in blocked.text
            assert visible(still.text).split()[0] == visible(blocked.text).split()[0]  # the same page
            clock.t += 1.0
            back = await client.get(HANWEB.website)
            assert back.status_code == 200 and HANWEB.city in back.text
            clock.t += 60.0

    served(body, monotonic=clock)


def test_cooldown_on_real_time():
    """simweb's own clock for limits is time.monotonic: a one-second cooldown ends in real time."""

    async def body(client, base, sim):
        await set_waf(client, base, HANWEB, waf="block_page", per_min=1, cooldown=1)
        assert (await client.get(HANWEB.website)).status_code == 200
        assert (await client.get(f"{base}/_requests")).json()[-1]["waf"] is False
        await client.get(HANWEB.website)
        assert (await client.get(f"{base}/_requests")).json()[-1]["waf"] is True
        await asyncio.sleep(1.1)
        assert HANWEB.city in (await client.get(HANWEB.website)).text

    served(body)


def test_sub_resources_are_neither_counted_nor_blocked():
    clock = FakeClock()
    assets = ("/images/hanweb.css", "/script/hanweb-common.js", "/images/banner.gif")

    async def body(client, base, sim):
        await set_waf(client, base, HANWEB, waf="limit_retry_after", per_min=3, retry_after=5)
        for dest in ("script", "style", "image", "font"):
            for path in assets:
                r = await client.get(f"http://{HANWEB.host}{path}", headers={"Sec-Fetch-Dest": dest})
                assert r.status_code == 200
        for dest in ("document", "iframe", "empty"):  # a page, a framed page, an XHR: counted
            assert (await client.get(HANWEB.website, headers={"Sec-Fetch-Dest": dest})).status_code == 200
        assert (await client.get(HANWEB.website)).status_code == 429  # no header: counted (httpx, Scrapy)
        for path in assets:  # a blocked host still serves the sub-resources of a page a browser has
            assert (await client.get(f"http://{HANWEB.host}{path}", headers={"Sec-Fetch-Dest": "image"})).status_code == 200
        frame = await client.get(HANWEB.website, headers={"Sec-Fetch-Dest": "frame"})
        assert frame.status_code == 429
        rates = (await client.get(f"{base}/_rates")).json()["hosts"][HANWEB.host]
        assert rates["requests"] == 12 + 3 + 1 + 3 + 1 and rates["page_level"] == 5 and rates["throttled"] == 2

    served(body, monotonic=clock)
    assert page_level("") and page_level("Document") and not page_level("script") and not page_level("video")
    # Over plain http Chromium sends no Sec-Fetch-Dest: its static files are told by suffix or Accept.
    assert not page_level("", "/static/portal.css?v=2") and not page_level("", "/favicon.ico")
    assert not page_level("", "/captcha", "image/avif,image/webp,*/*") and page_level("", "/search.jsp?q=1", "*/*")


def test_the_firewall_guards_every_host_of_its_portal_each_counted_alone():
    clock = FakeClock()
    so = f"http://{search_host(CLOUDSEARCH)}/"

    async def body(client, base, sim):
        await set_waf(client, base, CLOUDSEARCH, waf="limit_429", per_min=2)
        await set_waf(client, base, MIRRORED, waf="limit_429", per_min=1)
        for _ in range(2):
            assert (await client.get(CLOUDSEARCH.website)).status_code == 200
        assert (await client.get(CLOUDSEARCH.website)).status_code == 429
        assert [(await client.get(so)).status_code for _ in range(3)][2] == 429  # its own counter
        mirror = f"http://{mirror_host(MIRRORED)}/"
        assert {(await client.get(mirror)).status_code for _ in range(3)} == {200}  # a spam copy: no WAF
        # Control endpoints (on any host) and the canaries of the auditor's network never pass it.
        assert (await client.get(f"http://{CLOUDSEARCH.host}/_health")).text == "ok"
        assert (await client.get("http://127.0.0.1:9/")).headers.get("X-Simweb-Canary")
        hosts = (await client.get(f"{base}/_rates")).json()["hosts"]
        assert hosts[CLOUDSEARCH.host]["throttled"] == 1 and hosts[search_host(CLOUDSEARCH)]["throttled"] == 1
        assert hosts[mirror_host(MIRRORED)]["waf"] == "" and hosts[CLOUDSEARCH.host]["hotline_id"] == "chongzuo"

    served(body, monotonic=clock)


def test_a_waf_stands_before_the_portals_own_traits():
    """A slow portal behind a firewall: the firewall answers at once, the portal slowly."""
    slow = replace(HANWEB, trait="slow", slow_s=30.0, waf="limit_503", waf_per_min=1, waf_retry_after=4)
    portals = [slow if p is HANWEB else p for p in PORTALS]
    clock = FakeClock()

    async def body(client, base, sim):
        sim.firewall.admit(WafRule.of(slow), slow.host)  # the one admitted request, used up
        r = await client.get(slow.website, timeout=5)
        assert r.status_code == 503 and r.headers["Retry-After"] == "4"

    served(body, portals=portals, monotonic=clock)


def test_a_provincial_firewall_counts_every_host_of_its_group():
    clock = FakeClock()
    members = (HANWEB, TRS, GOVCOL)

    async def body(client, base, sim):
        for p in members:
            await set_waf(client, base, p, waf="too_frequent", per_min=4, cooldown=15, group="prov-test")
        statuses = []
        for p in (HANWEB, TRS, GOVCOL, HANWEB):  # four requests, three hosts: the limit of one
            statuses.append((await client.get(p.website)).status_code)
        assert statuses == [200] * 4
        await client.get(GOVCOL.website)  # the fifth, on a host that saw one
        for p in members:  # the whole group is blocked for the cooldown
            assert (await client.get(p.website)).text.count(p.city) == 0
        assert (await client.get(CLOUDSEARCH.website)).status_code == 200  # another firewall's site
        clock.t += 15.0
        for p in members:
            assert p.city in (await client.get(p.website)).text
        rates = (await client.get(f"{base}/_rates")).json()
        group = rates["groups"]["prov-test"]
        assert group["page_level"] == 11 and group["throttled"] == 4 and group["peak_per_minute"] == 11
        assert group["hotline_ids"] == [p.hotline_id for p in PORTALS if p in members]
        assert sorted(group["hosts"]) == sorted(p.host for p in members) and group["per_min"] == 4
        assert rates["hosts"][GOVCOL.host]["group"] == "prov-test"

    served(body, monotonic=clock)


def test_robots_kind_serves_crawl_delay_and_a_disallowed_news_column():
    clock = FakeClock()

    async def body(client, base, sim):
        before = await client.get(f"http://{TRS.host}/robots.txt")
        other = await client.get(f"http://{HANWEB.host}/robots.txt")
        await set_waf(client, base, TRS, waf="robots", crawl_delay=3)
        robots = await client.get(f"http://{TRS.host}/robots.txt")
        assert robots.status_code == 200 and robots.headers["content-type"].startswith("text/plain")
        assert "Crawl-delay: 3" in robots.text and "Disallow: /xwdt/" in robots.text
        assert "User-agent: *" in robots.text
        # The news column it disallows exists (the portal links it), and nothing stops a visit.
        assert "./xwdt/" in (await client.get(TRS.website)).text
        for gap in (3.0, 1.5):
            clock.t += gap
            assert (await client.get(f"http://{TRS.host}/xwdt/")).status_code == 200
        await set_waf(client, base, TRS, waf="")
        after = await client.get(f"http://{TRS.host}/robots.txt")
        assert (after.status_code, after.text) == (before.status_code, before.text)  # today's answer
        again = await client.get(f"http://{HANWEB.host}/robots.txt")
        assert (again.status_code, again.text) == (other.status_code, other.text)
        rates = (await client.get(f"{base}/_rates")).json()["hosts"][TRS.host]
        assert rates["disallowed"] == 2 and rates["min_interval_s"] == 0.0  # four requests at one instant

    served(body, monotonic=clock)

    population = build_population(1, 60, waf=12)
    robots = [p for p in population if p.waf == "robots"]
    assert robots and all(1 <= p.waf_crawl_delay <= 3 for p in robots)


# -- wording --------------------------------------------------------------------------------------


def test_firewall_pages_are_short_chinese_and_vary_by_vendor():
    headlines = {w.headline for kind in ("too_frequent", "block_page") for w in WORDINGS[kind]}
    assert len(headlines) >= 6
    vendors = {w.vendor for ws in WORDINGS.values() for w in ws}
    assert {"网站安全狗", "阿里云盾", "创宇盾", "雷池 SafeLine"} <= vendors
    assert {w.status for w in WORDINGS["too_frequent"]} == {200, 403}
    assert {w.status for w in WORDINGS["block_page"]} == {200, 403, 405}
    assert any(w.slider for w in WORDINGS["block_page"])
    assert {k: len(v) for k, v in WORDINGS.items()} == {k: n for k, n in WAF_WORDINGS.items() if k != "robots"}


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_wording_varies_across_the_waf_portals_of_a_population(seed):
    portals = build_population(seed, 344, waf=20)
    fw = Firewall()
    pages = {}
    for p in portals:
        rule = WafRule.of(p)
        if rule.kind in ("too_frequent", "block_page", "limit_retry_after", "limit_429", "limit_503"):
            r = fw.answer(rule, p.host, "/", 5)
            text = r.text or ""
            assert p.city not in text and len(visible(text)) < 1000
            pages[p.hotline_id] = re.search(r"<h1>(.*?)</h1>", text).group(1)
    assert len(set(pages.values())) >= 6


# -- the log and the rates ------------------------------------------------------------------------


def brute_peak(times, window=60.0):
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def test_rates_peak_is_the_most_page_requests_in_any_sliding_minute():
    clock = FakeClock()
    traffic = Traffic(clock)
    offsets = [0, 0, 0, 30, 30, 30, 59, 61, 61, 61, 89, 89, 89.99, 90, 150, 151, 209.99, 210]
    for t in offsets:
        clock.t = 1000.0 + t
        traffic.arrived("h.test", "GET", "/", "")
        traffic.arrived("h.test", "GET", "/a.js", "script")  # never in the peak
    rate = traffic.hosts["h.test"]
    assert rate.peak == brute_peak(offsets) == 10 and rate.page_level == len(offsets)
    assert rate.requests == 2 * len(offsets) and rate.min_interval == 0.0


def test_rates_count_page_requests_in_flight():
    """Two slow pages at once, then one: the most in flight is 2, and none is left over."""
    slow = replace(HANWEB, trait="slow", slow_s=0.5)
    portals = [slow if p is HANWEB else p for p in PORTALS]

    async def body(client, base, sim):
        await asyncio.gather(client.get(slow.website), client.get(slow.website + "index.html"))
        await client.get(slow.website)
        host = (await client.get(f"{base}/_rates")).json()["hosts"][slow.host]
        assert host["max_in_flight"] == 2 and sim.traffic.hosts[slow.host].in_flight == 0

    served(body, portals=portals)


def test_rates_and_requests_over_http():
    clock = FakeClock()
    start = clock.t

    async def body(client, base, sim):
        await set_waf(client, base, HANWEB, waf="limit_retry_after", per_min=100, retry_after=3)
        sent = [0, 0, 0, 30, 30, 30, 59, 61, 61, 61, 89, 89]
        for t in sent:
            clock.t = start + t
            await client.get(HANWEB.website)
        await client.get(f"http://{HANWEB.host}/images/hanweb.css", headers={"Sec-Fetch-Dest": "style"})
        await client.get(TRS.website + "?q=" + "长" * 300)
        rates = (await client.get(f"{base}/_rates")).json()
        assert rates["window_s"] == 60.0 and rates["dropped"] == 0 and rates["logged"] == 14
        h = rates["hosts"][HANWEB.host]
        assert h["page_level"] == 12 and h["requests"] == 13 and h["peak_per_minute"] == brute_peak(sent) == 9
        assert h["waf"] == "limit_retry_after" and h["per_min"] == 100 and h["retry_after"] == 3
        assert rates["hosts"][TRS.host]["waf"] == "" and rates["groups"] == {}
        log = (await client.get(f"{base}/_requests")).json()
        assert set(log[0]) == {"t", "host", "method", "path", "dest", "page_level", "status", "waf"}
        assert log[12]["dest"] == "style" and log[12]["page_level"] is False and log[12]["status"] == 200
        assert len(log[13]["path"]) == 200 and log[13]["host"] == TRS.host
        only = (await client.get(f"{base}/_requests", params={"host": TRS.host})).json()
        assert [e["host"] for e in only] == [TRS.host]
        since = (await client.get(f"{base}/_requests", params={"since": log[12]["t"]})).json()
        assert since == [e for e in log if e["t"] >= log[12]["t"]] and since[-2:] == log[12:]

    served(body, monotonic=clock)


def test_the_log_is_bounded_and_counts_what_it_dropped():
    async def body(client, base, sim):
        for _ in range(8):
            await client.get(HANWEB.website)
        r = await client.get(f"{base}/_requests")
        assert len(r.json()) == 5 and r.headers["X-Simweb-Dropped"] == "3"
        rates = (await client.get(f"{base}/_rates")).json()
        assert rates["dropped"] == 3 and rates["hosts"][HANWEB.host]["page_level"] == 8  # exact all the same

    served(body, log_limit=5)


def test_waf_switches_on_and_off_at_run_time():
    portals = build_population(1, 60, waf=12)
    walled = next(p for p in portals if p.waf == "limit_retry_after" and not p.waf_group)

    async def body(client, base, sim):
        listed = (await client.get(f"{base}/_waf")).json()
        assert len(listed) == 12 and listed[walled.hotline_id]["waf"] == "limit_retry_after"
        assert listed[walled.hotline_id]["per_min"] == walled.waf_per_min
        assert {x["hotline_id"]: x["waf"] for x in (await client.get(f"{base}/_portals")).json()}[
            walled.hotline_id] == "limit_retry_after"
        off = await set_waf(client, base, walled, waf="")
        assert off["waf"] == "" and walled.hotline_id not in (await client.get(f"{base}/_waf")).json()
        on = await set_waf(client, base, walled, waf="limit_503", per_min=1)
        assert on["retry_after"] == walled.waf_retry_after and on["per_min"] == 1  # its own, kept
        assert (await client.get(walled.website)).status_code != 503
        assert (await client.get(walled.website)).status_code == 503
        bad = await client.post(f"{base}/_waf", json={"hotline_id": walled.hotline_id, "waf": "nonsense"})
        assert bad.status_code == 400
        assert (await client.post(f"{base}/_waf", json={"hotline_id": "nowhere", "waf": ""})).status_code == 400

    served(body, portals=portals)


# -- the population -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_waf_zero_is_todays_population(seed):
    assert build_population(seed, 344) == build_population(seed, 344, waf=0)
    assert all(not getattr(p, name) for p in build_population(seed, 344) for name in WAF_FIELDS)


@pytest.mark.parametrize(("seed", "count", "k"), [(1, 24, 6), (7, 24, 8), (23, 24, 3), (1, 60, 12),
                                                  (7, 344, 20), (23, 344, 40)])
def test_waf_changes_only_the_waf_fields_of_k_portals(seed, count, k):
    plain = build_population(seed, count)
    walled = build_population(seed, count, waf=k)
    assert walled == build_population(seed, count, waf=k)  # the same per seed
    assert [without_waf(p) for p in walled] == plain
    assert gold_rows(walled) == gold_rows(plain) and registry_rows(walled) == registry_rows(plain)
    chosen = [p for p in walled if p.waf]
    assert len(chosen) == k and all(p.waf in WAF_KINDS and p.website for p in chosen)
    groups: dict[str, list] = {}
    for p in chosen:
        if p.waf_group:
            groups.setdefault(p.waf_group, []).append(p)
    assert [len(g) for g in groups.values()] == [WAF_GROUP_SIZE]
    (group,) = groups.values()
    assert len({WafRule.of(p) for p in group}) == 1 and len({p.host for p in group}) == WAF_GROUP_SIZE
    if count == 344:  # enough portals in one province: the group is a province's
        assert len({p.province for p in group}) == 1
    for p in chosen:
        if p.waf in LIMITING_KINDS:
            assert 20 <= p.waf_per_min <= 45
        if p.waf in ("limit_retry_after", "limit_503"):
            assert 3 <= p.waf_retry_after <= 8
        if p.waf in ("too_frequent", "block_page"):
            assert 15 <= p.waf_cooldown <= 30
    if k >= WAF_GROUP_SIZE + len(WAF_KINDS):
        assert {p.waf for p in chosen} == set(WAF_KINDS)
    assert waf_hotlines(walled) == {p.hotline_id: p.waf for p in chosen if p.waf != "robots"}
    assert waf_hotlines(plain) == {} and NOT_AN_ACCUSATION == ("rate_limited", "waf_blocked")


def test_waf_and_hostile_portals_together():
    hostile = ("busy_loop", "popup_storm")
    both = build_population(1, 24, hostile=hostile, waf=6)
    assert both[24:] == build_population(1, 24, hostile=hostile)[24:]  # hostile portals: no firewall
    assert both[:24] == build_population(1, 24, waf=6)
    with pytest.raises(ValueError):
        build_population(1, 24, waf=9)  # 8 live websites at this size


def test_cli_gold_is_unchanged_by_waf(capsysbinary):
    simweb_main(["gold", "--count", "24"])
    plain = capsysbinary.readouterr().out
    simweb_main(["gold", "--count", "24", "--waf", "6"])
    assert capsysbinary.readouterr().out == plain and plain


def test_simweb_process_passes_waf_through():
    with simweb_process(7, 24, waf=6) as proxy:
        listed = httpx.get(f"{proxy}/_waf", trust_env=False, timeout=10).json()
        rates = httpx.get(f"{proxy}/_rates", trust_env=False, timeout=10).json()
    expected = {p.hotline_id: p.waf for p in build_population(7, 24, waf=6) if p.waf}
    assert {hid: rule["waf"] for hid, rule in listed.items()} == expected
    assert rates["hosts"] == {} and rates["dropped"] == 0
