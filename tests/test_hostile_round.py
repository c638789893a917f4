"""A whole round (discovery, every check, reports, evidence packs) with hostile portals among
normal ones (issue 17): busy and dialog loops, a refresh loop, redirects into the auditor's
network (302 and script to a loopback service, 302 to the cloud metadata address), a 63 MB
homepage and a popup storm, beside two normal portals.

What must hold: every hotline is judged (none ``tool_error``), the normal portals are ``ok``,
the round ends within one hotline's budget, no byte of the local service or the metadata
address is in any output (archives opened), and no request of one hotline is in another's
evidence. Only 127.0.0.0/8 is contacted: simweb plays the metadata address itself, and a real
loopback service stands where the private redirects point."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from aiohttp import web

from bench.hostile_memory import tree_rss_mb
from fixtures.simweb import build_population, registry_rows
from fixtures.simweb.gold import gold_rows
from fixtures.simweb.hostile import canary_markers
from fixtures.simweb.layouts import search_host
from hotline_audit.files import csv_bytes
from hotline_audit.simweb_process import simweb_process
from hotline_audit.store import Store

# About 4 minutes alone (discovery renders each frozen page twice): in `make acceptance`, so
# that `make test` stays within its 10 minutes; tests/test_hostile_pages.py and
# tests/test_netguard.py hold the same rules in `make test`.
pytestmark = [pytest.mark.browser, pytest.mark.acceptance, pytest.mark.xdist_group("hostile_round"),
              pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[1]
SEED = 5
COUNT = 24
HOSTILE = ("busy_loop", "alert_loop", "busy_loop", "private_redirect", "private_redirect", "private_redirect",
           "refresh_loop", "huge_page", "popup_storm")
ROUND = "hostile"
BUDGET_S = 600.0


@dataclass
class Round:
    verdicts: dict[tuple[str, str], str]
    reasons: dict[tuple[str, str], str]
    gold: dict[tuple[str, str], str]
    hotlines: dict[str, set[str]]  # hotline id -> the hosts that are its own
    out: Path
    seconds: float
    leaks: list[dict]
    local_hits: list[str]
    markers: dict[str, str]
    peak_rss_mb: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_service(port: int, marker: str, hits: list[str]) -> Iterator[None]:
    """A real service on the auditor's loopback (what the private redirects point at)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner: list[web.AppRunner] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        return web.Response(text=f"<title>{marker}</title><a href='/kb?token={marker}'>{marker}</a>",
                            content_type="text/html")

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", secret)
        runner.append(web.AppRunner(app))
        await runner[0].setup()
        await web.TCPSite(runner[0], "127.0.0.1", port).start()
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(runner[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)


def cli(*args: str, timeout: float = 1800, peak: list[float] | None = None) -> str:
    """Run the command; with ``peak``, sample the resident memory of it and all its children
    (Chromium and its renderers) twice a second and append the highest, in MB."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    with subprocess.Popen([sys.executable, "-m", "hotline_audit", *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        highest = 0.0
        if peak is not None:
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                highest = max(highest, tree_rss_mb(proc.pid))
                time.sleep(0.5)
            peak.append(highest)
        stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (args, stdout[-2000:], stderr[-3000:])
    return stdout


def _hosts(p) -> set[str]:  # noqa: ANN001 (a simweb Portal)
    return {h for h in (p.host, p.h5_host, search_host(p) if p.host else "") if h}


@pytest.fixture(scope="module")
def hostile_round(tmp_path_factory: pytest.TempPathFactory) -> Round:
    tmp = tmp_path_factory.mktemp("hostile")
    portals = build_population(SEED, COUNT, hostile=HOSTILE)
    normal = [p for p in portals[:COUNT] if p.trait == "healthy" and p.website and p.effectiveness != "needs_review"][:2]
    chosen = normal + list(portals[COUNT:])
    (tmp / "registry.csv").write_bytes(csv_bytes(registry_rows(chosen)))
    ids = {p.hotline_id for p in chosen}
    gold = {(g["hotline_id"], g["check"]): g["verdict"] for g in gold_rows(portals) if g["hotline_id"] in ids}
    config = tmp / "audit.yaml"
    config.write_text(yaml.safe_dump({
        "hotline_budget_s": BUDGET_S,
        "effectiveness": {"sms_inbox_url": "{proxy}/_sms?phone={phone}", "captcha_mode": "ocr", "sms_wait_s": 12.0},
    }))
    port = _free_port()
    markers = canary_markers(SEED)
    hits: list[str] = []
    common = ["--out", str(tmp / "runs"), "--db", f"sqlite:///{tmp / 'audit.db'}", "--config", str(config)]
    local = _local_service(port, markers["local"], hits)
    next(local)
    try:
        with simweb_process(SEED, COUNT, hostile=HOSTILE, local_port=port) as proxy:
            t0 = time.perf_counter()
            peak: list[float] = []
            cli("audit", "--registry", str(tmp / "registry.csv"), "--round", ROUND, "--proxy", proxy, *common,
                peak=peak)
            seconds = time.perf_counter() - t0
            for p in chosen:
                cli("evidence", p.hotline_id, "--round", ROUND, "-o", str(tmp / "runs" / "packs" / f"{p.hotline_id}.zip"),
                    *common)
            leaks = httpx.get(f"{proxy}/_leaks", timeout=10, trust_env=False).json()
    finally:
        next(local, None)
    data = Store(f"sqlite:///{tmp / 'audit.db'}").load_round(ROUND)
    return Round(
        verdicts={(v.hotline_id, v.check): v.verdict.value for v in data.verdicts},
        reasons={(v.hotline_id, v.check): v.reason for v in data.verdicts},
        gold=gold, hotlines={p.hotline_id: _hosts(p) for p in chosen}, out=tmp, seconds=seconds,
        leaks=leaks, local_hits=hits, markers=markers, peak_rss_mb=peak[0],
    )


def test_every_hotline_is_judged_by_its_sites_behaviour_within_the_budget(hostile_round: Round) -> None:
    r = hostile_round
    assert r.seconds < BUDGET_S
    for hid in r.hotlines:
        for check in ("stability", "findability", "effectiveness"):
            assert r.verdicts.get((hid, check)) not in (None, "tool_error"), (hid, check, r.reasons.get((hid, check)))
    stability = {hid: r.verdicts[(hid, "stability")] for hid in r.hotlines}
    assert stability == {hid: r.gold[(hid, "stability")] for hid in r.hotlines}, r.reasons
    findability = {hid: r.verdicts[(hid, "findability")] for hid in r.hotlines}
    assert findability == {hid: r.gold[(hid, "findability")] for hid in r.hotlines}, r.reasons


def test_a_round_with_a_60_mb_page_stays_within_2_gib(hostile_round: Round) -> None:
    """Peak memory of the audit and everything it started (the sum of each process's PSS, so
    what Chromium's processes share is counted once): a 60 MB homepage once took a round to
    6.2 GB of RSS."""
    print(f"hostile round: {hostile_round.seconds:.0f} s, peak PSS {hostile_round.peak_rss_mb:,.0f} MB")
    assert hostile_round.peak_rss_mb <= 2048


def test_dead_hostile_sites_cannot_take_a_complaint(hostile_round: Round) -> None:
    r = hostile_round
    for hid in r.hotlines:
        if r.gold[(hid, "effectiveness")] == "cannot_submit":
            assert r.verdicts[(hid, "effectiveness")] == "cannot_submit", r.reasons[(hid, "effectiveness")]


def _contents(path: Path, data: bytes | None = None) -> Iterator[tuple[str, bytes]]:
    """Every file's bytes, archives opened (zip, wacz, gzip members such as WARC records)."""
    data = path.read_bytes() if data is None else data
    yield str(path), data
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                yield from _contents(path / name, z.read(name))
    elif data[:2] == b"\x1f\x8b":
        try:
            yield str(path) + "!gunzip", gzip.decompress(data)
        except (OSError, EOFError):
            pass


def test_no_byte_of_the_auditors_network_is_in_any_output(hostile_round: Round) -> None:
    r = hostile_round
    assert r.local_hits == [] and r.leaks == []
    found = []
    files = [p for p in r.out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".wacz" for p in files) and any(p.name.endswith(".zip") for p in files)
    for path in files:
        for name, data in _contents(path):
            for marker in r.markers.values():
                if marker.encode() in data or marker.encode("utf-16-le") in data:
                    found.append((name, marker))
    assert found == []


def _har_hosts(data: bytes) -> set[str]:
    try:
        har = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return set()
    entries = har.get("log", {}).get("entries", []) if isinstance(har, dict) else []
    return {urlsplit(e["request"]["url"]).hostname or "" for e in entries}


def test_no_request_of_one_hotline_is_in_anothers_evidence(hostile_round: Round) -> None:
    r = hostile_round
    checked = 0
    for hid in r.hotlines:
        others = set().union(*(hosts for other, hosts in r.hotlines.items() if other != hid))
        for path in (r.out / "runs" / ROUND / "evidence" / hid).rglob("*"):
            if not path.is_file():
                continue
            for name, data in _contents(path):
                if name.endswith(".har"):
                    hosts = _har_hosts(data)
                    checked += len(hosts)
                    assert not hosts & others, (hid, name, hosts & others)
                elif name.endswith((".warc", "!gunzip")) and b"WARC/1" in data[:100]:
                    targets = {urlsplit(line.split(b": ", 1)[1].strip().decode("latin-1")).hostname
                               for line in data.splitlines() if line.startswith(b"WARC-Target-URI:")}
                    checked += len(targets)
                    assert not targets & others, (hid, name, targets & others)
    assert checked > 0
