"""Shared by the bench scripts: peak memory of a process tree, discovery's channels (cached)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from hotline_audit.config import Settings
from hotline_audit.discovery import run_discovery, with_discovered_websites
from hotline_audit.model import Channel, Hotline


def discover(hotlines: list[Hotline], settings: Settings, out: Path, cache: Path | None
             ) -> tuple[list[Hotline], dict[str, list[Channel]], float]:
    """The hotlines (with the websites discovery found), discovery's channels per hotline and
    the seconds it took: 0 when read from ``cache`` (the crawl is not what a journey bench
    measures; a missing cache file is written)."""
    if cache and cache.exists():
        raw = json.loads(cache.read_text())
        channels = {h: [Channel(**c) for c in cs] for h, cs in raw.items()}
        took = 0.0
    else:
        t0 = time.perf_counter()
        channels = dict(run_discovery(hotlines, settings, out / "discovery").channels)
        took = time.perf_counter() - t0
        if cache:
            cache.write_text(json.dumps({h: [c.model_dump(mode="json") for c in cs] for h, cs in channels.items()}))
    found = SimpleNamespace(channels=channels)  # only its channels are read
    return with_discovered_websites(hotlines, found), channels, took  # type: ignore[arg-type]


class TreeRss:
    """Peak resident memory of this process and its descendants, sampled every 100 ms."""

    def __init__(self, exclude: set[int] | None = None) -> None:
        self.exclude, self.peak, self._stop = exclude or set(), 0, threading.Event()

    def __enter__(self) -> TreeRss:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.sample())

    def sample(self) -> int:
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
                rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
        tree, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            pid = frontier.pop()
            for child, parent in parents.items():
                if parent == pid and child not in tree and child not in self.exclude:
                    tree.add(child)
                    frontier.append(child)
        return sum(rss.get(pid, 0) for pid in tree)


def simweb_pids() -> set[int]:
    """Processes serving simweb, which a bench should not count as its own memory."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"simweb\x00serve" in f.read():
                        pids.add(int(entry))
            except OSError:
                continue
    return pids
