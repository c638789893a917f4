"""The round's politeness in its outputs (issue 18): politeness.csv/json, the report's 礼貌访问
section, the workbook's sheet and the closing lines of a round. No browser, no network: the
request log is booked straight into a state file."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from pathlib import Path

import openpyxl
import pytest

from hotline_audit.cli import write_round_outputs
from hotline_audit.config import Settings
from hotline_audit.model import Hotline, Verdict, VerdictStatus
from hotline_audit.politeness import Politeness, PolitenessSettings, Throttle
from hotline_audit.store import HotlineResult, Store
from reports.politeness import (
    CSV_NAME,
    HTML_HOSTS,
    load_summary,
    read_summary,
    read_throttles,
    throttle_lines,
    throttled_verdicts,
)

from .report_fixtures import PERSONA, hotlines, results

NJ = "http://www.nj12345.gov.cn.test/"
SZ = "http://12345.suzhou.gov.cn.test/"
QUIET = 55  # hosts that never throttled us: more than the report's page shows
HOSTILE_HOST = "evil[bold]x.gov.cn.test"  # host names come from crawled links: never markup
STORED = {"politeness": {"per_minute": 30, "in_flight": 2, "min_interval_s": 0.5,
                         "contact": "audit@example.org"}}


def book_elsewhere(state: Path, round_name: str) -> None:
    """Another round's request and throttling answer in the same shared file."""
    log = Politeness(state, PolitenessSettings(min_interval_s=0, jitter=0), round_name, "crawl")

    async def run() -> None:
        log.release(await log.acquire("http://other-round.gov.cn.test/"), 200)

    asyncio.run(run())
    log.throttled("http://other-round.gov.cn.test/", "rate_limited", 429)
    log.close()


def book(state: Path) -> None:
    """A round's request log: nj asked 6 times (probes and browser) and throttled 3 times
    (429 with Retry-After), sz asked twice and blocked once by a firewall page, and many
    quiet hosts the discovery crawl asked once or twice."""
    fast = PolitenessSettings(per_minute=10_000, min_interval_s=0, jitter=0, in_flight=8)
    log = Politeness(state, fast, "r1", "probe")

    async def ask(budget: Politeness, url: str, hotline_id: str, times: int = 1) -> None:
        for _ in range(times):
            ticket = await budget.acquire(url, hotline_id)
            budget.release(ticket, 200)

    async def run() -> None:
        await ask(log, NJ, "nj", 4)
        await ask(log.for_component("browser"), NJ + "index.html", "nj", 2)
        await ask(log.for_component("browser"), SZ, "sz", 2)
        crawl = log.for_component("crawl")
        for i in range(QUIET):
            await ask(crawl, f"http://site{i:02d}.gov.cn.test/", "ls", 2 if i == 7 else 1)

    asyncio.run(run())
    for _ in range(3):
        log.throttled(NJ + f"search?q=x&tel={PERSONA.phone}", "rate_limited", 429, 5.0, "nj")
    log.for_component("browser").throttled(SZ, "waf_blocked", None, None, "sz")
    log.close()


