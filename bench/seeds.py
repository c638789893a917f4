"""Agreement with simweb's gold at several seeds: the whole round as an auditor runs it
(``hotline-audit demo``: discovery, stability, findability, effectiveness, clock +30 days,
``recheck --due``), then every check and every channel kind compared with gold.

    .venv/bin/python bench/seeds.py --seeds 3 7 13 17 23 [--count 344] [--out bench-seeds] [--waf 40]

Prints, per seed, a table (check or channel kind: agree/total, %) and every disagreement, and
counts false accusations (a problem verdict where gold says ok/solved). A disagreement at any
seed is a bug in the product or in gold, never noise. Also writes ``OUT/seeds.json``.

``--waf K`` puts firewalls and rate limits in front of K portals (issue 18). A hotline behind
one may then also be ``needs_review`` with reason code rate_limited/waf_blocked (counted apart:
"throttled", not an agreement and not an accusation); any other disagreement, and any problem
verdict caused by throttling, counts as before. simweb's own log must show no host above the
budget's page-level rate in any minute (``violations``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.simweb import build_population, gold_rows  # noqa: E402
from fixtures.simweb.gold import CHANNEL_KINDS, NOT_AN_ACCUSATION, waf_hotlines  # noqa: E402
from hotline_audit.files import read_csv  # noqa: E402

CHECKS = ("stability", "findability", "effectiveness")
GOOD = {"ok", "solved"}
PROBLEMS = {"down", "degraded", "nowhere_to_search", "inaccurate_search", "cannot_submit", "no_progress",
            "no_reply", "not_solved"}


def compare(round_dir: Path, seed: int, count: int, waf: int = 0, per_minute: int = 60) -> dict:
    portals = build_population(seed, count, waf=waf)
    gold = gold_rows(portals)
    walled = waf_hotlines(portals)
    got = {(r["hotline_id"], r["check"]): r for r in read_csv(round_dir / "verdicts.csv")}
    throttled: list[str] = []
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in read_csv(round_dir / "channels.csv"):  # values as found, before the CSV's formula guard
        found[(r["hotline_id"], r["kind"])].add(r["value"])
    hotlines = sorted({g["hotline_id"] for g in gold})
    table: dict[str, list[int]] = {}
    misses: list[str] = []
    accusations = 0
    for check in CHECKS:
        expected = {g["hotline_id"]: g for g in gold if g["check"] == check}
        agree = 0
        for hid in hotlines:
            want = expected[hid]["verdict"]
            row = got.get((hid, check))
            have = row["verdict"] if row else "(none)"
            if have == want:
                agree += 1
                continue
            if hid in walled and have == "needs_review" and (row or {}).get("reason_code") in NOT_AN_ACCUSATION:
                throttled.append(f"{check:14} {hid:16} gold {want:18} [{walled[hid]}] {(row or {}).get('reason', '')[:100]}")
                continue
            if want in GOOD and have in PROBLEMS:
                accusations += 1
            reason = (row or {}).get("reason", "")[:140]
            misses.append(f"{check:14} {hid:16} gold {want:18} got {have:18} [{expected[hid]['detail']}] {reason}")
        table[check] = [agree, len(hotlines)]
    expected_channels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for g in gold:
        if g["check"].startswith("channel."):
            expected_channels[(g["hotline_id"], g["check"].removeprefix("channel."))].add(g["verdict"])
    for kind in CHANNEL_KINDS:
        agree = 0
        for hid in hotlines:
            want, have = expected_channels.get((hid, kind), set()), found.get((hid, kind), set())
            if want == have:
                agree += 1
            else:
                misses.append(f"channel.{kind:12} {hid:16} gold {sorted(want)} got {sorted(have)}")
        table[f"channel.{kind}"] = [agree, len(hotlines)]
    rates_file = round_dir / "simweb-rates.json"
    violations: list[str] = []
    peak = None
    if rates_file.exists():
        hosts = json.loads(rates_file.read_text(encoding="utf-8"))["hosts"]
        peak = max((h["peak_per_minute"] for h in hosts.values()), default=0)
        violations = [f"{host}: {h['peak_per_minute']} page-level requests in one minute"
                      for host, h in hosts.items() if h["peak_per_minute"] > per_minute]
    return {"table": table, "misses": misses, "false_accusations": accusations, "throttled": throttled,
            "peak_per_minute": peak, "violations": violations}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 7, 13, 17, 23])
    ap.add_argument("--count", type=int, default=344)
    ap.add_argument("--out", type=Path, default=Path("bench-seeds"))
    ap.add_argument("--reuse", action="store_true", help="compare rounds already in OUT instead of running them")
    ap.add_argument("--waf", type=int, default=0, help="portals behind a firewall or rate limit")
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("hotline-audit")
    results = {}
    for seed in args.seeds:
        out = args.out / f"seed{seed}-{args.count}" if not args.waf else args.out / f"seed{seed}-{args.count}-waf{args.waf}"
        took = 0.0
        if not args.reuse:
            t0 = time.perf_counter()
            subprocess.run(["rm", "-rf", str(out)], check=True)
            log = (args.out / f"seed{seed}-{args.count}.log")
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("w") as f:
                code = subprocess.run([str(exe), "demo", "--seed", str(seed), "--count", str(args.count),
                                       "--out", str(out), "--waf", str(args.waf)],
                                      stdout=f, stderr=subprocess.STDOUT).returncode
            took = time.perf_counter() - t0
            if code != 0:
                print(f"seed {seed}: the demo round failed (exit {code}); see {log}")
                continue
        r = compare(out / "demo", seed, args.count, args.waf)
        r["seconds"] = round(took, 1)
        results[seed] = r
        print(f"\n== seed {seed}, {args.count} hotlines ({took:.0f} s) — false accusations: {r['false_accusations']}")
        for name, (agree, total) in r["table"].items():
            print(f"  {name:24} {agree:4}/{total:<4} {agree / total:7.2%}")
        for m in r["misses"]:
            print("  ✗", m)
        if args.waf:
            print(f"  throttled (needs_review rate_limited/waf_blocked behind a firewall): {len(r['throttled'])}")
            for m in r["throttled"]:
                print("  ~", m)
            print(f"  most page-level requests one host got in a minute (simweb's log): {r['peak_per_minute']}; "
                  f"hosts above the budget: {len(r['violations'])}")
            for m in r["violations"]:
                print("  !", m)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "seeds.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    worst = min((a / t for r in results.values() for a, t in r["table"].values()), default=0.0)
    print(f"\nworst agreement over all seeds and checks: {worst:.2%}; "
          f"false accusations: {sum(r['false_accusations'] for r in results.values())}")


if __name__ == "__main__":
    main()
