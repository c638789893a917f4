"""Persona data out of everything we publish (DESIGN §5): reports, workbooks, evidence packs.

The persona is the one the round ran with (its stored settings name the persona file); without
a persona file that is the built-in test persona, which is redacted all the same.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from hotline_audit.config import EffectivenessSettings
from hotline_audit.personas import Persona, load_persona


def round_persona(settings: dict) -> Persona:
    """The persona of a round from its stored settings; raises PersonaError when its file is
    gone (better no report than one that leaks a phone number)."""
    eff = EffectivenessSettings.model_validate((settings or {}).get("effectiveness") or {})
    return load_persona(eff)


class Redactor:
    """``redact`` with a memo: reports repeat the same strings many times. It runs as capture's
    Scrubber does (journeys/capture.py): also the spellings values take on the wire (GB18030
    percent-encoding, JSON escapes), and long texts (archived pages, scripts) first through a
    fast filter, since ``redact`` costs ~1 s per 500 kB."""

    LONG = 4096  # not memoised: archived bodies are not repeated

    def __init__(self, persona: Persona) -> None:
        from journeys.capture import Scrubber

        self.persona = persona
        self._memo: dict[str, str] = {}
        self._scrub = Scrubber(persona)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if len(text) > self.LONG:
            return self._scrub.text(text)
        out = self._memo.get(text)
        if out is None:
            out = self._memo[text] = self._scrub.text(text)
        return out

    def deep(self, obj: Any) -> Any:
        """Every string inside a JSON-like structure (keys too), redacted."""
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {self.deep(k): self.deep(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.deep(v) for v in obj]
        return obj

    def leaks(self, text: str) -> list[str]:
        """Which persona values ``text`` still holds verbatim (a last check before writing)."""
        p = self.persona
        return [f for f in ("phone", "id_number", "email", "name") if getattr(p, f) and getattr(p, f) in text]


# -- files ---------------------------------------------------------------------------------------

TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "image/svg+xml",
              "application/har+json")
TEXT_SUFFIXES = (".html", ".htm", ".json", ".txt", ".xml", ".svg", ".csv", ".har", ".js", ".css", ".md", ".log")
ZIP_SUFFIXES = (".zip", ".wacz")  # a Playwright trace and a WACZ archive are zips of text and media
WACZ_TYPES = ("application/wacz",)
COOKIE_HEADERS = ("cookie", "set-cookie", "authorization", "proxy-authorization")
COOKIE_MARK = "[已删除 removed]"  # the same mark journeys/capture.py puts in at capture time


def is_text(name: str, media_type: str = "") -> bool:
    return media_type.startswith("text/") or media_type in TEXT_TYPES or name.lower().endswith(TEXT_SUFFIXES)


def is_zip(name: str, media_type: str = "") -> bool:
    return media_type in ("application/zip", *WACZ_TYPES) or name.lower().endswith(ZIP_SUFFIXES)


def is_wacz(name: str, media_type: str = "") -> bool:
    return media_type in WACZ_TYPES or name.lower().endswith(".wacz")


def decode(data: bytes, encodings: tuple[str, ...] = ("utf-8", "gb18030")) -> tuple[str, str] | None:
    """(text, encoding) for text bytes (pages mislabel UTF-8 and GB18030); None for binary."""
    if b"\x00" in data[:4096]:
        return None
    for encoding in encodings:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return None


def redact_har(har: Any, redactor: Redactor) -> Any:
    """A HAR with cookies and credentials removed, then every string redacted."""
    for entry in (har.get("log", {}).get("entries", []) if isinstance(har, dict) else []):
        for side in ("request", "response"):
            part = entry.get(side) or {}
            for header in part.get("headers") or []:
                if str(header.get("name", "")).lower() in COOKIE_HEADERS:
                    header["value"] = COOKIE_MARK
            for cookie in part.get("cookies") or []:
                cookie["value"] = COOKIE_MARK
    return redactor.deep(har)


def redact_file(name: str, data: bytes, redactor: Redactor, media_type: str = "") -> tuple[bytes, bool]:
    """(bytes to publish, whether they were changed). Text is redacted in its own encoding (a
    file of unknown type counts as text when it is valid UTF-8, as a trace's network bodies
    are), a HAR also loses its cookies, a zip (trace, WACZ) is redacted member by member;
    binary files (screenshots, masked when taken) pass unchanged. A WACZ is redacted record by
    record inside its WARC and re-indexed, so it still replays; one already clean (as captures
    are) is packed byte for byte."""
    if is_wacz(name, media_type):
        from journeys.capture import rewrite_wacz

        out = rewrite_wacz(data, redactor)
        return out, out != data
    if is_zip(name, media_type):
        out = redact_zip(data, redactor)
        return out, out != data
    decoded = decode(data, ("utf-8", "gb18030") if is_text(name, media_type) else ("utf-8",))
    if decoded is None:
        return data, False
    text, encoding = decoded
    if name.lower().endswith(".har") or media_type == "application/har+json":
        try:
            new = json.dumps(redact_har(json.loads(text), redactor), ensure_ascii=False, indent=1)
        except ValueError:
            new = redactor(text)
    else:
        new = redactor(text)
    if new == text:  # untouched bytes stay byte-identical (no re-encoding)
        return data, False
    return new.encode(encoding), True


def redact_zip(data: bytes, redactor: Redactor) -> bytes:
    """Member by member (a trace's network log also loses its cookies); the same bytes back
    when no member changed."""
    from journeys.capture import scrub_trace_network

    src = zipfile.ZipFile(io.BytesIO(data))
    members = []
    changed = False
    for info in src.infolist():
        member = src.read(info)
        if not info.is_dir():
            new = scrub_trace_network(member, redactor) if info.filename.endswith(".network") else member
            new, _ = redact_file(info.filename, new, redactor)
            changed = changed or new != member
            member = new
        members.append((info, member))
    if not changed:
        return data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, member in members:
            dst.writestr(info, member)
    return buf.getvalue()
