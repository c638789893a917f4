"""Peak memory of the browser with a 60 MB homepage in it, with the size limit and without.

    python -m bench.hostile_memory [--mb 60]

Prints the peak memory (PSS) of this process and all its children (Playwright's driver,
Chromium and its renderers), sampled every 100 ms, and the page's verdict facts. The limit is
``network.max_page_mb`` (2 MB by default): issue 17 asks for a round's peak ≤ 2 GiB."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from aiohttp import web

from hotline_audit.config import BrowserSettings, NetworkSettings
from journeys.browser import BrowserPool
from journeys.pageload import load_page


def tree_rss_mb(root: int) -> float:
    """Memory of ``root`` and every process below it, in MB: the sum of each one's PSS
    (proportional set size, /proc/PID/smaps_rollup), so pages that Chromium's processes share
    (libraries, shared memory) are counted once, not once per process as RSS would."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss_kb(pid)
        todo += children.get(pid, [])
    return total / 1000


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


async def huge(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
    await resp.prepare(request)
    await resp.write("<title>首页</title><nav><a href='/search'>搜索</a></nav>".encode())
    row = ("<li><a href='/n'>关于做好政务服务便民热线工作的通知</a> 2026-11-01</li>" * 200).encode()
    for _ in range(request.app["mb"] * 1_000_000 // len(row)):
        await resp.write(row)
    await resp.write_eof()
    return resp


async def measure(mb: int, limit_mb: float) -> tuple[float, float, str | None, str | None]:
    app = web.Application()
    app["mb"] = mb
    app.router.add_get("/", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    peak = 0.0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(os.getpid()))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    network = NetworkSettings(allow_hosts=["127.0.0.1"], max_page_mb=limit_mb)
    settings = BrowserSettings(contexts=1, navigation_timeout_s=60)
    try:
        async with BrowserPool(settings, None, network) as pool, pool.tab() as tab:
            t0 = time.perf_counter()
            load = await load_page(tab, url, settings, Path("/tmp/hostile-memory.jpg"))
            seconds = time.perf_counter() - t0
    finally:
        done.set()
        await sampler
        await runner.shutdown()  # the page's handler may still be writing: don't wait for it
    return peak, seconds, load.fault, load.title


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=60)
    args = ap.parse_args()
    for limit in (NetworkSettings().max_page_mb, 10_000.0):
        peak, seconds, fault, title = asyncio.run(measure(args.mb, limit))
        print(f"{args.mb} MB page, limit {limit:g} MB: peak PSS {peak:,.0f} MB, load_page {seconds:.1f} s, "
              f"fault={fault}, title={title}")


if __name__ == "__main__":
    main()
