"""What one borrowed tab saves besides screenshots: a WACZ web archive, a HAR and a trace.

Playwright records (``tracing.start_har`` with bodies embedded, and ``tracing.start``/``stop``
per borrow); this module caps, scrubs and converts what it recorded, off the event loop:

- persona values (the journey's ``secrets``) out of every URL, header and body, in the
  spellings they take on the wire (plain, URL-encoded in UTF-8 or GB18030, JSON ``\\u``
  escapes, and the masked forms ``personas.redact`` knows);
- cookie and credential header values replaced by a mark, in the HAR, the WACZ and the trace;
- bodies of audio/video, over ``max_body_bytes`` or past ``max_total_bytes`` not kept.

The WACZ is WACZ 1.1.1 as ReplayWeb.page reads it: ``archive/data.warc.gz`` (WARC/1.1 records
written by warcio, bodies decoded so a reader needs no Content-Encoding), ``indexes/index.cdxj``
(cdxj-indexer, which also keys POSTs the way replay looks them up), ``pages/pages.jsonl`` and
``datapackage.json`` with the SHA-256 of each file, itself hashed in ``datapackage-digest.json``.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import hashlib
import io
import json
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from hotline_audit import __version__
from hotline_audit.config import EvidenceSettings
from hotline_audit.files import write_atomically
from hotline_audit.model import EvidenceFile
from hotline_audit.personas import MARKERS, Persona, redact

if TYPE_CHECKING:
    from .browser import Tab

COOKIE_MARK = "[已删除 removed]"
WARC_MARK = "[removed]"  # HTTP headers in a WARC are Latin-1: warcio would percent-encode the other
SECRET_MARK = "[已删除 removed]"  # for secrets given as plain strings (no persona field to name)
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
MEDIA_TYPES = {"wacz": "application/wacz", "har": "application/har+json", "trace": "application/zip"}
SUFFIXES = {"wacz": ".wacz", "har": ".har", "trace": ".trace.zip"}
WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
# A stuck browser must not hold a hotline forever; a trace of a long journey takes ~1 s to write.
STOP_TIMEOUT_S = 30.0
_TEXTUAL = re.compile(r"^(text/|application/([\w.+-]*\+)?(json|javascript|x-javascript|ecmascript|xml|"
                      r"xhtml\+xml|x-www-form-urlencoded)\b|image/svg\+xml)", re.I)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)
_MASK_CLASS = "*＊●•xX"  # personas.MASKS: what sites print in place of hidden digits


def is_textual(mime: str) -> bool:
    return bool(_TEXTUAL.match(mime or ""))


# -- scrubbing ------------------------------------------------------------------------------------


def _spaced(value: str) -> re.Pattern[str]:
    return re.compile(r"\s*".join(re.escape(c) for c in value), re.IGNORECASE)


def _digits_window(value: str) -> re.Pattern[str]:
    """Windows that could spell ``value`` with masked digits (overlapping, via a lookahead)."""
    def cls(c: str) -> str:
        wide = chr(ord(c) + 0xFEE0) if c.isdigit() else c.lower()
        return f"[{re.escape(c + wide)}{re.escape(_MASK_CLASS)}]"
    return re.compile("(?=(" + r"[ \-\u00a0]?".join(cls(c) for c in value) + "))", re.IGNORECASE)


class PersonaFilter:
    """A fast, conservative test: could ``personas.redact`` change this text at all?

    ``redact`` walks every digit run in Python (about 1 s per 500 kB of script) and builds its
    patterns per call (~1 ms per header value); texts holding no spelling of the persona are
    the rule, so this looks first with a few compiled regexes and lets ``redact`` run only
    where one of them hits. Each test is a necessary condition of one of ``redact``'s rules."""

    def __init__(self, persona: Persona) -> None:
        self.persona = persona
        self._spaced = [_spaced(v) for v in (persona.name, persona.phone, persona.id_number, persona.email)]
        self._windows = [(_digits_window(persona.id_number), persona.id_number, 8),
                         (_digits_window(persona.phone), persona.phone, 6)]
        self._lower = [quote(persona.name, safe="").lower(), persona.email.partition("@")[2].lower()]

    def might_hold(self, text: str) -> bool:
        if any(p.search(text) for p in self._spaced):
            return True
        low = text.lower()
        if any(s in low for s in self._lower):
            return True
        for pattern, value, min_shown in self._windows:
            for m in pattern.finditer(text):
                chars = [c for c in m.group(1).upper() if c not in " -\u00a0"]
                shown = sum(1 for c, v in zip(chars, value, strict=False)
                            if c == v or (c.isdigit() and c.translate(_WIDE) == v))
                if shown >= min_shown:
                    return True
        return False


