"""The round's machine-readable tables: verdicts.csv and channels.csv (DESIGN §6)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hotline_audit.files import write_atomically
from hotline_audit.model import VERDICT_LABELS_ZH
from hotline_audit.store import RoundData

VERDICT_COLUMNS = [
    "hotline_id", "name", "province", "city", "check", "verdict", "verdict_zh", "reason",
    "reason_en", "confidence", "evidence", "rule",
]
CHANNEL_COLUMNS = ["hotline_id", "kind", "value", "found_on", "element", "text", "excerpt"]


def _csv(columns: list[str], rows: list[dict]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_verdicts_csv(data: RoundData, path: Path) -> Path:
    hotlines = {h.hotline_id: h for h in data.hotlines}
    rows = []
    for v in data.verdicts:
        h = hotlines.get(v.hotline_id)
        rows.append({
            "hotline_id": v.hotline_id, "name": h.name if h else "", "province": h.province if h else "",
            "city": h.city if h else "", "check": v.check, "verdict": v.verdict.value,
            "verdict_zh": VERDICT_LABELS_ZH.get(v.verdict.value, ""), "reason": v.reason,
            "reason_en": v.reason_en, "confidence": f"{v.confidence:.2f}",
            "evidence": ";".join(v.evidence), "rule": v.rule,
        })
    write_atomically(path, _csv(VERDICT_COLUMNS, rows))
    return path


def write_channels_csv(data: RoundData, path: Path) -> Path:
    rows = [c.model_dump() for c in data.channels]
    write_atomically(path, _csv(CHANNEL_COLUMNS, rows))
    return path
