"""Capture per borrowed tab (journeys/capture.py): a WACZ that replays, a HAR without cookies,
a trace, and no persona value in any byte of any of them."""

import asyncio
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from fixtures.simweb import build_population
from hotline_audit.config import BrowserSettings, EvidenceSettings
from hotline_audit.personas import fake_persona
from journeys.browser import BrowserPool
from journeys.capture import (
    COOKIE_MARK,
    Capture,
    Exchange,
    PersonaFilter,
    Scrubber,
    assemble_wacz,
    rewrite_wacz,
    scrub_trace,
    write_warc,
)

from . import local_site
from .conftest import COUNT, SEED

PERSONA = fake_persona()
COOKIE = "sekrit-session-4242"


def needles(p=PERSONA):
    """Every spelling of the persona a careless capture would keep."""
    out = []
    for v in (p.phone, p.id_number, p.email, p.name):
        for enc in ("utf-8", "gb18030"):
            out.append(v.encode(enc))
            q = quote(v.encode(enc), safe="")
            out += [q.encode(), q.lower().encode()]
    out.append("".join(f"\\u{ord(c):04x}" for c in p.name).encode())
    out.append(f"{p.phone[:3]}****{p.phone[-4:]}".encode())
    return [n for n in dict.fromkeys(out) if n]


def unpacked(name, data):
    """What a reader can get out of a file: zip members and gzip contents, recursively."""
    if name.endswith((".zip", ".wacz")):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [b for i in z.infolist() if not i.is_dir() for b in unpacked(i.filename, z.read(i))]
    if name.endswith(".gz"):
        return [gzip.decompress(data)]
    return [data]


def wacz_members(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: (z.read(i), i.compress_type) for i in z.infolist()}


def check_wacz(path: Path) -> list:
    """The WACZ checks a replayer relies on; returns the WARC's records (type, url, status, body)."""
    members = wacz_members(path)
    assert {"datapackage.json", "datapackage-digest.json", "archive/data.warc.gz", "indexes/index.cdxj",
            "pages/pages.jsonl"} <= set(members)
    assert all(kind == zipfile.ZIP_STORED for _, kind in members.values())  # read by offset
    package_bytes = members["datapackage.json"][0]
    package = json.loads(package_bytes)
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    for res in package["resources"]:
        body = members[res["path"]][0]
        assert res["hash"] == "sha256:" + hashlib.sha256(body).hexdigest() and res["bytes"] == len(body)
    digest = json.loads(members["datapackage-digest.json"][0])
    assert digest == {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
    warc = members["archive/data.warc.gz"][0]
    records = []
    for rec in ArchiveIterator(io.BytesIO(warc)):
        status = rec.http_headers.get_statuscode() if rec.rec_type == "response" else None
        records.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"), status,
                        rec.content_stream().read()))
    # Every index line points at a record that parses and names the same URL.
    lines = members["indexes/index.cdxj"][0].decode().splitlines()
    assert lines == sorted(lines) and lines
    for line in lines:
        _, _, fields = line.split(" ", 2)
        entry = json.loads(fields)
        start = int(entry["offset"])
        rec = next(iter(ArchiveIterator(io.BytesIO(warc[start:start + int(entry["length"])]))))
        assert rec.rec_headers.get_header("WARC-Target-URI") == entry["url"]
    pages = [json.loads(ln) for ln in members["pages/pages.jsonl"][0].decode().splitlines()]
    assert pages[0]["format"] == "json-pages-1.0" and all("url" in p and "ts" in p for p in pages[1:])
    from wacz.validate import Validation  # webrecorder's own validator, as a second opinion

    v = Validation(str(path))
    assert v.version == "1.1.1"
    assert v.frictionless_validate() is not False and v.check_file_hashes() is not False
    assert v.check_data_package_hash_and_sig() is not False
    return records


