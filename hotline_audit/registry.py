"""Load the hotlines of a round from CSV or YAML, all or nothing.

Every row is validated before any is used; problems name the file, the line and the field,
so an auditor can fix the sheet without reading a traceback.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError, field_validator

from .model import Hotline

REQUIRED = ("hotline_id", "name", "province", "city")  # header check for CSV
URL_FIELDS = ("website", "gov_portal", "h5")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RegistryError(ValueError):
    """A registry that cannot be used; ``problems`` lists every bad line and field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class RegistryEntry(Hotline):
    @field_validator("hotline_id")
    @classmethod
    def _id_is_safe(cls, value: str) -> str:
        # The id names evidence folders and files, so keep it to path-safe characters.
        if not ID_PATTERN.match(value):
            raise ValueError("use letters, digits, '_', '.', '-' (at most 64), e.g. nanjing or 320100")
        return value

    @field_validator("name", "province", "city")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator(*URL_FIELDS)
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if "://" not in value:  # registries often list bare domains: www.x.gov.cn
            value = "http://" + value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {value!r}")
        if not parts.path:
            value += "/"
        return value


def load_registry(path: Path) -> list[Hotline]:
    """Read and validate a registry; raises RegistryError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise RegistryError(path, ["file not found"])
    if path.is_dir():
        raise RegistryError(path, ["is a folder, expected a .csv or .yaml file"])
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        rows = _yaml_rows(path)
    elif suffix in (".csv", ".txt"):
        rows = _csv_rows(path)
    else:
        raise RegistryError(path, [f"unknown registry type {suffix!r}: use .csv or .yaml"])
    if not rows:
        raise RegistryError(path, ["no hotlines in the file"])

    problems: list[str] = []
    hotlines: list[Hotline] = []
    first_line: dict[str, int] = {}
    for line, raw in rows:
        data = {k.strip(): _blank_to_none(v) for k, v in raw.items() if k is not None and k.strip()}
        data = {k: v for k, v in data.items() if v is not None}
        try:
            entry = RegistryEntry.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(x) for x in err["loc"]) or "?"
                msg = "missing or empty" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
                problems.append(f"line {line}: field '{field}': {msg}")
            continue
        if entry.hotline_id in first_line:
            problems.append(
                f"line {line}: field 'hotline_id': duplicate {entry.hotline_id!r} "
                f"(first on line {first_line[entry.hotline_id]})"
            )
            continue
        first_line[entry.hotline_id] = line
        hotlines.append(Hotline.model_validate(entry.model_dump()))
    if problems:
        raise RegistryError(path, problems)
    return hotlines


def _blank_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    return str(value)


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Sheets saved by Excel on a Chinese Windows are GBK/GB18030, not UTF-8.
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise RegistryError(path, [f"not UTF-8 or GB18030 text ({exc.reason})"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise RegistryError(path, ["empty file: expected a header row"])
    header = [h.strip() for h in reader.fieldnames]
    missing = [f for f in REQUIRED if f not in header]
    if missing:
        raise RegistryError(path, [f"line 1: header lacks column(s) {', '.join(missing)}"])
    rows = []
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        rows.append((reader.line_num, row))
    return rows


def _yaml_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise RegistryError(path, [f"not valid YAML: {exc}"]) from None
    if node is None:
        return []
    if isinstance(node, yaml.MappingNode):  # {hotlines: [...]}
        node = next((v for k, v in node.value if k.value == "hotlines"), None)
        if node is None:
            raise RegistryError(path, ["expected a list of hotlines, or a 'hotlines:' key holding one"])
    if not isinstance(node, yaml.SequenceNode):
        raise RegistryError(path, ["expected a list of hotlines"])
    rows = []
    for item in node.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise RegistryError(path, [f"line {line}: expected a mapping of fields"])
        data = yaml.safe_load(yaml.serialize(item))
        rows.append((line, data))
    return rows
