"""Time report generation for a full round (target ≤ 30 s) and one evidence pack (≤ 10 s).

    .venv/bin/python bench/reports.py                      # 344 simulated hotlines, stored first
    .venv/bin/python bench/reports.py --db sqlite:///demo-runs/hotline-audit.db --round demo --out demo-runs

Without --db the round is simweb's gold verdicts for 344 hotlines, stored in a temporary
SQLite store with what a real round keeps per hotline: a homepage screenshot (1280x800 PNG),
20 probes, a DOM snapshot and screenshots of the submission, channels. Report generation is
everything `hotline-audit report` does: load the round, verdicts.csv, channels.csv, scores,
the workbook and the HTML report.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw  # noqa: E402

from fixtures.gold_round import gold_round  # noqa: E402
from hotline_audit.cli import write_round_outputs  # noqa: E402
from hotline_audit.model import EvidenceFile  # noqa: E402
from hotline_audit.store import HotlineResult, Store  # noqa: E402
from reports.evidence import build_pack, verify_pack  # noqa: E402
from reports.outputs import score_stored, write_score_outputs  # noqa: E402


def screenshot(seed: int) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (1280, 800), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 1280, 90), fill=(155, 28, 28))
    for y in range(120, 780, 28):
        d.rectangle((40, y, 40 + rng.randint(200, 1100), y + 12), fill=(rng.randint(60, 200),) * 3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def store_round(tmp: Path) -> tuple[Store, str, Path]:
    data = gold_round()
    store = Store(f"sqlite:///{tmp / 'bench.db'}")
    round_dir = tmp / "runs" / data.round
    run_id = store.begin_round(data.round, data.hotlines, tool_version="bench", config_hash="0" * 64,
                               settings={}, registry="gold", proxy=None)
    verdicts = {}
    for v in data.verdicts:
        verdicts.setdefault(v.hotline_id, []).append(v)
    channels = {}
    for c in data.channels:
        channels.setdefault(c.hotline_id, []).append(c)
    when = datetime(2026, 11, 23, tzinfo=UTC)
    for i, h in enumerate(data.hotlines):
        result = HotlineResult(hotline_id=h.hotline_id, channels=channels.get(h.hotline_id, []))
        if h.website:
            files = {"stability/homepage.png": screenshot(i),
                     "effectiveness/01-form.png": screenshot(i + 10_000),
                     "effectiveness/02-receipt.html": ("<html><body>" + "<p>受理编号 NJ2026001 办理中</p>" * 800
                                                       + "</body></html>").encode()}
            for rel, body in files.items():
                path = round_dir / "evidence" / h.hotline_id / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                result.evidence.append(EvidenceFile(
                    hotline_id=h.hotline_id, check=rel.split("/")[0], path=path.relative_to(round_dir).as_posix(),
                    sha256=hashlib.sha256(body).hexdigest(), bytes=len(body),
                    media_type="image/png" if rel.endswith(".png") else "text/html"))
            result.observations["stability"] = {"probes": [
                {"started_at": (when + timedelta(seconds=k)).isoformat(), "elapsed_ms": 40.0 + k, "status": 200,
                 "ok": True, "bytes": 20_000} for k in range(20)],
                "page_load": {"title": h.name, "status": 200, "navigations": [200], "console_errors": [],
                              "failed_requests": [], "screenshot": f"evidence/{h.hotline_id}/stability/homepage.png"}}
        for v in verdicts.get(h.hotline_id, []):
            v.evidence = [e.path for e in result.evidence if e.check == v.check]
        result.verdicts = verdicts.get(h.hotline_id, [])
        store.save_hotline(run_id, result)
    store.finish_round(run_id, "finished")
    return store, data.round, round_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db")
    ap.add_argument("--round")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            store, name = Store(args.db), args.round
            round_dir = (args.out or Path("runs")) / name
        else:
            t0 = time.perf_counter()
            store, name, round_dir = store_round(Path(tmp))
            print(f"stored a 344-hotline round in {time.perf_counter() - t0:.1f} s (setup, not timed)")
        t0 = time.perf_counter()
        data = store.load_round(name)
        assert data is not None, f"no round {name}"
        paths = write_round_outputs(store, name, round_dir)
        paths.update(write_score_outputs(data, round_dir, store=store))
        report_s = time.perf_counter() - t0
        sizes = ", ".join(f"{k} {p.stat().st_size / 1024:.0f} KiB" for k, p in paths.items())
        print(f"report generation for {len(data.hotlines)} hotlines: {report_s:.2f} s (target ≤ 30 s)  [{sizes}]")
        hotline = next(e.hotline_id for e in data.evidence) if data.evidence else data.hotlines[0].hotline_id
        t0 = time.perf_counter()
        blob = build_pack(data, round_dir, hotline, score_stored(data, store=store))
        pack = Path(tmp) / "pack.zip"
        pack.write_bytes(blob)
        ok = verify_pack(pack).ok
        pack_s = time.perf_counter() - t0
        print(f"evidence pack for {hotline} (incl. scoring the round and verify): {pack_s:.2f} s, "
              f"{len(blob) / 1024:.0f} KiB, verifies: {ok} (target ≤ 10 s)")


if __name__ == "__main__":
    main()
