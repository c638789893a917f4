"""The auditor's own network is off limits (issue 17): the address rules, the guard proxy in
front of every browser context (direct and through a round's proxy), the probes and the
crawler. Only 127.0.0.0/8 is contacted; the "private" and "metadata" targets are refused
before any connection, which is what these tests prove."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest
from aiohttp import web

from crawler.guard import GuardMiddleware, TargetRefused
from hotline_audit.config import BrowserSettings, NetworkSettings, ProbeSettings
from hotline_audit.netguard import GuardProxy, TargetPolicy, address_kind, literal_address
from journeys.browser import BrowserPool
from journeys.pageload import load_page
from journeys.probes import probe_series

from . import local_site

pytestmark = pytest.mark.xdist_group("netguard")

CANARY = "CANARY-LOCAL-SERVICE-7f3a"


@pytest.mark.parametrize("host, kind", [
    ("127.0.0.1", "loopback"), ("127.1", "loopback"), ("2130706433", "loopback"), ("0x7f.0.0.1", "loopback"),
    ("::1", "loopback"), ("[::1]", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.9", "private"), ("192.168.1.1", "private"), ("fc00::5", "private"),
    ("169.254.169.254", "link_local"), ("fe80::1", "link_local"),
    ("100.64.0.1", "cgnat"), ("0.0.0.0", "reserved"), ("224.0.0.1", "reserved"),
    ("localhost", "local_name"), ("printer.local", "local_name"), ("api.localhost", "local_name"),
])
def test_off_limits_hosts_are_named_for_what_they_are(host: str, kind: str) -> None:
    assert TargetPolicy().name_problem(host) is not None
    assert TargetPolicy().name_problem(host)[0] == kind


@pytest.mark.parametrize("host", ["8.8.8.8", "www.nj12345.gov.cn", "www.nj12345.gov.cn.test", "2400:3200::1"])
def test_public_hosts_pass(host: str) -> None:
    assert TargetPolicy().name_problem(host) is None


def test_the_allow_list_takes_names_addresses_and_networks() -> None:
    policy = TargetPolicy(["127.0.0.1", "10.0.0.0/8", "intranet.local"])
    assert policy.name_problem("127.0.0.1") is None
    assert policy.name_problem("127.0.0.2") == ("loopback", "127.0.0.2")
    assert policy.name_problem("10.9.9.9") is None
    assert policy.name_problem("intranet.local") is None
    assert policy.name_problem("other.local") == ("local_name", "")


def test_a_name_that_resolves_to_both_public_and_private_is_refused() -> None:
    policy = TargetPolicy()
    both = [ipaddress.ip_address("1.2.3.4"), ipaddress.ip_address("10.0.0.1")]
    assert policy.addresses_problem("rebind.example", both) == ("private", "10.0.0.1")
    assert policy.addresses_problem("fine.example", [ipaddress.ip_address("1.2.3.4")]) is None
    assert address_kind(ipaddress.ip_address("2002:7f00:1::")) == "loopback"  # 6to4 of 127.0.0.1
    assert literal_address("www.gov.cn") is None


def test_urls_of_other_schemes_are_refused() -> None:
    for url in ("file:///etc/passwd", "chrome://settings/", "ftp://10.0.0.1/"):
        assert TargetPolicy().refusal(url) is not None


async def _canary_site() -> tuple[web.AppRunner, str, list[str]]:
    """A "local service" on 127.0.0.2 (loopback, not allowed) that must never be reached."""
    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        return web.Response(text=f"<title>{CANARY}</title><a href='/kb?token={CANARY}'>kb</a>",
                            content_type="text/html")

    runner, base = await local_site.serve({"/{tail:.*}": secret}, host="127.0.0.2")
    return runner, base, hits


async def _portal(canary: str) -> tuple[web.AppRunner, str]:
    """An audited site on 127.0.0.1 (allowed) that points into the "auditor's network"."""
    async def home(request: web.Request) -> web.Response:
        return web.Response(text="<title>portal</title><p>正常页面</p>", content_type="text/html")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{canary}/admin")

    async def script(request: web.Request) -> web.Response:
        return web.Response(text=f"<title>js</title><script>location.href='{canary}/js'</script>",
                            content_type="text/html")

    async def embeds(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<title>embeds</title><img src='{canary}/img'><iframe src='{canary}/frame'></iframe>"
                 f"<script>fetch('{canary}/xhr').catch(()=>0)</script>"
                 f"<form id=f method=post action='{canary}/form'><input name=q value=1></form>"
                 f"<script>setTimeout(()=>document.getElementById('f').submit(), 50)</script>",
            content_type="text/html")

    async def metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        await resp.write(b"<title>big</title><p>top</p>")
        chunk = b"<p>" + "很长的页面内容".encode() * 2000 + b"</p>"
        for _ in range(3_000_000 // len(chunk) + 1):
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    return await local_site.serve({"/": home, "/r": redirect, "/js": script, "/embeds": embeds,
                                   "/meta": metadata, "/big": big})


ONLY_PORTAL = NetworkSettings(allow_hosts=["127.0.0.1"], max_page_mb=1.0)


@pytest.mark.browser
def test_pages_never_reach_the_auditors_network_by_any_route() -> None:
    """302, script, image, iframe, fetch and form posts to a loopback service, and a redirect to
    the metadata address: all refused before they leave, each booked to the tab that asked,
    none of the service's bytes in what the browser shows."""
    async def go() -> tuple[list, list[str], dict[str, object]]:
        canary_runner, canary, hits = await _canary_site()
        runner, base = await _portal(canary)
        seen: dict[str, object] = {}
        try:
            async with BrowserPool(BrowserSettings(contexts=1), None, ONLY_PORTAL) as pool:
                async with pool.tab() as tab:
                    load = await load_page(tab, f"{base}/r", pool.settings, None)
                    seen["redirect"] = (load.fault, load.side, load.title)
                async with pool.tab() as tab:
                    load = await load_page(tab, f"{base}/js", pool.settings, None)
                    seen["script"] = (load.fault, load.side, load.title)
                async with pool.tab() as tab:
                    load = await load_page(tab, f"{base}/embeds", pool.settings, None)
                    await asyncio.sleep(1)
                    seen["embeds"] = {r.target.rsplit("/", 1)[-1] for r in tab.refusals()}
                async with pool.tab() as tab:
                    load = await load_page(tab, f"{base}/meta", pool.settings, None)
                    seen["metadata"] = (load.fault, load.error)
                async with pool.tab() as tab:
                    load = await load_page(tab, f"{base}/", pool.settings, None)
                    seen["clean"] = (load.ok, load.fault, tab.refusals())
        finally:
            await runner.cleanup()
            await canary_runner.cleanup()
        return hits, [], seen

    hits, _, seen = asyncio.run(go())
    assert hits == []  # not one request reached the local service
    assert seen["redirect"][:2] == ("private_address", "site") and CANARY not in str(seen["redirect"])
    assert seen["script"][:2] == ("private_address", "site") and CANARY not in str(seen["script"])
    assert {"img", "frame", "xhr", "form"} <= seen["embeds"]
    assert seen["metadata"][0] == "private_address" and "169.254.169.254" in seen["metadata"][1]
    assert seen["clean"] == (True, None, [])  # refusals belong to the borrow that caused them