def stored(tmp_path: Path, name: str = "r1", settings: dict | None = None) -> tuple[Store, Path]:
    """report_fixtures' round, with sz's findability left to a person by the firewall (would
    have been nowhere_to_search) and its stored politeness settings."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    round_dir = tmp_path / "runs" / name
    run_id = store.begin_round(name, hotlines(), tool_version="0.1.0", config_hash="c" * 64,
                               settings=STORED if settings is None else settings, registry="registry.csv",
                               proxy=None)
    for r in results(round_dir):
        if r.hotline_id == "sz":
            r.verdicts = [v if v.check != "findability" else v.model_copy(update={
                "verdict": VerdictStatus.needs_review, "reason": "检测期间网站防火墙拦截了本工具, 原判断“首页无搜索入口”需人工复核",
                "reason_en": "the site's firewall blocked us", "confidence": 0.5,
                "metrics": {"reason_code": "waf_blocked", "would_be": "nowhere_to_search", "throttles": 1}})
                for v in r.verdicts]
        store.save_hotline(run_id, r)
    store.finish_round(run_id, "finished")
    return store, round_dir


@pytest.fixture
def round_with_log(tmp_path):
    book(tmp_path / "runs" / "politeness.sqlite")
    book_elsewhere(tmp_path / "runs" / "politeness.sqlite", "r0")  # another round's: not counted
    store, round_dir = stored(tmp_path)
    return write_round_outputs(store, "r1", round_dir), round_dir


def test_politeness_csv_has_a_row_per_host_throttling_hosts_first(round_with_log):
    paths, round_dir = round_with_log
    assert paths["politeness_csv"] == round_dir / CSV_NAME
    with paths["politeness_csv"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["主机 Host", "请求数 Requests", "每分钟峰值 Peak per minute", "预算 Budget per minute",
                             "被限流/拦截次数 Throttled", "首次限流时间 First throttle", "组件 Components"]
    assert len(rows) == QUIET + 2
    nj, sz, busiest = rows[0], rows[1], rows[2]
    assert (nj["主机 Host"], nj["请求数 Requests"], nj["被限流/拦截次数 Throttled"]) == ("www.nj12345.gov.cn.test", "6", "3")
    assert nj["预算 Budget per minute"] == "30"  # the round's stored settings, not the defaults
    assert nj["组件 Components"] == "浏览器 browser、稳定性探测 probe"
    assert nj["首次限流时间 First throttle"].startswith(time.strftime("%Y-")) and "UTC" in nj["首次限流时间 First throttle"]
    assert (sz["主机 Host"], sz["被限流/拦截次数 Throttled"]) == ("12345.suzhou.gov.cn.test", "1")
    # then by requests: the quiet host asked twice before those asked once; r0's bookings are not here
    assert (busiest["主机 Host"], busiest["请求数 Requests"]) == ("site07.gov.cn.test", "2")
    assert all(r["被限流/拦截次数 Throttled"] == "0" and r["首次限流时间 First throttle"] == "" for r in rows[2:])
    data = json.loads(paths["politeness_json"].read_text(encoding="utf-8"))
    assert data["round"] == "r1" and len(data["throttles"]) == 4
    assert all(PERSONA.phone not in t["url"] for t in data["throttles"])  # a GET form's query is redacted


def test_report_shows_the_budget_hosts_and_the_verdicts_throttling_decided(round_with_log):
    paths, _ = round_with_log
    html = paths["report"].read_text(encoding="utf-8")
    section = html[html.index('<h2 id="politeness">'):html.index('<h2 id="details">')]
    assert '<a href="#politeness">礼貌访问 Politeness</a>' in html
    assert "每分钟最多 30 次页面级请求，同时最多 2 个，两次请求至少间隔 0.5 秒" in section
    assert "audit@example.org" in section
    assert "本轮向 57 个主机共发出页面级请求 64 次" in section
    assert "2 个主机对本工具限流或拦截 4 次" in section
    table = section[section.index('id="politeness-table"'):section.index("</table>")]
    assert table.count("<tr") == HTML_HOSTS + 1  # capped, plus the header row
    assert table.index("www.nj12345.gov.cn.test") < table.index("12345.suzhou.gov.cn.test") < table.index("site07")
    assert "HTTP 429, Retry-After 5 s" in table and "拦截页 block page" in table
    assert "另有 7 个主机未列出" in section and CSV_NAME in section
    verdicts = section[section.index('id="politeness-verdicts"'):]
    assert "网站防火墙拦截了本工具" in verdicts and "waf_blocked" in verdicts
    assert "无处查" in verdicts and "nowhere_to_search" in verdicts  # what it would have been


def test_workbook_sheet_lists_every_host_and_throttling_answer(round_with_log):
    paths, _ = round_with_log
    wb = openpyxl.load_workbook(paths["workbook"])
    assert wb.sheetnames[-1] == "礼貌访问"
    ws = wb["礼貌访问"]
    assert "每分钟最多 30 次" in ws["A1"].value and "audit@example.org" in ws["A1"].value
    assert ws.freeze_panes == "A5" and ws.auto_filter.ref.startswith("A4:")
    rows = list(ws.iter_rows(min_row=5, values_only=True))
    hosts = rows[:QUIET + 2]  # no cap in the workbook
    assert hosts[0][:5] == ("www.nj12345.gov.cn.test", 6, hosts[0][2], 30, 3)
    assert hosts[-1][0].startswith("site") and hosts[-1][4] == 0
    rest = [r for r in rows[QUIET + 2:] if r[0]]
    assert any(r[0] == "sz" and r[3] == "waf_blocked" and r[5] == "nowhere_to_search" for r in rest)
    answers = [r for r in rest if r[1] == "www.nj12345.gov.cn.test"]
    assert len(answers) == 3 and answers[0][3] == "HTTP 429, Retry-After 5 s"
    everything = "\n".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c)
    assert PERSONA.phone not in everything


def test_a_report_rewritten_later_keeps_the_section(round_with_log, tmp_path):
    """The report command, rubric changes, rechecks: every rewrite reads the round folder's
    politeness.json, even once the state file is gone (a round folder copied elsewhere)."""
    _, round_dir = round_with_log
    (tmp_path / "runs" / "politeness.sqlite").unlink()
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    paths = write_round_outputs(store, "r1", round_dir)
    assert '<h2 id="politeness">' in paths["report"].read_text(encoding="utf-8")
    assert "礼貌访问" in openpyxl.load_workbook(paths["workbook"]).sheetnames
    assert not (tmp_path / "runs" / "politeness.sqlite").exists()  # a report never creates a budget


def test_no_state_file_no_section_no_error(tmp_path):
    """A round from before the budget: no request log, no verdict a throttle decided."""
    plain = Store(f"sqlite:///{tmp_path / 'old.db'}")
    run_id = plain.begin_round("old", hotlines(), tool_version="0.0.9", config_hash="c" * 64, settings={},
                               registry="registry.csv", proxy=None)
    plain.save_hotline(run_id, HotlineResult(hotline_id="nj", verdicts=[Verdict(
        hotline_id="nj", check="stability", verdict="ok", reason="正常", reason_en="ok", confidence=1.0)]))
    plain.finish_round(run_id, "finished")
    old_dir = tmp_path / "old-runs" / "old"
    paths = write_round_outputs(plain, "old", old_dir)
    assert "politeness_csv" not in paths and not (old_dir / CSV_NAME).exists()
    assert 'id="politeness"' not in paths["report"].read_text(encoding="utf-8")
    assert "礼貌访问" not in openpyxl.load_workbook(paths["workbook"]).sheetnames
    assert not (tmp_path / "old-runs" / "politeness.sqlite").exists()


def test_a_state_file_without_the_round_adds_no_section(tmp_path):
    """A round from before the budget reported beside newer rounds' shared log."""
    book_elsewhere(tmp_path / "runs" / "politeness.sqlite", "newer")
    store, round_dir = stored(tmp_path, settings={})
    assert read_summary(tmp_path / "runs" / "politeness.sqlite", "r1") is None
    paths = write_round_outputs(store, "r1", round_dir)
    assert load_summary(round_dir) is None
    html = paths["report"].read_text(encoding="utf-8")
    # the throttled verdict is still explained, without a host table
    assert '<h2 id="politeness">' in html and "未找到本轮的请求记录" in html and "politeness-table" not in html


