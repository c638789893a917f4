"""Discovery against simweb's 344 portals: recall and precision per channel kind vs gold."""

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from fixtures.simweb import build_population
from fixtures.simweb.gold import CHANNEL_KINDS, channel_values, score_channels
from hotline_audit.config import load_settings
from hotline_audit.discovery import run_discovery
from hotline_audit.model import Hotline

from . import local_site
from .local_site import serve

# The 344-portal crawl takes ~1.5 min alone and several minutes on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("discovery"), pytest.mark.timeout(900)]
# Tests about what discovery reads, with several hotlines on one loopback host, ask that host
# quickly; the default politeness (about a request a second per host) is what the 344-portal
# crawl and the command-line tests run with, and tests/test_crawl_politeness.py tests.
QUICK = {"min_interval_s": 0.05, "per_minute": 600}


def test_recall_and_precision_per_kind(discovered):
    portals, found = discovered
    score = score_channels(portals, found.channels)
    print("\n" + score.table())
    for kind in CHANNEL_KINDS:
        assert score.recall(kind) >= 0.98, (kind, score.misses[kind][:5])
        assert score.precision(kind) >= 0.98, (kind, score.misses[kind][:5])


def test_each_family_of_unseen_markup_is_found_as_its_portal_shows_it(discovered):
    """Hash-routed apps, submission links that say only 互动交流, app links written by scripts,
    mini-programs offered by a weixin:// link, entry menus a script file draws: every one
    found, in gold's canonical form."""
    from crawler.spider import RENDERED
    from fixtures.simweb.layouts import hash_routes
    from fixtures.simweb.pages import COLUMN_LABELS, nav_by_script, style, submit_by_form
    from fixtures.simweb.population import DEAD_TRAITS

    portals, found = discovered
    live = [p for p in portals if p.host and p.trait not in DEAD_TRAITS]
    families = {
        "hash routes": ([p for p in live if hash_routes(p)], ("submit", "track")),
        "column word": ([p for p in live if submit_by_form(p)], ("submit",)),
        "app by script": ([p for p in live if style(p, p.template).app_script], ("app",)),
        "mini-program link": ([p for p in live if style(p, p.template).mini_program_link], ("mini_program",)),
        "menu by script file": ([p for p in live if nav_by_script(p)],
                                ("submit", "track", "knowledge_base", "robot", "app")),
    }
    for name, (members, kinds) in families.items():
        assert len(members) >= 8, name
        for p in members:
            gold = channel_values(p)
            for kind in kinds:
                if kind not in gold and name == "menu by script file":
                    continue  # a menu holds only the entries its portal has
                got = {c.value for c in found.channels[p.hotline_id] if c.kind == kind}
                assert got == {gold[kind]}, (name, p.hotline_id, kind, got)
    assert all("/#/" in channel_values(p)["submit"] for p in families["hash routes"][0])
    for p in families["menu by script file"][0]:  # read from the entry page as Chromium rendered it
        drawn = [c for c in found.channels[p.hotline_id] if c.kind in ("submit", "track")]
        assert all(c.found_on == (p.website or p.h5) and c.element.endswith(RENDERED) for c in drawn), drawn
        assert len(drawn) == 2 * (p.submit_via != "none"), (p.hotline_id, drawn)
    for p in families["column word"][0]:  # known by the form behind the link that says only that
        submit = next(c for c in found.channels[p.hotline_id] if c.kind == "submit")
        assert submit.text in COLUMN_LABELS and submit.found_on.startswith("http"), (p.hotline_id, submit)


def test_websites_not_in_the_registry_are_found_on_the_city_portal(discovered):
    from fixtures.simweb.gold import portal_only

    portals, found = discovered
    hidden = [p for p in portals if portal_only(p)]
    assert len(hidden) >= 10
    for p in hidden:
        sites = [c for c in found.channels[p.hotline_id] if c.kind == "website"]
        assert [c.value for c in sites] == [p.website], p.hotline_id
        assert sites[0].found_on == f"http://{p.host}/" and "12345" in (sites[0].text or "")


