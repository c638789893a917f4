"""Scores from a stored round: verdicts -> dimension scores and totals per hotline, aggregates
by province, city tier and merge mode, and the report's problem-rate table.

Pure functions of (round data, rubric, adjustments): re-scoring with another rubric needs no
crawling. Adjustments are verdicts a person gave (manual checklist answers, reviewer
overrides); they replace the automatic verdict for the same (hotline, check), an override
before a manual answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from hotline_audit.model import VERDICT_LABELS_ZH, Verdict
from hotline_audit.store import RoundData

from .rubric import Rubric

# Precedence, lowest first: a later source replaces an earlier one for the same key.
SOURCES = ("auto", "manual", "override")
SOURCE_ZH = {"auto": "自动", "manual": "人工检查", "override": "复核改判"}
UNDETERMINED = ("needs_review", "tool_error")
TIER_ORDER = ("一线", "新一线", "二线", "三线", "四线", "五线")
UNKNOWN_ZH = "未知"
GROUPS = {"province": "省份", "tier": "城市等级", "merge_mode": "归并方式"}
HOTLINE_COLUMNS = ["hotline_id", "name", "province", "city", "tier", "merge_mode"]


@dataclass
class Scores:
    rubric: Rubric
    verdicts: pd.DataFrame  # one row per (hotline, check): the verdict in force, and its points
    hotlines: pd.DataFrame  # one row per hotline: registry fields, dimension scores, total, rank
    summary: pd.DataFrame  # per dimension and total: scored hotlines, mean, min, median, max
    rates: pd.DataFrame  # the report's problem rates beside the 2021 report's
    by_province: pd.DataFrame
    by_tier: pd.DataFrame
    by_merge_mode: pd.DataFrame

    @property
    def dimensions(self) -> list[str]:
        return list(self.rubric.dimensions)

    @property
    def unscored(self) -> pd.DataFrame:
        """Verdicts of scored checks that the rubric's table does not name."""
        return self.verdicts[~self.verdicts["listed"]]

    def groups(self) -> dict[str, pd.DataFrame]:
        return {"province": self.by_province, "tier": self.by_tier, "merge_mode": self.by_merge_mode}


def verdict_frame(auto: Iterable[Verdict], manual: Iterable[Verdict] = (),
                  overrides: Iterable[Verdict] = ()) -> pd.DataFrame:
    """The verdict in force per (hotline, check), with its ``source`` and, when a person
    changed it, the automatic verdict it replaced. ``by``/``at`` come from a person's
    verdict's metrics."""
    rows: dict[tuple[str, str], dict] = {}
    for source, verdicts in zip(SOURCES, (auto, manual, overrides), strict=True):
        for v in verdicts:
            key = (v.hotline_id, v.check)
            before = rows.get(key)
            rows[key] = {
                "hotline_id": v.hotline_id, "check": v.check, "verdict": v.verdict.value,
                "verdict_zh": VERDICT_LABELS_ZH.get(v.verdict.value, v.verdict.value),
                "reason": v.reason, "reason_en": v.reason_en, "confidence": v.confidence,
                "rule": v.rule, "evidence": list(v.evidence), "source": source,
                "by": str(v.metrics.get("by") or "") if source != "auto" else "",
                "at": str(v.metrics.get("at") or "") if source != "auto" else "",
                "auto_verdict": "" if source == "auto" or before is None else
                (before["verdict"] if before["source"] == "auto" else before["auto_verdict"]),
            }
    columns = ["hotline_id", "check", "verdict", "verdict_zh", "reason", "reason_en", "confidence",
               "rule", "evidence", "source", "by", "at", "auto_verdict"]
    return pd.DataFrame(list(rows.values()), columns=columns)


def score_round(data: RoundData, rubric: Rubric, manual: Iterable[Verdict] = (),
                overrides: Iterable[Verdict] = ()) -> Scores:
    verdicts = verdict_frame(data.verdicts, manual, overrides)
    verdicts = _with_points(verdicts, rubric)
    hotlines = _hotline_scores(data, verdicts, rubric)
    membership = _rate_membership(hotlines, verdicts, rubric)
    hotlines = hotlines.join(membership)
    return Scores(
        rubric=rubric, verdicts=verdicts, hotlines=hotlines,
        summary=_summary(hotlines, rubric), rates=_rates(hotlines, rubric),
        by_province=_by(hotlines, "province", rubric), by_tier=_by(hotlines, "tier", rubric),
        by_merge_mode=_by(hotlines, "merge_mode", rubric),
    )