def test_closing_lines_name_each_throttling_host_once_then_stop(round_with_log, tmp_path):
    _, round_dir = round_with_log
    summary = load_summary(round_dir)
    assert summary is not None
    lines = throttle_lines(summary.throttles)
    assert len(lines) == 2
    assert lines[0].startswith("[yellow]限流/拦截 throttled us:[/] www.nj12345.gov.cn.test 3× (first ")
    assert lines[0].endswith("HTTP 429, Retry-After 5 s; rate_limited)")
    assert "12345.suzhou.gov.cn.test 1×" in lines[1] and "拦截页 block page; waf_blocked" in lines[1]
    assert throttle_lines([]) == ["限流/拦截 throttled us: 无 none — no site throttled us"]
    many = Politeness(tmp_path / "many.sqlite", round_name="recheck")
    for i in range(13):
        many.throttled(f"http://h{i}.gov.cn.test/", "rate_limited", 503, 2.0)
    many.throttled("http://h12.gov.cn.test/", "waf_blocked", 403)
    capped = throttle_lines(read_throttles(tmp_path / "many.sqlite", "recheck") or [], more_hint="runs/r1/politeness.csv")
    assert len(capped) == 11 and capped[-1] == "  … 3 more, see runs/r1/politeness.csv"
    assert "h12.gov.cn.test 2×" in capped[0]  # the host that throttled us most comes first
    assert read_throttles(tmp_path / "many.sqlite", "recheck", since=time.time() + 1) == []
    assert read_throttles(tmp_path / "absent.sqlite", "recheck") is None
    # host_of() would not even give such a name; the lines escape whatever the log holds
    odd = Throttle(host=HOSTILE_HOST, at=time.time(), kind="waf_blocked", status=None, url="", component="probe",
                   hotline_id="", retry_after_s=None, waited_s=10.0)
    assert "evil\\[bold]x.gov.cn.test 1×" in throttle_lines([odd])[0]


