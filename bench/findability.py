"""Findability over simweb's portals (K questions each, default 5): wall time of the round after
discovery, seconds per portal, questions asked per second, peak RSS of the process tree, and
agreement with gold. Discovery runs first and is timed apart.

    .venv/bin/python bench/findability.py [--count 344] [--contexts 3] [--no-archive] [--channels cache.json]

``--no-archive`` switches the WACZ/HAR capture off, to see what it costs in the same session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TreeRss, discover, simweb_pids  # noqa: E402

from fixtures.simweb import build_population, gold_rows, registry_hotlines  # noqa: E402
from hotline_audit.audit import RoundPlan, run_round  # noqa: E402
from hotline_audit.config import BrowserSettings, load_settings  # noqa: E402
from hotline_audit.simweb_process import simweb_process  # noqa: E402
from hotline_audit.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=344)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--contexts", type=int, default=BrowserSettings().contexts)
    ap.add_argument("--no-archive", action="store_true", help="no WACZ/HAR capture")
    ap.add_argument("--channels", type=Path, help="cache discovery's channels in this JSON file")
    args = ap.parse_args()
    portals = build_population(args.seed, args.count)
    hotlines = registry_hotlines(portals)
    with tempfile.TemporaryDirectory() as tmp, simweb_process(args.seed, args.count) as proxy:
        out = Path(tmp)
        settings = load_settings(None, proxy=proxy, out=out, db=f"sqlite:///{tmp}/b.db",
                                 browser={"contexts": args.contexts},
                                 evidence={"wacz": not args.no_archive, "har": not args.no_archive})
        hotlines, channels, discovery_s = discover(hotlines, settings, out, args.channels)
        store = Store(settings.db)
        run_id = store.begin_round("bench", hotlines, tool_version="bench", config_hash="", settings={},
                                   registry="bench", proxy=proxy)
        plan = RoundPlan("bench", hotlines, settings, "bench", checks=("findability",), channels=channels)
        with TreeRss(simweb_pids()) as rss:
            t0 = time.perf_counter()
            asyncio.run(run_round(plan, store, run_id))
            wall = time.perf_counter() - t0
        data = store.load_round("bench")
    assert data is not None
    got = {v.hotline_id: v.verdict.value for v in data.verdicts if v.check == "findability"}
    gold = {g["hotline_id"]: g["verdict"] for g in gold_rows(portals) if g["check"] == "findability"}
    asked = sum(len(obs.get("attempts", [])) for (h, j), obs in data.observations.items() if j == "findability")
    searched = sum(1 for h in got if data.observations.get((h, "findability"), {}).get("attempts"))
    agree = sum(1 for h in gold if got.get(h) == gold[h])
    print(f"{args.count} hotlines, {searched} with something to ask; {args.contexts} browser contexts; 2 cores")
    print(f"discovery {discovery_s:.1f} s (not counted below{'; cached channels' if not discovery_s else ''})")
    print(f"findability wall {wall:.1f} s · {wall / max(1, searched):.2f} s per portal searched · "
          f"{asked / wall:.1f} attempts/s ({asked} attempts)")
    print(f"peak RSS {rss.peak / 2**20:.0f} MiB (audit + Chromium; simweb excluded)")
    spent: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for (_, j), obs in data.observations.items():
        for a in obs.get("attempts", []) if j == "findability" else []:
            outcomes[a["outcome"]] += 1
            spent[a["outcome"]] += (a.get("elapsed_ms") or 0) / 1000
    print("attempts by outcome (count, seconds waited): "
          + ", ".join(f"{k} {n} {spent[k]:.0f} s" for k, n in outcomes.most_common()))
    print(f"agreement with gold {agree}/{len(gold)} · verdicts {dict(Counter(got.values()))}")


if __name__ == "__main__":
    main()
