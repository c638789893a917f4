"""What politeness costs a round: the same round with the default budget and with none.

    .venv/bin/python bench/politeness.py [--count 24] [--seed 1] [--waf 0] [--checks stability,findability]

Both rounds run in this one process against the same simweb, one after the other (default
budget first), with discovery included, so the ratio is the wall time the per-host budget
(≈1 page-level request a second, ≤2 in flight, Retry-After and back-off honoured) adds. "none"
is a budget nothing waits for (10^6 a minute, no interval, 1000 in flight). Also prints, per
run, the most page-level requests one host got in a minute as simweb logged them, and the
hosts that throttled us (with ``--waf K`` portals behind firewalls or rate limits).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.simweb import build_population, registry_hotlines  # noqa: E402
from hotline_audit.audit import RoundPlan, run_round  # noqa: E402
from hotline_audit.config import load_settings  # noqa: E402
from hotline_audit.discovery import run_discovery, with_discovered_websites  # noqa: E402
from hotline_audit.politeness import peak_in_window  # noqa: E402
from hotline_audit.simweb_process import simweb_process  # noqa: E402
from hotline_audit.store import Store  # noqa: E402

NONE = {"per_minute": 1_000_000, "min_interval_s": 0.0, "jitter": 0.0, "in_flight": 1000}


def one_round(proxy: str, name: str, politeness: dict, checks: tuple[str, ...], seed: int, count: int,
              waf: int, out: Path) -> tuple[float, int, int]:
    """Seconds, the busiest host's page-level requests in a minute (simweb's log), throttles."""
    settings = load_settings(None, proxy=proxy, out=out / name, db=f"sqlite:///{out / name / 'store.db'}",
                             politeness=politeness,
                             effectiveness={"sms_inbox_url": "{proxy}/_sms?phone={phone}", "captcha_mode": "ocr"})
    hotlines = registry_hotlines(build_population(seed, count, waf=waf), all_websites=True)
    since = time.time()
    t0 = time.perf_counter()
    found = run_discovery(hotlines, settings, out / name / "discovery", round_name=name)
    plan = RoundPlan(name, with_discovered_websites(hotlines, found), settings, "bench", checks=checks,
                     channels=dict(found.channels))
    store = Store(settings.db)
    run_id = store.begin_round(name, plan.hotlines, tool_version="bench", config_hash=settings.fingerprint(),
                               settings={}, registry="bench", proxy=proxy)
    asyncio.run(run_round(plan, store, run_id))
    store.finish_round(run_id, "finished")
    took = time.perf_counter() - t0
    log = httpx.get(f"{proxy}/_requests", params={"since": since}, timeout=60, trust_env=False).json()
    per_host: dict[str, list[float]] = {}
    for e in log:
        if e["page_level"]:
            per_host.setdefault(e["host"], []).append(e["t"])
    peak = max((peak_in_window(sorted(ts)) for ts in per_host.values()), default=0)
    return took, peak, sum(1 for e in log if e.get("waf"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--waf", type=int, default=0)
    ap.add_argument("--checks", default="stability,findability,effectiveness")
    args = ap.parse_args()
    checks = tuple(c.strip() for c in args.checks.split(",") if c.strip())
    with tempfile.TemporaryDirectory() as tmp, simweb_process(args.seed, args.count, waf=args.waf) as proxy:
        out = Path(tmp)
        polite = one_round(proxy, "polite", {}, checks, args.seed, args.count, args.waf, out)
        rude = one_round(proxy, "none", NONE, checks, args.seed, args.count, args.waf, out)
    print(f"{args.count} hotlines (seed {args.seed}, {args.waf} behind firewalls), discovery + {', '.join(checks)}:")
    for name, (took, peak, refused) in (("default budget", polite), ("no budget", rude)):
        print(f"  {name:15} {took:7.1f} s   busiest host {peak:4d} page-level requests/min   refused by firewalls {refused}")
    print(f"  politeness costs x{polite[0] / rude[0]:.2f} the wall time")


if __name__ == "__main__":
    main()
