"""The round's HTML report: one self-contained page, Chinese first, all page text escaped."""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from hotline_audit.files import write_atomically
from hotline_audit.model import VERDICT_LABELS_ZH
from hotline_audit.store import RoundData

from .politeness import PolitenessSummary, load_summary, report_section
from .redaction import Redactor, round_persona
from .report_data import report_context
from .rubric import load_rubric
from .scoring import GROUPS, SOURCE_ZH, Scores, score_round

STATUS_ZH = {"running": "进行中或异常中断", "interrupted": "已中断", "failed": "失败", "finished": "已完成",
             "discovered": "仅完成渠道发现"}

_redactor: ContextVar[Redactor | None] = ContextVar("report_redactor", default=None)


def _finalize(value: Any) -> Any:
    """Every printed string loses persona data (DESIGN §5). Markup (our own charts) is built
    from redacted text already and passes unchanged."""
    redactor = _redactor.get()
    if redactor is not None and isinstance(value, str) and not isinstance(value, Markup):
        return redactor(value)
    return value


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=True,  # crawled titles and texts are hostile: never render them as HTML
    undefined=jinja2.StrictUndefined,
    finalize=_finalize,
)
_env.filters["ms"] = lambda v: "–" if v is None else (f"{v / 1000:.1f} s" if v >= 1000 else f"{v:.0f} ms")


def stability_rows(data: RoundData) -> list[dict]:
    verdicts = {(v.hotline_id, v.check): v for v in data.verdicts}
    kinds_found: dict[str, Counter[str]] = {}
    for c in data.channels:
        kinds_found.setdefault(c.hotline_id, Counter())[c.kind] += 1
    rows = []
    for h in data.hotlines:
        v = verdicts.get((h.hotline_id, "stability"))
        obs = data.observations.get((h.hotline_id, "stability"), {})
        load = obs.get("page_load") or {}
        metrics = v.metrics if v else {}
        details = []
        if load:
            details.append(f"browser: status {load.get('status')} · {load.get('error') or 'loaded'} · "
                           f"navigations {load.get('navigations')}")
            if load.get("title"):
                details.append(f"title: {load['title']}")
            if load.get("newest_date"):
                details.append(f"newest dated item: {load['newest_date']}")
            details.extend(f"console: {e}" for e in load.get("console_errors", [])[:5])
            details.extend(f"failed: {e}" for e in load.get("failed_requests", [])[:5])
        disc = data.observations.get((h.hotline_id, "discovery"), {})
        failures = Counter(f.get("kind") for f in disc.get("failures", []))
        if failures:
            details.append("discovery failures: " + ", ".join(f"{k} x{n}" for k, n in failures.most_common()))
        if disc.get("page_qrs"):
            details.append(f"page-URL QR codes set aside (not WeChat accounts): {len(disc['page_qrs'])}")
        found = kinds_found.get(h.hotline_id)
        if found:
            details.append("channels: " + ", ".join(f"{k} {n}" for k, n in found.most_common()))
        errors = Counter(p.get("error_kind") for p in obs.get("probes", []) if not p.get("ok"))
        if errors:
            details.append("probe failures: " + ", ".join(f"{k} x{n}" for k, n in errors.most_common()))
        rows.append({
            "hotline": h,
            "verdict": v.verdict.value if v else "not_audited",
            "reason": v.reason if v else "未检测",
            "reason_en": v.reason_en if v else "not audited in this round",
            "confidence": v.confidence if v else None,
            "rule": v.rule if v else "",
            "median_ms": metrics.get("median_probe_ms"),
            "load_ms": metrics.get("load_ms"),
            "failures": metrics.get("failures"),
            "attempts": metrics.get("attempts"),
            "screenshot": next(iter(v.evidence), None) if v else None,
            "details": details,
            "search": " ".join([h.hotline_id, h.name, h.province, h.city]).lower(),
        })
    return rows


def render_report(data: RoundData, scores: Scores | None = None, redactor: Redactor | None = None,
                  compare: tuple[RoundData, Scores] | None = None,
                  politeness: PolitenessSummary | None = None) -> str:
    """The report; ``scores`` default to the shipped rubric without people's verdicts (the
    report command passes the stored overrides and manual answers). ``politeness``: the round's
    request log summary (reports/politeness.py), for the 礼貌访问 section."""
    if scores is None:
        scores = score_round(data, load_rubric())
    redactor = redactor or Redactor(round_persona(data.settings))
    rows = stability_rows(data)
    counts = Counter(r["verdict"] for r in rows)
    labels = dict(VERDICT_LABELS_ZH, not_audited="未检测")
    token = _redactor.set(redactor)
    try:
        return _env.get_template("report.html.j2").render(
            data=data, rows=rows, counts=sorted(counts.items(), key=lambda kv: -kv[1]), labels=labels,
            done=len(data.done), status_zh=STATUS_ZH.get(data.status, data.status),
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            groups_zh=GROUPS, source_zh=SOURCE_ZH, politeness=report_section(data, politeness),
            **report_context(data, scores, redactor, compare),
        )
    finally:
        _redactor.reset(token)


def write_report(data: RoundData, path: Path, scores: Scores | None = None, redactor: Redactor | None = None,
                 compare: tuple[RoundData, Scores] | None = None,
                 politeness: PolitenessSummary | None = None) -> Path:
    """report.html at ``path``; without ``politeness``, the summary the round folder keeps
    (politeness.json beside the report, written by the round's outputs), so that every command
    rewriting the report shows the same section."""
    if politeness is None:
        politeness = load_summary(path.parent)
    write_atomically(path, render_report(data, scores, redactor, compare, politeness).encode("utf-8"))
    return path
