"""The round's machine-readable tables: verdicts.csv and channels.csv (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path

from hotline_audit.files import csv_bytes, write_atomically
from hotline_audit.model import VERDICT_LABELS_ZH
from hotline_audit.store import RoundData

VERDICT_COLUMNS = [
    "hotline_id", "name", "province", "city", "check", "verdict", "verdict_zh", "reason",
    "reason_en", "confidence", "evidence", "rule", "reason_code",
]
CHANNEL_COLUMNS = ["hotline_id", "kind", "value", "found_on", "element", "text", "excerpt"]


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
            # rate_limited / waf_blocked: a needs_review the site's firewall caused (filterable)
            "reason_code": str(v.metrics.get("reason_code") or ""),
        })
    write_atomically(path, csv_bytes(rows, VERDICT_COLUMNS))
    return path


def write_channels_csv(data: RoundData, path: Path) -> Path:
    rows = [c.model_dump() for c in data.channels]
    write_atomically(path, csv_bytes(rows, CHANNEL_COLUMNS))
    return path