def healthy_websites():
    return [p.website for p in build_population(SEED, COUNT) if p.trait == "healthy" and p.website]


# -- no browser -----------------------------------------------------------------------------------


def test_scrubber_catches_the_spellings_on_the_wire():
    s = Scrubber(PERSONA)
    text = (f"name={quote(PERSONA.name)}&gbk={quote(PERSONA.name.encode('gb18030'))}&p={PERSONA.phone}"
            f"&e={quote(PERSONA.email)} {json.dumps(PERSONA.name)} {PERSONA.phone[:3]}****{PERSONA.phone[-4:]}"
            f" {PERSONA.id_number[:6]}********{PERSONA.id_number[-4:]}")
    out = s.text(text)
    assert not any(n.decode() in out for n in needles() if n.isascii())
    assert PERSONA.phone[-4:] not in out and "[手机号]" in out and "[身份证号]" in out
    gbk = f"<p>{PERSONA.name} {PERSONA.phone}</p>".encode("gb18030")
    assert s.data(gbk) == "<p>[姓名] [手机号]</p>".encode("gb18030")
    assert s.data(b"\x89PNG\x00" + PERSONA.phone.encode(), textual=False).endswith(PERSONA.phone.encode())
    plain = Scrubber(["abc123secret"])
    assert plain.text("x=abc123secret") == "x=[已删除 removed]"


def test_the_fast_filter_never_skips_what_redact_would_change():
    from hotline_audit.personas import redact

    f = PersonaFilter(PERSONA)
    p, i = PERSONA.phone, PERSONA.id_number
    samples = [p, f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}****{p[7:]}", f"{p[:3]}-＊＊＊＊-{p[7:]}",
               "".join(chr(ord(c) + 0xFEE0) for c in p), f"{i[:6]}********{i[14:]}", i.lower(),
               PERSONA.email.upper(), f"te***@{PERSONA.email.split('@')[1]}", quote(PERSONA.name).lower(),
               " ".join(PERSONA.name), "nothing here 0123456789 ****"]
    for text in samples:
        for t in (text, "x" * 5000 + text + "y" * 5000):
            if redact(t, PERSONA) != t:
                assert f.might_hold(t), text
    # Random mixes of the persona's pieces, masks and separators: never a miss.
    rng = random.Random(8)
    pieces = [*p, *i, *PERSONA.name, *PERSONA.email, "*", "＊", "●", "x", "X", " ", "-", "\u00a0", "%",
              "０", "１", "７", "@", "E6", "a", "测"]
    for _ in range(3000):
        t = "".join(rng.choice(pieces) for _ in range(rng.randint(5, 40)))
        if rng.random() < 0.5:  # and with a real value inside, partly masked
            v = rng.choice([p, i])
            k = rng.randint(0, len(v) - 4)
            t += v[:k] + "*" * rng.randint(0, 4) + v[k + rng.randint(0, 4):]
        if redact(t, PERSONA) != t:
            assert f.might_hold(t), t
    assert not f.might_hold("var a = 1234567890123; // 12345 热线" * 2000)


def exchange(url, body, status=200, headers=None):
    return Exchange(url=url, date="2026-05-06T07:08:09.123Z", method="GET",
                    request_headers=[("Host", "x.test"), ("Cookie", "a=b")], post=b"", status=status,
                    reason="OK", response_headers=headers or [("Content-Type", "text/html; charset=utf-8")],
                    body=body)


