"""Time a stability round against simweb, and a naive baseline in the same run.

    .venv/bin/python bench/stability_round.py --count 24

The baseline is what one would write first: one browser, a new page per site, one site at a
time, probes one after another. Both use the same probe settings, so the ratio is the gain of
the round's design (reused pages, 1-2 contexts, concurrent scheduled probes). Prints wall time,
pages/s, peak RSS of this process tree (Python + Playwright driver + Chromium) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TreeRss, simweb_pids  # noqa: E402

from fixtures.simweb import build_population, registry_hotlines  # noqa: E402
from hotline_audit.audit import RoundPlan, run_round  # noqa: E402
from hotline_audit.config import Settings, load_settings  # noqa: E402
from hotline_audit.model import Hotline  # noqa: E402
from hotline_audit.simweb_process import simweb_process  # noqa: E402
from hotline_audit.store import Store  # noqa: E402
from journeys.browser import BrowserPool, shot_format  # noqa: E402
from journeys.pageload import load_page  # noqa: E402
from journeys.probes import make_client, probe_once, uses_proxy  # noqa: E402


async def naive(hotlines: list[Hotline], settings: Settings, round_dir: Path) -> None:
    async with BrowserPool(settings.browser.model_copy(update={"contexts": 1}), settings.proxy) as pool:
        for h in hotlines:
            if not h.website:
                continue
            tab = await pool._new_tab()  # a fresh context and page per site
            await load_page(tab, h.website, settings.browser, round_dir / f"{h.hotline_id}{shot_format(settings.browser).suffix}")
            await tab.context.close()
            async with make_client(settings.proxy, settings.probe.timeout_s) as client:
                for _ in range(settings.probe.count):
                    t0 = time.perf_counter()
                    await probe_once(client, h.website, settings.probe, uses_proxy(h.website, settings.proxy))
                    await asyncio.sleep(max(0.0, settings.probe.spacing_s - (time.perf_counter() - t0)))


def timed(label: str, fn, simweb_pids: set[int], sites: int) -> float:  # noqa: ANN001
    with TreeRss(simweb_pids) as rss:
        t0 = time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
    print(f"{label:<9} wall {wall:7.1f} s   {sites / wall:6.2f} sites/s   peak RSS {rss.peak / 2**20:7.0f} MiB")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=24, help="simulated hotlines")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--probes", type=int, default=5, help="probes per site (census: 20)")
    ap.add_argument("--spacing", type=float, default=0.2, help="seconds between probes")
    ap.add_argument("--timeout", type=float, default=5.0, help="probe and navigation timeout, s")
    ap.add_argument("--skip-naive", action="store_true", help="time only the round")
    args = ap.parse_args()

    hotlines = registry_hotlines(build_population(args.seed, args.count), all_websites=True)
    sites = sum(1 for h in hotlines if h.website)
    with tempfile.TemporaryDirectory() as tmp, simweb_process(args.seed, args.count) as proxy:
        simweb = simweb_pids()
        settings = load_settings(
            None, proxy=proxy, out=Path(tmp), db=f"sqlite:///{tmp}/bench.db",
            probe={"count": args.probes, "spacing_s": args.spacing, "timeout_s": args.timeout},
            browser={"navigation_timeout_s": args.timeout},
        )
        print(f"{args.count} hotlines ({sites} websites), {args.probes} probes every {args.spacing} s, "
              f"timeout {args.timeout} s, {os.cpu_count()} cores")

        def round_() -> None:
            store = Store(settings.db)
            run_id = store.begin_round("bench", hotlines, tool_version="bench", config_hash="",
                                       settings={}, registry="bench", proxy=proxy)
            asyncio.run(run_round(RoundPlan("bench", hotlines, settings, "bench"), store, run_id))

        ours = timed("round", round_, simweb, sites)
        if not args.skip_naive:
            base = timed("naive", lambda: asyncio.run(naive(hotlines, settings, Path(tmp) / "naive")), simweb, sites)
            print(f"ratio     naive / round = {base / ours:.1f}x")


if __name__ == "__main__":
    main()
