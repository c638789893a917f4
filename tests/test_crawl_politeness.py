"""The discovery crawl is polite (issue 18): every request takes its host's slot from the shared
budget, a throttling answer is waited out and never read as the page, robots.txt's Crawl-delay
is honoured and its Disallow obeyed (or noted), and the crawl says who it is.

Every site here is a small aiohttp server on loopback that logs what it receives, as a site's
administrator would see our crawl."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hotline_audit.config import Settings, load_settings
from hotline_audit.discovery import run_discovery
from hotline_audit.model import Hotline

from .local_site import LOOPBACK, serve

pytestmark = [pytest.mark.timeout(120)]

CONTACT = "audit-team@example.org"
INTRO = "<p>" + "本平台受理市民对全市各类事项的咨询、求助、投诉和意见建议，实行统一受理、按责转办、限时办结。" * 3 + "</p>"
LETTER = """<form method="post"><p>姓名：<input name="xm"></p><p>手机号码：<input name="sjhm"></p>
  <p>诉求内容：<textarea name="nr"></textarea></p><input type="submit" value="提交"></form>"""
LOOKUP = """<form><p>信件编号：<input name="xjbh"></p><p>查询码：<input name="cxm"></p>
  <input type="submit" value="查询"></form>"""


def html(body: str) -> str:
    return f"<html><head><meta charset='utf-8'><title>12345</title></head><body>{body}{INTRO}</body></html>"


@dataclass
class Seen:
    at: float
    path: str
    status: int
    user_agent: str


@dataclass
class Site:
    """What the server received, in order."""

    base: str = ""
    log: list[Seen] = field(default_factory=list)

    def paths(self, status: int | None = None) -> list[str]:
        return [s.path for s in self.log if status is None or s.status == status]


Answer = Callable[[web.Request], tuple[int, str, dict[str, str]]]


@contextmanager
def site(pages: dict[str, str], answer: Answer | None = None, gzipped: tuple[str, ...] = ()) -> Iterator[Site]:
    """Serve ``pages`` (path -> HTML; ``/robots.txt`` as text) on loopback, in a thread of its
    own (discovery runs the crawler as a child process). ``answer`` may answer a request
    instead (status, body, headers), e.g. a rate limit; 404 for any other path. The
    ``gzipped`` paths are sent with Content-Encoding: gzip, as most real servers send pages."""
    seen = Site()

    async def handle(request: web.Request) -> web.Response:
        path = request.path_qs
        status, body, headers = (answer(request) if answer else (0, "", {}))
        if not status:
            status, body = (200, pages[request.path]) if request.path in pages else (404, "not found")
        ctype = ("application/javascript" if request.path.endswith(".js") else
                 "application/json" if "/api/" in request.path else
                 "text/plain" if request.path.endswith(".txt") or status == 404 else "text/html")
        seen.log.append(Seen(time.time(), path, status, request.headers.get("User-Agent", "")))
        response = web.Response(status=status, text=body, content_type=ctype, headers=headers)
        if request.path in gzipped:
            response.enable_compression(web.ContentCoding.gzip)
        return response

    loop = asyncio.new_event_loop()
    runner, seen.base = loop.run_until_complete(serve({"/{tail:.*}": handle}))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def polite(tmp_path: Path, **politeness: Any) -> Settings:
    """Quick politeness unless a test is about the limit: requests 50 ms apart, a high minute cap."""
    defaults = {"per_minute": 600, "min_interval_s": 0.05, "jitter": 0.1, "contact": CONTACT}
    return load_settings(None, out=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}",
                         network=LOOPBACK.model_dump(), politeness={**defaults, **politeness})


def discover(tmp_path: Path, settings: Settings, entries: dict[str, str]) -> tuple[Any, list[dict[str, Any]]]:
    hotlines = [Hotline(hotline_id=h, name="本地", province="江苏", city="南京", website=url)
                for h, url in entries.items()]
    found = run_discovery(hotlines, settings, tmp_path / "discovery")
    items = [json.loads(line) for line in (tmp_path / "discovery" / "discovery.jsonl").read_text("utf-8").splitlines()]
    return found, items


def logged(tmp_path: Path) -> list[tuple[str, str, int | None, str | None]]:
    """The budget's request log: (component, url, status, throttle) in slot order."""
    with sqlite3.connect(tmp_path / "politeness.sqlite") as db:
        return db.execute("SELECT component, url, status, throttle FROM requests ORDER BY t").fetchall()


