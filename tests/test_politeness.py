"""The shared politeness budget (hotline_audit/politeness.py): slots, windows, back-off,
throttle recognition, across threads and processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest

from hotline_audit.politeness import (
    Politeness,
    PolitenessSettings,
    classify,
    peak_in_window,
    retry_after_s,
    user_agent,
)

FAST = PolitenessSettings(per_minute=6, min_interval_s=0.0, jitter=0.0, in_flight=2)


def budget(tmp_path, settings=FAST, component="test"):
    return Politeness(tmp_path / "p.sqlite", settings, round_name="r1", component=component)


def test_a_host_gets_no_more_than_per_minute_slots_in_any_window(tmp_path):
    b = budget(tmp_path)

    async def go():
        tickets = []
        for _ in range(8):
            t = await b.acquire("http://a.gov.cn.test/x") if len(tickets) < 6 else None
            if t is None:
                break
            b.release(t)
            tickets.append(t)
        return tickets

    tickets = asyncio.run(go())
    assert len(tickets) == 6 and all(t.held_s < 1 for t in tickets)
    # The seventh would start a minute after the first: reserved, not waited for here.
    seventh = b._reserve("a.gov.cn.test", "http://a.gov.cn.test/7", "", time.time())
    assert seventh.start >= tickets[0].start + 60
    # Another host is not held by the first one's budget.
    other = b._reserve("b.gov.cn.test", "http://b.gov.cn.test/", "", time.time())
    assert other.start - time.time() < 1


def test_slots_are_spaced_by_the_interval_and_crawl_delay(tmp_path):
    b = budget(tmp_path, PolitenessSettings(per_minute=600, min_interval_s=0.2, jitter=0.0))
    now = time.time()
    starts = [b._reserve("a.test", "http://a.test/", "", now).start for _ in range(3)]
    assert [round(y - x, 3) for x, y in zip(starts, starts[1:], strict=False)] == [0.2, 0.2]
    b.set_crawl_delay("A.test", 3)
    later = b._reserve("a.test", "http://a.test/", "", now).start
    assert later - starts[-1] == pytest.approx(3, abs=0.01)


def test_in_flight_slots_are_shared_and_given_back(tmp_path):
    b = budget(tmp_path, PolitenessSettings(per_minute=600, min_interval_s=0.0, jitter=0.0, in_flight=2))

    async def go():
        first, second = await b.acquire("http://a.test/1"), await b.acquire("http://a.test/2")
        third = asyncio.create_task(b.acquire("http://a.test/3"))
        await asyncio.sleep(0.3)
        assert not third.done()  # two are in flight
        b.release(first, status=200)
        t3 = await asyncio.wait_for(third, 2)
        b.release(second)
        b.release(t3)
        return t3

    t3 = asyncio.run(go())
    assert t3.held_s >= 0.25


def test_a_throttle_makes_the_host_wait_and_halves_its_rate(tmp_path):
    b = budget(tmp_path, PolitenessSettings(per_minute=60, min_interval_s=1.0, jitter=0.0, backoff_s=10))
    url = "http://waf.test/search?q=1"
    assert b.throttled(url, "rate_limited", 429, retry_after=5) == 5
    assert 4 < b.waiting_s(url) <= 5
    slot = b._reserve("waf.test", url, "", time.time()).start
    assert slot - time.time() == pytest.approx(5, abs=0.2)
    nxt = b._reserve("waf.test", url, "", time.time()).start
    assert nxt - slot == pytest.approx(2.0, abs=0.01)  # the interval doubled
    # An answer to a request sent before the back-off began is no new strike.
    assert b.throttled(url, "waf_blocked", 200) == 10
    assert b._db().execute("SELECT strikes, slowdown FROM hosts WHERE host='waf.test'").fetchone() == (1, 2)
    seen = b.throttles(["WAF.test", "other.test"], since=0)
    assert [(t.kind, t.status, t.retry_after_s) for t in seen] == [("rate_limited", 429, 5), ("waf_blocked", 200, None)]
    assert b.throttles(["other.test"]) == []
    stats = {s.host: s for s in b.host_stats("r1")}
    assert stats["waf.test"].throttles == 2 and stats["waf.test"].requests == 2


def test_host_stats_count_the_busiest_minute(tmp_path):
    assert peak_in_window([0, 10, 59.9, 60, 61, 200]) == 4
    assert peak_in_window([]) == 0
    b = budget(tmp_path, PolitenessSettings(per_minute=100, min_interval_s=0.0, jitter=0.0))
    for _ in range(5):
        b._reserve("a.test", "http://a.test/", "", time.time())
    assert [(s.host, s.requests, s.peak_per_minute, s.components) for s in b.host_stats("r1")] == \
        [("a.test", 5, 5, "test")]
    assert b.host_stats("another round") == []


def _reserve_many(path, n, out):
    b = Politeness(path, PolitenessSettings(per_minute=1000, min_interval_s=0.05, jitter=0.0), component="child")
    out.put([b._reserve("shared.test", "http://shared.test/", "", time.time()).start for _ in range(n)])


def test_processes_share_one_budget(tmp_path):
    path = tmp_path / "p.sqlite"
    Politeness(path)  # schema
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_reserve_many, args=(path, 20, out)) for _ in range(3)]
    for p in procs:
        p.start()
    starts = sorted(s for _ in procs for s in out.get(timeout=60))
    for p in procs:
        p.join(30)
    assert len(starts) == 60
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.05 - 1e-6  # one sequence of slots, whichever process asked


@pytest.mark.parametrize(("status", "headers", "text", "kind"), [
    (429, {}, "", "rate_limited"),
    (503, {"Retry-After": "30"}, "", "rate_limited"),
    (503, {}, "503 Service Temporarily Unavailable nginx", None),  # a broken server, not a limit
    (200, {}, "您的访问过于频繁，请稍后再试。", "rate_limited"),
    (200, {}, "请求太快了，休息一下吧", "rate_limited"),
    (403, {}, "操作频率过高，请1分钟后再访问", "rate_limited"),
    (200, {}, "查询次数超过每日限制", "rate_limited"),
    (405, {}, "您的请求已被网站安全防护拦截 事件ID: 8f2a", "waf_blocked"),
    (403, {}, "Access Denied - Web Application Firewall", "waf_blocked"),
    (200, {}, "请完成安全验证：拖动滑块完成拼图", "waf_blocked"),
    (200, {}, "为确认您不是机器人，请稍候", "waf_blocked"),
    (500, {}, "系统繁忙，请稍后再试 Error 500", None),  # the site's own error
    (200, {}, "您好，我是12345智能机器人，请问有什么可以帮您", None),
    (200, {}, "近期电信诈骗频繁，请市民提高警惕。" + "正文" * 900, None),  # a long article
])
def test_throttling_answers_are_told_from_the_sites_own_errors(status, headers, text, kind):
    assert classify(status, headers, text) == kind


def test_retry_after_reads_seconds_and_dates():
    assert retry_after_s("5") == 5
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10)
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_the_user_agent_says_who_we_are_and_how_to_reach_us():
    ua = user_agent("audit@example.org", "1.2")
    assert ua.startswith("Mozilla/5.0") and "hotline-audit/1.2 (+audit@example.org)" in ua
    assert "hotline-audit/" in user_agent() and "(+https://" in user_agent()


def test_strikes_double_the_wait_and_a_host_that_keeps_blocking_is_left_alone(tmp_path):
    b = budget(tmp_path, PolitenessSettings(backoff_s=10, backoff_max_s=600, give_up_after=3))
    url = "http://waf.test/"

    def later() -> None:  # the back-off is over: the next throttle is a new strike
        b._db().execute("UPDATE hosts SET backoff_until=0, last_throttle=last_throttle-5 WHERE host='waf.test'")

    waits = []
    for _ in range(3):
        assert not b.refusing(url)
        waits.append(b.throttled(url, "rate_limited", 429))
        later()
    assert waits == [10, 20, 40] and b.refusing(url)
    assert not b.refusing("http://other.test/")
    # Forgotten after a quiet spell as long as the longest back-off.
    b._db().execute("UPDATE hosts SET last_throttle=last_throttle-700 WHERE host='waf.test'")
    assert not b.refusing(url)
    assert b.throttled(url, "rate_limited", 429) == 10


def test_the_expected_wait_counts_what_is_booked_ahead(tmp_path):
    b = budget(tmp_path, PolitenessSettings(per_minute=60, min_interval_s=0.5, jitter=0.0))
    url = "http://busy.test/"
    assert b.expected_wait_s(url, 3) == pytest.approx(1.0, abs=0.05)  # now, +0.5, +1.0
    now = time.time()
    for _ in range(10):
        b._reserve("busy.test", url, "", now)
    assert 5.9 <= b.expected_wait_s(url, 3) <= 6.1  # ten booked 0.5 s apart come first
    for _ in range(50):  # the minute's window is full: the next slots wait for it
        b._reserve("busy.test", url, "", now)
    assert b.expected_wait_s(url, 1) >= 59
