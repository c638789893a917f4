"""The round's Excel workbook: 汇总 summary, group tables, 热线 hotlines, 判定 verdicts,
渠道 channels, 案件 cases, 礼貌访问 politeness. Every sheet has a frozen bilingual header, an autofilter and column
widths fitted to CJK text. Crawled text is hostile here too: no cell is ever a formula."""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hotline_audit.files import FORMULA_STARTS, write_atomically
from hotline_audit.model import VERDICT_LABELS_ZH
from hotline_audit.store import RoundData

from .politeness import PolitenessSummary, load_summary, report_section
from .redaction import Redactor
from .scoring import GROUPS, SOURCE_ZH, UNKNOWN_ZH, Scores

MAX_CELL = 32_000  # Excel's limit is 32,767 characters
HEADER_FILL = PatternFill("solid", fgColor="EEF2F6")
PCT, SCORE = "0.00%", "0.00"
CASE_FIELDS = [
    ("hotline_id", "热线 Hotline"), ("scenario_id", "场景 Scenario"), ("case_type", "类型 Type"),
    ("title", "标题 Title"), ("state", "状态 State"), ("channel", "渠道 Channel"), ("url", "提交页 URL"),
    ("receipt", "回执 Receipt"), ("submitted_at", "提交时间 Submitted (UTC)"), ("due_at", "答复期限 Due"),
    ("checks", "回访次数 Checks"), ("verdict", "结论 Verdict"), ("verdict_zh", "结论 中文"),
    ("verdict_reason", "原因 Reason"), ("closed", "已结案 Closed"), ("failure_stage", "失败环节 Stage"),
    ("failure_reason", "失败原因 Failure"),
]


def text_width(value: object) -> int:
    """Display width: CJK and fullwidth characters take two columns."""
    s = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if value.__class__.__name__ == "NAType":
        return None
    return value


class Book:
    def __init__(self, redactor: Redactor) -> None:
        self.wb = Workbook()
        self.wb.remove(self.wb.active)
        self.redact = redactor

    def cell(self, ws: Worksheet, row: int, col: int, value: Any, fmt: str | None = None) -> None:
        value = _plain(value)
        if isinstance(value, list | tuple | dict):
            value = "; ".join(map(str, value)) if not isinstance(value, dict) else \
                "; ".join(f"{k}={v}" for k, v in value.items())
        c = ws.cell(row=row, column=col)
        if isinstance(value, str):
            c.value = ILLEGAL_CHARACTERS_RE.sub("", self.redact(value))[:MAX_CELL]
            c.data_type = "s"  # "=cmd|..." from a page must stay text, never a formula
            # Excel's own mark for text that looks like a formula (what typing '=1+1 sets): it
            # stays text even after a reader edits the cell and presses Enter.
            c.quotePrefix = c.value.startswith(FORMULA_STARTS)
        elif hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
            c.value = value.replace(tzinfo=None)  # Excel has no time zones: columns say UTC
        else:
            c.value = value
        if fmt:
            c.number_format = fmt

    def table(self, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
              formats: dict[int, str] | None = None, ws: Worksheet | None = None,
              start: int = 1) -> Worksheet:
        """A sheet (or a block of one) with a header row; the first block of a sheet gets the
        frozen header and the autofilter."""
        first = ws is None
        ws = ws or self.wb.create_sheet(title)
        widths = [text_width(h) for h in headers]
        for j, h in enumerate(headers, 1):
            self.cell(ws, start, j, h)
            ws.cell(row=start, column=j).font = Font(bold=True)
            ws.cell(row=start, column=j).fill = HEADER_FILL
        n = start
        for n, row in enumerate(rows, start + 1):
            for j, value in enumerate(row, 1):
                self.cell(ws, n, j, value, (formats or {}).get(j - 1))
                widths[j - 1] = max(widths[j - 1], min(text_width(_plain(value)), 60))
        for j, w in enumerate(widths, 1):
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, min(w + 2, 62))
        if first:
            ws.freeze_panes = ws.cell(row=start + 1, column=1)
            ws.auto_filter.ref = f"A{start}:{get_column_letter(len(headers))}{max(n, start)}"
        return ws

    def save(self) -> bytes:
        buf = io.BytesIO()
        self.wb.save(buf)
        return buf.getvalue()


