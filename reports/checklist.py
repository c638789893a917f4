"""The manual checklist (人工检查表): channels a browser cannot drive — mini-programs and apps —
listed per hotline and check, with the hotline's questions from the bank, for a person to try
on a phone. Filled answers come back as manual verdicts (``hotline-audit report --manual``)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.worksheet.datavalidation import DataValidation

from hotline_audit.model import VERDICT_LABELS_ZH, VerdictStatus
from hotline_audit.questions import Question, pick_questions
from hotline_audit.review import MANUAL, ReviewError, decisions, record, round_hotlines
from hotline_audit.store import RoundData, Store

from .excel import Book
from .redaction import Redactor

SHEET = "人工检查"
MANUAL_KINDS = ("mini_program", "app")
KIND_ZH = {"mini_program": "小程序", "app": "APP"}
CHOICES = {
    "stability": ("ok", "degraded", "down", "no_channel", "needs_review"),
    "findability": ("ok", "inaccurate_search", "nowhere_to_search", "no_channel", "needs_review"),
    "effectiveness": ("solved", "not_solved", "no_reply", "no_progress", "cannot_submit", "no_channel",
                      "needs_review"),
}
TASK_ZH = {
    "stability": "打开{kind}，能否正常进入、页面是否报错或长时间无法加载。",
    "findability": "在{kind}内用搜索、知识库或智能问答查询下列问题，能否查到相关且有效的答案：\n{questions}",
    "effectiveness": "在{kind}内能否提交诉求、取得受理编号、查询办理进度，以及是否收到有效答复。",
}
HEADERS = ["热线 Hotline", "名称 Name", "省份 Province", "城市 City", "渠道 Channel", "渠道标识 Channel id",
           "发现于 Found on", "检查 Check", "检查内容 What to check", "自动结论 Automatic verdict",
           "结论 Verdict（填写）", "说明 Reason（填写）", "检查人 By（填写）", "检查日期 Date（填写）"]
COL = {name: i for i, name in enumerate(["hotline_id", "name", "province", "city", "kind", "value", "found_on",
                                         "check", "task", "auto", "verdict", "reason", "by", "date"])}


class ChecklistError(ValueError):
    """Filled answers that cannot be imported; the message names the rows."""


@dataclass(frozen=True)
class Answer:
    row: int
    hotline_id: str
    check: str
    channel: str
    verdict: str
    reason: str
    by: str | None


def choice(verdict: str) -> str:
    return f"{verdict} {VERDICT_LABELS_ZH[verdict]}"


def build_checklist(data: RoundData, bank: list[Question], questions_per_hotline: int,
                    redactor: Redactor) -> bytes:
    book = Book(redactor)
    auto = {(v.hotline_id, v.check): v.verdict.value for v in data.verdicts}
    hotlines = {h.hotline_id: h for h in data.hotlines}
    rows = []
    seen = set()
    for c in data.channels:
        if c.kind not in MANUAL_KINDS or (c.hotline_id, c.kind, c.value) in seen or c.hotline_id not in hotlines:
            continue
        seen.add((c.hotline_id, c.kind, c.value))
        h = hotlines[c.hotline_id]
        asked = pick_questions(bank, h.hotline_id, data.round, questions_per_hotline)
        listed = "\n".join(f"{i}. {q.query_for(h.city)}" for i, q in enumerate(asked, 1))
        for check in CHOICES:
            task = TASK_ZH[check].format(kind=KIND_ZH[c.kind], questions=listed)
            a = auto.get((h.hotline_id, check))
            rows.append([h.hotline_id, h.name, h.province, h.city, f"{c.kind} {KIND_ZH[c.kind]}", c.value,
                         c.found_on, check, task, choice(a) if a else "", None, None, None, None])
    ws = book.table(SHEET, HEADERS, rows)
    for check, options in CHOICES.items():
        listing = ",".join(choice(v) for v in options)
        dv = DataValidation(type="list", formula1=f'"{listing}"', allow_blank=True,
                            error="请从列表中选择 choose from the list", showErrorMessage=True)
        ws.add_data_validation(dv)
        for r, row in enumerate(rows, 2):
            if row[COL["check"]] == check:
                dv.add(f"K{r}")
    book.table("题库", ["编号 Id", "领域 Area", "问题 Question", "相关词 Answer words", "要点词 Must words"],
               ([q.id, q.area, q.text, "、".join(q.answer_words), "、".join(q.must_words)] for q in bank))
    book.table("说明", ["说明 Instructions"], [
        ["浏览器无法检测小程序和APP：请在手机上逐项检查，在“结论”列选择结论并写明说明。"],
        ["填写的结论将作为人工检查结论，取代同一热线同一检查项的自动结论；如应保留网站的自动结论，请留空。"],
        ["同一热线同一检查项只填一行。证据不足时请选 needs_review 需人工复核，不要判定为问题。"],
        ["导入：hotline-audit report --round 轮次 --manual 本文件.xlsx"],
    ])
    return book.save()


def read_answers(path: Path) -> list[Answer]:
    """The filled rows; every problem is collected and raised at once."""
    try:
        wb = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except Exception as exc:  # not an xlsx, damaged: the user's file
        raise ChecklistError(f"{path}: cannot read the checklist: {exc}") from None
    if SHEET not in wb.sheetnames:
        raise ChecklistError(f"{path}: no sheet {SHEET!r} (is this a checklist from `hotline-audit checklist`?)")
    answers, problems = [], []
    chosen: dict[tuple[str, str], tuple[str, int]] = {}
    for r, row in enumerate(wb[SHEET].iter_rows(min_row=2, values_only=True), 2):
        cells = ["" if v is None else str(v).strip() for v in row] + [""] * len(COL)
        if not cells[COL["verdict"]]:
            continue
        hotline, check = cells[COL["hotline_id"]], cells[COL["check"]]
        verdict = _verdict(cells[COL["verdict"]])
        if check not in CHOICES:
            problems.append(f"row {r}: unknown check {check!r}")
        elif verdict not in CHOICES[check]:
            problems.append(f"row {r}: {cells[COL['verdict']]!r} is not a {check} verdict "
                            f"({', '.join(CHOICES[check])})")
        elif not cells[COL["reason"]]:
            problems.append(f"row {r}: no reason (说明) for {verdict}")
        elif (hotline, check) in chosen and chosen[(hotline, check)][0] != verdict:
            problems.append(f"row {r}: {hotline} {check} is {verdict} here but {chosen[(hotline, check)][0]} "
                            f"in row {chosen[(hotline, check)][1]}; fill one row per hotline and check")
        else:
            chosen[(hotline, check)] = (verdict, r)
            answers.append(Answer(row=r, hotline_id=hotline, check=check, channel=cells[COL["value"]],
                                  verdict=verdict, reason=cells[COL["reason"]], by=cells[COL["by"]] or None))
    if problems:
        raise ChecklistError(f"{path}: " + "; ".join(problems))
    return answers


def _verdict(cell: str) -> str:
    """'ok', 'ok 正常' or '正常' -> 'ok'."""
    for token in cell.replace("，", " ").split():
        if token in VerdictStatus.__members__:
            return token
    by_label = {zh: v for v, zh in VERDICT_LABELS_ZH.items()}
    return by_label.get(cell, cell)


def import_answers(store: Store, round_name: str, path: Path) -> int:
    """Store the filled answers as manual verdicts; answers already in force are not stored
    again (re-running a report with the same file changes nothing). Returns how many were new."""
    answers = read_answers(path)
    known = round_hotlines(store, round_name)
    unknown = sorted({a.hotline_id for a in answers} - known)
    if unknown:
        raise ChecklistError(f"{path}: hotlines not in round {round_name}: {', '.join(unknown)}")
    current = {(d.hotline_id, d.check): d for d in decisions(store, round_name, kind=MANUAL)}
    new = 0
    for a in answers:
        d = current.get((a.hotline_id, a.check))
        if d is not None and (d.verdict, d.reason, d.channel) == (a.verdict, a.reason, a.channel):
            continue
        try:
            record(store, round_name, a.hotline_id, a.check, a.verdict, reason=a.reason, kind=MANUAL,
                   by=a.by, channel=a.channel, known=known)
        except ReviewError as exc:
            raise ChecklistError(f"{path}: row {a.row}: {exc}") from None
        new += 1
    return new