def test_a_clean_wacz_packs_byte_for_byte_and_a_dirty_one_is_rebuilt(tmp_path):
    clean = assemble_wacz({"data.warc.gz": write_warc([exchange("http://x.test/", b"<title>t</title>ok")],
                                                      title="t")},
                          [{"id": "1", "url": "http://x.test/", "ts": "2026-05-06T07:08:09.123Z"}], title="t")
    assert rewrite_wacz(clean, lambda s: s) == clean
    body = f"<p>{PERSONA.name} {PERSONA.phone}</p>".encode()
    dirty = assemble_wacz({"data.warc.gz": write_warc([exchange(f"http://x.test/?p={PERSONA.phone}", body)],
                                                      title="t")}, [], title="t")
    out = rewrite_wacz(dirty, Scrubber(PERSONA).text)
    path = tmp_path / "out.wacz"
    path.write_bytes(out)
    records = check_wacz(path)
    assert not any(n in blob for blob in unpacked("a.wacz", out) for n in needles())
    resp = next(r for r in records if r[0] == "response")
    assert resp[1] == "http://x.test/?p=[%E6%89%8B%E6%9C%BA%E5%8F%B7]" and resp[3] == "<p>[姓名] [手机号]</p>".encode()


def test_a_trace_is_scrubbed_and_loses_cookies():
    entry = {"request": {"url": f"http://x.test/?p={PERSONA.phone}", "headers": [{"name": "Cookie", "value": "a=b"}],
                         "cookies": [{"name": "a", "value": "b"}]}, "response": {"headers": []}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("trace.network", json.dumps({"type": "resource-snapshot", "snapshot": entry}) + "\n")
        z.writestr("trace.trace", json.dumps({"method": "fill", "params": {"value": PERSONA.id_number}}))
        z.writestr("resources/abc.png", b"\x89PNG\x00\x00")
    out = scrub_trace(buf.getvalue(), Scrubber(PERSONA).text)
    assert not any(n in blob for blob in unpacked("t.zip", out) for n in needles())
    network = json.loads(zipfile.ZipFile(io.BytesIO(out)).read("trace.network"))
    assert network["snapshot"]["request"]["headers"][0]["value"] == COOKIE_MARK
    clean = scrub_trace(out, Scrubber(PERSONA).text)
    assert clean == out  # nothing left to do: the same bytes


# -- in a browser ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_captured_homepage_is_a_valid_wacz_har_and_trace(simweb, tmp_path):
    async def go():
        async with BrowserPool(BrowserSettings(contexts=1), proxy=simweb) as pool:
            for url in healthy_websites():
                capture = Capture(tmp_path / "homepage", options=EvidenceSettings(trace=True))
                async with pool.tab(capture=capture) as tab:
                    resp = await tab.page.goto(url)
                    await tab.page.screenshot(path=tmp_path / "homepage.png")
                if resp is not None and resp.status == 200:
                    return url, capture, resp
            raise AssertionError("no healthy simweb homepage loaded")

    url, capture, _ = asyncio.run(go())
    kinds = {p.name: media for p, media in capture.saved}
    assert kinds == {"homepage.wacz": "application/wacz", "homepage.har": "application/har+json",
                     "homepage.trace.zip": "application/zip"}, capture.problems
    records = check_wacz(tmp_path / "homepage.wacz")
    page = next(r for r in records if r[0] == "response" and r[1] == url)
    assert page[2] == "200" and b"<html" in page[3].lower()
    assert any(r[0] == "request" and r[1] == url for r in records)
    pages = wacz_members(tmp_path / "homepage.wacz")["pages/pages.jsonl"][0].decode().splitlines()
    assert json.loads(pages[1])["url"] == url and json.loads(pages[1])["title"]
    har = json.loads((tmp_path / "homepage.har").read_text(encoding="utf-8"))
    assert har["log"]["version"] == "1.2" and har["log"]["entries"]
    assert any(e["request"]["url"] == url and "<html" in e["response"]["content"].get("text", "").lower()
               for e in har["log"]["entries"])
    with zipfile.ZipFile(tmp_path / "homepage.trace.zip") as z:
        assert "trace.trace" in z.namelist() and "trace.network" in z.namelist()
    assert capture.seconds > 0


@pytest.mark.browser
def test_capture_parts_switch_off_and_tabs_stay_reusable(simweb, tmp_path):
    url, other = healthy_websites()[:2]

    async def go():
        async with BrowserPool(BrowserSettings(contexts=1), proxy=simweb) as pool:
            only_wacz = Capture(tmp_path / "a", options=EvidenceSettings(har=False, trace=False))
            async with pool.tab(capture=only_wacz) as tab:
                await tab.page.goto(url)
            nothing = Capture(tmp_path / "b", options=EvidenceSettings(wacz=False, har=False, trace=False))
            async with pool.tab(capture=nothing) as tab:
                await tab.page.goto(url)
            traced = []
            for name, site in (("c", url), ("d", other)):  # one context, two hotlines' borrows
                cap = Capture(tmp_path / name, options=EvidenceSettings(), check="effectiveness")
                async with pool.tab(capture=cap) as tab:
                    await tab.page.goto(site)
                traced.append(cap)
            return only_wacz, nothing, traced

    only_wacz, nothing, traced = asyncio.run(go())
    assert [p.name for p, _ in only_wacz.saved] == ["a.wacz"]
    assert nothing.saved == [] and not list(tmp_path.glob("b*"))
    assert [sorted(p.name for p, _ in c.saved) for c in traced] == [
        ["c.har", "c.trace.zip", "c.wacz"], ["d.har", "d.trace.zip", "d.wacz"]]
    # The second borrow's files hold nothing of the first (another hotline's traffic).
    first_host = url.split("/")[2].encode()
    for name in ("d.har", "d.trace.zip", "d.wacz"):
        assert not any(first_host in b for b in unpacked(name, (tmp_path / name).read_bytes())), name


FORM = """<!doctype html><html><head><meta charset="utf-8"><title>诉求提交</title></head><body>
<form method="post" action="/submit">
<input name="name"><input name="phone"><input name="idno"><input name="email">
<textarea name="body"></textarea><button id="go" type="submit">提交</button></form></body></html>"""


async def persona_site(request_log):
    async def form(_):
        return web.Response(text=FORM, content_type="text/html")

    async def submit(request):
        data = await request.post()
        request_log.append(dict(data))
        p = {k: data.get(k, "") for k in ("name", "phone", "idno", "email")}
        html = (f"<!doctype html><html><head><meta charset='utf-8'><title>已受理 {p['name']}</title></head><body>"
                f"<p>尊敬的{p['name']}，您的诉求已受理，短信已发送至{p['phone']}（{p['phone'][:3]}****{p['phone'][-4:]}）。"
                f"身份证 {p['idno']}，邮箱 {p['email']}</p>"
                f"<img src='/pixel.png?phone={p['phone']}'><iframe src='/gbk'></iframe>"
                "<script>fetch('/api/me?phone=" + p["phone"] + "').then(r => r.json())"
                ".then(j => document.title += j.name)</script></body></html>")
        resp = web.Response(text=html, content_type="text/html")
        resp.set_cookie("sid", COOKIE)
        return resp

    async def me(request):
        body = json.dumps({"name": PERSONA.name, "phone": request.query.get("phone"), "id": PERSONA.id_number})
        return web.Response(text=body, content_type="application/json")  # ensure_ascii: \\u escapes

    async def gbk(_):
        body = f"<html><head><title>回执</title></head><body>{PERSONA.name} {PERSONA.phone}</body></html>"
        return web.Response(body=body.encode("gb18030"), headers={"Content-Type": "text/html; charset=gbk"})

    async def pixel(_):
        png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d7"
                            "63f8cfc00000030101001825dd560000000049454e44ae426082")
        return web.Response(body=png, content_type="image/png")

    app = web.Application()
    app.router.add_get("/", form)
    app.router.add_post("/submit", submit)
    app.router.add_get("/api/me", me)
    app.router.add_get("/gbk", gbk)
    app.router.add_get("/pixel.png", pixel)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.mark.browser
