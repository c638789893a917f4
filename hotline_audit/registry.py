"""Load the hotlines of a round from CSV or YAML, all or nothing.

Every row is validated before any is used; problems name the file, the line and the field,
so an auditor can fix the sheet without reading a traceback.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError, ValidationInfo, field_validator

from .files import csv_text
from .model import Hotline

REQUIRED = ("hotline_id", "name", "province", "city")  # header check for CSV
URL_FIELDS = ("website", "gov_portal", "h5")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Longest value each text field may hold. Real hotline names are about 20 characters
# (…政务服务便民热线); a name of thousands is a paste gone wrong, and would swamp every report.
TEXT_LIMITS: dict[str, int] = {
    "name": 100, "province": 100, "city": 100, "tier": 100, "merge_mode": 100,
    "wechat": 500, "mini_program": 500, "app": 500, "weibo": 500,  # a name, an id, or a link to one
}
URL_MAX = 2000  # what browsers, servers and spreadsheets all still handle
# Characters no text of a registry needs: control characters (NUL, line breaks, tabs), and
# invisible format characters (zero-width spaces, right-to-left overrides) that make a name
# read differently from what it is.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Characters that are never part of a URL as written (RFC 3986); a backslash is read as '/'
# by browsers, so ``http://evil.test\@gov.cn`` would go where it does not seem to.
URL_FORBIDDEN = frozenset('\\"<>`')
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
PORT = re.compile(r"\d+(?:[/?#]|$)")
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as csv counts lines
HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")  # after IDNA: 南京.政务 -> xn--….xn--…


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
        if not ID_PATTERN.fullmatch(value):
            raise ValueError("use letters, digits, '_', '.', '-' (at most 64), e.g. nanjing or 320100")
        return value

    @field_validator(*TEXT_LIMITS)
    @classmethod
    def _plain_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = plain_text(value, TEXT_LIMITS[str(info.field_name)])
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator(*URL_FIELDS)
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)


def plain_text(value: str, limit: int) -> str:
    """``value`` without surrounding spaces, if it is printable text of at most ``limit``
    characters; else ValueError saying what is wrong."""
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"too long: at most {limit:,} characters, this one has {len(value):,}")
    hidden = next((i for i, c in enumerate(value) if unicodedata.category(c) in HIDDEN_CATEGORIES), None)
    if hidden is not None:
        raise ValueError(f"contains a control or invisible character (U+{ord(value[hidden]):04X} "
                         f"at position {hidden + 1}); retype the value as plain text")
    return value


def http_url(value: str) -> str:
    """The website an auditor means: an http(s) URL with a real host, ``http://`` added to a
    bare domain (``www.x.gov.cn/path``, ``127.0.0.1:8080``) and ``/`` to an empty path.
    Anything else raises ValueError: other schemes (``javascript:``, ``data:``, ``file:``, …),
    user names or passwords in the URL (``http://gov.cn@evil.test/`` goes to evil.test), hosts
    that are neither a host name nor an IP address, and ports that are not a number."""
    value = with_scheme(plain_text(value, URL_MAX))
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # a broken [IPv6] host
        raise ValueError(f"not a usable URL: {shown(value)} ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {shown(value)} (only http:// and https:// sites can be audited)")
    odd = next((c for c in value if c.isspace() or c in URL_FORBIDDEN), None)
    if odd is not None:
        mend = "write a space as %20" if odd.isspace() else "a URL cannot hold it"
        raise ValueError(f"{shown(value)} contains {odd!r}: {mend}")
    if "@" in parts.netloc:
        raise ValueError(f"{shown(value)} has a user name or password before '@', so it goes to "
                         f"{parts.hostname!r}: write the site's own address")
    if not parts.hostname:
        raise ValueError(f"{shown(value)} names no host: write http://host/…")
    if not is_host(parts.hostname):
        raise ValueError(f"{shown(value)}: {parts.hostname!r} is not a host name or an IP address")
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = 0
    if port == 0:
        raise ValueError(f"{shown(value)}: the port must be a number from 1 to 65535")
    return value if parts.path else value + "/"


def shown(value: str, limit: int = 80) -> str:
    """A value quoted for a message, cut short: problems are read one per line."""
    return repr(value if len(value) <= limit else value[:limit - 1] + "…")


def with_scheme(value: str) -> str:
    """``http://`` before a bare domain; a value with a scheme of its own is left to be judged.
    ``name:digits`` is a host and port when the name has a dot or is localhost
    (``www.x.gov.cn:8080``); otherwise a scheme (``javascript:1``, ``mailto:…``, ``about:blank``)."""
    if value.startswith("//"):  # scheme-relative, as copied from a page's HTML
        return "http:" + value
    scheme = SCHEME.match(value)
    if scheme is None:
        return "http://" + value
    name = scheme.group(1).lower()
    if ("." in name or name == "localhost") and PORT.match(value, scheme.end()):
        return "http://" + value
    return value


def is_host(host: str) -> bool:
    """An IP address, or a host name whose labels are letters, digits, '-' and '_' (Chinese
    labels such as 政务 in their IDNA form), and whose last label is not a number."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    host = host.removesuffix(".")  # a fully qualified name may end with the root's dot
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:  # an empty label (a..b), or one past 63 characters
        return False
    labels = ascii_host.split(".")
    return (len(ascii_host) <= 253 and all(HOST_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit())


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
    try:
        for row in reader:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # blank line
            # A registry this tool wrote (simweb registry, a round's own files) has a ' before
            # text that would be a spreadsheet formula: read the value as it was.
            rows.append((first_line(reader.line_num, row),
                         {k: csv_text(v) if isinstance(v, str) else v for k, v in row.items()}))
    except csv.Error as exc:  # a cell of more than csv.field_size_limit() characters
        # DictReader.line_num is its last good row's; the reader under it knows the bad line
        raise RegistryError(path, [f"line {reader.reader.line_num}: not a readable CSV row ({exc})"]) from None
    return rows


def first_line(last_line: int, row: dict[str, Any]) -> int:
    """The line a CSV row starts on, from the line it ends on: a quoted cell may hold line
    breaks, and a spreadsheet shows the row where it starts."""
    cells = [c for v in row.values() for c in (v if isinstance(v, list) else [v]) if isinstance(c, str)]
    return last_line - sum(len(LINE_BREAK.findall(c)) for c in cells)


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
