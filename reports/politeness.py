"""How politely a round asked each site, and which sites throttled it (issue 18): the round's
politeness.csv and politeness.json, the report's 礼貌访问 section and workbook sheet, and the
command line's closing lines.

The shared budget (hotline_audit/politeness.py) keeps a request log in a SQLite state file
beside the rounds. ``read_summary`` turns a round's part of it into a ``PolitenessSummary``;
``write_summary`` saves that into the round folder as politeness.json (and .csv), and the
report and workbook written into the same folder read it from there (``load_summary``). The
round folder then carries its own record: a report rewritten later, or on another machine
without the state file, still shows what the round did.
"""

from __future__ import annotations

import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from rich.markup import escape

from hotline_audit.files import csv_bytes, write_atomically
from hotline_audit.model import VERDICT_LABELS_ZH, Verdict, VerdictStatus
from hotline_audit.politeness import (
    THROTTLE_REASONS,
    Politeness,
    PolitenessSettings,
    Throttle,
    state_file_for,
)
from hotline_audit.store import RoundData

CSV_NAME = "politeness.csv"
JSON_NAME = "politeness.json"
HTML_HOSTS = 50  # a national round reaches ~1,000 hosts: the page shows the top, the CSV has all
CLI_HOSTS = 10  # lines of throttling hosts a terminal summary prints before "… N more"

# Which part of the tool sent the requests, in the auditor's words.
COMPONENTS: dict[str, tuple[str, str]] = {
    "crawl": ("渠道发现", "discovery crawl"),
    "probe": ("稳定性探测", "stability probes"),
    "browser": ("浏览器", "browser"),
}
CSV_COLUMNS = ["主机 Host", "请求数 Requests", "每分钟峰值 Peak per minute", "预算 Budget per minute",
               "被限流/拦截次数 Throttled", "首次限流时间 First throttle", "组件 Components"]


def local_time(epoch: float | None, with_date: bool = True) -> str:
    """A moment as the auditor's clock shows it: "2026-11-23 09:02:03 UTC+08:00" (the offset
    because a report travels; ``with_date=False``: "09:02:03" for the terminal that ran it)."""
    if epoch is None:
        return ""
    when = datetime.fromtimestamp(epoch).astimezone()
    if not with_date:
        return when.strftime("%H:%M:%S")
    offset = when.strftime("%z")
    zone = f" UTC{offset[:3]}:{offset[3:]}" if offset else ""
    return when.strftime("%Y-%m-%d %H:%M:%S") + zone


def components_text(components: Iterable[str]) -> str:
    return "、".join(f"{COMPONENTS[c][0]} {c}" if c in COMPONENTS else c for c in components)


class ThrottleRow(BaseModel):
    """One throttling answer, as politeness.json keeps it."""

    host: str
    at: float  # epoch seconds
    at_local: str
    kind: str
    kind_zh: str
    kind_en: str
    status: int | None
    retry_after_s: float | None
    waited_s: float
    component: str
    hotline_id: str
    url: str

    def answer(self) -> str:
        """What the site answered: "HTTP 429, Retry-After 5 s" or "block page"."""
        said = f"HTTP {self.status}" if self.status else "拦截页 block page"
        if self.retry_after_s is not None:
            said += f", Retry-After {self.retry_after_s:g} s"
        return said


class HostRow(BaseModel):
    """One host: how hard we asked it and what it answered."""

    host: str
    requests: int
    peak_per_minute: int
    budget_per_minute: int
    throttles: int
    first_throttle: float | None  # epoch seconds
    first_throttle_local: str
    first_answer: str  # the first throttling answer: "HTTP 429, Retry-After 5 s"
    components: list[str]


class PolitenessSummary(BaseModel):
    """A round's politeness, read once from the state file and then kept in the round folder."""

    round: str
    state_file: str
    read_at_local: str
    budget: PolitenessSettings
    hosts: list[HostRow]  # hosts that throttled us first, then by requests
    throttles: list[ThrottleRow]  # oldest first

    @property
    def throttling_hosts(self) -> list[HostRow]:
        return [h for h in self.hosts if h.throttles]

    @property
    def requests(self) -> int:
        return sum(h.requests for h in self.hosts)


def round_budget(settings: dict | None) -> PolitenessSettings:
    """The politeness settings the round ran with (defaults for a round stored without them)."""
    try:
        return PolitenessSettings.model_validate((settings or {}).get("politeness") or {})
    except ValidationError:  # settings edited by hand: the defaults say at least what was meant
        return PolitenessSettings()


def state_file_of(data: RoundData, round_dir: Path) -> Path:
    """The state file the round booked to: its ``politeness.state_file`` setting, else the
    politeness.sqlite of the output folder holding the round folder."""
    return state_file_for(round_budget(data.settings), round_dir.parent)


