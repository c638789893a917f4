"""What capture costs: load and screenshot the same simweb pages with each capture part on or
off, one borrowed tab per page as the stability journey does.

Configurations take turns page by page on the same tab (the order rotating), so a busy
machine slows them alike; medians per page are reported for each step of a borrow: starting
the recorders, the page itself (load + screenshot, while recording), 20 scripts run in it (a
trace snapshots the page around each), halting the recorders (Playwright writes the HAR and
trace), and the borrow's end with saving (scrub, convert, write; after the tab went back).

    .venv/bin/python bench/capture.py [--pages 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.simweb import build_population  # noqa: E402
from hotline_audit.config import BrowserSettings, EvidenceSettings  # noqa: E402
from hotline_audit.personas import fake_persona  # noqa: E402
from hotline_audit.simweb_process import simweb_process  # noqa: E402
from journeys.browser import BrowserPool  # noqa: E402
from journeys.capture import Capture, Recorder  # noqa: E402

ACTIONS = 20
CONFIGS = {
    "none": EvidenceSettings(wacz=False, har=False, trace=False),
    "har": EvidenceSettings(wacz=False, har=True, trace=False),
    "wacz": EvidenceSettings(wacz=True, har=False, trace=False),
    "har+wacz": EvidenceSettings(wacz=True, har=True, trace=False),
    "trace": EvidenceSettings(wacz=False, har=False, trace=True),
    "all": EvidenceSettings(wacz=True, har=True, trace=True),
}


async def bench(proxy: str, sites: list[str], want: int, out: Path) -> None:
    parts: dict[str, list[tuple[float, ...]]] = {k: [] for k in CONFIGS}
    size: dict[str, list[int]] = {k: [] for k in CONFIGS}
    names = list(CONFIGS)
    async with BrowserPool(BrowserSettings(contexts=1), proxy=proxy) as pool:
        async with pool.tab(capture=Capture(out / "warm", options=CONFIGS["all"])) as tab:
            await tab.page.goto(sites[0])  # imports and first-use costs out of the way
        pages = 0
        for site in sites:
            async with pool.tab() as tab:  # simweb's faulty sites would time the bench, not capture
                try:
                    resp = await tab.page.goto(site, timeout=5000)
                except Exception:
                    continue
                if resp is None or resp.status >= 400:
                    continue
            order = names[pages % len(names):] + names[:pages % len(names)]
            for name in order:
                cap = Capture(out / name / f"p{pages}", secrets=fake_persona(), options=CONFIGS[name])
                # The pool's borrow, taken apart: recorders start, the page, halt, save.
                async with pool.tab() as tab:
                    rec = Recorder(tab, cap) if cap.wanted else None
                    t0 = time.perf_counter()
                    if rec:
                        await rec.start()
                    t1 = time.perf_counter()
                    await tab.page.goto(site, timeout=15000)
                    await tab.page.screenshot(path=out / name / f"p{pages}.png")
                    t2 = time.perf_counter()
                    for _ in range(ACTIONS):  # what a findability journey does most: scripts
                        await tab.page.evaluate("() => document.body.innerText.length")
                    t3 = time.perf_counter()
                    if rec:
                        await rec.halt()
                    t4 = time.perf_counter()
                if rec:
                    await rec.save()
                t5 = time.perf_counter()
                parts[name].append((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4))
                size[name].append(sum(p.stat().st_size for p, _ in cap.saved))
            pages += 1
            if pages >= want:
                break
    print(f"{pages} pages, each loaded and screenshot once per configuration; medians in ms")
    print(f"{'parts':10} {'start':>6} {'page':>6} {f'{ACTIONS} evals':>9} {'halt':>6} {'exit+save':>10} "
          f"{'added':>6} {'kB':>6}")
    base = [statistics.median(col) * 1000 for col in zip(*parts["none"], strict=True)]
    for name in names:
        med = [statistics.median(col) * 1000 for col in zip(*parts[name], strict=True)]
        added = sum(m - b for m, b in zip(med, base, strict=True))  # start + halt + save + slowdown
        print(f"{name:10} {med[0]:6.0f} {med[1]:6.0f} {med[2]:9.0f} {med[3]:6.0f} {med[4]:10.0f} {added:6.0f} "
              f"{statistics.mean(size[name]) / 1024:6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=50)
    args = ap.parse_args()
    with simweb_process(1, 120) as proxy, tempfile.TemporaryDirectory() as tmp:
        sites = [p.website for p in build_population(1, 120) if getattr(p, "website", None)]
        asyncio.run(bench(proxy, sites, args.pages, Path(tmp)))


if __name__ == "__main__":
    main()
