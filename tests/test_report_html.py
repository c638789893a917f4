"""The scored HTML report: scores and rates beside the 2021 report, group tables, charts and a
section per hotline; hostile text stays text, persona data never appears, CJK is not tofu."""

import asyncio
import re
from html.parser import HTMLParser

import openpyxl
import pytest
from playwright.async_api import async_playwright

from fixtures.gold_round import gold_round
from fixtures.simweb import build_population, population_rates
from hotline_audit.config import CHROMIUM_ARGS, BrowserSettings
from reports.html import render_report
from reports.outputs import write_score_outputs

from .report_fixtures import PERSONA, stored_round

PERSONA_VALUES = (PERSONA.phone, PERSONA.name, PERSONA.id_number, PERSONA.email)


class Cells(HTMLParser):
    """Text of every cell of the table with id ``table_id``, row by row."""

    def __init__(self, table_id):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table(html, table_id):
    p = Cells(table_id)
    p.feed(html)
    return p.rows


def test_outputs_escape_page_text_and_never_leak_the_persona(tmp_path):
    store, data, round_dir = stored_round(tmp_path)
    paths = write_score_outputs(data, round_dir, store=store)
    html = paths["report"].read_text(encoding="utf-8")
    assert "<script>window.pwned" not in html and 'onerror="window' not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<link" not in html  # offline: no CDN
    assert 'id="h-nj"' in html and "evidence/nj/stability/homepage.png" in html
    texts = {name: p.read_text(encoding="utf-8") for name, p in paths.items() if name != "workbook"}
    wb = openpyxl.load_workbook(paths["workbook"])
    texts["workbook"] = "\n".join(str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value)
    for name, text in texts.items():
        for value in PERSONA_VALUES:
            assert value not in text, f"{name} leaks {value}"
        if name != "scores_csv":  # the only output without reasons
            assert "[手机号]" in text, name  # the reason was redacted, not dropped


def test_report_tables(tmp_path):
    store, data, round_dir = stored_round(tmp_path)
    html = write_score_outputs(data, round_dir, store=store)["report"].read_text(encoding="utf-8")
    rates = {r[0].split()[-1]: r for r in table(html, "rates-table")[1:]}
    # nj: findability ok, sz: nowhere; effectiveness: nj no_reply, sz needs_review (undetermined)
    assert rates["nowhere_to_search"][2:5] == ["1", "2", "50.00%"]
    assert rates["no_reply"][2:5] == ["1", "1", "100.00%"] and rates["no_reply"][-1] == "1"
    assert rates["cannot_submit"][-1] == "1"
    assert rates["no_reply"][5] == "21.51%"  # the 2021 report beside ours
    provinces = table(html, "group-province")[1:]
    assert sorted(r[0] for r in provinces) == ["江苏省", "西藏自治区"]
    assert sum(int(r[1]) for r in provinces) == 3
    ranking = table(html, "ranking-table")[1:]
    assert [r[0] for r in ranking] == ["1", "2", "–"]  # nj 60/100/40 → 66.67; sz 100/0 → 50
    assert ranking[0][1].startswith("南京12345<script>")  # text, shown as text
    assert html.count("<svg") >= 6


def test_gold_report_shows_simweb_rates():
    html = render_report(gold_round())
    rows = {r[0].split()[-1]: r for r in table(html, "rates-table")[1:]}
    for e in population_rates(build_population()):
        row = rows[e["problem"]]
        assert row[2:5] == [str(e["count"]), str(e["of"]), f"{e['rate'] * 100:.2f}%"]
    assert len(table(html, "ranking-table")) == 345
    for key in ("province", "tier", "merge_mode"):
        assert sum(int(r[1]) for r in table(html, f"group-{key}")[1:]) == 344


@pytest.mark.browser
def test_report_renders_in_chromium_with_cjk_fonts_and_no_script_from_data(tmp_path):
    store, data, round_dir = stored_round(tmp_path)
    path = write_score_outputs(data, round_dir, store=store)["report"]

    async def open_report():
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=BrowserSettings().executable, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            await page.goto(path.as_uri())
            await page.wait_for_load_state("load")
            safe = await page.evaluate("() => window.pwned === undefined")
            text = await page.evaluate("() => document.body.innerText")
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("DOM.enable")
            await cdp.send("CSS.enable")
            root = (await cdp.send("DOM.getDocument"))["root"]["nodeId"]
            fonts = {}
            for sel in ("header h1", "#summary", "#rates-table td", "svg.chart text", "#ranking-table td a"):
                node = (await cdp.send("DOM.querySelector", {"nodeId": root, "selector": sel}))["nodeId"]
                used = await cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})
                fonts[sel] = used["fonts"]
            # The CJK font is installed: its ideographs are all one em wide.
            widths = await page.evaluate("""() => ['一', '龘'].map(s => {
                const c = document.createElement('canvas').getContext('2d');
                c.font = '16px "Noto Sans CJK SC"'; return c.measureText(s).width; })""")
            # Sorting and filtering work.
            await page.select_option("select[data-attr=province]", "西藏自治区")
            visible = await page.locator("#ranking-table tbody tr:visible").count()
            await page.goto(path.as_uri() + "#h-sz")
            opened = await page.evaluate("() => document.getElementById('h-sz').open")
            await browser.close()
            return safe, text, fonts, widths, visible, opened, requests

    safe, text, fonts, widths, visible, opened, requests = asyncio.run(open_report())
    assert safe
    assert "南京12345<script>window.pwned=1</script>" in text
    assert "系统稳定性" in text and "无处查" in text and "2021年报告" in text
    for sel, used in fonts.items():
        names = [f["familyName"] for f in used]
        assert any("CJK" in n for n in names), f"{sel}: rendered with {names} (tofu?)"
        assert all(f["glyphCount"] > 0 for f in used)
    assert widths == pytest.approx([16, 16], abs=0.01)
    assert visible == 1 and opened
    assert all(u.startswith("file://") for u in requests), requests  # offline: nothing fetched


def test_compare_shows_round_to_round_changes(tmp_path):
    from hotline_audit.review import record

    store, before, _ = stored_round(tmp_path, "r0")
    store, data, round_dir = stored_round(tmp_path, "r1")
    record(store, "r0", "nj", "effectiveness", "solved", reason="上一轮已解决", by="t")
    html = write_score_outputs(data, round_dir, store=store, compare=store.load_round("r0"))["report"].read_text(
        encoding="utf-8")
    rows = table(html, "compare-table")[1:]
    assert len(rows) == 1 and rows[0][0].startswith("南京12345<script>")
    assert rows[0][2:5] == ["86.67", "66.67", "-20.00"] and "已解决 → 无回应" in rows[0][5]
