"""Reviewer overrides and the manual checklist: stored with who/when/why, used by scores and
shown in reports; bad input exits 2 before anything is stored."""

import json

import openpyxl
import pytest
from typer.testing import CliRunner

from hotline_audit.cli import app
from hotline_audit.review import decisions

from .report_fixtures import stored_round

runner = CliRunner()


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store, data, round_dir = stored_round(tmp_path)
    db = ["--db", f"sqlite:///{tmp_path / 'store.db'}"]
    out = ["--out", str(tmp_path / "runs")]

    def run(*args, report=False):
        extra = db + (out if report else [])
        result = runner.invoke(app, [*args, *extra])
        return result

    run.store, run.round_dir = store, round_dir
    return run


def scores_json(cli):
    assert cli("report", "--round", "r1", report=True).exit_code == 0
    return json.loads((cli.round_dir / "scores.json").read_text(encoding="utf-8"))


def verdict_of(doc, hotline, check):
    return next(v for v in doc["verdicts"] if v["hotline_id"] == hotline and v["check"] == check)


def test_override_is_stored_used_shown_and_withdrawn(cli):
    done = cli("review", "set", "nj", "effectiveness", "solved", "--reason", "电话回访确认已解决", "--by", "张审核")
    assert done.exit_code == 0, done.output
    listed = cli("review", "list")
    assert "张审核" in listed.output and "solved" in listed.output
    doc = scores_json(cli)
    v = verdict_of(doc, "nj", "effectiveness")
    assert (v["verdict"], v["source"], v["by"], v["auto_verdict"]) == ("solved", "override", "张审核", "no_reply")
    assert "电话回访确认已解决" in v["reason"]
    assert next(h for h in doc["hotlines"] if h["hotline_id"] == "nj")["effectiveness"] == 100
    html = (cli.round_dir / "report.html").read_text(encoding="utf-8")
    assert "复核改判" in html and "张审核" in html
    d = decisions(cli.store, "r1")[0]
    assert d.at.tzinfo is not None and d.by == "张审核"
    assert cli("review", "unset", "nj", "effectiveness", "--reason", "录入错误").exit_code == 0
    assert verdict_of(scores_json(cli), "nj", "effectiveness")["source"] == "auto"
    assert len(decisions(cli.store, "r1", history=True)) == 2  # nothing is erased


@pytest.mark.parametrize("args, message", [
    (["nj", "effectiveness", "great", "--reason", "x"], "unknown verdict"),
    (["nobody", "effectiveness", "ok", "--reason", "x"], "not in round"),
    (["nj", "effectivenes", "ok", "--reason", "x"], "unknown check"),
    (["nj", "effectiveness", "ok", "--reason", " "], "say why"),
    (["nj", "effectiveness", "ok", "--reason", "x", "--round", "r9"], "no round"),
])
def test_bad_overrides_exit_2(cli, args, message):
    result = cli("review", "set", *args)
    assert result.exit_code == 2 and message in result.output
    assert decisions(cli.store, "r1", history=True) == []


def fill(path, answers):
    wb = openpyxl.load_workbook(path)
    ws = wb["人工检查"]
    for row in ws.iter_rows(min_row=2):
        key = (row[0].value, row[7].value)
        if key in answers:
            row[10].value, row[11].value, row[12].value = answers[key]
    wb.save(path)


def test_manual_checklist_round_trip(cli, tmp_path):
    made = cli("checklist", "--round", "r1", "-o", "check.xlsx")
    assert made.exit_code == 0, made.output
    wb = openpyxl.load_workbook(tmp_path / "check.xlsx")
    rows = list(wb["人工检查"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[5], r[7]) for r in rows] == [("nj", "wx0123456789abcdef", c)
                                                  for c in ("stability", "findability", "effectiveness")]
    assert rows[1][8].count("\n") >= 4 and "南京" in rows[1][8]  # the hotline's questions, for its city
    assert rows[2][9] == "no_reply 无回应"  # the automatic verdict, for context
    assert wb["人工检查"].data_validations.dataValidation  # dropdowns of allowed verdicts
    fill(tmp_path / "check.xlsx", {("nj", "effectiveness"): ("solved 已解决", "小程序提交后次日电话答复并解决", "李检查")})
    first = cli("report", "--round", "r1", "--manual", "check.xlsx", report=True)
    assert first.exit_code == 0 and "1 new answer" in first.output, first.output
    again = cli("report", "--round", "r1", "--manual", "check.xlsx", report=True)
    assert "0 new answer" in again.output
    v = verdict_of(json.loads((cli.round_dir / "scores.json").read_text(encoding="utf-8")), "nj", "effectiveness")
    assert (v["verdict"], v["source"], v["by"]) == ("solved", "manual", "李检查")
    assert "人工检查" in (cli.round_dir / "report.html").read_text(encoding="utf-8")
    # An override still beats the manual answer.
    cli("review", "set", "nj", "effectiveness", "not_solved", "--reason", "复核：仅告知电话")
    assert verdict_of(scores_json(cli), "nj", "effectiveness")["verdict"] == "not_solved"


@pytest.mark.parametrize("answer, message", [
    (("ok 正常", "x", None), "is not a effectiveness verdict"),
    (("solved", None, None), "no reason"),
])
def test_bad_checklist_answers_exit_2(cli, tmp_path, answer, message):
    cli("checklist", "-o", "check.xlsx")
    fill(tmp_path / "check.xlsx", {("nj", "effectiveness"): answer})
    result = cli("report", "--round", "r1", "--manual", "check.xlsx", report=True)
    assert result.exit_code == 2 and message in result.output and "row 4" in result.output
    assert decisions(cli.store, "r1", history=True) == []