def build_workbook(data: RoundData, scores: Scores, redactor: Redactor, cases: list | None = None,
                   politeness: PolitenessSummary | None = None) -> bytes:
    book = Book(redactor)
    _summary(book, data, scores)
    dims = scores.dimensions
    labels = {d: f"{scores.rubric.dimensions[d].label_zh} {scores.rubric.dimensions[d].label_en}" for d in dims}
    for key, table in scores.groups().items():
        _group_sheet(book, key, table, scores, labels)
    h = scores.hotlines.reset_index()
    checks = list(scores.rubric.checks)
    headers = ["热线 Hotline", "名称 Name", "省份 Province", "城市 City", "城市等级 Tier", "归并方式 Merge mode",
               *[labels[d] for d in dims], "总分 Total", "排名 Rank", *[f"{c} 结论" for c in checks],
               "人工改判 Adjusted", "已完成 Done"]
    fmt = {6 + i: SCORE for i in range(len(dims) + 1)}
    rows = ([r.hotline_id, r.name, r.province, r.city, r.tier, r.merge_mode, *[getattr(r, d) for d in dims],
             r.total, r.rank, *[_zh(getattr(r, f"verdict_{c}")) for c in checks], r.adjusted,
             "是" if r.done else "否"] for r in h.itertuples(index=False))
    book.table("热线", headers, rows, fmt)
    names = {x.hotline_id: x.name for x in data.hotlines}
    vrows = ([v.hotline_id, names.get(v.hotline_id, ""), v.check, v.verdict, VERDICT_LABELS_ZH.get(v.verdict, ""),
              v.points, v.reason, v.reason_en, v.confidence, v.rule, v.evidence,
              f"{SOURCE_ZH[v.source]} {v.source}", v.by, v.at, _zh(v.auto_verdict) if v.auto_verdict else ""]
             for v in scores.verdicts.itertuples(index=False))
    book.table("判定", ["热线 Hotline", "名称 Name", "检查 Check", "结论 Verdict", "结论 中文", "得分 Points",
                      "原因 Reason", "Reason (en)", "置信度 Confidence", "规则 Rule", "证据 Evidence",
                      "来源 Source", "复核人 By", "复核时间 At (UTC)", "原自动结论 Automatic verdict"],
               vrows, {5: SCORE, 8: "0.00"})
    book.table("渠道", ["热线 Hotline", "类型 Kind", "值 Value", "发现于 Found on", "元素 Element", "文字 Text",
                      "摘录 Excerpt"],
               ([c.hotline_id, c.kind, c.value, c.found_on, c.element, c.text, c.excerpt] for c in data.channels))
    if cases is not None:
        book.table("案件", [h for _, h in CASE_FIELDS], (_case_row(c) for c in cases))
    _politeness_sheet(book, data, politeness)
    return book.save()


def _zh(verdict: object) -> str:
    if not verdict or (isinstance(verdict, float) and math.isnan(verdict)):
        return ""
    return f"{VERDICT_LABELS_ZH.get(str(verdict), '')} {verdict}".strip()


def _case_row(case: Any) -> list:
    row = []
    for field, _ in CASE_FIELDS:
        if field == "verdict_zh":
            row.append(VERDICT_LABELS_ZH.get(case.verdict or "", ""))
        else:
            row.append(getattr(case, field, None))
    return row


def _summary(book: Book, data: RoundData, scores: Scores) -> None:
    r = scores.rubric
    meta = [
        ("轮次 Round", data.round), ("状态 Status", data.status),
        ("开始 Started (UTC)", data.started_at), ("结束 Finished (UTC)", data.finished_at),
        ("热线数 Hotlines", len(data.hotlines)), ("已完成 Done", len(data.done)),
        ("工具版本 Tool version", data.tool_version), ("配置指纹 Config hash", data.config_hash),
        ("评分细则 Rubric", f"{r.name} v{r.version}"), ("细则指纹 Rubric hash", r.fingerprint()),
        ("代理 Proxy", data.proxy or ""),
    ]
    ws = book.table("汇总", ["项目 Item", "值 Value"], meta)
    start = len(meta) + 3
    rows = ([s.label_zh, s.label_en, s.weight, s.scored, s.mean, s.min, s.median, s.max]
            for s in scores.summary.itertuples(index=False))
    book.table("", ["维度", "Dimension", "权重 Weight", "计分热线 Scored", "平均分 Mean", "最低 Min",
                    "中位 Median", "最高 Max"], rows, {4: SCORE, 5: SCORE, 6: SCORE, 7: SCORE}, ws=ws, start=start)
    start += len(scores.summary) + 3
    rows = ([x.label_zh, x.problem, x.pool_zh, x.count, x.of, x.rate, x.report_2021, x.diff_2021, x.undetermined]
            for x in scores.rates.itertuples(index=False))
    book.table("", ["问题", "Problem", "分母 Pool", "数量 Count", "分母数 Of", "本轮占比 Rate",
                    "2021年报告 Report 2021", "差 Diff", "待定 Undetermined"], rows,
               {5: PCT, 6: PCT, 7: "+0.00%;-0.00%"}, ws=ws, start=start)


