"""The outsiders gate as a table: the whole product (``discover`` and ``audit --only
effectiveness`` through ``--proxy``) on the nine portals of ``fixtures/outsiders``, each portal's
channels, filing and verdict beside its hand-written gold.

    .venv/bin/python bench/outsiders.py [--out DIR] [--verbose] [--gold-channels]

Columns: channels found/gold (``-kind`` missing, ``+kind`` not in gold); cases that reached
the portal and their category (gold: how many, which category); the verdict beside gold's; ✗
marks a disagreement, ‼ a false accusation (a problem verdict where a person could file or
must look). ``--verbose`` also prints each verdict's reason and the channels that differ.
``--gold-channels`` runs the citizen journey alone on gold's channels (no discovery), to tell a
journey's failure from discovery's. Exits 1 when any portal disagrees."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.outsiders.gate import GateRun, run_gate, run_journey_only  # noqa: E402


def table(run: GateRun, verbose: bool) -> int:
    head = f"{'portal':18} {'channels':24} {'filed (gold)':30} {'verdict (gold)':40}"
    print(f"\nround {run.round_name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in run.timings.items()))
    print(head)
    print("-" * len(head))
    bad = 0
    for hid, r in run.results.items():
        g = r.gold
        ch_ok = not r.missing_channels and not r.extra_channels
        filed = ", ".join(c["category"] for c in r.cases) or "none"
        want = f"1×{r.category}" if g.filed else "none"
        fl_ok = not r.filing_problems()
        vd_ok = not r.verdict_problems()
        mark = "‼" if r.false_accusation else ("✓" if vd_ok else "✗")
        bad += not (ch_ok and fl_ok and vd_ok)
        print(f"{hid:18} {('✓ ' if ch_ok else '✗ ') + r.channel_summary():24} "
              f"{('✓ ' if fl_ok else '✗ ') + f'{len(r.cases)} {filed} ({want})':30} "
              f"{mark} {r.verdict} ({g.effectiveness}/{g.detail})")
        if verbose:
            print(f"    scenario {r.scenario.case_type} {r.title}")
            print(f"    reason   {r.reason[:220]}")
            for kind, value in sorted(r.missing_channels):
                print(f"    missing  {kind} {value}")
            for kind, value in sorted(r.extra_channels):
                print(f"    extra    {kind} {value}")
            for a in r.attempts:
                print(f"    request  {a['endpoint']} {a['outcome']}")
    accused = [h for h, r in run.results.items() if r.false_accusation]
    print(f"\n{len(run.results) - bad}/{len(run.results)} portals agree with gold; false accusations: "
          f"{len(accused)} {' '.join(accused)}; foreign requests: {len(run.foreign)}")
    return 1 if bad or run.foreign else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="where the round is written (default: a temporary folder)")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--gold-channels", action="store_true", help="the citizen journey alone, on gold's channels")
    args = parser.parse_args()
    run = run_journey_only if args.gold_channels else run_gate
    if args.out:
        return table(run(args.out), args.verbose)
    with tempfile.TemporaryDirectory(prefix="outsiders-") as tmp:
        return table(run(Path(tmp)), args.verbose)


if __name__ == "__main__":
    sys.exit(main())