_WIDE = {0xFF10 + i: 0x30 + i for i in range(10)}


class Scrubber:
    """The journey's secrets out of captured text and bytes.

    ``secrets`` is the persona (its values are replaced by the markers reports use, [手机号] …)
    or plain strings (replaced by ``SECRET_MARK``). Text is redacted in the encoding it came in."""

    def __init__(self, secrets: Persona | Sequence[str] | None = None) -> None:
        self.persona = secrets if isinstance(secrets, Persona) else None
        self._filter = PersonaFilter(self.persona) if self.persona else None
        pairs: list[tuple[str, str]] = []
        if self.persona is not None:
            values = [(getattr(self.persona, f), MARKERS[f]) for f in ("id_number", "phone", "email", "name")]
        else:
            values = [(s, SECRET_MARK) for s in sorted({s for s in secrets or () if s}, key=len, reverse=True)]
        for value, mark in values:
            for spelling in _spellings(value):
                pairs.append((spelling, mark))
        self._pairs = pairs
        self._needles = [s for s, _ in pairs]
        self._memo: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return bool(self._pairs)

    def text(self, s: str) -> str:
        if not self._pairs or not s:
            return s
        if len(s) < 256:  # header values, URLs: the same ones again and again
            out = self._memo.get(s)
            if out is None:
                out = self._memo[s] = self._text(s)
            return out
        return self._text(s)

    def _text(self, s: str) -> str:
        if self._filter is not None and self._filter.might_hold(s):
            s = redact(s, self._filter.persona)
        for spelling, mark in self._pairs:
            if spelling in s:
                s = s.replace(spelling, mark)
        return s

    def data(self, data: bytes, textual: bool = True) -> bytes:
        return scrub_bytes(data, self.text, textual) if self._pairs else data


def _spellings(value: str) -> list[str]:
    """``value`` as it travels: plain, percent-encoded (UTF-8 and GB18030, either case) and
    JSON-escaped (``\\u6d4b``)."""
    out = [value]
    for enc in ("utf-8", "gb18030"):
        try:
            q = quote(value.encode(enc), safe="")
        except UnicodeEncodeError:
            continue
        out += [q, q.lower(), q.replace("%40", "@")]
    if not value.isascii():
        esc = "".join(f"\\u{ord(c):04x}" if ord(c) > 127 else c for c in value)
        out += [esc, esc.upper().replace("\\U", "\\u")]
    return [s for s in dict.fromkeys(out) if s]


def scrub_bytes(data: bytes, text_fn: Callable[[str], str], textual: bool = True) -> bytes:
    """``data`` with ``text_fn`` applied to its text, in the encoding it came in (pages
    mislabel UTF-8 and GB18030); binary bytes and untouched text come back unchanged."""
    if not data or b"\x00" in data[:4096]:
        return data
    for encoding in ("utf-8", "gb18030") if textual else ("utf-8",):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        new = text_fn(text)
        return data if new == text else new.encode(encoding, errors="replace")
    return data


def redact_headers(headers: list[dict[str, Any]], text_fn: Callable[[str], str]) -> None:
    """HAR-style headers in place: credentials marked, everything else scrubbed."""
    for h in headers or []:
        if str(h.get("name", "")).lower() in SECRET_HEADERS:
            h["value"] = COOKIE_MARK
        elif isinstance(h.get("value"), str):
            h["value"] = text_fn(h["value"])


