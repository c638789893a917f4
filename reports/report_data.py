"""What the HTML report shows beyond the stability table: scores, problem rates, group tables,
charts, one section per hotline with every verdict, and the change since an earlier round."""

from __future__ import annotations

import math
import posixpath
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from hotline_audit.model import VERDICT_LABELS_ZH
from hotline_audit.store import RoundData

from . import charts
from .outputs import plain, records
from .redaction import Redactor
from .scoring import GROUPS, Scores

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
RANKED_IN_CHART = 15


def safe_href(path: str) -> str | None:
    """A link only to a file inside the round directory: no scheme, no absolute path, no
    climbing out (an evidence path is ours, but a report never links where data says)."""
    if not path or urlsplit(path).scheme or path.startswith(("/", "\\")):
        return None
    norm = posixpath.normpath(path.replace("\\", "/"))
    return None if norm.startswith("..") else norm


def _num(v: Any) -> float | None:
    v = plain(v)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def report_context(data: RoundData, scores: Scores, redactor: Redactor,
                   compare: tuple[RoundData, Scores] | None = None) -> dict[str, Any]:
    dims = scores.dimensions
    rubric = scores.rubric
    dim_labels = {d: (rubric.dimensions[d].label_zh, rubric.dimensions[d].label_en) for d in dims}
    summary = records(scores.summary)
    rates = records(scores.rates)
    hotlines = sorted(records(scores.hotlines.reset_index()),
                      key=lambda h: (h["rank"] is None, h["rank"] or 0, h["hotline_id"]))
    groups = {key: records(table) for key, table in scores.groups().items()}
    return {
        "rubric": rubric, "rubric_hash": rubric.fingerprint(), "dims": dims, "dim_labels": dim_labels,
        "summary": summary, "rates": rates, "groups": groups, "ranking": hotlines,
        "problems": [(r.problem.value, r.label_zh) for r in rubric.problem_rates],
        "unscored": len(scores.unscored),
        "manual_channels": {k: len({(c.hotline_id, c.value) for c in data.channels if c.kind == k})
                            for k in ("mini_program", "app")},
        "people": scores.verdicts["source"].value_counts().to_dict(),
        "charts": _charts(scores, summary, rates, groups, hotlines, dim_labels, redactor),
        "sections": _sections(data, scores, hotlines),
        "compare": _compare(scores, compare) if compare else None,
    }


def _charts(scores: Scores, summary: list[dict], rates: list[dict], groups: dict[str, list[dict]],
            hotlines: list[dict], dim_labels: dict[str, tuple[str, str]], redactor: Redactor) -> dict[str, Any]:
    dims = scores.dimensions
    out: dict[str, Any] = {}
    with_2021 = [s for s in summary if s["report_2021"] is not None]
    out["scores"] = charts.hbars(
        [(f"{s['label_zh']} {s['label_en']}", [_num(s["mean"]), *([_num(s["report_2021"])] if with_2021 else [])])
         for s in summary],
        ["本轮 this round", "2021年报告 report"] if with_2021 else ["本轮 this round"],
        title="维度得分 Dimension scores", redact=redactor)
    out["rates"] = charts.hbars(
        [(f"{r['label_zh']}", [None if r["rate"] is None else r["rate"] * 100,
                               None if r["report_2021"] is None else r["report_2021"] * 100]) for r in rates],
        ["本轮 this round", "2021年报告 report"], title="问题占比 Problem rates (%)", vmax=50,
        fmt="{:.2f}%", redact=redactor)
    out["histograms"] = [
        charts.histogram([v for h in hotlines if (v := _num(h[d])) is not None],
                         title=f"{dim_labels[d][0]} {dim_labels[d][1]} 得分分布", redact=redactor)
        for d in dims
    ] + [charts.histogram([v for h in hotlines if (v := _num(h["total"])) is not None],
                          title="总分分布 Total score distribution", redact=redactor)]
    ranked = sorted((h for h in hotlines if _num(h["total"]) is not None), key=lambda h: (-h["total"], h["hotline_id"]))
    label = "{name}（{province}）"
    out["top"] = charts.hbars([(label.format(**h), [h["total"]]) for h in ranked[:RANKED_IN_CHART]],
                              ["总分"], title=f"总分前{RANKED_IN_CHART}名 Top {RANKED_IN_CHART}",
                              label_width=260, redact=redactor)
    out["bottom"] = charts.hbars([(label.format(**h), [h["total"]]) for h in ranked[-RANKED_IN_CHART:][::-1]],
                                 ["总分"], title=f"总分后{RANKED_IN_CHART}名 Bottom {RANKED_IN_CHART}",
                                 label_width=260, redact=redactor)
    out["groups"] = {
        key: charts.hbars([(str(g[key]), [_num(g[d]) for d in dims]) for g in table],
                          [dim_labels[d][0] for d in dims], title=f"{GROUPS[key]}平均得分 Mean scores by {key}",
                          redact=redactor)
        for key, table in groups.items()
    }
    return out


