"""Service effectiveness over simweb's portals: the submission round (effectiveness only, from
discovery's channels), then simweb's clock 30 days on, then ``recheck_due``. Prints the wall
time of each, cases/s, peak RSS, agreement with gold and the report's problem rates (scored by
reports.scoring, as ``hotline-audit report`` does) from our verdicts beside gold's. Discovery
runs first and is timed apart.

    .venv/bin/python bench/effectiveness.py [--count 344] [--contexts 3] [--channels cache.json] [--no-capture]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import httpx

# The repo first, and not bench/ itself: bench/reports.py would hide the reports package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

from bench._common import TreeRss, discover, simweb_pids  # noqa: E402
from fixtures.simweb import build_population, gold_rows, registry_hotlines  # noqa: E402
from hotline_audit.audit import RoundPlan, run_round  # noqa: E402
from hotline_audit.config import BrowserSettings, load_settings  # noqa: E402
from hotline_audit.ledger import Ledger  # noqa: E402
from hotline_audit.model import Hotline, Verdict, VerdictStatus  # noqa: E402
from hotline_audit.simweb_process import simweb_process  # noqa: E402
from hotline_audit.store import HotlineResult, Store  # noqa: E402
from journeys.browser import BrowserPool  # noqa: E402
from journeys.effectiveness import RecheckResult, effectiveness_tools, recheck_due  # noqa: E402
from journeys.stability import JourneyContext  # noqa: E402
from reports.rubric import load_rubric  # noqa: E402
from reports.scoring import score_round  # noqa: E402

ROUND = "bench"
EFFECTIVENESS_PROBLEMS = ("cannot_submit", "no_progress", "no_reply", "not_solved")


def clock(proxy: str, advance_days: int | None = None) -> datetime:
    with httpx.Client(proxy=proxy, trust_env=False, timeout=10) as c:
        if advance_days:
            c.post("http://simweb.test/_clock", json={"advance_days": advance_days}).raise_for_status()
        return datetime.fromisoformat(c.get("http://simweb.test/_clock").json()["now"])


async def recheck(settings, store: Store, now: datetime) -> list[RecheckResult]:
    async with BrowserPool(settings.browser, settings.proxy, settings.network) as browser:
        ctx = JourneyContext(settings=settings, browser=browser, round_dir=settings.out,
                             probe_limiter=asyncio.Semaphore(settings.probe.concurrency))
        tools = effectiveness_tools(settings, settings.out / "recheck")
        return await recheck_due(ctx, Ledger(store), tools=tools, now=now, round_name=ROUND)


def rates(data, verdicts: list[Verdict]) -> dict[str, tuple[int, int]]:
    """(count, of) per effectiveness problem, scored as the report scores them."""
    scores = score_round(replace(data, verdicts=verdicts), load_rubric())
    return {r["problem"]: (int(r["count"]), int(r["of"])) for r in scores.rates.to_dict("records")
            if r["problem"] in EFFECTIVENESS_PROBLEMS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=344)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--contexts", type=int, default=BrowserSettings().contexts)
    ap.add_argument("--channels", type=Path, help="cache discovery's channels in this JSON file")
    ap.add_argument("--no-capture", action="store_true", help="no WACZ/HAR/trace per tab (screenshots only)")
    args = ap.parse_args()
    portals = build_population(args.seed, args.count)
    hotlines = registry_hotlines(portals)
    with tempfile.TemporaryDirectory() as tmp, simweb_process(args.seed, args.count) as proxy:
        out = Path(tmp)
        # simweb's SMS inbox, OCR for captchas, and an SMS wait longer than simweb's late codes
        # (8 s): the settings the effectiveness tests use.
        settings = load_settings(None, proxy=proxy, out=out, db=f"sqlite:///{tmp}/b.db",
                                 browser={"contexts": args.contexts},
                                 effectiveness={"sms_inbox_url": "{proxy}/_sms?phone={phone}",
                                                "captcha_mode": "ocr", "sms_wait_s": 12.0},
                                 **({"evidence": {"wacz": False, "har": False, "trace": False}}
                                    if args.no_capture else {}))
        hotlines, channels, discovery_s = discover(hotlines, settings, out, args.channels)
        store = Store(settings.db)
        run_id = store.begin_round(ROUND, hotlines, tool_version="bench", config_hash="", settings={},
                                   registry="bench", proxy=proxy)
        plan = RoundPlan(ROUND, hotlines, settings, "bench", checks=("effectiveness",), channels=channels)
        done: list[str] = []

        def on_done(h: Hotline, r: HotlineResult) -> None:
            done.append(h.hotline_id)

        with TreeRss(simweb_pids()) as rss:
            t0 = time.perf_counter()
            asyncio.run(run_round(plan, store, run_id, on_done))
            submit_s = time.perf_counter() - t0
            store.finish_round(run_id, "finished")
            filed = len(Ledger(store).cases(ROUND, states=("submitted",)))
            now = clock(proxy, advance_days=30)
            t0 = time.perf_counter()
            results = asyncio.run(recheck(settings, store, now))
            recheck_s = time.perf_counter() - t0
        for r in results:
            store.replace_verdict(ROUND, r.verdict, r.observation.model_dump(mode="json"), r.evidence,
                                  journey="effectiveness")
        data = store.load_round(ROUND)
        assert data is not None
    got = {v.hotline_id: v for v in data.verdicts if v.check == "effectiveness"}
    gold = {g["hotline_id"]: g["verdict"] for g in gold_rows(portals) if g["check"] == "effectiveness"}
    agree = sum(1 for h in gold if h in got and got[h].verdict.value == gold[h])
    gold_verdicts = [Verdict(hotline_id=h, check="effectiveness", verdict=VerdictStatus(v), reason="gold",
                             reason_en="gold", confidence=1.0) for h, v in gold.items()]
    ours, theirs = rates(data, list(got.values())), rates(data, gold_verdicts)
    recheck_times = sorted(r.elapsed_s for r in results)

    capture = "screenshots only" if args.no_capture else "WACZ/HAR/trace per tab as configured"
    print(f"{args.count} hotlines; {args.contexts} browser contexts; 2 cores; evidence: {capture}; "
          f"load average at the end {os.getloadavg()[1]:.1f} (5 min): other work on the machine slows all of this")
    print(f"discovery {discovery_s:.1f} s (not counted below{'; cached channels' if not discovery_s else ''})")
    print(f"submission round {submit_s:.1f} s · {len(done)} hotlines, {len(done) / submit_s:.2f}/s · "
          f"{filed} cases filed, {filed / submit_s:.2f} cases/s")
    if recheck_times:
        print(f"recheck {recheck_s:.1f} s · {len(results)} cases · {len(results) / recheck_s:.2f} cases/s · "
              f"per case median {recheck_times[len(recheck_times) // 2]:.2f} s, max {recheck_times[-1]:.2f} s")
    print(f"peak RSS {rss.peak / 2**20:.0f} MiB (audit + Chromium; simweb excluded)")
    print(f"agreement with gold {agree}/{len(gold)} ({agree / len(gold):.2%}) · verdicts "
          f"{dict(Counter(v.verdict.value for v in got.values()))}")
    for h in sorted(gold):
        if h not in got or got[h].verdict.value != gold[h]:
            print(f"  {h}: gold {gold[h]}, got {got[h].verdict.value if h in got else '-'}: "
                  f"{got[h].reason[:140] if h in got else ''}")
    print("problem            ours              gold")
    for p in EFFECTIVENESS_PROBLEMS:
        (c, of), (gc, gof) = ours[p], theirs[p]
        print(f"{p:14} {c:4}/{of:<4} {c / max(1, of):6.2%}   {gc:4}/{gof:<4} {gc / max(1, gof):6.2%}")


if __name__ == "__main__":
    main()
