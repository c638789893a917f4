"""Faults switched on while simweb runs (POST /_faults), the mirror trap and the app page."""

import asyncio

import httpx
from aiohttp.test_utils import TestServer

from fixtures.simweb import build_population
from fixtures.simweb.layouts import LAYOUTS, mirror_host
from fixtures.simweb.server import HUGE_PAGE_BYTES, SimWeb

PORTALS = build_population()
HEALTHY = next(p for p in PORTALS if p.trait == "healthy" and p.site_kind == "standalone")


async def run(body):
    sim = SimWeb(PORTALS)
    server = TestServer(sim.app(), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        async with httpx.AsyncClient(proxy=base, trust_env=False, timeout=10) as client:
            return await body(client, base)
    finally:
        await server.close()


async def fault(client, base, name, **extra):
    r = await client.post(f"{base}/_faults", json={"hotline_id": HEALTHY.hotline_id, "fault": name, **extra})
    assert r.status_code == 200, r.text


def test_faults_switch_on_and_off():
    async def body(client, base):
        assert (await client.get(HEALTHY.website)).status_code == 200
        await fault(client, base, "always_5xx")
        assert (await client.get(HEALTHY.website)).status_code == 503
        assert (await client.get(f"{base}/_faults")).json() == {HEALTHY.hotline_id: "always_5xx"}
        await fault(client, base, "reset")
        try:
            await client.get(HEALTHY.website)
            raise AssertionError("a reset connection must not answer")
        except httpx.TransportError:
            pass
        await fault(client, base, "flapping", every=2)
        statuses = [(await client.get(HEALTHY.website)).status_code for _ in range(4)]
        assert statuses.count(502) == 2
        await fault(client, base, "slow", seconds=1.5)
        t0 = asyncio.get_running_loop().time()
        assert (await client.get(HEALTHY.website)).status_code == 200
        assert asyncio.get_running_loop().time() - t0 >= 1.4
        await fault(client, base, "none")
        assert (await client.get(HEALTHY.website)).status_code == 200
        bad = await client.post(f"{base}/_faults", json={"hotline_id": "nowhere", "fault": "hang"})
        assert bad.status_code == 400

    asyncio.run(run(body))


def test_huge_page_and_hang():
    async def body(client, base):
        await fault(client, base, "huge")
        size = 0
        async with client.stream("GET", HEALTHY.website) as r:
            async for chunk in r.aiter_bytes():
                size += len(chunk)
        assert size >= HUGE_PAGE_BYTES * 0.9
        await fault(client, base, "hang")
        try:
            await client.get(HEALTHY.website, timeout=1.0)
            raise AssertionError("a hanging site must not answer")
        except httpx.ReadTimeout:
            pass

    asyncio.run(run(body))


def test_mirror_copies_the_portal_with_spam_and_app_page_links_a_download():
    mirrored = next(p for p in PORTALS if "mirror" in p.traps and p.website and p.trait == "healthy")
    with_app = next(p for p in PORTALS if p.app and p.trait == "healthy" and p.website)

    async def body(client, base):
        copy = (await client.get(f"http://{mirror_host(mirrored)}/")).text
        original = (await client.get(mirrored.website)).text
        title = original.split("<title>", 1)[1].split("</title>", 1)[0]
        assert f"<title>{title}</title>" in copy and "注册就送" in copy and "注册就送" not in original
        page = (await client.get(f"http://{with_app.host}{LAYOUTS[with_app.template].app}")).text
        assert ".apk" in page and "apps.apple.com" in page

    asyncio.run(run(body))
