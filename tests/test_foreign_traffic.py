"""An audit talks to audited sites only.

simweb is the proxy of all a round's traffic (the discovery crawler, the probes, both
browsers) and records every host it was asked for that it does not serve (``GET /_foreign``).
A small round through the command line, as an auditor runs it (discovery, stability,
findability, effectiveness), then a browser launched as the round launches it and left idle
past Chromium's first background requests: the record must stay empty.

Measured with the switches of before (hotline_audit/config.py CHROMIUM_ARGS): Chromium asks
update.googleapis.com about 1.5 s after launch and again a minute later, lists Google accounts
at accounts.google.com from about 2 s on (retrying for minutes), and sends the fields of every
form it fills to content-autofill.googleapis.com. This test then fails with those hosts.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from fixtures.simweb import build_population
from fixtures.simweb.population import Portal
from fixtures.simweb.server import SimWeb
from hotline_audit.config import load_settings
from hotline_audit.simweb_process import simweb_process
from journeys.browser import BrowserPool

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
SEED, COUNT = 1, 344
PORTALS = build_population(SEED, COUNT)


def first(wanted: Callable[[Portal], bool]) -> str:
    return next(p.hotline_id for p in PORTALS if wanted(p))


# A city's own site whose homepage links a spam copy (the mirror trap, whose page links a
# gambling site), a column of a government portal with a WeChat H5 site, a WeChat-only H5
# site, a site behind a JavaScript challenge (the crawler renders it in Chromium), and a site
# whose TLS fails (CONNECT to a served host). Each has a search and a complaint form.
HOTLINES = (
    first(lambda p: p.site_kind == "standalone" and p.trait == "healthy" and "mirror" in p.traps
          and p.effectiveness == "solved"),
    first(lambda p: p.site_kind == "gov_column" and p.trait == "healthy" and bool(p.h5_host)
          and p.effectiveness == "solved"),
    first(lambda p: p.site_kind == "h5_only"),
    first(lambda p: p.trait == "js_challenge" and p.effectiveness == "solved"),
    first(lambda p: p.trait == "tls_error"),
)
# Every kind of background request seen before started within 3 s of launch (measured over
# 420 s of browsing and idling): this wait covers them with room to spare.
IDLE_S = 12


def cli(*args: str) -> str:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    done = subprocess.run([sys.executable, "-m", "hotline_audit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=800)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
    return done.stdout


def foreign(proxy: str) -> list[dict[str, str]]:
    return httpx.get(f"{proxy}/_foreign", timeout=10, trust_env=False).json()


async def idle_browser(proxy: str, url: str, tmp: Path) -> None:
    """The round's browser as the round launches it, one audited page open, left idle."""
    settings = load_settings(None, proxy=proxy, out=tmp, browser={"contexts": 1})
    async with BrowserPool(settings.browser, proxy, settings.network) as pool, pool.tab() as tab:
        await tab.page.goto(url)
        await asyncio.sleep(IDLE_S)


def test_a_round_asks_no_host_but_the_audited_sites(tmp_path: Path) -> None:
    portals = {p.hotline_id: p for p in PORTALS}
    assert len(set(HOTLINES)) == 5 and all(portals[h].host for h in HOTLINES)
    config = tmp_path / "audit.yaml"
    config.write_text(yaml.safe_dump({"effectiveness": {
        "sms_inbox_url": "{proxy}/_sms?phone={phone}", "captcha_mode": "ocr", "sms_wait_s": 12.0}}))
    with simweb_process(SEED, COUNT) as proxy:
        cli("simweb", "registry", "--seed", str(SEED), "--count", str(COUNT), "-o", str(tmp_path / "registry.csv"))
        cli("audit", "--registry", str(tmp_path / "registry.csv"), "--round", "quiet", "--hotlines", ",".join(HOTLINES),
            "--proxy", proxy, "--out", str(tmp_path / "runs"), "--db", f"sqlite:///{tmp_path / 'audit.db'}",
            "--config", str(config))
        # The round did its work: the crawler's browser rendered pages, each check judged each
        # hotline, and complaints were typed into forms and filed.
        round_dir = tmp_path / "runs" / "quiet"
        assert '"rendered": true' in (round_dir / "discovery" / "discovery.jsonl").read_text(encoding="utf-8")
        verdicts = (round_dir / "verdicts.csv").read_text(encoding="utf-8")
        for check in ("stability", "findability", "effectiveness"):
            assert sum(f",{check}," in line for line in verdicts.splitlines()) == len(HOTLINES), verdicts
        filed = httpx.get(f"{proxy}/_cases", timeout=10, trust_env=False).json()
        assert {c["hotline_id"] for c in filed} & set(HOTLINES), filed
        asyncio.run(idle_browser(proxy, portals[HOTLINES[0]].website, tmp_path))
        asked = foreign(proxy)
    assert asked == [], "requests for hosts outside the audited sites:\n" + "\n".join(
        f"{r['method']} {r['target']}" for r in asked)


def test_simweb_records_every_host_it_does_not_serve() -> None:
    """The record the test above relies on: plain requests and CONNECT to unknown hosts are
    listed; served hosts, simweb's own address and its control endpoints are not."""
    served = next(p for p in PORTALS if p.host and p.trait == "healthy").host

    async def go() -> list[dict[str, str]]:
        async with TestClient(TestServer(SimWeb(PORTALS).app())) as c:
            await c.get("/", headers={"Host": served})
            await c.get("/", headers={"Host": "127.0.0.1"})
            gone = await c.post("/service/update2/json", headers={"Host": "update.googleapis.com"})
            assert gone.status == 502 and gone.headers["X-Simweb-Error"] == "unknown-host"
            reader, writer = await asyncio.open_connection("127.0.0.1", c.port)
            writer.write(b"CONNECT accounts.google.com:443 HTTP/1.1\r\nHost: accounts.google.com:443\r\n\r\n")
            assert (await reader.readline()).startswith(b"HTTP/1.1 502")
            writer.close()
            return await (await c.get("/_foreign")).json()

    asked = asyncio.run(go())
    assert [(r["method"], r["host"]) for r in asked] == [("POST", "update.googleapis.com"),
                                                         ("CONNECT", "accounts.google.com")]