def test_a_persona_filled_form_leaves_no_persona_in_any_captured_byte(tmp_path):
    """An effectiveness-like journey: type the persona, submit, see it echoed back (plain, masked,
    as JSON escapes, in GBK, in URLs), with a session cookie; nothing of it is saved."""
    posted: list = []

    async def go():
        runner, base = await persona_site(posted)
        try:
            async with BrowserPool(BrowserSettings(contexts=1), network=local_site.LOOPBACK) as pool:
                capture = Capture(tmp_path / "submit", secrets=PERSONA, options=EvidenceSettings(),
                                  check="effectiveness")
                async with pool.tab(capture=capture) as tab:
                    page = tab.page
                    await page.goto(base + "/")
                    await page.fill("input[name=name]", PERSONA.name)
                    await page.fill("input[name=phone]", PERSONA.phone)
                    await page.fill("input[name=idno]", PERSONA.id_number)
                    await page.fill("input[name=email]", PERSONA.email)
                    await page.fill("textarea[name=body]", f"请联系{PERSONA.name}，电话{PERSONA.phone}")
                    async with page.expect_navigation():
                        await page.click("#go")
                    await page.wait_for_load_state("networkidle")
                    await page.goto(base + "/gbk")  # sends the cookie back
                return capture
        finally:
            await runner.cleanup()

    capture = asyncio.run(go())
    assert posted and posted[0]["phone"] == PERSONA.phone  # the site really got the persona
    assert {p.suffix for p, _ in capture.saved} == {".wacz", ".har", ".zip"}, capture.problems
    for path, _ in capture.saved:
        for blob in unpacked(path.name, path.read_bytes()):
            for n in [*needles(), COOKIE.encode()]:
                assert n not in blob, f"{path.name} holds {n!r}"
    har = json.loads((tmp_path / "submit.har").read_text(encoding="utf-8"))
    entries = har["log"]["entries"]
    posts = [e for e in entries if e["request"]["method"] == "POST"]
    assert posts and "[手机号]" in posts[0]["request"]["postData"]["text"]
    set_cookie = [h for e in entries for h in e["response"]["headers"] if h["name"].lower() == "set-cookie"]
    sent_cookie = [h for e in entries for h in e["request"]["headers"] if h["name"].lower() == "cookie"]
    assert set_cookie and sent_cookie and {h["value"] for h in set_cookie + sent_cookie} == {COOKIE_MARK}
    assert all(c["value"] == COOKIE_MARK for e in entries for side in ("request", "response")
               for c in e[side].get("cookies", []))
    records = check_wacz(tmp_path / "submit.wacz")
    gbk = next(r for r in records if r[0] == "response" and r[1].endswith("/gbk"))
    assert gbk[3].decode("gb18030").count("[姓名]") == 1  # redacted in its own encoding
    assert any(r[0] == "request" and r[1].endswith("/submit") and b"[" in r[3] for r in records)