@pytest.mark.browser
def test_a_page_over_the_size_limit_is_cut_and_recorded_as_such() -> None:
    async def go():
        runner, base = await _portal("http://127.0.0.2:9")
        try:
            async with BrowserPool(BrowserSettings(contexts=1), None, ONLY_PORTAL) as pool, pool.tab() as tab:
                return await load_page(tab, f"{base}/big", pool.settings, None)
        finally:
            await runner.cleanup()

    load = asyncio.run(go())
    assert load.fault == "oversize" and load.side == "site" and not load.ok
    assert load.title == "big"  # what came before the cut is still read


def _upstream_proxy() -> tuple[web.Application, list[str]]:
    """A stand-in for the round's proxy: answers every proxied request itself."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        return web.Response(text=f"<title>via upstream {request.host}</title>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app, seen


def test_through_a_rounds_proxy_only_public_targets_are_forwarded() -> None:
    async def go() -> tuple[list[str], int, int, list, str | None]:
        app, seen = _upstream_proxy()
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        upstream = f"http://127.0.0.1:{runner.addresses[0][1]}"
        guard = GuardProxy(TargetPolicy(), upstream).start()
        try:
            address = guard.listen("t")
            async with httpx.AsyncClient(proxy=address, trust_env=False, timeout=10) as client:
                public = await client.get("http://www.nj12345.gov.cn.test/a?b=1")
                private = await client.get("http://10.0.0.1/")
            return seen, public.status_code, private.status_code, guard.refusals("t"), guard.failure("t", "10.0.0.1")
        finally:
            guard.stop()
            await runner.cleanup()

    seen, public, private, refusals, failure = asyncio.run(go())
    assert public == 200 and seen == ["http://www.nj12345.gov.cn.test/a?b=1"]
    assert private == 403 and [r.host for r in refusals] == ["10.0.0.1"] and failure is None


def test_a_dead_rounds_proxy_is_booked_as_ours_a_dead_site_as_the_sites() -> None:
    async def go() -> tuple[str | None, str | None, str | None]:
        dead_proxy = GuardProxy(TargetPolicy(), "http://127.0.0.1:9").start()
        direct = GuardProxy(TargetPolicy(["127.0.0.1"])).start()
        try:
            async with httpx.AsyncClient(proxy=dead_proxy.listen("a"), trust_env=False, timeout=10) as client:
                await client.get("http://www.nj12345.gov.cn.test/")
            async with httpx.AsyncClient(proxy=direct.listen("b"), trust_env=False, timeout=10) as client:
                await client.get("http://127.0.0.1:9/")
                await client.get("http://no-such-name.invalid/")
            return (dead_proxy.failure("a", "www.nj12345.gov.cn.test"), direct.failure("b", "127.0.0.1"),
                    direct.failure("b", "no-such-name.invalid"))
        finally:
            dead_proxy.stop()
            direct.stop()

    assert asyncio.run(go()) == ("proxy", "connect", "dns")


def test_probes_refuse_a_redirect_into_the_auditors_network() -> None:
    async def go():
        canary_runner, canary, hits = await _canary_site()
        runner, base = await _portal(canary)
        try:
            probes = await probe_series(f"{base}/r", ProbeSettings(count=2, spacing_s=0), None, asyncio.Semaphore(2),
                                        policy=TargetPolicy(["127.0.0.1"]))
        finally:
            await runner.cleanup()
            await canary_runner.cleanup()
        return probes, hits

    probes, hits = asyncio.run(go())
    assert hits == []
    assert [(p.ok, p.error_kind, p.side) for p in probes] == [(False, "private_address", "site")] * 2


def test_the_crawler_refuses_such_targets_before_sending() -> None:
    class Request:
        def __init__(self, url: str) -> None:
            self.url = url

    guard = GuardMiddleware(TargetPolicy(["127.0.0.1"]))
    asyncio.run(guard.process_request(Request("http://127.0.0.1:8080/ok")))
    for url in ("http://127.0.0.2:8080/", "http://169.254.169.254/latest/meta-data/", "https://192.168.0.1/"):
        with pytest.raises(TargetRefused):
            asyncio.run(guard.process_request(Request(url)))