def redact_har_entry(entry: dict[str, Any], text_fn: Callable[[str], str]) -> None:
    """One HAR entry (also a trace's ``trace.network`` snapshot) in place, except its body."""
    for side in ("request", "response"):
        part = entry.get(side) or {}
        redact_headers(part.get("headers") or [], text_fn)
        for cookie in part.get("cookies") or []:
            cookie["value"] = COOKIE_MARK
            for k in ("name", "path", "domain"):
                if isinstance(cookie.get(k), str):
                    cookie[k] = text_fn(cookie[k])
        for q in part.get("queryString") or []:
            q["name"], q["value"] = text_fn(str(q.get("name", ""))), text_fn(str(q.get("value", "")))
    req, resp = entry.get("request") or {}, entry.get("response") or {}
    for k in ("url",):
        if isinstance(req.get(k), str):
            req[k] = text_fn(req[k])
    if isinstance(resp.get("redirectURL"), str):
        resp["redirectURL"] = text_fn(resp["redirectURL"])
    post = req.get("postData")
    if isinstance(post, dict):
        if isinstance(post.get("text"), str):
            post["text"] = text_fn(post["text"])
        for p in post.get("params") or []:
            for k in ("name", "value", "fileName"):
                if isinstance(p.get(k), str):
                    p[k] = text_fn(p[k])


