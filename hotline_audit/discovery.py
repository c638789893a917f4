"""Discovery as a step of a round: the Scrapy crawl runs in a child process (Twisted's reactor
starts once per process), appending findings to a JSON-lines file that this side reads.

Resuming: the crawler marks each hotline ``done`` once nothing of it is in flight. A resumed
crawl keeps the lines of done hotlines, drops the partial lines of the others and crawls only
those again, so finished hotlines are never fetched twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.known import known_channels
from crawler.results import Discovery, resolve

from .config import Settings
from .files import write_atomically
from .model import Hotline
from .politeness import state_file_for

CRAWLER_LOG = "crawler.log"  # the crawler's stderr, beside its findings


def crawl_entries(hotlines: list[Hotline]) -> list[dict[str, str]]:
    """What the crawler starts from: a known website, or else a WeChat H5 site, or else the city
    government portal."""
    return [{"hotline_id": h.hotline_id, "website": h.website or "", "h5": h.h5 or "",
             "gov_portal": h.gov_portal or ""} for h in hotlines if h.website or h.h5 or h.gov_portal]


def run_discovery(
    hotlines: list[Hotline],
    settings: Settings,
    work_dir: Path,
    on_progress: Callable[[int], None] = lambda n: None,
    resume: bool = False,
    round_name: str = "",
) -> Discovery:
    """Crawl every hotline's entry points; the registry's own URLs are always kept.
    ``on_progress`` gets the number of hotlines finished so far. The crawl's requests take
    their hosts' slots from the politeness budget every command writing to ``settings.out``
    shares, booked to ``round_name``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    entries = crawl_entries(hotlines)
    found = work_dir / "discovery.jsonl"
    finished = keep_finished(found) if resume else set()
    if not resume:
        found.unlink(missing_ok=True)
    todo_entries = [e for e in entries if e["hotline_id"] not in finished]
    todo = work_dir / "discovery-input.json"
    todo.write_text(json.dumps(todo_entries, ensure_ascii=False), encoding="utf-8")
    if todo_entries:
        _crawl(todo, found, settings, on_progress, work_dir / CRAWLER_LOG, round_name=round_name)
    on_progress(len(entries))
    items = read_items(found)
    todo_ids = {e["hotline_id"] for e in todo_entries}
    if todo_ids and not any(i.get("type") in ("page", "failure") and i.get("hotline_id") in todo_ids
                            for i in items):
        # Not one page fetched nor one failure recorded, for any hotline: the crawler itself is
        # broken. A hotline whose site fetches nothing has a failure item, its own finding.
        raise RuntimeError(f"discovery fetched nothing: the crawler recorded no page and no failure for any of "
                           f"{len(todo_ids)} hotlines{_crawler_said(work_dir / CRAWLER_LOG)}")
    discovery = resolve(items)
    for h in hotlines:  # what the registry says is a channel even when the site never answers
        have = {(c.kind, c.value) for c in discovery.channels[h.hotline_id]}
        for c in known_channels(h):
            if (c.kind, c.value) not in have:
                discovery.channels[h.hotline_id].insert(0, c)
    return discovery


def _crawl(todo: Path, found: Path, settings: Settings, on_progress: Callable[[int], None], log: Path,
           round_name: str = "") -> None:
    """Run the crawler child process; what it says (Scrapy's errors, a traceback) goes to ``log``
    for whoever needs it, not onto the auditor's screen."""
    state = state_file_for(settings.politeness, settings.out).resolve()
    cmd = [sys.executable, "-m", "crawler.run", str(todo), str(found), "--chromium", settings.browser.executable,
           "--page-budget", str(settings.discovery.page_budget), "--depth", str(settings.discovery.depth),
           "--politeness-state", str(state), "--round", round_name,
           "--politeness", settings.politeness.model_dump_json(exclude={"state_file"})]
    if settings.proxy:
        cmd += ["--proxy", settings.proxy]
    for host in settings.network.allow_hosts:
        cmd += ["--allow-host", host]
    with log.open("w", encoding="utf-8") as said:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=said, text=True)
        try:
            while proc.poll() is None:
                on_progress(len(finished_hotlines(found)))
                time.sleep(0.5)
        except BaseException:
            proc.terminate()
            proc.wait(timeout=30)
            raise
    if proc.returncode != 0:
        raise RuntimeError(f"discovery crawl failed (exit {proc.returncode}){_crawler_said(log)}")


def _crawler_said(log: Path) -> str:
    """The crawler's last words for a one-line message (a traceback's last line names the
    error), and where the rest is."""
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if line.strip()] if log.exists() else []
    if not lines:
        return "; the crawler printed nothing"
    last = lines[-1] if len(lines[-1]) <= 200 else lines[-1][:199] + "…"
    return f"; the crawler's last line: {last} (all of its output: {log})"


def read_items(path: Path) -> list[dict[str, Any]]:
    """The crawler's findings; a line cut short by a kill is skipped."""
    if not path.exists():
        return []
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return items


def finished_hotlines(path: Path) -> set[str]:
    if not path.exists():
        return set()
    done = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith('{"type": "done"'):
                try:
                    done.add(json.loads(line)["hotline_id"])
                except (json.JSONDecodeError, KeyError):
                    continue
    return done


def keep_finished(path: Path) -> set[str]:
    """Rewrite the findings file with only the hotlines the crawler finished; returns them."""
    done = finished_hotlines(path)
    kept = [json.dumps(i, ensure_ascii=False) + "\n" for i in read_items(path) if i.get("hotline_id") in done]
    if path.exists():
        write_atomically(path, "".join(kept).encode("utf-8"))
    return done


def with_discovered_websites(hotlines: list[Hotline], discovery: Discovery) -> list[Hotline]:
    """Hotlines whose website the registry did not know get the one discovery found (on the
    city government portal), so the checks test it."""
    out = []
    for h in hotlines:
        if not h.website:
            site = next((c.value for c in discovery.channels.get(h.hotline_id, []) if c.kind == "website"), None)
            if site:
                h = h.model_copy(update={"website": site})
        out.append(h)
    return out