def _row(t: Throttle, redact: Callable[[str], str]) -> ThrottleRow:
    zh, en = THROTTLE_REASONS.get(t.kind, (t.kind, t.kind))
    return ThrottleRow(host=t.host, at=t.at, at_local=local_time(t.at), kind=t.kind, kind_zh=zh, kind_en=en,
                       status=t.status, retry_after_s=t.retry_after_s, waited_s=t.waited_s,
                       component=t.component, hotline_id=t.hotline_id, url=redact(t.url))


def read_throttles(state_file: Path, round_name: str, since: float = 0.0) -> list[Throttle] | None:
    """The throttling answers booked to ``round_name`` since ``since`` (epoch seconds), oldest
    first; None when there is no readable state file (nothing was asked, or it is elsewhere)."""
    if not state_file.is_file():
        return None
    try:
        log = Politeness(state_file, round_name=round_name)
        try:
            return [t for t in log.round_throttles(round_name) if t.at >= since]
        finally:
            log.close()
    except sqlite3.Error as exc:
        warnings.warn(f"politeness: cannot read {state_file} ({exc})", stacklevel=2)
        return None


def host_order(row: HostRow) -> tuple:
    """Hosts that throttled us first (most often first), then by requests made, then by name."""
    return (row.throttles == 0, -row.throttles, -row.requests, row.host)


def read_summary(state_file: Path, round_name: str, budget: PolitenessSettings | None = None,
                 redact: Callable[[str], str] = str) -> PolitenessSummary | None:
    """The round's requests and throttling answers in ``state_file``; None when there is no such
    file (a round from before issue 18) or it holds nothing of the round. ``redact`` cleans the
    URLs kept (a form's GET query can carry the persona)."""
    if not state_file.is_file():  # opening it would create an empty budget: never for a report
        return None
    budget = budget or PolitenessSettings()
    try:
        log = Politeness(state_file, budget, round_name)
        try:
            stats = log.host_stats(round_name)
            throttles = log.round_throttles(round_name)
        finally:
            log.close()
    except sqlite3.Error as exc:  # a damaged or foreign file: the report goes on without the section
        warnings.warn(f"politeness: cannot read {state_file} ({exc}); the report has no politeness section",
                      stacklevel=2)
        return None
    if not stats and not throttles:
        return None
    rows = [_row(t, redact) for t in throttles]
    first: dict[str, ThrottleRow] = {}
    for r in rows:
        first.setdefault(r.host, r)
    hosts = [HostRow(host=s.host, requests=s.requests, peak_per_minute=s.peak_per_minute,
                     budget_per_minute=budget.per_minute, throttles=s.throttles, first_throttle=s.first_throttle,
                     first_throttle_local=local_time(s.first_throttle),
                     first_answer=first[s.host].answer() if s.host in first else "",
                     components=[c for c in s.components.split(",") if c]) for s in stats]
    return PolitenessSummary(round=round_name, state_file=str(state_file), read_at_local=local_time(time.time()),
                             budget=budget, hosts=sorted(hosts, key=host_order), throttles=rows)


def csv_rows(summary: PolitenessSummary) -> list[dict[str, Any]]:
    return [{
        "主机 Host": h.host, "请求数 Requests": h.requests, "每分钟峰值 Peak per minute": h.peak_per_minute,
        "预算 Budget per minute": h.budget_per_minute, "被限流/拦截次数 Throttled": h.throttles,
        "首次限流时间 First throttle": h.first_throttle_local, "组件 Components": components_text(h.components),
    } for h in summary.hosts]


def write_summary(summary: PolitenessSummary, round_dir: Path) -> dict[str, Path]:
    """politeness.csv (one row per host, for Excel) and politeness.json (everything, and what
    the report reads) in the round folder."""
    csv_path, json_path = round_dir / CSV_NAME, round_dir / JSON_NAME
    write_atomically(csv_path, csv_bytes(csv_rows(summary), CSV_COLUMNS))
    write_atomically(json_path, summary.model_dump_json(indent=1).encode("utf-8"))
    return {"politeness_csv": csv_path, "politeness_json": json_path}


def load_summary(round_dir: Path) -> PolitenessSummary | None:
    """The round folder's politeness.json; None when it has none (or it no longer reads)."""
    path = round_dir / JSON_NAME
    if not path.is_file():
        return None
    try:
        return PolitenessSummary.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError, OSError) as exc:
        warnings.warn(f"politeness: {path} does not read ({type(exc).__name__}); the report has no "
                      "politeness section", stacklevel=2)
        return None


# -- what the report shows ---------------------------------------------------------------------