def test_no_page_url_qr_is_taken_for_a_wechat_account(discovered):
    portals, found = discovered
    hosts = {p.host for p in portals if p.host}
    wechat = [c.value for cs in found.channels.values() for c in cs if c.kind == "wechat"]
    assert wechat and not any(any(h in v for h in hosts) for v in wechat)
    assert sum(len(v) for v in found.page_qrs.values()) > 0  # the trap was seen and set aside


def test_failures_are_classified_not_tracebacks(discovered):
    portals, found = discovered
    dead = {p.hotline_id: p.trait for p in portals if p.trait in ("always_5xx", "hang", "redirect_loop", "tls_error")}
    kinds = {hid: {f["kind"] for f in found.failures.get(hid, [])} for hid in dead}
    assert all(kinds.values()), kinds
    assert all(not any("Traceback" in str(f) for f in fs) for fs in found.failures.values())


def quick_portals(portals: list) -> list:
    """The command's own behaviour (its CSV, its resume) without the sites that only wait: a
    slow or hanging site's pages are the 344-hotline gate's, and cost a minute here per run."""
    return [p for p in portals if p.trait not in ("slow", "hang")]


def test_discover_command_writes_channels_csv(simweb, tmp_path):
    import csv
    import subprocess
    import sys

    from fixtures.simweb import registry_rows
    from hotline_audit.files import csv_bytes

    from .conftest import COUNT, SEED

    portals = quick_portals(build_population(SEED, COUNT))
    (tmp_path / "reg.csv").write_bytes(csv_bytes(registry_rows(portals)))
    done = subprocess.run([sys.executable, "-m", "hotline_audit", "discover", "--registry", "reg.csv",
                           "--round", "d1", "--proxy", simweb], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "runs" / "d1" / "channels.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    sites = [p for p in portals if p.website]
    assert {r["hotline_id"] for r in rows if r["kind"] == "website"} == {p.hotline_id for p in sites}
    submit = [r for r in rows if r["kind"] == "submit"]
    assert submit and all(r["found_on"].startswith("http") and r["element"] and r["text"] for r in submit)


def test_a_killed_crawl_resumes_without_refetching_finished_hotlines(simweb, tmp_path):
    import csv
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from fixtures.simweb import registry_rows
    from hotline_audit.files import csv_bytes

    from .conftest import COUNT, SEED

    portals = quick_portals(build_population(SEED, COUNT))
    (tmp_path / "reg.csv").write_bytes(csv_bytes(registry_rows(portals)))
    cmd = [sys.executable, "-m", "hotline_audit", "discover", "--registry", "reg.csv", "--round", "r",
           "--proxy", simweb]
    feed = tmp_path / "runs" / "r" / "discovery" / "discovery.jsonl"
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    done: set[str] = set()
    while len(done) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if feed.exists():
            done = {json.loads(line)["hotline_id"] for line in feed.read_text("utf-8").splitlines()
                    if line.startswith('{"type": "done"')}
    os.killpg(proc.pid, signal.SIGKILL)  # the command, the crawler and its browser, mid-crawl
    proc.wait()
    done = {json.loads(line)["hotline_id"] for line in feed.read_text("utf-8", errors="replace").splitlines()
            if line.startswith('{"type": "done"')}
    sites = {p.hotline_id for p in portals if p.website or p.site_kind == "gov_column"}
    assert 4 <= len(done) < len(sites), "the kill should land mid-crawl"

    resumed = subprocess.run([*cmd, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    items = [json.loads(line) for line in feed.read_text("utf-8").splitlines()]
    pages = Counter(i["hotline_id"] for i in items if i["type"] == "page")
    dones = Counter(i["hotline_id"] for i in items if i["type"] == "done")
    assert all(dones[h] == 1 for h in sites), dones  # every hotline finished exactly once
    first_fetch = {h: n for h, n in pages.items() if h in done}
    assert all(n >= 1 for n in first_fetch.values())
    # Nothing of a finished hotline was fetched again: its pages are those of the first run.
    after_kill = [i for i in items[sum(1 for i in items if i["hotline_id"] in done):]]
    assert not any(i["hotline_id"] in done for i in after_kill)
    with open(tmp_path / "runs" / "r" / "channels.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["hotline_id"] for r in rows if r["kind"] == "website"} == \
        {p.hotline_id for p in portals if p.website}


def test_downloads_are_stopped_at_their_headers(tmp_path):
    """A linked 20 MB PDF costs its headers, not its body; the page around it is still read."""

    from aiohttp import web

    sent = {"bytes": 0}
    size = 20_000_000

    async def home(request: web.Request) -> web.Response:
        return web.Response(text='<html><body><a href="/guide.pdf">办事指南</a>'
                                 '<a href="/col/hdjl.html">我要投诉</a></body></html>', content_type="text/html")

    async def pdf(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/pdf", "Content-Length": str(size)})
        await resp.prepare(request)
        chunk = b"%PDF" + b"0" * 65532
        try:
            while sent["bytes"] < size:
                await resp.write(chunk)
                sent["bytes"] += len(chunk)
                await asyncio.sleep(0.001)
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/guide.pdf", pdf)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        settings = load_settings(None, out=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}",
                                 network=local_site.LOOPBACK.model_dump(), politeness=QUICK)
        found = run_discovery([Hotline(hotline_id="local", name="本地", province="江苏", city="南京",
                                       website=f"http://127.0.0.1:{port}/")], settings, tmp_path)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert any(c.kind == "submit" for c in found.channels["local"])
    assert sent["bytes"] < size / 10, sent


@contextmanager
def served_in_thread(routes: dict) -> Iterator[str]:
    """``local_site.serve`` on a loop of its own thread: discovery runs its own reactor here."""
    loop = asyncio.new_event_loop()
    runner, base = loop.run_until_complete(serve(routes))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_a_js_challenge_is_passed_once_then_plain_requests_carry_its_cookie(simweb, tmp_path):
    import json

    from .conftest import COUNT, SEED

    portal = next(p for p in build_population(SEED, COUNT) if p.trait == "js_challenge")
    settings = load_settings(None, proxy=simweb, out=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}", politeness=QUICK)
    hotline = Hotline(hotline_id=portal.hotline_id, name=portal.name, province=portal.province,
                      city=portal.city, website=portal.website)
    found = run_discovery([hotline], settings, tmp_path)
    pages = [json.loads(line) for line in (tmp_path / "discovery.jsonl").read_text("utf-8").splitlines()
             if '"type": "page"' in line]
    # The browser passes the challenge (a second render when the first caught the page before
    # its reload); every other page is a plain request carrying the cookie.
    rendered = sum(p["rendered"] for p in pages)
    assert len(pages) > 5 and 1 <= rendered <= 3
    assert {c.kind for c in found.channels[portal.hotline_id]} >= set(channel_values(portal)) - {"wechat"}
    assert "wechat" in {c.kind for c in found.channels[portal.hotline_id]}  # its QR image, decoded


def test_a_site_unlike_simweb_by_meaning_forms_scripts_and_routes(tmp_path):
    """Markup simweb never writes: a column word before a table form with pinyin names, a
    lookup behind 结果反馈, an app link an inline script writes after load, a mini-program behind
    a weixin:// link, and a single-page app whose menu (a script's) routes by hash."""

    from aiohttp import web


    def page(html: str):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=f"<html><head><meta charset='utf-8'></head><body>{html}</body></html>",
                                content_type="text/html")
        return handler

    intro = "<p>" + "本平台受理市民对全市各类事项的咨询、求助、投诉和意见建议，实行统一受理、按责转办。" * 3 + "</p>"
    home = f"""<div class="dh"><a href="/a/hdjl/index.jhtml">政民互动</a> <a href="/a/cxzx/">结果反馈</a>
      <a href="/a/xjgk/">信件公开</a> <span id="kh"></span></div>{intro}
      <script>window.addEventListener('load', function () {{
        document.getElementById('kh').innerHTML = '<a href="/a/khd/">手机客户端</a>'; }});</script>
      <div class="mp">微信搜索小程序“本地12345”
      <a href="weixin://dl/business/?appid=wx0123456789abcdef&path=pages/index">点击打开</a></div>"""
    letter = """<form method="post"><table><tr><td>姓　　名：</td><td><input name="xm"></td></tr>
      <tr><td>联系电话：</td><td><input name="lxdh"></td></tr><tr><td>内　　容：</td><td><textarea name="nr">
      </textarea></td></tr></table><input type="submit" value="提 交"></form>"""
    lookup = """<form><p>受理编号：<input name="slbh"></p><p>查询密码：<input type="password" name="cxmm"></p>
      <input type="submit" value="查 询"></form>"""
    spa = """<div id="root"></div><script>
      var menu = [{"title": "我要反映", "path": "#/appeal/new"}, {"title": "办件查询", "path": "#/appeal/query"}];
      document.getElementById('root').innerHTML = menu.map(function (m) {
        return '<a href="' + m.path + '">' + m.title + '</a>'; }).join(' ');</script>"""
    routes = {"/a/": page(home), "/a/hdjl/index.jhtml": page(letter), "/a/cxzx/": page(lookup),
              "/a/xjgk/": page(letter), "/a/khd/": page("<p>下载客户端</p>"), "/b/": page(spa)}

    with served_in_thread(routes) as base:
        settings = load_settings(None, out=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}",
                                 network=local_site.LOOPBACK.model_dump(), politeness=QUICK)
        hotlines = [Hotline(hotline_id=h, name="本地", province="江苏", city="南京", website=f"{base}/{h}/")
                    for h in ("a", "b")]
        found = run_discovery(hotlines, settings, tmp_path)
    got = {h: {(c.kind, c.value) for c in found.channels[h] if c.kind != "website"} for h in ("a", "b")}
    assert got["a"] == {("submit", f"{base}/a/hdjl/index.jhtml"), ("track", f"{base}/a/cxzx/"),
                        ("app", f"{base}/a/khd/"), ("mini_program", "wx0123456789abcdef")}
    assert got["b"] == {("submit", f"{base}/b/#/appeal/new"), ("track", f"{base}/b/#/appeal/query")}
    submit = next(c for c in found.channels["a"] if c.kind == "submit")
    assert (submit.found_on, submit.text) == (f"{base}/a/", "政民互动")


def test_links_a_script_file_draws_are_read_from_the_rendered_entry_page(tmp_path):
    """Portals whose pages keep plenty of static text while a script file draws the menu — a
    Vue widget fed by ``/api/menu``, a site-wide ``common.js`` — show no sign of it in their
    HTML. A crawl that ends without a submission entry (c), or with one but no tracking entry
    (e), renders the entry page once and reads what the scripts drew, saying so in the
    provenance; a site whose HTML has both entries (d) is never rendered. A WeChat H5 home
    whose script draws its grid only inside WeChat (w) is rendered as WeChat's browser. Each
    hotline is done once, after everything of it."""
    import json

    from aiohttp import web

    from crawler.spider import RENDERED


    def reply(body: str, ctype: str = "text/html"):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=body, content_type=ctype)
        return handler

    def page(html: str, script: str = "") -> str:
        news = "".join(f"<li><a href='news/{i}.html'>关于做好第{i}季度热线工作的通知</a><span>2024-0{i}-1{i}</span></li>"
                       for i in range(1, 5))
        return (f"<html><head><meta charset='utf-8'>{script}</head><body><h1>本市12345政务服务便民热线</h1>"
                f"<p>热线受理群众咨询、求助、投诉、举报和意见建议，24小时人工服务，统一受理、按责转办、限时办结。</p>"
                f"{html}<ul>{news}</ul><div class='foot'>主办单位：市政务服务管理办公室　地址：市民中心</div></body></html>")

    letter = page("""<form method="post"><p>姓名：<input name="xm"></p><p>手机号码：<input name="sjhm"></p>
      <p>诉求内容：<textarea name="nr"></textarea></p><input type="submit" value="提交"></form>""")
    lookup = page("""<form><p>信件编号：<input name="xjbh"></p><p>查询码：<input name="cxm"></p>
      <input type="submit" value="查询"></form>""")
    # c: a menu component fetches its entries as JSON; the HTML has only an empty box.
    menu_js = """fetch('api/menu').then(r => r.json()).then(d => { const box = document.getElementById('menu');
      d.data.forEach(m => { const a = document.createElement('a'); a.href = m.link; a.textContent = m.title;
      box.appendChild(a); }); });"""
    menu = {"code": 0, "data": [{"title": "互动交流", "link": "hdjl/"}, {"title": "回复查询", "link": "hfcx/"}]}
    # w: a WeChat H5 home whose script draws the grid only when navigator.userAgent is WeChat's.
    h5_js = """if (!/MicroMessenger/i.test(navigator.userAgent)) { document.getElementById('grid').textContent =
      '请在微信客户端打开链接'; } else { document.getElementById('grid').innerHTML =
      '<a href="fy/">我要反映</a><a href="cx/">进度查询</a>'; }"""
    # e: the submission link is in the HTML, the lookup is written by the site's common.js.
    common_js = "document.write('<a href=\"wdbj/\">办理情况查询</a>');"
    routes = {
        "/c/": reply(page("<div id='menu'></div><script src='js/app.js'></script>")),
        "/c/js/app.js": reply(menu_js, "application/javascript"),
        "/c/api/menu": reply(json.dumps(menu, ensure_ascii=False), "application/json"),
        "/c/hdjl/": reply(letter), "/c/hfcx/": reply(lookup),
        "/e/": reply(page("<a href='xx/'>我要写信</a><span><script src='js/common.js'></script></span>")),
        "/e/js/common.js": reply(common_js, "application/javascript"),
        "/e/xx/": reply(letter), "/e/wdbj/": reply(lookup),
        "/d/": reply(page("<a href='xx/'>我要写信</a> <a href='cx/'>信件查询</a>", "<script src='js/stat.js'></script>")),
        "/d/js/stat.js": reply("var _hmt = [];", "application/javascript"),
        "/w/": reply(page("<section id='grid'></section><script src='js/h5.js'></script>")),
        "/w/js/h5.js": reply(h5_js, "application/javascript"),
        "/w/fy/": reply(letter), "/w/cx/": reply(lookup),
        "/d/xx/": reply(letter), "/d/cx/": reply(lookup),
    }
    with served_in_thread(routes) as base:
        settings = load_settings(None, out=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}",
                                 network=local_site.LOOPBACK.model_dump(), politeness=QUICK)
        hotlines = [Hotline(hotline_id=h, name="本地", province="江苏", city="南京", website=f"{base}/{h}/")
                    for h in ("c", "d", "e")]
        hotlines.append(Hotline(hotline_id="w", name="本地", province="江苏", city="南京", h5=f"{base}/w/"))
        found = run_discovery(hotlines, settings, tmp_path)
    got = {h: {c.kind: c for c in found.channels[h] if c.kind in ("submit", "track")} for h in ("c", "d", "e", "w")}
    assert {k: c.value for k, c in got["c"].items()} == {"submit": f"{base}/c/hdjl/", "track": f"{base}/c/hfcx/"}
    assert {k: c.value for k, c in got["e"].items()} == {"submit": f"{base}/e/xx/", "track": f"{base}/e/wdbj/"}
    assert {k: c.value for k, c in got["d"].items()} == {"submit": f"{base}/d/xx/", "track": f"{base}/d/cx/"}
    assert {k: c.value for k, c in got["w"].items()} == {"submit": f"{base}/w/fy/", "track": f"{base}/w/cx/"}
    # Provenance: the drawn links were on the entry page, as Chromium rendered it.
    for c in (got["c"]["submit"], got["c"]["track"], got["e"]["track"], got["w"]["submit"]):
        assert c.found_on == f"{base}/{c.hotline_id}/" and c.element.endswith(RENDERED), c
    assert got["c"]["submit"].text == "互动交流"  # a column word: its page's letter form decided
    assert not got["e"]["submit"].element.endswith(RENDERED)  # in the HTML: found without a browser
    items = [json.loads(line) for line in (tmp_path / "discovery.jsonl").read_text("utf-8").splitlines()]
    rendered = Counter(i["hotline_id"] for i in items if i["type"] == "page" and i["rendered"])
    assert rendered == {"c": 1, "e": 1, "w": 1}, rendered  # the entry page once; d never
    for h in ("c", "d", "e", "w"):
        mine = [i for i in items if i.get("hotline_id") == h]
        assert [i["type"] for i in mine].count("done") == 1 and mine[-1]["type"] == "done", h
