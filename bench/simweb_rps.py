"""How fast simweb serves, so it is never what limits an audit.

    .venv/bin/python bench/simweb_rps.py [--seconds 5] [--concurrency 32]

Starts simweb (344 portals) as its own process, prints its start-up time, then requests a
mix of homepages, searches and article pages of healthy portals through it as a proxy for a
fixed time, and prints requests/s beside a bare aiohttp "hello" server measured the same way
in the same run (the ratio is what to compare between machines).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.simweb import build_population  # noqa: E402
from fixtures.simweb.corpus import TOPICS  # noqa: E402
from fixtures.simweb.layouts import LAYOUTS, channel_urls  # noqa: E402

HELLO = """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(text="<html><body>hello</body></html>", content_type="text/html")
app = web.Application(); app.router.add_route("*", "/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("listening", flush=True))
"""


def urls() -> list[str]:
    out = []
    for p in build_population():
        if not p.website or p.trait != "healthy" or p.search_quality in ("error", "timeout"):
            continue
        out.append(p.website)
        search = channel_urls(p).get("search")
        if search and p.search_widget in ("form_get", "new_tab", "iframe"):
            topic = TOPICS[len(out) % len(TOPICS)]
            out.append(f"{search}?{LAYOUTS[p.template].search_param}={topic.question.format(city=p.city)}")
    return out


async def load(proxy: str, targets: list[str], seconds: float, concurrency: int) -> tuple[int, int]:
    done = errors = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker(i: int) -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                url = targets[(i + done) % len(targets)]
                try:
                    async with session.get(url, proxy=proxy) as r:
                        await r.read()
                        errors += r.status >= 400
                except aiohttp.ClientError:
                    errors += 1
                done += 1
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done, errors


async def one_pass(proxy: str, targets: list[str], concurrency: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        queue = list(targets)

        async def worker() -> None:
            while queue:
                async with session.get(queue.pop(), proxy=proxy) as r:
                    await r.read()
        await asyncio.gather(*(worker() for _ in range(concurrency)))


def start(cmd: list[str]) -> tuple[subprocess.Popen, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    return proc, time.perf_counter() - t0, line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    targets = urls()

    sim, startup, line = start([sys.executable, "-m", "hotline_audit", "simweb", "serve", "--port", "0", "--count", "344"])
    proxy = line.split("listening on ", 1)[1].split()[0]
    print(f"simweb start-up (344 portals, to first line): {startup:.2f} s")
    try:
        t0 = time.perf_counter()
        asyncio.run(one_pass(proxy, targets, args.concurrency))
        cold = time.perf_counter() - t0
        n, errs = asyncio.run(load(proxy, targets, args.seconds, args.concurrency))
    finally:
        sim.terminate()
        sim.wait()
    sim_rps = n / args.seconds
    print(f"simweb  {len(targets) / cold:8.0f} requests/s  first pass over {len(targets)} URLs "
          "(builds each portal's pages and search index)")
    print(f"simweb  {sim_rps:8.0f} requests/s  steady ({n} requests, {errs} errors)")

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hello, _, _ = start([sys.executable, "-c", HELLO, str(port)])
    try:
        n, _ = asyncio.run(load(f"http://127.0.0.1:{port}", ["http://hello.test/"], args.seconds, args.concurrency))
    finally:
        hello.terminate()
        hello.wait()
    hello_rps = n / args.seconds
    print(f"hello   {hello_rps:8.0f} requests/s  (bare aiohttp, same client)")
    print(f"ratio   simweb / hello = {sim_rps / hello_rps:.2f}")


if __name__ == "__main__":
    main()