def test_text_bodies_are_archived_in_the_charset_the_site_declared():
    from journeys.capture import as_served

    utf8 = "<title>回执</title>".encode()
    assert as_served(utf8, "text/html; charset=GBK") == "<title>回执</title>".encode("gbk")
    meta = "<meta charset='gb2312'><p>回执</p>".encode()
    assert as_served(meta, "text/html") == "<meta charset='gb2312'><p>回执</p>".encode("gbk")
    assert as_served(utf8, "text/html") == utf8 and as_served(utf8, "text/html; charset=utf-8") == utf8
    emoji = "<p>😀</p>".encode()
    assert as_served(emoji, "text/html; charset=gbk") == "<p>😀</p>".encode("gb18030")  # GBK's superset
    assert as_served(emoji, "text/html; charset=iso-8859-1") == emoji  # does not fit: stays UTF-8
    assert as_served(b"\xff\xfe", "text/plain; charset=gbk") == b"\xff\xfe"


def test_trace_is_kept_where_settings_ask(monkeypatch):
    from hotline_audit.config import load_settings

    default = EvidenceSettings()
    assert default.wacz and default.har and default.trace == "effectiveness"
    assert default.traces("effectiveness") and not default.traces("findability") and not default.traces(None)
    assert EvidenceSettings(trace=True).traces("stability") and not EvidenceSettings(trace=False).traces("effectiveness")
    monkeypatch.setenv("HOTLINE_AUDIT_EVIDENCE__TRACE", "false")
    monkeypatch.setenv("HOTLINE_AUDIT_EVIDENCE__WACZ", "false")
    settings = load_settings()
    assert settings.evidence.trace == "none" and not settings.evidence.wacz and settings.evidence.har
    assert not Capture(Path("x/y/z"), options=EvidenceSettings(wacz=False, har=False), check="findability").wanted


