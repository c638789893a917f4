"""Hostile portals (issue 17) and the canaries of the auditor's own network, seen through
simweb's proxy: each trait served as labelled, its gold, and the default population untouched."""

from __future__ import annotations

import asyncio
import re
import resource
from collections import Counter
from urllib.parse import urljoin

import httpx
import pytest
from aiohttp.test_utils import TestServer

from fixtures.gold_round import gold_round
from fixtures.simweb import (
    HOSTILE_TRAITS,
    build_population,
    canary_marker,
    gold_rows,
    registry_rows,
)
from fixtures.simweb import hostile as hs
from fixtures.simweb.gold import channel_values
from fixtures.simweb.layouts import LAYOUTS
from fixtures.simweb.population import DEAD_TRAITS, PRIVATE_REDIRECTS, STABILITY_GOLD
from fixtures.simweb.server import SimWeb
from hotline_audit.simweb_process import simweb_process

from .test_simweb_portals import answers, question

SEED, COUNT = 1, 24
TRAITS = (*HOSTILE_TRAITS, "private_redirect", "private_redirect", "busy_loop", "busy_loop", "busy_loop",
          "alert_loop", "alert_loop", "alert_loop", "refresh_loop", "refresh_loop")
PORTALS = build_population(SEED, COUNT, hostile=TRAITS)
HOSTILE = PORTALS[COUNT:]
LOCAL_PORT = 9311
ENDLESS = re.compile(r"while\s*\(\s*(true|1|!0)\s*\)|for\s*\(\s*(var \w+=0)?;\s*;")


def of(trait):
    return [p for p in HOSTILE if p.trait == trait]


def resident() -> int:
    """This process's resident memory in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def closing_script(page: str) -> str:
    """The script that ends the page's body ("" when none does)."""
    found = re.search(r"<script[^>]*>((?:(?!<script).)*)</script>\s*</body>", page, re.S)
    return found.group(1) if found else ""


