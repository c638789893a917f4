"""The scored outputs of a round: scores.csv, scores.json, the workbook and the HTML report,
all from one scoring of the stored round (so they always agree)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hotline_audit.files import csv_bytes, write_atomically
from hotline_audit.model import Verdict
from hotline_audit.store import RoundData

from .redaction import Redactor, round_persona
from .rubric import Rubric, load_rubric
from .scoring import Scores, score_round

if TYPE_CHECKING:
    from hotline_audit.store import Store

SCORE_COLUMNS = ["hotline_id", "name", "province", "city", "tier", "merge_mode"]


def plain(value: Any) -> Any:
    """JSON-safe: NaN/NA -> None, numpy scalars -> Python, datetimes -> ISO."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        return plain(value.item())
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def hotline_rows(scores: Scores) -> list[dict[str, Any]]:
    cols = [*SCORE_COLUMNS[1:], *scores.dimensions, "total", "rank",
            *[f"verdict_{c}" for c in scores.rubric.checks], "adjusted", "done"]
    return records(scores.hotlines.reset_index()[["hotline_id", *cols]])


def scores_json(data: RoundData, scores: Scores, redactor: Redactor) -> dict[str, Any]:
    r = scores.rubric
    verdicts = scores.verdicts.drop(columns=["listed"])
    return redactor.deep({
        "round": data.round, "status": data.status, "generated_at": datetime.now(UTC).isoformat(),
        "tool_version": data.tool_version, "config_hash": data.config_hash,
        "rubric": {"name": r.name, "version": r.version, "sha256": r.fingerprint(), "source": r.source,
                   "dimensions": {k: d.model_dump() for k, d in r.dimensions.items()}},
        "summary": records(scores.summary), "problem_rates": records(scores.rates),
        "by_province": records(scores.by_province), "by_tier": records(scores.by_tier),
        "by_merge_mode": records(scores.by_merge_mode),
        "hotlines": hotline_rows(scores), "verdicts": records(verdicts),
    })


def write_scores_csv(scores: Scores, path: Path, redactor: Redactor) -> Path:
    rows = [{k: "" if v is None else redactor(str(v)) for k, v in row.items()} for row in hotline_rows(scores)]
    write_atomically(path, csv_bytes(rows))
    return path


def write_scores_json(data: RoundData, scores: Scores, path: Path, redactor: Redactor) -> Path:
    text = json.dumps(scores_json(data, scores, redactor), ensure_ascii=False, indent=1)
    write_atomically(path, text.encode("utf-8"))
    return path


def adjustments(store: Store | None, round_name: str) -> tuple[list[Verdict], list[Verdict]]:
    """(manual answers, reviewer overrides) stored for the round; empty without those tables."""
    if store is None:
        return [], []
    try:
        from hotline_audit.review import manual_verdicts, override_verdicts
    except ImportError:
        return [], []
    return manual_verdicts(store, round_name), override_verdicts(store, round_name)


def round_cases(store: Store | None, round_name: str) -> list | None:
    """The case ledger's rows for the round, or None where there is no ledger."""
    if store is None:
        return None
    try:
        from hotline_audit.ledger import Ledger
    except ImportError:
        return None
    return Ledger(store).cases(round_name)


def score_stored(data: RoundData, rubric: Rubric | None = None, store: Store | None = None) -> Scores:
    manual, overrides = adjustments(store, data.round)
    return score_round(data, rubric or load_rubric(), manual, overrides)


def write_score_outputs(data: RoundData, round_dir: Path, rubric: Rubric | None = None,
                        store: Store | None = None, compare: RoundData | None = None) -> dict[str, Path]:
    """scores.csv, scores.json, the workbook, and report.html with scores (rewritten)."""
    from .excel import write_workbook
    from .html import write_report

    scores = score_stored(data, rubric, store)
    redactor = Redactor(round_persona(data.settings))
    before = score_stored(compare, scores.rubric, store) if compare is not None else None
    return {
        "scores_csv": write_scores_csv(scores, round_dir / "scores.csv", redactor),
        "scores_json": write_scores_json(data, scores, round_dir / "scores.json", redactor),
        "workbook": write_workbook(data, scores, round_dir / "report.xlsx", redactor,
                                   round_cases(store, data.round)),
        "report": write_report(data, round_dir / "report.html", scores=scores, redactor=redactor,
                               compare=(compare, before) if compare is not None and before is not None else None),
    }