def test_round_summary_prints_the_throttling_hosts(tmp_path, monkeypatch, capsys):
    """run_audit's closing lines, with the round itself faked (no browser): one line per host
    that throttled us, and the verdicts that became needs_review because of it."""
    from hotline_audit import audit as rounds
    from hotline_audit.audit import RoundPlan
    from hotline_audit.cli import run_audit

    settings = Settings(out=tmp_path / "runs", db=f"sqlite:///{tmp_path / 'store.db'}")
    plan = RoundPlan(round_name="r1", hotlines=[Hotline(hotline_id="nj", name="南京12345", province="江苏省",
                                                        city="南京", website=NJ)],
                     settings=settings, registry="registry.csv")

    async def fake_round(plan, store, run_id, on_done):
        log = Politeness(settings.out / "politeness.sqlite", round_name="r1", component="probe")
        ticket = await log.acquire(NJ, "nj")
        log.release(ticket, 429, "rate_limited")
        log.throttled(NJ, "rate_limited", 429, 5.0, "nj")
        result = HotlineResult(hotline_id="nj", verdicts=[Verdict(
            hotline_id="nj", check="stability", verdict="needs_review", reason="网站对本工具限流", reason_en="rate-limited",
            confidence=0.5, metrics={"reason_code": "rate_limited", "would_be": "down"})])
        store.save_hotline(run_id, result)
        on_done(plan.hotlines[0], result)

    monkeypatch.setattr(rounds, "run_round", fake_round)
    assert run_audit(plan, discover_first=False) == 0
    printed = capsys.readouterr().out
    assert "Report:" in printed
    assert "限流/拦截 throttled us: www.nj12345.gov.cn.test 1× (first " in printed
    assert "HTTP 429, Retry-After 5 s; rate_limited)" in printed
    assert "1 条结论因限流/拦截待人工复核" in printed
    assert throttled_verdicts(Store(settings.db).load_round("r1").verdicts)[0].metrics["would_be"] == "down"
    assert (settings.out / "r1" / CSV_NAME).is_file()