def _sections(data: RoundData, scores: Scores, hotlines: list[dict]) -> list[dict[str, Any]]:
    files = defaultdict(list)
    for e in data.evidence:
        files[(e.hotline_id, e.check)].append(e.path)
    by_hotline: dict[str, list[dict]] = defaultdict(list)
    for v in scores.verdicts.to_dict("records"):
        paths = list(dict.fromkeys([*v["evidence"], *files.get((v["hotline_id"], v["check"]), [])]))
        links = [(p, safe_href(p)) for p in paths]
        v = {k: plain(x) for k, x in v.items() if k != "evidence"}
        v["images"] = [h for p, h in links if h and h.lower().endswith(IMAGE_SUFFIXES)]
        v["files"] = [(p, h) for p, h in links if not (h and h.lower().endswith(IMAGE_SUFFIXES))]
        v["label_zh"] = VERDICT_LABELS_ZH.get(v["verdict"], v["verdict"])
        by_hotline[v["hotline_id"]].append(v)
    order = {c: i for i, c in enumerate(scores.rubric.checks)}
    for vs in by_hotline.values():
        vs.sort(key=lambda v: (order.get(v["check"].split(".")[0], len(order)), v["check"]))
    registry = {h.hotline_id: h for h in data.hotlines}
    return [{"h": h, "hotline": registry[h["hotline_id"]], "verdicts": by_hotline.get(h["hotline_id"], [])}
            for h in hotlines]


def _compare(scores: Scores, compare: tuple[RoundData, Scores]) -> dict[str, Any]:
    before_data, before = compare
    dims = [*scores.dimensions, "total"]
    now_h, old_h = scores.hotlines, before.hotlines
    common = now_h.index.intersection(old_h.index)
    rows = []
    for hid in common:
        changes = []
        for c in scores.rubric.checks:
            a, b = plain(old_h.loc[hid].get(f"verdict_{c}")), plain(now_h.loc[hid].get(f"verdict_{c}"))
            if a != b:
                changes.append((c, a or "–", b or "–"))
        t0, t1 = _num(old_h.loc[hid, "total"]), _num(now_h.loc[hid, "total"])
        if changes or t0 != t1:
            rows.append({"hotline_id": hid, "name": now_h.loc[hid, "name"], "province": now_h.loc[hid, "province"],
                         "before": t0, "after": t1,
                         "diff": None if t0 is None or t1 is None else t1 - t0, "changes": changes})
    rows.sort(key=lambda r: (r["diff"] is None, r["diff"] or 0))
    means = []
    old_summary = before.summary.set_index("dimension")
    for s in records(scores.summary):
        if s["dimension"] in dims and s["dimension"] in old_summary.index:
            b = _num(old_summary.loc[s["dimension"], "mean"])
            a = _num(s["mean"])
            means.append({**s, "before": b, "diff": None if a is None or b is None else a - b})
    old_rates = before.rates.set_index("problem") if len(before.rates) else None
    rates = []
    for r in records(scores.rates):
        b = _num(old_rates.loc[r["problem"], "rate"]) if old_rates is not None and r["problem"] in old_rates.index else None
        rates.append({**r, "before": b, "diff": None if b is None or r["rate"] is None else r["rate"] - b})
    return {"round": before_data.round, "rows": rows, "means": means, "rates": rates,
            "added": sorted(set(now_h.index) - set(old_h.index)),
            "removed": sorted(set(old_h.index) - set(now_h.index))}