def _deep(obj: Any, text_fn: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return text_fn(obj)
    if isinstance(obj, dict):
        return {k: _deep(v, text_fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep(v, text_fn) for v in obj]
    return obj


# -- the capture of one borrow --------------------------------------------------------------------


@dataclass
class Capture:
    """What one borrow records, and (after it) the files it saved.

    Files are ``base`` plus ``.wacz``, ``.har`` and ``.trace.zip``; ``saved`` lists
    (path, media type) of those written, ``problems`` what could not be saved and why."""

    base: Path
    secrets: Persona | Sequence[str] | None = None
    options: EvidenceSettings = field(default_factory=EvidenceSettings)
    check: str | None = None  # whose journey: ``options.trace`` may name it
    title: str = ""
    saved: list[tuple[Path, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0  # time spent after the journey: stopping recorders, writing files

    def __post_init__(self) -> None:
        self.title = self.title or "/".join(self.base.parts[-3:])  # hotline/check/name

    @property
    def trace(self) -> bool:
        return self.options.traces(self.check)

    @property
    def wanted(self) -> bool:
        return self.options.wacz or self.options.har or self.trace

    def path(self, kind: str) -> Path:
        return self.base.with_name(self.base.name + SUFFIXES[kind])

    def records(self, round_dir: Path, hotline_id: str, check: str) -> list[EvidenceFile]:
        """EvidenceFile rows for the files saved, as journeys/stability.py evidence_record makes them."""
        out = []
        for path, media_type in self.saved:
            data = path.read_bytes()
            out.append(EvidenceFile(hotline_id=hotline_id, check=check, path=path.relative_to(round_dir).as_posix(),
                                    sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), media_type=media_type))
        return out


class Recorder:
    """Starts Playwright's recorders on a tab's context for one borrow; ``stop`` saves."""

    def __init__(self, tab: Tab, capture: Capture) -> None:
        self.tab, self.capture = tab, capture
        self._tmp: Path | None = None
        self._har = self._trace = False

    async def start(self) -> None:
        opts, tracing = self.capture.options, self.tab.context.tracing
        self._tmp = Path(tempfile.mkdtemp(prefix="hotline-capture-"))
        title = self.capture.title
        if self.capture.trace:
            # Started and stopped per borrow, not once per context in chunks: a context's
            # chunks share one network log, so each trace would carry every earlier borrow's
            # traffic (other hotlines', and their persona data) -- Playwright 1.5x keeps it so.
            await tracing.start(snapshots=True, screenshots=False, title=title)
            self._trace = True
        if opts.wacz or opts.har:
            await tracing.start_har(self._tmp / "raw.har", content="embed")
            self._har = True

    async def halt(self) -> None:
        """Stop the recorders (Playwright writes its files). Raises when the browser failed:
        the pool then replaces the tab."""
        started = asyncio.get_running_loop().time()
        tracing, tmp = self.tab.context.tracing, self._tmp
        assert tmp is not None
        try:
            if self._har:
                self._har = False
                await tracing.stop_har()
            if self._trace:
                self._trace = False
                await tracing.stop(path=tmp / "trace.zip")
        finally:
            self.capture.seconds += asyncio.get_running_loop().time() - started

    async def save(self) -> None:
        """Scrub, convert and write what ``halt`` left (after the tab went back to the pool:
        tabs are scarce, this is CPU work in a thread). Never raises: see ``problems``."""
        started = asyncio.get_running_loop().time()
        tmp = self._tmp
        try:
            if tmp is not None:
                await asyncio.to_thread(self._write, tmp)
        except Exception as exc:
            self.capture.problems.append(f"not saved: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            self.capture.seconds += asyncio.get_running_loop().time() - started

    def discard(self) -> None:
        """Drop what was recorded unsaved (raw, unscrubbed): the borrow was cancelled."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    async def stop(self) -> None:
        """``halt`` then ``save`` (for a recorder used outside the pool)."""
        try:
            await self.halt()
        finally:
            await self.save()

    def _write(self, tmp: Path) -> None:
        cap, opts = self.capture, self.capture.options
        scrub = Scrubber(cap.secrets)
        raw = tmp / "raw.har"
        if raw.is_file():
            try:
                har, exchanges, pages = process_har(json.loads(raw.read_bytes()), scrub, opts)
                if opts.har:
                    self._save("har", json.dumps(har, ensure_ascii=False, indent=1).encode("utf-8"))
                if opts.wacz:
                    warc = write_warc(exchanges, title=cap.title)
                    self._save("wacz", assemble_wacz({WARC_NAME: warc}, pages, title=cap.title))
            except Exception as exc:  # a HAR we cannot read: say so, keep the other files
                cap.problems.append(f"HAR/WACZ: {type(exc).__name__}: {str(exc)[:200]}")
        trace = tmp / "trace.zip"
        if cap.trace and trace.is_file():
            try:
                self._save("trace", scrub_trace(trace.read_bytes(), scrub.text))
            except Exception as exc:
                cap.problems.append(f"trace: {type(exc).__name__}: {str(exc)[:200]}")

    def _save(self, kind: str, data: bytes) -> None:
        path = self.capture.path(kind)
        write_atomically(path, data)
        self.capture.saved.append((path, MEDIA_TYPES[kind]))


# -- HAR -> exchanges -----------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request and its response, ready for WARC records (already scrubbed)."""

    url: str
    date: str  # ISO 8601 UTC
    method: str
    request_headers: list[tuple[str, str]]
    post: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes


def process_har(har: dict[str, Any], scrub: Scrubber, opts: EvidenceSettings
                ) -> tuple[dict[str, Any], list[Exchange], list[dict[str, Any]]]:
    """(the HAR to save, the exchanges to archive, the pages for pages.jsonl) from Playwright's
    HAR. Binary bodies stay out of the saved HAR when the WACZ holds them."""
    log = har.get("log") or {}
    entries = log.get("entries") or []
    total = 0
    exchanges: list[Exchange] = []
    main_frame: dict[str, str] = {}  # pageref -> frameref of its first document: the main frame
    pages: list[dict[str, Any]] = []
    kept: dict[int, dict[str, str]] = {}  # entry index -> body fields for the saved HAR
    for i, e in enumerate(entries):
        redact_har_entry(e, scrub.text)
        req, resp = e.get("request") or {}, e.get("response") or {}
        content = resp.setdefault("content", {})
        mime = str(content.get("mimeType") or "")
        text, encoding = content.pop("text", None), content.pop("encoding", None)
        body: bytes | None = None
        why = ""
        if text is not None:
            body = base64.b64decode(text) if encoding == "base64" else text.encode("utf-8")
            if e.get("_resourceType") == "media" or mime.lower().startswith(("audio/", "video/")):
                body, why = None, "audio/video"
            elif len(body) > opts.max_body_bytes:
                body, why = None, f"larger than {opts.max_body_bytes} bytes"
            elif total + len(body) > opts.max_total_bytes:
                body, why = None, f"past {opts.max_total_bytes} bytes for this capture"
        if body is not None:
            body = scrub.data(body, is_textual(mime))
            total += len(body)
            kept[i] = _har_body(body, mime, in_wacz=opts.wacz)
            if is_textual(mime) and encoding != "base64":
                body = as_served(body, _header(resp.get("headers"), "content-type") or mime)
        elif why:
            content["comment"] = f"正文未保存 body not kept: {why}"
        status = int(resp.get("status") or 0)
        url = str(req.get("url") or "")
        if status <= 0 or not url.startswith(("http://", "https://")):
            continue
        if body is None and not (300 <= status < 400 or status in (204, 304) or req.get("method") == "HEAD"
                                 or content.get("size") == 0):
            continue  # no body kept: replay would show an empty page, better none
        ex = Exchange(
            url=ascii_url(url), date=_warc_date(e.get("startedDateTime")), method=str(req.get("method") or "GET"),
            request_headers=_pairs(req.get("headers")), post=_post_bytes(req.get("postData")),
            status=status, reason=str(resp.get("statusText") or _phrase(status)),
            response_headers=_pairs(resp.get("headers")), body=body or b"")
        exchanges.append(ex)
        pageref, frame = e.get("pageref"), e.get("_frameref")
        if e.get("_resourceType") == "document" and pageref:
            main_frame.setdefault(pageref, frame)
            if main_frame[pageref] == frame and not 300 <= status < 400:
                title = _TITLE.search(ex.body[:65536])
                pages.append({"id": uuid.uuid4().hex, "url": ex.url, "ts": ex.date,
                              "title": scrub.text(_title_text(title.group(1)) if title else "")})
    # What remains (page titles, failure texts) is small: every string once more, bodies aside.
    har = _deep(har, scrub.text)
    for i, fields in kept.items():
        har["log"]["entries"][i]["response"]["content"].update(fields)
    har["log"]["comment"] = ("hotline-audit: 个人信息与 Cookie 已在采集时删除 persona values and cookies "
                             "removed at capture; audio/video and bodies over the caps not kept")
    return har, exchanges, pages


def _har_body(body: bytes, mime: str, in_wacz: bool) -> dict[str, str]:
    """Text bodies stay readable in the HAR; binary ones live in the WACZ (no second copy)."""
    if is_textual(mime):
        try:
            return {"text": body.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    if in_wacz:
        return {"comment": "正文见 WACZ body kept in the .wacz"}
    return {"text": base64.b64encode(body).decode("ascii"), "encoding": "base64"}


_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_GBK_LABELS = {"gb2312", "gbk", "x-gbk", "csgb2312", "chinese", "gb_2312-80", "iso-ir-58"}  # WHATWG: GBK


def as_served(body: bytes, content_type: str) -> bytes:
    """Chromium hands text bodies over as UTF-8 whatever the page's charset; the archive keeps
    them in the charset the response declares (header, else an HTML <meta>), so replay decodes
    them as the site meant. Text that does not fit that charset stays UTF-8."""
    m = _CHARSET.search(content_type or "")
    label = m.group(1).lower() if m else ""
    if not label and "html" in (content_type or "").lower():
        mm = _META_CHARSET.search(body[:4096])
        label = mm.group(1).decode("ascii", "ignore").lower() if mm else ""
    if not label:
        return body
    try:
        text = body.decode("utf-8")
        codec = codecs.lookup("gbk" if label in _GBK_LABELS else label).name
    except (UnicodeDecodeError, LookupError):
        return body
    if codec == "utf-8":
        return body
    for name in (codec, "gb18030") if codec == "gbk" else (codec,):
        try:
            return text.encode(name)
        except UnicodeEncodeError:
            continue
    return body


def _header(headers: Any, name: str) -> str:
    return next((str(h.get("value", "")) for h in headers or [] if str(h.get("name", "")).lower() == name), "")


def _pairs(headers: Any) -> list[tuple[str, str]]:
    return [(str(h.get("name", "")), str(h.get("value", ""))) for h in headers or []
            if not str(h.get("name", "")).startswith(":")]


def _post_bytes(post: Any) -> bytes:
    if isinstance(post, dict) and isinstance(post.get("text"), str):
        return post["text"].encode("utf-8")
    return b""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _title_text(raw: bytes) -> str:
    for enc in ("utf-8", "gb18030"):
        try:
            return " ".join(raw.decode(enc).split())[:200]
        except UnicodeDecodeError:
            continue
    return ""


def _warc_date(started: Any) -> str:
    try:
        dt = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
    except ValueError:
        dt = datetime.now(UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# -- WARC and WACZ --------------------------------------------------------------------------------

# Bodies are stored decoded (Playwright hands them over so), so these would lie about them.
_BODY_FRAMING = frozenset({"content-encoding", "transfer-encoding", "content-length"})


@dataclass
class WarcRecord:
    """A request or response record, plain enough to scrub and write again."""

    kind: str  # "request" | "response" | "resource" | "metadata"
    url: str
    date: str
    record_id: str
    http: StatusAndHeaders | None
    payload: bytes
    concurrent_to: str | None = None
    content_type: str = ""


def _framed(headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    out = [(k, v) for k, v in headers if k.lower() not in _BODY_FRAMING]
    return [*out, ("Content-Length", str(len(body)))]


def ascii_url(s: str) -> str:
    """Non-ASCII (a marker put into a URL) percent-encoded: a request line must be ASCII."""
    return s if s.isascii() else quote(s, safe="!#$%&'()*+,/:;=?@[]~ ")


def _marked(headers: list[tuple[str, str]], text_fn: Callable[[str], str] = str) -> list[tuple[str, str]]:
    return [(k, WARC_MARK if k.lower() in SECRET_HEADERS else text_fn(v)) for k, v in headers]


def exchange_records(exchanges: Sequence[Exchange]) -> list[WarcRecord]:
    out: list[WarcRecord] = []
    for ex in exchanges:
        parts = urlsplit(ex.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        resp_id, req_id = _record_id(), _record_id()
        out.append(WarcRecord("response", ex.url, ex.date, resp_id,
                              StatusAndHeaders(f"{ex.status} {ex.reason}",
                                               _marked(_framed(ex.response_headers, ex.body)),
                                               protocol="HTTP/1.1"), ex.body))
        req_headers = _marked([(k, v) for k, v in ex.request_headers if k.lower() != "content-length"])
        if ex.post:
            req_headers.append(("Content-Length", str(len(ex.post))))
        out.append(WarcRecord("request", ex.url, ex.date, req_id,
                              StatusAndHeaders(f"{ex.method} {target} HTTP/1.1", req_headers, is_http_request=True), ex.post, concurrent_to=resp_id))
    return out


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def write_warc(exchanges: Sequence[Exchange], *, title: str) -> bytes:
    return records_to_warc(exchange_records(exchanges), title=title)


def records_to_warc(records: Sequence[WarcRecord], *, title: str) -> bytes:
    """A gzipped WARC/1.1: a warcinfo record, then each response followed by its request (the
    order cdxj-indexer pairs them in, to key POSTs by their body)."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="WARC/1.1")
    writer.write_record(writer.create_warcinfo_record(WARC_NAME, {
        "software": f"hotline-audit {__version__} (Playwright HAR, warcio)",
        "format": "WARC File Format 1.1", "isPartOf": title,
        "description": "个人信息与 Cookie 已在采集时删除 persona values and cookies removed at capture"}))
    for r in records:
        headers = {"WARC-Date": r.date, "WARC-Record-ID": r.record_id}
        if r.concurrent_to:
            headers["WARC-Concurrent-To"] = r.concurrent_to
        if r.content_type:
            headers["Content-Type"] = r.content_type
        writer.write_record(writer.create_warc_record(
            r.url, r.kind, payload=io.BytesIO(r.payload), length=len(r.payload),
            warc_headers_dict=headers, http_headers=r.http))
    return buf.getvalue()


def read_warc(warc: bytes) -> list[WarcRecord]:
    """The request/response/resource/metadata records of a WARC (warcinfo is written anew)."""
    out = []
    for rec in ArchiveIterator(io.BytesIO(warc)):
        if rec.rec_type not in ("request", "response", "resource", "metadata"):
            continue
        h = rec.rec_headers
        payload = rec.content_stream().read()
        http = rec.http_headers
        if http is not None:  # content_stream() undid any framing: say so in the headers
            headers = _framed(http.headers, payload) if rec.rec_type == "response" or payload else http.headers
            http = StatusAndHeaders(http.statusline, headers, protocol=http.protocol)
        out.append(WarcRecord(rec.rec_type, h.get_header("WARC-Target-URI") or "", h.get_header("WARC-Date") or "",
                              h.get_header("WARC-Record-ID") or _record_id(), http, payload,
                              concurrent_to=h.get_header("WARC-Concurrent-To"),
                              content_type="" if http is not None else h.get_header("Content-Type") or ""))
    return out


def index_warcs(warcs: dict[str, bytes]) -> bytes:
    """CDXJ lines (sorted) for WARCs named as in ``archive/``."""
    from cdxj_indexer import CDXJIndexer  # ~1 s to import (surt, tldextract): only when archiving

    lines: list[str] = []
    for name, data in warcs.items():
        out = io.StringIO()
        # Records named explicitly: the wacz package appends "warcinfo" to the shared default.
        CDXJIndexer(out, [io.BytesIO(data)], post_append=True, filename=name,
                    records="response,revisit,resource,metadata").process_all()
        lines += [ln for ln in out.getvalue().splitlines() if ln.strip()]
    return "".join(f"{ln}\n" for ln in sorted(lines)).encode("utf-8")


def assemble_wacz(warcs: dict[str, bytes], pages: Sequence[dict[str, Any]], *, title: str,
                  created: datetime | None = None) -> bytes:
    """The WACZ zip for ``warcs`` (name -> gzipped WARC bytes) and ``pages``."""
    created = created or datetime.now(UTC)
    files = {f"archive/{name}": data for name, data in warcs.items()}
    files["indexes/index.cdxj"] = index_warcs(warcs)
    files["pages/pages.jsonl"] = "".join(
        json.dumps(x, ensure_ascii=False) + "\n" for x in [PAGES_HEADER, *pages]).encode("utf-8")
    package: dict[str, Any] = {
        "profile": "data-package", "wacz_version": WACZ_VERSION, "title": title,
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": f"hotline-audit {__version__}",
        "resources": [{"name": Path(p).name, "path": p, "hash": f"sha256:{hashlib.sha256(b).hexdigest()}",
                       "bytes": len(b)} for p, b in files.items()],
    }
    if pages:
        package["mainPageUrl"], package["mainPageDate"] = pages[0]["url"], pages[0]["ts"]
    package_bytes = json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8")
    digest = {"path": "datapackage.json", "hash": f"sha256:{hashlib.sha256(package_bytes).hexdigest()}"}
    members = {"datapackage.json": package_bytes,
               "datapackage-digest.json": json.dumps(digest, indent=2).encode("utf-8"), **files}
    buf = io.BytesIO()
    # Stored, not deflated: replay reads WARC records by offset straight out of the zip.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=created.timetuple()[:6]), data)
    return buf.getvalue()


def rewrite_wacz(data: bytes, text_fn: Callable[[str], str]) -> bytes:
    """A WACZ with ``text_fn`` applied to every URL, header and body of its records (credential
    headers marked) and to its pages; re-indexed and re-hashed. Unchanged input comes back as
    the same bytes, so a WACZ scrubbed at capture packs byte for byte."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        warcs = {n.split("/", 1)[1]: z.read(n) for n in names if n.startswith("archive/")}
        pages_raw = z.read("pages/pages.jsonl") if "pages/pages.jsonl" in names else b""
        try:
            old = json.loads(z.read("datapackage.json"))
        except (KeyError, ValueError):
            old = {}
    changed = False
    parsed: dict[str, list[WarcRecord]] = {}
    for name, warc in warcs.items():
        records = parsed[name] = read_warc(warc)
        before = [(r.url, r.http.to_str() if r.http else "", r.payload) for r in records]
        for r in records:
            r.url = ascii_url(text_fn(r.url))
            if r.http is not None:
                r.http.statusline = ascii_url(text_fn(r.http.statusline))
                r.http.headers = _marked(r.http.headers, text_fn)
            ctype = r.http.get_header("Content-Type") if r.http is not None else r.content_type
            payload = scrub_bytes(r.payload, text_fn, is_textual(ctype or ""))
            if payload != r.payload and r.http is not None and r.kind == "response":
                r.http.headers = _framed(r.http.headers, payload)
            r.payload = payload
        changed = changed or [(r.url, r.http.to_str() if r.http else "", r.payload) for r in records] != before
    pages_text = pages_raw.decode("utf-8", "replace")
    new_pages_text = text_fn(pages_text)
    if not changed and new_pages_text == pages_text:
        return data
    new_warcs = {name: records_to_warc(records, title=str(old.get("title") or "")) for name, records in parsed.items()}
    pages = [json.loads(ln) for ln in new_pages_text.splitlines() if ln.strip()]
    pages = [p for p in pages if "url" in p]
    return assemble_wacz(new_warcs, pages, title=text_fn(str(old.get("title") or "")))


# -- Playwright traces ----------------------------------------------------------------------------

_TRACE_TEXT = (".trace", ".network", ".stacks", ".html", ".htm", ".css", ".js", ".json", ".txt", ".xml", ".svg")


def scrub_trace(data: bytes, text_fn: Callable[[str], str]) -> bytes:
    """A trace zip with ``text_fn`` applied to its text members (actions, DOM snapshots,
    network bodies) and credential headers marked in its network log. Unchanged input comes
    back as the same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    members: list[tuple[zipfile.ZipInfo, bytes]] = []
    changed = False
    for info in src.infolist():
        body = src.read(info)
        if not info.is_dir():
            new = body
            if info.filename.endswith(".network"):
                new = scrub_trace_network(body, text_fn)
            new = scrub_bytes(new, text_fn, info.filename.lower().endswith(_TRACE_TEXT))
            changed = changed or new != body
            body = new
        members.append((info, body))
    if not changed:
        return data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, body in members:
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def scrub_trace_network(body: bytes, text_fn: Callable[[str], str]) -> bytes:
    """trace.network is one JSON object a line, each holding a HAR entry as ``snapshot``."""
    out = []
    for line in body.decode("utf-8", "replace").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        snap = obj.get("snapshot") if isinstance(obj, dict) else None
        if isinstance(snap, dict):
            fresh = json.loads(line)
            redact_har_entry(fresh["snapshot"], text_fn)
            if fresh != obj:  # only lines that changed are written anew (JSON spelling differs)
                line = json.dumps(fresh, ensure_ascii=False, separators=(",", ":"))
        out.append(line)
    new = "\n".join(out) + ("\n" if body.endswith(b"\n") else "")
    return body if new.encode("utf-8") == body else new.encode("utf-8")