def throttled_verdicts(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """Verdicts left to a person because a site throttled us (reason_code rate_limited or
    waf_blocked), in hotline and check order."""
    found = [v for v in verdicts if v.verdict == VerdictStatus.needs_review
             and str(v.metrics.get("reason_code") or "") in THROTTLE_REASONS]
    return sorted(found, key=lambda v: (v.hotline_id, v.check))


def budget_line(budget: PolitenessSettings) -> tuple[str, str]:
    """(Chinese, English) one sentence on the budget each host got and who we said we are."""
    contact = budget.contact.strip()
    zh = (f"每个主机：每分钟最多 {budget.per_minute} 次页面级请求，同时最多 {budget.in_flight} 个，"
          f"两次请求至少间隔 {budget.min_interval_s:g} 秒（另加最多 {budget.jitter:.0%} 随机）；"
          f"遇限流或拦截则按 Retry-After 或退避等待（首次 {budget.backoff_s:g} 秒起），该主机随后减速。"
          + (f"User-Agent 中的联系方式：{contact}" if contact else "User-Agent 中未设置联系方式（显示本项目主页）"))
    en = (f"Per host: at most {budget.per_minute} page-level requests a minute, {budget.in_flight} at once, "
          f"{budget.min_interval_s:g} s apart at least (plus up to {budget.jitter:.0%} at random); a throttling "
          f"answer makes us wait its Retry-After or a back-off (from {budget.backoff_s:g} s) and slow down. "
          + (f"User-Agent contact: {contact}" if contact else "No contact set in the User-Agent (the project's page)"))
    return zh, en


def report_section(data: RoundData, summary: PolitenessSummary | None, cap: int = HTML_HOSTS) -> dict | None:
    """What the report's 礼貌访问 section shows, or None when there is nothing to show (a round
    from before the budget: no summary and no verdict a throttle decided)."""
    blocked = throttled_verdicts(data.verdicts)
    if summary is None and not blocked:
        return None
    budget = summary.budget if summary is not None else round_budget(data.settings)
    names = {h.hotline_id: h.name for h in data.hotlines}
    hosts = summary.hosts if summary is not None else []
    zh, en = budget_line(budget)
    return {
        "budget_zh": zh, "budget_en": en,
        "has_log": summary is not None,
        "host_count": len(hosts), "requests": sum(h.requests for h in hosts),
        "throttling_hosts": sum(1 for h in hosts if h.throttles),
        "throttles": sum(h.throttles for h in hosts),
        "hosts": [{**h.model_dump(), "components_text": components_text(h.components)} for h in hosts[:cap]],
        "more": max(0, len(hosts) - cap), "csv": CSV_NAME,
        "blocked": [{
            "hotline_id": v.hotline_id, "name": names.get(v.hotline_id, ""), "check": v.check,
            "code": str(v.metrics.get("reason_code")),
            "code_zh": THROTTLE_REASONS[str(v.metrics.get("reason_code"))][0],
            "would_be": str(v.metrics.get("would_be") or ""),
            "would_be_zh": VERDICT_LABELS_ZH.get(str(v.metrics.get("would_be") or ""), ""),
            "reason": v.reason, "reason_en": v.reason_en,
        } for v in blocked],
    }


# -- what the command line prints at the end of a round ----------------------------------------


def throttle_lines(throttles: Sequence[ThrottleRow | Throttle], more_hint: str = CSV_NAME,
                   limit: int = CLI_HOSTS) -> list[str]:
    """Rich-markup lines (site text escaped): one per host that throttled us, busiest first,
    ``limit`` at most then "… N more", or one line saying no site did."""
    if not throttles:
        return ["限流/拦截 throttled us: 无 none — no site throttled us"]
    by_host: dict[str, list] = {}
    for t in sorted(throttles, key=lambda t: t.at):
        by_host.setdefault(t.host, []).append(t)
    ranked = sorted(by_host.items(), key=lambda kv: (-len(kv[1]), kv[1][0].at, kv[0]))
    lines = []
    for host, seen in ranked[:limit]:
        first = seen[0] if isinstance(seen[0], ThrottleRow) else _row(seen[0], str)
        lines.append(f"[yellow]限流/拦截 throttled us:[/] {escape(host or '?')} {len(seen)}× "
                     f"(first {local_time(first.at, with_date=False)}, {escape(first.answer())}; {first.kind})")
    if len(ranked) > limit:
        lines.append(f"  … {len(ranked) - limit} more, see {escape(more_hint)}")
    return lines


def verdict_line(verdicts: Iterable[Verdict]) -> str | None:
    """"N verdicts left to a person" when throttling decided any; None otherwise."""
    blocked = throttled_verdicts(verdicts)
    if not blocked:
        return None
    codes = sorted({str(v.metrics.get("reason_code")) for v in blocked})
    return (f"  {len(blocked)} 条结论因限流/拦截待人工复核 verdicts are needs_review "
            f"({', '.join(codes)}), never a problem verdict: see the report's 礼貌访问 Politeness section")


def summary_lines(summary: PolitenessSummary | None, verdicts: Iterable[Verdict] = (),
                  more_hint: str = CSV_NAME) -> list[str]:
    """The closing lines of a round: throttling hosts (or none), then the verdicts they turned
    into needs_review. Nothing for a round without a request log."""
    if summary is None:
        return []
    lines = throttle_lines(summary.throttles, more_hint)
    extra = verdict_line(verdicts)
    return [*lines, extra] if extra else lines