async def run(body, portals=PORTALS, seed=SEED):
    sim = SimWeb(portals, seed=seed, local_port=LOCAL_PORT)
    server = TestServer(sim.app(), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with httpx.AsyncClient(proxy=base, trust_env=False, timeout=20) as client:
            return await body(client, base)
    finally:
        await server.close()


def served(body, **kw):
    return asyncio.run(run(body, **kw))


# -- the population ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 23])
@pytest.mark.parametrize("count", [24, 344])
def test_hostile_portals_leave_the_default_population_and_its_gold_unchanged(seed, count):
    plain = build_population(seed, count)
    assert build_population(seed, count, hostile=()) == plain
    mixed = build_population(seed, count, hostile=HOSTILE_TRAITS)
    assert mixed[:count] == plain
    assert [p.trait for p in mixed[count:]] == list(HOSTILE_TRAITS)
    normal = {p.hotline_id for p in plain}
    assert [g for g in gold_rows(mixed) if g["hotline_id"] in normal] == gold_rows(plain)
    assert registry_rows(mixed)[:count] == registry_rows(plain)


def test_hostile_portals_are_real_places_of_their_own_and_seeded():
    assert [p.trait for p in HOSTILE] == list(TRAITS)
    ids = [p.hotline_id for p in PORTALS]
    hosts = [p.host for p in PORTALS if p.host]
    assert len(set(ids)) == len(ids) and len(set(hosts)) == len(hosts)
    assert all(p.site_kind == "standalone" and p.website == f"http://{p.host}/" for p in HOSTILE)
    assert all(re.fullmatch(r"\d{6}", p.adcode) and p.province and p.city in p.full_name for p in HOSTILE)
    assert build_population(SEED, COUNT, hostile=TRAITS) == PORTALS
    assert build_population(SEED + 1, COUNT, hostile=TRAITS)[COUNT:] != HOSTILE
    # Three private redirects show all three targets.
    assert {p.redirect_to for p in of("private_redirect")} == set(PRIVATE_REDIRECTS)
    assert all(p.redirect_to == "" for p in HOSTILE if p.trait != "private_redirect")
    with pytest.raises(ValueError, match="unknown hostile"):
        build_population(SEED, COUNT, hostile=("sluggish",))
    with pytest.raises(ValueError, match="cities are left"):
        build_population(SEED, 359, hostile=("busy_loop",))


def test_gold_of_hostile_portals():
    gold = {(g["hotline_id"], g["check"]): g for g in gold_rows(PORTALS)}
    want = {"busy_loop": "down", "alert_loop": "down", "refresh_loop": "down", "private_redirect": "down",
            "huge_page": "degraded", "popup_storm": "ok"}
    for p in HOSTILE:
        stability = gold[p.hotline_id, "stability"]
        assert (stability["verdict"], stability["detail"]) == (want[p.trait], p.trait) == (STABILITY_GOLD[p.trait], p.trait)
        channels = channel_values(p)
        if p.trait in DEAD_TRAITS:  # a citizen cannot use the site: nothing but its address
            assert gold[p.hotline_id, "findability"]["verdict"] == "nowhere_to_search"
            assert gold[p.hotline_id, "effectiveness"]["verdict"] == "cannot_submit"
            assert channels == {"website": p.website}
        else:  # a healthy portal behind the hostile homepage
            assert gold[p.hotline_id, "findability"]["verdict"] == "ok"
            assert gold[p.hotline_id, "effectiveness"]["verdict"] == "solved"
            assert set(channels) == {"website", "search", "submit", "track", "wechat"}
        for kind, value in channels.items():
            assert gold[p.hotline_id, f"channel.{kind}"]["verdict"] == value
    rows = {r["hotline_id"]: r for r in registry_rows(PORTALS)}
    assert all(rows[p.hotline_id]["website"] == p.website for p in HOSTILE)
    stored = gold_round(SEED, COUNT, hostile=TRAITS)
    assert {h.hotline_id for h in stored.hotlines} == {p.hotline_id for p in PORTALS}
    assert {(v.hotline_id, v.check): v.verdict for v in stored.verdicts}[HOSTILE[0].hotline_id, "stability"] == "down"


# -- dead hostile sites: the loop or the redirect is on every page ------------------------------


def test_busy_and_alert_loops_end_every_page_of_the_site():
    async def body(client, base):
        scripts = Counter()
        for p in of("busy_loop") + of("alert_loop"):
            for path in ("/", "/tzgg/", "/xwdt/202611/t20261120_1001.html"):
                r = await client.get(urljoin(p.website, path))
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
                text = r.text
                assert "<title>" in text and p.full_name in text and '<div class="nav">' in text
                assert "<form" not in text and "搜索" not in text  # no search, no entry
                script = closing_script(text)
                assert ENDLESS.search(script), text[-300:]
                if p.trait == "alert_loop":
                    assert re.search(r'(alert|confirm)\("[^"]*[\u4e00-\u9fff][^"]*"\)', script)
                else:
                    assert "alert" not in script and "confirm" not in script
                scripts[script] += 1
        assert len(scripts) >= 5  # the shapes and wordings vary between sites

    served(body)


def refresh_target(text: str, url: str) -> str:
    content = re.search(r'<meta http-equiv="refresh" content="([^"]*)"', text, re.I)
    assert content, text[:300]
    target = re.search(r"url=(.*)$", content.group(1), re.I)
    return urljoin(url, target.group(1).strip()) if target else url


def test_refresh_loop_bounces_between_pages_of_its_own_host_forever():
    async def body(client, base):
        for p in of("refresh_loop"):
            url, seen = p.website, []
            while url not in seen:
                seen.append(url)
                r = await client.get(url)
                assert r.status_code == 200 and "<title>" in r.text and "<form" not in r.text
                url = refresh_target(r.text, url)
                assert url.startswith(f"http://{p.host}/")
            assert len(seen) <= 2  # back where it was, after one page or two
            inner = await client.get(urljoin(p.website, "/lxwm/"))
            assert refresh_target(inner.text, str(inner.url)).startswith(f"http://{p.host}/")

    served(body)


def test_private_redirects_point_into_the_auditors_network_and_meet_a_canary():
    local, metadata = canary_marker(SEED, "local"), canary_marker(SEED, "metadata")

    async def body(client, base):
        for p in of("private_redirect"):
            for path in ("/", "/tzgg/"):
                r = await client.get(urljoin(p.website, path))
                if p.redirect_to == "302_local":
                    assert r.status_code == 302 and r.headers["location"] == f"http://127.0.0.1:{LOCAL_PORT}/"
                elif p.redirect_to == "302_metadata":
                    assert r.status_code == 302 and r.headers["location"] == hs.METADATA_URL
                else:
                    assert r.status_code == 200 and "<form" not in r.text
                    assert re.search(rf"location[^<]*http://127\.0\.0\.1:{LOCAL_PORT}/", closing_script(r.text))
            followed = await client.get(p.website, follow_redirects=True)
            if p.redirect_to.startswith("302"):
                marker = metadata if p.redirect_to.endswith("metadata") else local
                assert f"<title>{marker}</title>" in followed.text
        leaks = (await client.get(f"{base}/_leaks")).json()
        assert [(x["host"], x["port"], x["kind"]) for x in leaks] == [
            ("127.0.0.1", LOCAL_PORT, "local") if p.redirect_to == "302_local" else ("169.254.169.254", 80, "metadata")
            for p in of("private_redirect") if p.redirect_to.startswith("302")]

    served(body)


# -- working hostile sites: the homepage is the problem --------------------------------------


def test_popup_storm_opens_fifty_beaconing_windows_on_a_working_site():
    p = of("popup_storm")[0]

    async def body(client, base):
        home = (await client.get(p.website)).text
        assert channel_values(p)["submit"].removeprefix(f"http://{p.host}") in home  # the usual homepage
        script = closing_script(home)
        assert "window.open(" in script
        assert 45 <= int(re.search(r"i\s*(?:<|>=)\s*(\d+)", script).group(1)) <= 55  # about fifty windows
        popup = re.search(r'window\.open\("([^"?]+)\?n="', script).group(1)
        assert popup == hs.popup_path(p)
        page = await client.get(urljoin(p.website, popup + "?n=7"))
        assert page.status_code == 200 and "<title>" in page.text
        beacon = re.search(r"setInterval\(function\(\)\{.*?\"(/[^\"?]+)[\"?].*?\},1000\)", page.text)
        assert beacon and beacon.group(1) == hs.beacon_path(p)
        hit = await client.get(urljoin(p.website, beacon.group(1) + "?w=7&t=1"))
        assert hit.status_code == 200 and hit.content.startswith(b"GIF89a")
        assert (await client.post(urljoin(p.website, beacon.group(1)), content=b"w=7")).status_code == 204
        assert (await client.get(f"{base}/_beacons")).json() == {p.host: 2}
        # Behind it, a healthy portal: its search finds, its letter form is there.
        topic, q = question(p.city)
        found = await client.get(channel_values(p)["search"], params={LAYOUTS[p.template].search_param: q})
        assert found.status_code == 200 and answers(topic, found.text[:6000])
        form = await client.get(channel_values(p)["submit"])
        assert form.status_code == 200 and "<form" in form.text

    served(body)


def test_huge_homepage_streams_60_mb_after_its_menu_and_the_rest_stays_small():
    p = of("huge_page")[0]

    async def body(client, base):
        start = rss = resident()
        size, top, tail = 0, b"", b""
        async with client.stream("GET", p.website) as r:
            assert r.status_code == 200 and r.headers.get("transfer-encoding") == "chunked"
            async for chunk in r.aiter_raw():
                if len(top) < 100_000:
                    top += chunk
                tail = chunk[-200:]
                size += len(chunk)
                rss = max(rss, resident())
        assert size >= 60 * 1024 * 1024
        assert rss - start < 25_000_000  # neither side held the page (server and client share this process)
        head = top.decode("utf-8", "ignore")
        assert "<title>" in head and channel_values(p)["submit"].removeprefix(f"http://{p.host}") in head
        assert tail.rstrip().endswith(b"</html>")
        form = await client.get(channel_values(p)["submit"])
        assert form.status_code == 200 and "<form" in form.text and len(form.content) < 200_000

    served(body)


# -- canaries: the auditor's own network -------------------------------------------------------


@pytest.mark.parametrize(("host", "kind"), [
    ("127.0.0.1", "local"), ("127.1", "local"), ("2130706433", "local"), ("0x7f000001", "local"), ("::1", "local"),
    ("[::1]", "local"), ("::ffff:127.0.0.1", "local"), ("localhost", "local"), ("LOCALHOST.", "local"),
    ("admin.localhost", "local"), ("0.0.0.0", "local"), ("10.1.2.3", "local"), ("172.31.255.1", "local"),
    ("192.168.0.1", "local"), ("100.64.0.1", "local"), ("169.254.1.1", "local"), ("fe80::1", "local"),
    ("fd12::1", "local"), ("169.254.169.254", "metadata"), ("100.100.100.200", "metadata"),
    ("metadata.google.internal", "metadata"), ("172.32.0.1", None), ("100.128.0.1", None), ("8.8.8.8", None),
    ("www.nanjing12345.gov.cn.test", None), ("cafe", None), ("12345.wuxi.gov.cn.test", None),
])
def test_what_counts_as_the_auditors_own_network(host, kind):
    assert hs.private_kind(host) == kind


def test_plain_requests_for_the_auditors_network_meet_a_canary_and_are_recorded():
    local, metadata = canary_marker(SEED, "local"), canary_marker(SEED, "metadata")

    async def body(client, base):
        port = int(base.rsplit(":", 1)[1])
        asked = [(f"http://127.0.0.1:{port + 1}/", "local"), ("http://localhost/", "local"),
                 (f"http://localhost:{LOCAL_PORT}/admin?x=1", "local"), ("http://10.0.0.1/", "local"),
                 ("http://192.168.1.1:8080/cgi-bin/luci", "local"), ("http://100.64.0.9/", "local"),
                 (f"http://127.0.0.1:{port + 1}/_clock", "local"),  # a control path on another port: a canary
                 ("http://169.254.169.254/latest/meta-data/", "metadata")]
        for url, kind in asked:
            r = await client.post(url, data={"a": "b"}) if "luci" in url else await client.get(url)
            marker = metadata if kind == "metadata" else local
            assert r.status_code == 200 and r.headers["X-Simweb-Canary"] == marker
            assert f"<title>{marker}</title>" in r.text and f'href="/kb?token={marker}"' in r.text
            assert '<form action="/search"' in r.text
        leaks = (await client.get(f"{base}/_leaks")).json()
        assert [(x["target"], x["kind"], x["via"]) for x in leaks] == [(u, k, "http") for u, k in asked]
        assert leaks[0]["port"] == port + 1 and leaks[1]["port"] == 80 and leaks[3]["host"] == "10.0.0.1"
        assert (await client.get(f"{base}/_foreign")).json() == []  # canaries are not foreign hosts
        assert (await client.get(f"{base}/_canaries")).json() == {
            "local": local, "metadata": metadata, "local_port": LOCAL_PORT, "metadata_url": hs.METADATA_URL}

    served(body)


def test_simwebs_own_port_still_answers_its_control_endpoints():
    async def body(client, base):
        port = int(base.rsplit(":", 1)[1])
        for url in (f"{base}/_clock", f"http://127.0.0.1:{port}/_clock", f"http://localhost:{port}/_clock"):
            assert "now" in (await client.get(url)).json()
        assert (await client.get(f"http://localhost:{port}/_health")).text == "ok"
        assert (await client.get(f"{base}/")).json() == {"simweb": True, "portals": len(PORTALS)}
        async with httpx.AsyncClient(trust_env=False) as direct:  # straight to simweb, Host without a port
            assert (await direct.get(f"{base}/", headers={"Host": "127.0.0.1"})).json()["simweb"] is True
            assert (await direct.get(f"{base}/_health", headers={"Host": "localhost"})).text == "ok"
        assert (await client.get(f"{base}/_leaks")).json() == []

    served(body)


async def connect(port: int, target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    return reader, writer, await reader.readuntil(b"\r\n\r\n")


def test_connect_to_the_auditors_network_is_answered_inside_the_tunnel():
    local, metadata = canary_marker(SEED, "local"), canary_marker(SEED, "metadata")

    async def body(client, base):
        port = int(base.rsplit(":", 1)[1])
        reader, writer, answer = await connect(port, "127.0.0.1:6379")  # plain HTTP through the tunnel
        assert answer.startswith(b"HTTP/1.1 200")
        writer.write(b"GET /info HTTP/1.1\r\nHost: 127.0.0.1:6379\r\n\r\n")
        assert f"<title>{local}</title>".encode() in await reader.read()
        writer.close()
        async with httpx.AsyncClient(proxy=base, trust_env=False, verify=False, timeout=10) as insecure:
            r = await insecure.get("https://169.254.169.254/latest/meta-data/")
            assert r.status_code == 200 and f"<title>{metadata}</title>" in r.text
            r = await insecure.get("https://10.0.0.1/")
            assert local in r.text
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get("https://localhost:8443/")  # a client that checks certificates stops there
        reader, writer, answer = await connect(port, f"127.0.0.1:{port}")  # simweb itself: as before
        assert answer.startswith(b"HTTP/1.1 502")
        writer.close()
        leaks = [(x["method"], x["host"], x["port"], x["via"]) for x in (await client.get(f"{base}/_leaks")).json()]
        assert leaks == [("CONNECT", "127.0.0.1", 6379, "connect"), ("GET", "127.0.0.1", 6379, "tunnel"),
                         ("CONNECT", "169.254.169.254", 443, "connect"), ("GET", "169.254.169.254", 443, "tunnel"),
                         ("CONNECT", "10.0.0.1", 443, "connect"), ("GET", "10.0.0.1", 443, "tunnel"),
                         ("CONNECT", "localhost", 8443, "connect")]

    served(body)


def test_canary_markers_follow_the_seed():
    assert canary_marker(1) != canary_marker(23) and canary_marker(1) == canary_marker(1, "local")
    assert re.fullmatch(r"SIMWEB-CANARY-LOCAL-[0-9a-f]{16}", canary_marker(23))
    assert re.fullmatch(r"SIMWEB-CANARY-METADATA-[0-9a-f]{16}", canary_marker(23, "metadata"))

    async def body(client, base):
        return (await client.get("http://10.9.9.9/")).headers["X-Simweb-Canary"]

    assert served(body, seed=23) == canary_marker(23)


# -- runtime faults and the process ------------------------------------------------------------


def test_hostile_traits_switch_on_at_run_time():
    p = next(p for p in PORTALS[:COUNT] if p.trait == "healthy" and p.website)

    async def body(client, base):
        async def fault(name):
            r = await client.post(f"{base}/_faults", json={"hotline_id": p.hotline_id, "fault": name})
            assert r.status_code == 200, r.text

        await fault("busy_loop")
        assert ENDLESS.search((await client.get(p.website)).text)
        await fault("popup_storm")
        assert "window.open(" in (await client.get(p.website)).text
        await fault("private_redirect")
        r = await client.get(p.website)
        _, where = hs.private_target(p, LOCAL_PORT)  # no redirect_to of its own: chosen by its id
        assert where in (r.headers.get("location") or closing_script(r.text))
        await fault("none")
        home = (await client.get(p.website)).text
        assert "window.open(" not in home and not ENDLESS.search(home)

    served(body)


def test_simweb_process_serves_hostile_portals_with_their_registry_and_gold():
    hostile = ("busy_loop", "private_redirect", "huge_page")
    portals = build_population(SEED, 2, hostile=hostile)
    with simweb_process(SEED, 2, hostile=hostile, local_port=LOCAL_PORT) as proxy:
        listed = httpx.get(f"{proxy}/_portals", trust_env=False, timeout=10).json()
        canaries = httpx.get(f"{proxy}/_canaries", trust_env=False, timeout=10).json()
        with httpx.Client(proxy=proxy, trust_env=False, timeout=10) as c:
            moved = c.get(portals[3].website)
    assert [(x["hotline_id"], x["trait"]) for x in listed] == [(p.hotline_id, p.trait) for p in portals]
    assert len(registry_rows(portals)) == 5 and {g["hotline_id"] for g in gold_rows(portals)} == {
        p.hotline_id for p in portals}
    assert canaries["local_port"] == LOCAL_PORT and canaries["local"] == canary_marker(SEED)
    how, where = hs.private_target(portals[3], LOCAL_PORT)
    assert where in (moved.headers.get("location") or moved.text)
