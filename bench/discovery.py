"""Discovery of simweb's portals: wall time, pages/s, peak RSS, the share of pages that
needed a browser, and recall and precision per channel kind against gold.

    .venv/bin/python bench/discovery.py [--count 344] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TreeRss, simweb_pids  # noqa: E402

from fixtures.simweb import build_population, registry_hotlines  # noqa: E402
from fixtures.simweb.gold import CHANNEL_KINDS, score_channels  # noqa: E402
from hotline_audit.config import load_settings  # noqa: E402
from hotline_audit.discovery import run_discovery  # noqa: E402
from hotline_audit.simweb_process import simweb_process  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=344)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    portals = build_population(args.seed, args.count)
    # The registry as auditors get it: some rows name only the city portal, WeChat-only hotlines
    # their H5 site.
    hotlines = registry_hotlines(portals)
    with tempfile.TemporaryDirectory() as tmp, simweb_process(args.seed, args.count) as proxy:
        settings = load_settings(None, proxy=proxy, out=Path(tmp), db=f"sqlite:///{tmp}/b.db")
        with TreeRss(simweb_pids()) as rss:
            t0 = time.perf_counter()
            found = run_discovery(hotlines, settings, Path(tmp))
            wall = time.perf_counter() - t0
        items = [json.loads(line) for line in (Path(tmp) / "discovery.jsonl").read_text().splitlines()]
    pages = [i for i in items if i["type"] == "page"]
    rendered = [i for i in pages if i["rendered"]]
    channels = sum(len(v) for v in found.channels.values())
    print(f"{args.count} hotlines ({sum(1 for h in hotlines if h.website or h.h5 or h.gov_portal)} to crawl), 2 cores")
    print(f"wall {wall:.1f} s · peak RSS {rss.peak / 2**20:.0f} MiB (crawler + Chromium)")
    print(f"pages {len(pages)} · {len(pages) / wall:.1f} pages/s · channels {channels}")
    second = [i for i in rendered if i.get("second_look")]
    print(f"rendered in a browser: {len(rendered)} pages ({len(rendered) / max(1, len(pages)):.1%}), "
          f"{len(second)} of them entry pages rendered for a second look (no submit/track in the HTML)")
    for i in rendered[:8]:
        print("  rendered:", i["url"])
    print_accuracy(portals, found.channels)


def print_accuracy(portals: list, channels: dict) -> None:
    """Recall and precision per channel kind, and the first misses of each kind."""
    score = score_channels(portals, channels)
    print(score.table())
    for kind in CHANNEL_KINDS:
        for miss in score.misses[kind][:3]:
            print("  miss:", kind, *miss)


if __name__ == "__main__":
    main()
