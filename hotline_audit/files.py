"""Small file helpers shared by the round and the reports."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

# A cell starting with one of these is a formula to Excel, WPS or LibreOffice (OWASP, "CSV
# injection"); page text such as ``=HYPERLINK(…)`` or ``@SUM(A1)`` must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Text that is just a number ("-1.5", "+3", "-2e-05") is no formula, and a spreadsheet should
# keep reading it as a number: it is left alone.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_bytes(rows: Iterable[Mapping[str, object]], columns: list[str] | None = None) -> bytes:
    """UTF-8 CSV with a header row (``columns``, or the first row's keys); text that a
    spreadsheet would run as a formula is written with a leading ``'`` (``csv_cell``)."""
    rows = [{k: csv_cell(v) for k, v in row.items()} for row in rows]
    fields = columns or (list(rows[0]) if rows else [])
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    # Python 3.11's writer quotes a cell holding "\n" (the line terminator) but not one holding
    # a lone "\r", which every reader takes for a line end: such rows are written all quoted.
    quoted = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n",
                            quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in rows:
        has_cr = any(isinstance(v, str) and "\r" in v for v in row.values())
        (quoted if has_cr else writer).writerow(row)
    return buf.getvalue().encode("utf-8")


def csv_cell(value: object) -> object:
    """A value as written to CSV: text starting with ``= + - @``, a tab or a carriage return
    gets a leading ``'`` (OWASP's convention; the spreadsheet shows the text, the rest kept
    as it was); numbers, and text that is just a number, are written unchanged. Text already
    starting with quotes before such a character gets one more, so ``csv_text`` undoes every
    cell exactly."""
    if isinstance(value, str) and _runs_as_formula(value):
        return "'" + value
    return value


def csv_text(value: str) -> str:
    """A cell of a CSV that ``csv_bytes`` wrote, as it was before ``csv_cell``."""
    if value.startswith("'") and _runs_as_formula(value[1:]):
        return value[1:]
    return value


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV that ``csv_bytes`` wrote, every cell as it was before ``csv_cell``."""
    with path.open(encoding="utf-8", newline="") as f:
        return [{k: csv_text(v) if isinstance(v, str) else v for k, v in row.items()} for row in csv.DictReader(f)]


def _runs_as_formula(text: str) -> bool:
    return text.lstrip("'").startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text)


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