def _with_points(verdicts: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    table = {c: {k.value: v for k, v in r.verdict_scores.items()} for c, r in rubric.checks.items()}
    dims, weights, points, scored, listed = [], [], [], [], []
    for check, verdict in zip(verdicts["check"], verdicts["verdict"], strict=True):
        rule = rubric.checks.get(check)
        value = table[check].get(verdict) if rule is not None else None
        dims.append(rule.dimension if rule else "")
        weights.append(rule.weight if rule else 0.0)
        points.append(float("nan") if value is None else float(value))
        scored.append(value is not None and rule is not None and rule.weight > 0)
        listed.append(rule is None or verdict in table[check])
    # listed=False: a rubric check gave a verdict its table does not name (reported as unscored)
    return verdicts.assign(dimension=dims, weight=weights, points=points, scored=scored, listed=listed)


def _hotline_scores(data: RoundData, verdicts: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    reg = pd.DataFrame([h.model_dump(include=set(HOTLINE_COLUMNS)) for h in data.hotlines],
                       columns=HOTLINE_COLUMNS).set_index("hotline_id")
    for col in ("tier", "merge_mode", "province"):
        reg[col] = reg[col].fillna(UNKNOWN_ZH).replace("", UNKNOWN_ZH)
    reg["done"] = [h in data.done for h in reg.index]
    scored = verdicts[verdicts["scored"]]
    if len(scored):
        weighted = scored.assign(wp=scored["points"] * scored["weight"])
        sums = weighted.groupby(["hotline_id", "dimension"])[["wp", "weight"]].sum()
        dim_scores = (sums["wp"] / sums["weight"]).unstack("dimension")
    else:
        dim_scores = pd.DataFrame(index=pd.Index([], name="hotline_id"))
    out = reg.join(dim_scores.reindex(columns=list(rubric.dimensions)), how="left")
    dims = list(rubric.dimensions)
    w = pd.Series({d: rubric.dimensions[d].weight for d in dims})
    present = out[dims].notna()
    wsum = present.mul(w, axis=1).sum(axis=1)
    total = out[dims].fillna(0).mul(w, axis=1).sum(axis=1) / wsum.where(wsum > 0)
    out["dimensions_scored"] = present.sum(axis=1)
    out["total"] = total.where(out["dimensions_scored"] >= rubric.total_min_dimensions)
    out["rank"] = out["total"].rank(ascending=False, method="min").astype("Int64")
    # Each top-level check's verdict beside the scores (the report's columns).
    wide = verdicts.pivot_table(index="hotline_id", columns="check", values="verdict", aggfunc="last")
    for check in rubric.checks:
        out[f"verdict_{check}"] = wide[check].reindex(out.index) if check in wide else None
    people = verdicts[verdicts["source"] != "auto"].groupby("hotline_id").size()
    out["adjusted"] = people.reindex(out.index).fillna(0).astype(int)
    return out


def _rate_membership(hotlines: pd.DataFrame, verdicts: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """Per hotline and problem: in the pool (denominator), has the problem (numerator), or is
    undetermined (needs_review, tool_error, or no verdict although the check ran)."""
    cols: dict[str, pd.Series] = {}
    for r in rubric.problem_rates:
        col = hotlines.get(f"verdict_{r.check}")
        if col is None:
            by_check = verdicts[verdicts["check"] == r.check].set_index("hotline_id")["verdict"]
            col = by_check.reindex(hotlines.index)
        ran = col.notna().any()
        pool = {v.value for v in r.pool}
        cols[f"pool_{r.problem.value}"] = col.isin(pool)
        cols[f"has_{r.problem.value}"] = col == r.problem.value
        cols[f"undetermined_{r.problem.value}"] = col.isin(UNDETERMINED) | (col.isna() & bool(ran))
    return pd.DataFrame(cols, index=hotlines.index)


def _rates(hotlines: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    rows = []
    for r in rubric.problem_rates:
        p = r.problem.value
        of, count = int(hotlines[f"pool_{p}"].sum()), int(hotlines[f"has_{p}"].sum())
        rows.append({
            "problem": p, "label_zh": r.label_zh, "check": r.check, "pool_zh": r.pool_zh,
            "count": count, "of": of, "rate": count / of if of else None,
            "undetermined": int(hotlines[f"undetermined_{p}"].sum()), "report_2021": r.report_2021,
            "diff_2021": (count / of - r.report_2021) if of and r.report_2021 is not None else None,
        })
    return pd.DataFrame(rows)


def _stats(frame: pd.DataFrame, columns: list[str]) -> dict[str, object]:
    out: dict[str, object] = {"hotlines": len(frame)}
    for c in columns:
        s = frame[c].dropna()
        out[f"n_{c}"] = len(s)
        out[c] = s.mean() if len(s) else None
    return out


def _summary(hotlines: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    rows = []
    for c in [*rubric.dimensions, "total"]:
        s = hotlines[c].dropna()
        dim = rubric.dimensions.get(c)
        rows.append({
            "dimension": c, "label_zh": dim.label_zh if dim else "总分",
            "label_en": dim.label_en if dim else "Total", "weight": dim.weight if dim else None,
            "scored": len(s), "mean": s.mean() if len(s) else None,
            "min": s.min() if len(s) else None, "median": s.median() if len(s) else None,
            "max": s.max() if len(s) else None,
            "report_2021": dim.report_2021 if dim else None,
        })
    return pd.DataFrame(rows)


def _by(hotlines: pd.DataFrame, key: str, rubric: Rubric) -> pd.DataFrame:
    """Counts add up to the round's; means are over the group's scored hotlines."""
    columns = [*rubric.dimensions, "total"]
    rows = []
    for value, group in hotlines.groupby(key, sort=False):
        row = {key: value, **_stats(group, columns)}
        for r in rubric.problem_rates:
            p = r.problem.value
            row[f"{p}_count"] = int(group[f"has_{p}"].sum())
            row[f"{p}_of"] = int(group[f"pool_{p}"].sum())
        rows.append(row)
    frame = pd.DataFrame(rows)
    if key == "tier":
        order = {t: i for i, t in enumerate(TIER_ORDER)}
        frame = frame.sort_values(key, key=lambda s: s.map(lambda t: order.get(t, len(order))))
    else:
        frame = frame.sort_values(["total", key], ascending=[False, True], na_position="last")
    return frame.reset_index(drop=True)
