"""Shared by the bench scripts: peak memory of a process tree."""

from __future__ import annotations

import os
import threading


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