def test_a_rate_limited_site_is_waited_out_and_never_read_as_its_throttle_page(tmp_path):
    """Past 4 requests in each 10 s the site answers 429 with Retry-After: 2 and a firewall page
    whose link would be a channel if it were read. The crawl finishes every page (slower),
    sends nothing during a Retry-After wait, reads no 429 page as content, and the budget's
    log has every request the site received."""
    pages = {"/": html("<a href='/xx/'>我要写信</a> <a href='/cx/'>信件查询</a>"
                       + "".join(f"<a href='/news/{i}.html'>第{i}期热线工作通报</a>" for i in range(1, 4))),
             "/xx/": html(LETTER), "/cx/": html(LOOKUP),
             **{f"/news/{i}.html": html(f"<p>第{i}期通报</p>") for i in range(1, 4)}}
    window = {"start": 0.0, "count": 0}

    def rate_limit(request: web.Request) -> tuple[int, str, dict[str, str]]:
        now = time.time()
        if now - window["start"] >= 10:
            window.update(start=now, count=0)
        window["count"] += 1
        if window["count"] > 4:
            return 429, "<html><body><p>访问过于频繁，请稍后再试</p><a href='/trap/'>我要投诉</a></body></html>", \
                {"Retry-After": "2"}
        return 0, "", {}

    # One request in flight: then "nothing during the wait" is exact, not blurred by a request
    # already on its way when the 429 came back.
    # Its limit (24 a minute) is far under this test's quick pace (600): the host throttles
    # again after each halving, so it is not left alone after give_up_after strikes here.
    settings = polite(tmp_path, in_flight=1, retries=8, give_up_after=20)
    with site(pages, rate_limit) as seen:
        started = time.monotonic()
        found, items = discover(tmp_path, settings, {"r": seen.base + "/"})
        took = time.monotonic() - started
    log = seen.log
    throttled = [s for s in log if s.status == 429]
    assert len(throttled) >= 2, seen.paths()
    for hit in throttled:
        after = [s.at - hit.at for s in log if s.at > hit.at]
        assert not after or min(after) >= 2.0, (hit.path, min(after))
    # Every page was read in the end, none twice, and the throttle page never.
    assert sorted(set(seen.paths(200))) == sorted(["/", *[p for p in pages if p != "/"]])
    read = [i["url"].removeprefix(seen.base) for i in items if i["type"] == "page"]
    assert sorted(read) == sorted(pages), read
    assert "/trap/" not in seen.paths()
    assert not any("/trap/" in c.value for c in found.channels["r"])
    assert {c.kind for c in found.channels["r"]} >= {"website", "submit", "track"}
    assert took >= 10  # the second window: slower, as asked
    # The budget logged each request the site received, as the crawl's, with its answer.
    crawl = [row for row in logged(tmp_path) if row[0] == "crawl"]
    assert len(crawl) == len(log)
    assert sum(1 for row in crawl if row[3] == "rate_limited") == len(throttled)
    # The hotline's notes say what happened (kept short: JSON, at most 20 entries).
    notes = found.notes_for("r")["politeness"]
    assert notes["throttled_count"] == len(throttled) and notes["gave_up"] == 0
    assert all(t["status"] == 429 and t["kind"] == "rate_limited" and t["wait_s"] == 2.0 for t in notes["throttled"])
    assert notes["robots"] == [{"host": "127.0.0.1", "robots_txt": "HTTP 404", "crawl_delay": None}]
    json.dumps(found.notes_for("r"))
    assert all(CONTACT in s.user_agent and "hotline-audit/" in s.user_agent for s in log)


