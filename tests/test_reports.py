"""Round outputs: CSV columns of the contract, and a report where page text stays text."""

import asyncio
import csv
from datetime import UTC, datetime

import pytest
from playwright.async_api import async_playwright

from hotline_audit.config import CHROMIUM_ARGS, BrowserSettings
from hotline_audit.files import csv_bytes, read_csv
from hotline_audit.model import Channel, Hotline, Verdict
from hotline_audit.store import RoundData
from reports.html import write_report
from reports.tables import write_channels_csv, write_verdicts_csv

HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def round_data():
    now = datetime(2026, 11, 23, tzinfo=UTC)
    hotlines = [
        Hotline(hotline_id="nj", name=f"南京12345{HOSTILE}", province="江苏省", city="南京",
                website="http://www.nj12345.gov.cn.test/"),
        Hotline(hotline_id="sz", name="苏州12345", province="江苏省", city="苏州"),
    ]
    verdicts = [
        Verdict(hotline_id="nj", check="stability", verdict="degraded", reason=f"页面乱码 {HOSTILE}",
                reason_en="garbled", confidence=1.0, rule="r", evidence=["evidence/nj/stability/homepage.png"],
                metrics={"median_probe_ms": 12.0, "load_ms": 240.0, "failures": 0, "attempts": 21}),
    ]
    observations = {("nj", "stability"): {"page_load": {"title": HOSTILE, "status": 200, "navigations": [200],
                                                        "console_errors": [HOSTILE], "failed_requests": []},
                                          "probes": []}}
    return RoundData(round="r1", status="interrupted", started_at=now, finished_at=now, tool_version="t",
                     config_hash="abc", settings={}, proxy=None, hotlines=hotlines, done={"nj"},
                     channels=[Channel(hotline_id="nj", kind="website", value="http://www.nj12345.gov.cn.test/",
                                       found_on="registry")],
                     verdicts=verdicts, observations=observations, evidence=[])


def test_verdicts_and_channels_csv_follow_the_contract(tmp_path):
    data = round_data()
    with write_verdicts_csv(data, tmp_path / "verdicts.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {"hotline_id", "check", "verdict", "reason", "confidence", "evidence"} <= set(rows[0])
    assert rows[0]["verdict_zh"] == "访问异常" and rows[0]["evidence"] == "evidence/nj/stability/homepage.png"
    with write_channels_csv(data, tmp_path / "channels.csv").open(encoding="utf-8") as f:
        channels = list(csv.DictReader(f))
    assert channels == [{"hotline_id": "nj", "kind": "website", "value": "http://www.nj12345.gov.cn.test/",
                         "found_on": "registry", "element": "", "text": "", "excerpt": ""}]


@pytest.mark.parametrize("formula", ["=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\t=1", "\r=1"])
def test_text_that_a_spreadsheet_would_run_is_written_with_a_quote(tmp_path, formula):
    """OWASP's CSV-injection rule: a discovered link text or a hotline name starting with
    = + - @ TAB CR gets a leading ' in channels.csv and verdicts.csv; read_csv gives it back."""
    data = round_data()
    data.hotlines[0].name = formula
    data.channels[0].text = formula
    data.channels.append(Channel(hotline_id="nj", kind="search", value="http://www.nj12345.gov.cn.test/s",
                                 found_on="http://www.nj12345.gov.cn.test/", text=f"{formula} 搜索"))
    channels_csv = write_channels_csv(data, tmp_path / "channels.csv")
    verdicts_csv = write_verdicts_csv(data, tmp_path / "verdicts.csv")
    with channels_csv.open(encoding="utf-8", newline="") as f:
        written = list(csv.DictReader(f))
    assert [r["text"] for r in written] == ["'" + formula, f"'{formula} 搜索"]
    assert written[0]["value"] == "http://www.nj12345.gov.cn.test/"  # the rest is untouched
    with verdicts_csv.open(encoding="utf-8", newline="") as f:
        assert next(csv.DictReader(f))["name"] == "'" + formula
    assert [r["text"] for r in read_csv(channels_csv)] == [formula, f"{formula} 搜索"]
    assert read_csv(verdicts_csv)[0]["name"] == formula


def test_numbers_stay_numbers_in_csv(tmp_path):
    """Only text gets the quote: a number, or text that is just a number, is no formula."""
    text = csv_bytes([{"a": -1.5, "b": "-1.5", "c": "+3", "d": "-2e-05", "e": "-", "f": "'=x", "g": "南京"}])
    assert text.decode("utf-8").splitlines()[1] == "-1.5,-1.5,+3,-2e-05,'-,''=x,南京"
    path = tmp_path / "x.csv"
    path.write_bytes(text)
    assert read_csv(path) == [{"a": "-1.5", "b": "-1.5", "c": "+3", "d": "-2e-05", "e": "-", "f": "'=x", "g": "南京"}]


def test_a_carriage_return_inside_a_cell_keeps_the_row_whole(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes([{"a": "页面\r文字", "b": 1}, {"a": "下一行", "b": 2}]))
    assert read_csv(path) == [{"a": "页面\r文字", "b": "1"}, {"a": "下一行", "b": "2"}]


def test_report_escapes_page_text_and_marks_partial_rounds(tmp_path):
    html = write_report(round_data(), tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>window.pwned" not in html and "onerror=\"window" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "已中断" in html and "未检测" in html  # the unfinished hotline is shown as not audited
    assert '<meta charset="utf-8">' in html


@pytest.mark.browser
def test_report_renders_in_chromium_without_running_page_text(tmp_path):
    path = write_report(round_data(), tmp_path / "report.html")

    async def open_report():
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=BrowserSettings().executable, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(path.as_uri())
            result = await page.evaluate("() => [window.pwned === undefined, document.body.innerText]")
            await page.select_option("#f-verdict", "degraded")
            visible = await page.locator("#hotlines tbody tr:visible").count()
            await browser.close()
            return result, visible

    (safe, text), visible = asyncio.run(open_report())
    assert safe
    assert "南京12345<script>window.pwned=1</script>" in text  # shown to the reader as text
    assert "系统稳定性" in text
    assert visible == 1