def _group_sheet(book: Book, key: str, table: Any, scores: Scores, labels: dict[str, str]) -> None:
    dims = scores.dimensions
    problems = [(r.problem.value, r.label_zh) for r in scores.rubric.problem_rates]
    headers = [f"{GROUPS[key]} {key}", "热线数 Hotlines", *[labels[d] for d in dims], "总分 Total",
               *[f"{zh} 数量/分母" for _, zh in problems]]
    fmt = {2 + i: SCORE for i in range(len(dims) + 1)}
    rows = []
    for row in table.to_dict("records"):
        rows.append([row[key] or UNKNOWN_ZH, row["hotlines"], *[row[d] for d in dims], row["total"],
                     *[f"{row[f'{p}_count']}/{row[f'{p}_of']}" for p, _ in problems]])
    book.table(GROUPS[key], headers, rows, fmt)


def _politeness_sheet(book: Book, data: RoundData, summary: PolitenessSummary | None) -> None:
    """礼貌访问: the budget in two lines, every host (throttling hosts first; the frozen,
    filterable table), then the verdicts a throttle left to a person and every throttling answer.
    No sheet for a round without a request log or such verdicts."""
    section = report_section(data, summary, cap=len(summary.hosts) if summary is not None else 0)
    if section is None:
        return
    hosts = ([h["host"], h["requests"], h["peak_per_minute"], h["budget_per_minute"], h["throttles"],
              h["first_throttle_local"], h["first_answer"], h["components_text"]] for h in section["hosts"])
    ws = book.table("礼貌访问", ["主机 Host", "请求数 Requests", "每分钟峰值 Peak per minute",
                              "预算 Budget per minute", "被限流/拦截次数 Throttled", "首次限流时间 First throttle",
                              "首次回应 First answer", "组件 Components"], hosts, start=4)
    book.cell(ws, 1, 1, section["budget_zh"])
    book.cell(ws, 2, 1, section["budget_en"])
    row = 4 + len(section["hosts"]) + 3
    if not section["has_log"]:
        book.cell(ws, 5, 1, "未找到本轮的请求记录（politeness.json） no request log for this round")
        row += 1
    if section["blocked"]:
        book.cell(ws, row - 1, 1, "因限流/拦截待人工复核的结论 Verdicts left to a person because a site throttled us")
        book.table("", ["热线 Hotline", "名称 Name", "检查 Check", "原因代码 Reason code", "原因 中文",
                        "否则的结论 Would have been", "结论 中文", "说明 Reason"],
                   ([b["hotline_id"], b["name"], b["check"], b["code"], b["code_zh"], b["would_be"],
                     b["would_be_zh"], b["reason"]] for b in section["blocked"]), ws=ws, start=row)
        row += len(section["blocked"]) + 3
    if summary is not None and summary.throttles:
        book.cell(ws, row - 1, 1, "限流/拦截记录 Every throttling answer (local time)")
        book.table("", ["时间 Time", "主机 Host", "类型 Kind", "回应 Answer", "等待秒数 Waited (s)",
                        "组件 Component", "热线 Hotline", "网址 URL"],
                   ([t.at_local, t.host, f"{t.kind_zh} {t.kind}", t.answer(), round(t.waited_s, 1), t.component,
                     t.hotline_id, t.url] for t in summary.throttles), ws=ws, start=row)


def write_workbook(data: RoundData, scores: Scores, path: Path, redactor: Redactor,
                   cases: list | None = None, politeness: PolitenessSummary | None = None) -> Path:
    """report.xlsx at ``path``; without ``politeness``, the summary the round folder keeps
    (politeness.json beside the workbook), as write_report does."""
    if politeness is None:
        politeness = load_summary(path.parent)
    write_atomically(path, build_workbook(data, scores, redactor, cases, politeness))
    return path