def test_a_firewall_page_is_given_up_after_the_retries_and_said_to_be_a_block(tmp_path):
    """A page that always shows the firewall's block page (HTTP 200, gzipped): tried 1 + retries
    times, each after the host's back-off, then left as a waf_blocked failure; its words are
    never read as channels."""
    block = "<html><body><p>您的访问已被网站防火墙拦截</p><a href='/trap/'>我要投诉</a></body></html>"
    pages = {"/": html("<a href='/xx/'>我要写信</a> <a href='/cx/'>信件查询</a> <a href='/blocked/'>办事指南</a>"),
             "/xx/": html(LETTER), "/cx/": html(LOOKUP), "/blocked/": block}
    settings = polite(tmp_path, retries=1, backoff_s=1.0, backoff_max_s=2.0)
    with site(pages, gzipped=("/blocked/",)) as seen:
        found, items = discover(tmp_path, settings, {"w": seen.base + "/"})
    assert seen.paths().count("/blocked/") == 2
    tries = [s.at for s in seen.log if s.path == "/blocked/"]
    assert tries[1] - tries[0] >= 1.0
    assert "/trap/" not in seen.paths()
    failures = [f for f in found.failures["w"] if f["url"].endswith("/blocked/")]
    assert [f["kind"] for f in failures] == ["waf_blocked"]
    notes = found.notes_for("w")["politeness"]
    assert (notes["throttled_count"], notes["gave_up"]) == (2, 1)
    assert [t["retry"] for t in notes["throttled"]] == [0, 1]
    assert not any(i["type"] == "page" and i["url"].endswith("/blocked/") for i in items)


ROBOTS = """User-agent: otherbot
Disallow: /

User-agent: *
Crawl-delay: {delay}
Disallow: /private/
Disallow: /home.html
"""


def robots_site(delay: float) -> dict[str, str]:
    """A site whose robots.txt disallows /private/ and its own homepage, which the registry names."""
    return {"/robots.txt": ROBOTS.format(delay=delay),
            "/home.html": html("<a href='/xx/'>我要写信</a> <a href='/cx/'>信件查询</a> "
                               "<a href='/private/report.html'>内部通报</a> <a href='/news/1.html'>热线动态</a>"),
            "/xx/": html(LETTER), "/cx/": html(LOOKUP), "/news/1.html": html("<p>动态</p>"),
            "/private/report.html": html("<p>内部</p>")}


def test_robots_crawl_delay_is_honoured_and_disallow_obeyed(tmp_path):
    """Crawl-delay: 1 spaces every request to the host by a second at least, as the server
    measures it; a disallowed link is not crawled and is listed; the homepage the registry
    names is fetched although robots.txt disallows it (a person named it), and said so."""
    settings = polite(tmp_path)
    with site(robots_site(1.0)) as seen:
        found, _ = discover(tmp_path, settings, {"o": seen.base + "/home.html"})
    assert seen.paths()[0] == "/robots.txt" and seen.paths().count("/robots.txt") == 1
    assert "/private/report.html" not in seen.paths()
    assert {"/home.html", "/xx/", "/cx/", "/news/1.html"} <= set(seen.paths())
    gaps = [b.at - a.at for a, b in zip(seen.log, seen.log[1:], strict=False)]
    assert min(gaps) >= 1.0, gaps
    notes = found.notes_for("o")["politeness"]
    [robots] = notes["robots"]
    assert robots["robots_txt"] == "read" and robots["crawl_delay"] == 1.0
    assert robots["disallowed_skipped"] == [seen.base + "/private/report.html"]
    assert robots["entry_despite_robots"] == [seen.base + "/home.html"]
    assert notes["disallowed_count"] == 1
    assert not found.failures["o"]  # a page we chose not to crawl is no failure of the site
    assert {c.kind for c in found.channels["o"]} >= {"website", "submit", "track"}
    with sqlite3.connect(tmp_path / "politeness.sqlite") as db:  # every component slows down
        assert db.execute("SELECT crawl_delay FROM hosts WHERE host='127.0.0.1'").fetchone() == (1.0,)


