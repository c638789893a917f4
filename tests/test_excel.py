"""The workbook and the machine-readable scores: sheets, headers, filters, hostile cells."""

import csv
import json

import openpyxl

from hotline_audit.ledger import Ledger, persona_key
from hotline_audit.scenarios import load_scenarios
from reports.excel import build_workbook, text_width
from reports.outputs import score_stored, write_score_outputs
from reports.redaction import Redactor

from .report_fixtures import PERSONA, stored_round

FORMULA = '=HYPERLINK("http://evil.test","点我")'


def test_workbook_sheets_headers_and_hostile_cells(tmp_path):
    store, data, round_dir = stored_round(tmp_path)
    data.channels[0].text = FORMULA  # a page's text that looks like a formula
    ledger = Ledger(store)
    ledger.begin("nj", "r1", load_scenarios()[0], title=f"{PERSONA.name}反映路灯不亮", persona=persona_key(PERSONA),
                 channel="website", url="http://www.nj12345.gov.cn.test/submit")
    path = tmp_path / "book.xlsx"
    path.write_bytes(build_workbook(data, score_stored(data, store=store), Redactor(PERSONA), ledger.cases("r1")))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["汇总", "省份", "城市等级", "归并方式", "热线", "判定", "渠道", "案件"]
    for ws in wb:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
    hot = wb["热线"]
    header = [c.value for c in hot[1]]
    assert header[:3] == ["热线 Hotline", "名称 Name", "省份 Province"] and "总分 Total" in header
    assert hot.column_dimensions["B"].width >= text_width("苏州12345政务服务便民热线")
    rows = {r[0]: r for r in hot.iter_rows(min_row=2, values_only=True)}
    total = header.index("总分 Total")
    assert round(rows["nj"][total], 2) == 66.67 and rows["ls"][total] is None
    verdicts = list(wb["判定"].iter_rows(min_row=2, values_only=True))
    assert ("nj", "effectiveness", "no_reply", "无回应") in {(r[0], r[2], r[3], r[4]) for r in verdicts}
    channel = next(r for r in wb["渠道"].iter_rows(min_row=2) if r[0].value == "nj")
    assert channel[5].value == FORMULA and channel[5].data_type == "s"  # text, never a formula
    case = list(wb["案件"].iter_rows(min_row=2, values_only=True))
    assert case[0][0] == "nj" and case[0][3] == "[姓名]反映路灯不亮"
    summary = [r for r in wb["汇总"].iter_rows(values_only=True) if r and r[0]]
    assert ("轮次 Round", "r1") in {(r[0], r[1]) for r in summary}
    assert any(r[0] == "无处查" and r[3] == 1 and r[4] == 2 for r in summary)
    everything = "\n".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c)
    for value in (PERSONA.phone, PERSONA.name, PERSONA.id_number, PERSONA.email):
        assert value not in everything


def test_text_that_looks_like_a_formula_is_a_literal_string_cell(tmp_path):
    """A hotline name or a link text such as =1+1 opens as that text, never as a formula: a
    string cell, with Excel's quote prefix so that editing the cell keeps it text."""
    store, data, _ = stored_round(tmp_path)
    data.hotlines[1].name = "=1+1"
    data.channels[0].text = "@SUM(A1)"
    data.channels[1].text = "+cmd|' /C calc'!A0"
    path = tmp_path / "book.xlsx"
    path.write_bytes(build_workbook(data, score_stored(data, store=store), Redactor(PERSONA), None))
    wb = openpyxl.load_workbook(path)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for text in ("=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0"):
        found = [c for c in cells if c.value == text]
        assert found, text
        assert all(c.data_type == "s" and c.quotePrefix for c in found), text
    assert not any(c.data_type == "f" for c in cells)
    name = next(c for c in cells if c.value == "苏州12345政务服务便民热线" or c.value == "南京12345")
    assert not name.quotePrefix  # plain text is left plain


def test_no_cases_sheet_without_a_ledger(tmp_path):
    store, data, _ = stored_round(tmp_path)
    path = tmp_path / "book.xlsx"
    path.write_bytes(build_workbook(data, score_stored(data), Redactor(PERSONA), None))
    assert "案件" not in openpyxl.load_workbook(path).sheetnames


def test_scores_csv_and_json(tmp_path):
    store, data, round_dir = stored_round(tmp_path)
    paths = write_score_outputs(data, round_dir, store=store)
    with paths["scores_csv"].open(encoding="utf-8") as f:
        rows = {r["hotline_id"]: r for r in csv.DictReader(f)}
    assert rows["sz"]["total"] == "50.0" and rows["sz"]["rank"] == "2" and rows["ls"]["total"] == ""
    doc = json.loads(paths["scores_json"].read_text(encoding="utf-8"))
    assert doc["round"] == "r1" and len(doc["rubric"]["sha256"]) == 64
    assert {r["problem"] for r in doc["problem_rates"]} >= {"nowhere_to_search", "not_solved"}
    assert sum(g["hotlines"] for g in doc["by_tier"]) == 3
    assert next(v for v in doc["verdicts"] if v["hotline_id"] == "nj" and v["check"] == "effectiveness")["verdict_zh"] == "无回应"