REPLAYWEBPAGE = os.environ.get("HOTLINE_AUDIT_REPLAYWEBPAGE")  # an unpacked `npm pack replaywebpage`


@pytest.mark.browser
@pytest.mark.skipif(not REPLAYWEBPAGE, reason="set HOTLINE_AUDIT_REPLAYWEBPAGE to an unpacked replaywebpage package")
def test_replayweb_page_replays_a_capture(tmp_path):
    """The real replayer (ReplayWeb.page's ui.js + service worker) shows the archived pages'
    text, a GBK page included. Not run by default: it needs the npm package on disk."""
    gbk_text = "铁岭12345政务服务便民热线 回执查询"

    async def site():
        async def home(_):
            return web.Response(text="<!doctype html><meta charset=utf-8><title>首页</title><p>首页 12345 热线</p>"
                                "<a href=/gbk>回执</a>", content_type="text/html")

        async def gbk(_):
            return web.Response(body=f"<html><head><meta charset=gbk></head><p>{gbk_text}</p>".encode("gbk"),
                                headers={"Content-Type": "text/html"})

        app = web.Application()
        app.router.add_get("/", home)
        app.router.add_get("/gbk", gbk)
        return app

    async def serve(app):
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def go():
        runner, base = await serve(await site())
        try:
            async with BrowserPool(BrowserSettings(contexts=1), network=local_site.LOOPBACK) as pool:
                cap = Capture(tmp_path / "www" / "archive", options=EvidenceSettings(har=False, trace=False))
                async with pool.tab(capture=cap) as tab:
                    await tab.page.goto(base + "/")
                    await tab.page.click("a")
                    await tab.page.wait_for_load_state()
        finally:
            await runner.cleanup()
        www = tmp_path / "www"
        (www / "replay").mkdir()
        shutil.copy(Path(REPLAYWEBPAGE) / "ui.js", www / "ui.js")
        shutil.copy(Path(REPLAYWEBPAGE) / "sw.js", www / "replay" / "sw.js")
        shown = {}
        static = web.Application()
        static.router.add_static("/", www)
        runner, replay = await serve(static)
        try:
            async with BrowserPool(BrowserSettings(contexts=1), network=local_site.LOOPBACK) as pool:
                for path in ("/", "/gbk"):
                    (www / "index.html").write_text(
                        '<!doctype html><script src="ui.js"></script><replay-web-page source="archive.wacz" '
                        f'url="{base}{path}" replayBase="replay/" embed="replayonly"></replay-web-page>')
                    async with pool.tab() as tab:
                        await tab.page.goto(replay + "/index.html")
                        for _ in range(60):
                            frames = [f for f in tab.page.frames if "mp_/" in f.url]
                            text = await frames[0].inner_text("body") if frames else ""
                            if text.strip():
                                shown[path] = text
                                break
                            await asyncio.sleep(0.5)
        finally:
            await runner.cleanup()
        return shown

    shown = asyncio.run(go())
    assert "首页 12345 热线" in shown["/"]
    assert gbk_text in shown["/gbk"]  # archived in GBK, as served, and decoded as such