def test_robots_disallow_ignored_when_the_settings_say_so(tmp_path):
    settings = polite(tmp_path, robots_disallow="ignore")
    with site(robots_site(0.1)) as seen:
        found, _ = discover(tmp_path, settings, {"i": seen.base + "/home.html"})
    assert "/private/report.html" in seen.paths()
    [robots] = found.notes_for("i")["politeness"]["robots"]
    assert robots["crawled_despite_robots"] == [seen.base + "/private/report.html"]
    assert "disallowed_skipped" not in robots
    assert all(CONTACT in s.user_agent for s in seen.log)


def test_the_rendered_pages_xhr_takes_a_slot_its_scripts_do_not(tmp_path):
    """A page whose menu a script fetches as JSON is rendered in Chromium: the fetch call takes
    a slot (booked to the crawl), the script file takes none, the browser says who it is."""
    menu_js = """fetch('api/menu?ua=' + encodeURIComponent(navigator.userAgent)).then(r => r.json()).then(d => {
      const box = document.getElementById('menu');
      d.data.forEach(m => { const a = document.createElement('a'); a.href = m.link; a.textContent = m.title;
      box.appendChild(a); }); });"""
    menu = {"code": 0, "data": [{"title": "我要写信", "link": "xx/"}, {"title": "信件查询", "link": "cx/"}]}
    pages = {"/c/": html("<div id='menu'></div><script src='js/app.js'></script>"),
             "/c/js/app.js": menu_js, "/c/api/menu": json.dumps(menu, ensure_ascii=False),
             "/c/xx/": html(LETTER), "/c/cx/": html(LOOKUP)}
    settings = polite(tmp_path)
    with site(pages) as seen:
        found, items = discover(tmp_path, settings, {"c": seen.base + "/c/"})
    assert {c.kind: c.value for c in found.channels["c"] if c.kind in ("submit", "track")} == \
        {"submit": seen.base + "/c/xx/", "track": seen.base + "/c/cx/"}
    urls = [row[1].removeprefix(seen.base) for row in logged(tmp_path) if row[0] == "crawl"]
    [xhr] = [u for u in urls if u.startswith("/c/api/menu")]
    assert "/c/js/app.js" not in urls
    assert CONTACT.replace("@", "%40") in xhr  # navigator.userAgent: the browser context's is ours too
    # Every page-level request the site saw is in the log (scripts are not page-level).
    page_level = [p for p in seen.paths() if not p.endswith(".js")]
    assert sorted(urls) == sorted(page_level)
    assert all(CONTACT in s.user_agent for s in seen.log)


def test_a_host_that_keeps_blocking_is_left_alone(tmp_path):
    """A firewall that answers every request after the first with its block page: the crawl
    stops asking after give_up_after strikes instead of waiting out ever longer back-offs."""
    pages = {"/": html("".join(f"<a href='/news/{i}.html'>第{i}期热线工作通报</a>" for i in range(1, 9)))}
    served = {"n": 0}

    def block(request: web.Request) -> tuple[int, str, dict[str, str]]:
        served["n"] += 1
        if served["n"] > 1:
            return 403, "<html><body><p>您的访问已被网站安全防护拦截</p></body></html>", {}
        return 0, "", {}

    settings = polite(tmp_path, in_flight=1, retries=3, give_up_after=2, backoff_s=1.0)
    with site(pages, block) as seen:
        started = time.monotonic()
        found, _ = discover(tmp_path, settings, {"r": seen.base + "/"})
        took = time.monotonic() - started
    blocked = [s for s in seen.log if s.status == 403]
    assert 2 <= len(blocked) <= 4, seen.paths()  # two strikes (and answers already on their way)
    assert took < 30
