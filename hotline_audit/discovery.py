"""Discovery as a step of a round: the Scrapy crawl runs in a child process (Twisted's reactor
starts once per process), streaming findings to a JSON-lines file that this side reads."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from crawler.known import known_channels
from crawler.results import Discovery, resolve

from .config import Settings
from .model import Hotline


def run_discovery(
    hotlines: list[Hotline],
    settings: Settings,
    work_dir: Path,
    on_progress: Callable[[int], None] = lambda n: None,
    resume: bool = False,
) -> Discovery:
    """Crawl every hotline's entry points; the registry's own URLs are always kept."""
    work_dir.mkdir(parents=True, exist_ok=True)
    entries = [{"hotline_id": h.hotline_id, "website": h.website or ""} for h in hotlines if h.website]
    todo = work_dir / "discovery-input.json"
    found = work_dir / "discovery.jsonl"
    todo.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    cmd = [sys.executable, "-m", "crawler.run", str(todo), str(found), "--chromium", settings.browser.executable,
           "--page-budget", str(settings.discovery.page_budget), "--depth", str(settings.discovery.depth)]
    if settings.proxy:
        cmd += ["--proxy", settings.proxy]
    if resume:
        cmd += ["--jobdir", str(work_dir / "discovery-job")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None:
            on_progress(_hotlines_seen(found))
            time.sleep(0.5)
    except BaseException:
        proc.terminate()
        proc.wait(timeout=30)
        raise
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"discovery crawl failed (exit {proc.returncode}): {stderr.strip()[-500:]}")
    on_progress(len(entries))
    items = [json.loads(line) for line in found.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if found.exists() else []
    if entries and not any(i.get("type") in ("page", "failure") for i in items):
        # Not one page fetched nor one failure recorded: the crawler itself is broken.
        raise RuntimeError(f"discovery fetched nothing; crawler output: {stderr.strip()[-800:] or 'none'}")
    discovery = resolve(items)
    for h in hotlines:  # what the registry says is a channel even when the site never answers
        have = {(c.kind, c.value) for c in discovery.channels[h.hotline_id]}
        for c in known_channels(h):
            if (c.kind, c.value) not in have:
                discovery.channels[h.hotline_id].insert(0, c)
    return discovery


def _hotlines_seen(path: Path) -> int:
    if not path.exists():
        return 0
    seen = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            i = line.find('"hotline_id": "')
            if i >= 0:
                seen.add(line[i + 15: line.find('"', i + 15)])
    return len(seen)
