"""Our own failures are never a hotline's: proxy gone → tool_error; Ctrl-C → a clean stop
and a round that can be rerun."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from fixtures.simweb import build_population, registry_rows
from hotline_audit.cli import run_interruptibly
from hotline_audit.config import load_settings
from hotline_audit.files import csv_bytes
from hotline_audit.store import Store

from . import local_site
from .conftest import COUNT, SEED, audit_round, population_hotlines

pytestmark = pytest.mark.browser


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_proxy_gone_mid_round_is_tool_error_never_down(tmp_path):
    hotlines = [h for h in population_hotlines() if h.website][:3]
    settings = load_settings(None, proxy=f"http://127.0.0.1:{closed_port()}", out=tmp_path,
                             db=f"sqlite:///{tmp_path / 's.db'}", probe={"count": 3, "spacing_s": 0.1})
    data = audit_round(hotlines, settings)
    verdicts = [v.verdict.value for v in data.verdicts]
    assert verdicts == ["tool_error"] * 3


def write_registry(path, portals):
    path.write_bytes(csv_bytes(registry_rows(portals)))


def test_ctrl_c_stops_cleanly_and_the_round_can_be_rerun(tmp_path, simweb):
    portals = [p for p in build_population(SEED, COUNT) if p.trait == "healthy"]
    write_registry(tmp_path / "reg.csv", portals)
    # Discovery asks each host quickly too: the 60 s below are for a hotline to be saved,
    # discovery included, and the default pace (about a request a second) spends 25 s of them.
    env = dict(os.environ, HOTLINE_AUDIT_PROBE__COUNT="4", HOTLINE_AUDIT_PROBE__SPACING_S="0.5",
               HOTLINE_AUDIT_HOTLINES_IN_FLIGHT="2", HOTLINE_AUDIT_POLITENESS__MIN_INTERVAL_S="0.1")
    cmd = [sys.executable, "-m", "hotline_audit", "audit", "--registry", "reg.csv", "--round", "r1",
           "--proxy", simweb, "--only", "stability"]
    db = Store(f"sqlite:///{tmp_path / 'hotline-audit.db'}")

    # Like Ctrl-C in a terminal: SIGINT to the whole process group (Chromium and driver too).
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        data = db.load_round("r1")
        if data and len(data.done) >= 2:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the round saved no hotline within 60 s")
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err, err
    print(err[-600:])

    data = db.load_round("r1")
    assert data.status == "interrupted"
    assert 2 <= len(data.done) < len(portals)
    judged = {v.hotline_id for v in data.verdicts}
    assert judged == data.done  # whole hotlines only: a verdict exactly where saved
    assert "本轮状态" in (tmp_path / "runs" / "r1" / "report.html").read_text(encoding="utf-8")

    # --resume keeps what was finished: those hotlines are neither crawled nor audited again.
    kept = {hid: obs for (hid, journey), obs in data.observations.items() if journey == "stability"}
    rerun = subprocess.run([*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(kept)} hotlines already audited" in rerun.stderr
    data = db.load_round("r1")
    assert data.status == "finished" and data.done == {p.hotline_id for p in portals}
    assert sorted(v.hotline_id for v in data.verdicts) == sorted(p.hotline_id for p in portals)
    assert all(data.observations[(hid, "stability")] == obs for hid, obs in kept.items())

    # Without --resume the round is redone from scratch.
    redo = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert redo.returncode == 0, redo.stderr
    assert "already audited" not in redo.stderr
    assert db.load_round("r1").done == {p.hotline_id for p in portals}


def test_a_ctrl_c_as_the_round_ends_is_not_lost():
    """The signal lands after the round's last await: still an interruption (exit 130), not a
    finished round; a Ctrl-C mid-round stops it; no Ctrl-C, no interruption."""
    async def ends_as_ctrl_c_comes():
        os.kill(os.getpid(), signal.SIGINT)

    async def ends_anyway():  # the last hotline saved its browser's death as a tool error
        try:
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            pass

    async def long_round():
        asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGINT)
        await asyncio.sleep(30)

    async def quiet_round():
        await asyncio.sleep(0)

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN in an xdist worker
    for coro in (ends_as_ctrl_c_comes(), ends_anyway(), long_round()):
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_interruptibly(coro)
        assert time.monotonic() - t0 < 10
    run_interruptibly(quiet_round())
    assert signal.getsignal(signal.SIGINT) == before


def test_one_hotline_whose_entry_is_no_url_does_not_sink_the_others(tmp_path):
    """A registry row that reached the crawler with an entry Scrapy refuses (the registry stops
    javascript:alert(1) now; the crawler must not rely on it) is that hotline's failure. Once it
    ended the crawler's start() and no hotline after it was crawled: "fetched nothing"."""
    from aiohttp import web

    from hotline_audit.discovery import run_discovery
    from hotline_audit.model import Hotline

    from .test_discovery import served_in_thread

    async def home(request: web.Request) -> web.Response:
        return web.Response(text="<html><body><a href='/letter'>我要写信</a> <a href='/query'>办件查询</a>"
                                 "</body></html>", content_type="text/html")

    with served_in_thread({"/": home, "/letter": home, "/query": home}) as base:
        settings = load_settings(None, out=tmp_path, db=f"sqlite:///{tmp_path / 's.db'}",
                                 network=local_site.LOOPBACK.model_dump())
        hotlines = [Hotline(hotline_id="bad", name="坏", province="江苏省", city="南京",
                            website="http://javascript:alert(1)/"),
                    Hotline(hotline_id="portal", name="坏门户", province="江苏省", city="苏州",
                            gov_portal="http://[::1/"),
                    Hotline(hotline_id="good", name="好", province="江苏省", city="无锡", website=f"{base}/")]
        found = run_discovery(hotlines, settings, tmp_path)
    assert {c.kind for c in found.channels["good"]} >= {"website", "submit", "track"}
    for hid in ("bad", "portal"):
        failures = found.failures[hid]
        assert [f["kind"] for f in failures] == ["bad_url"], failures
        assert "ValueError" in failures[0]["reason"]
