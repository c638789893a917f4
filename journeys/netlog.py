"""What a tab sent and what it got back: the network half of "we filed a complaint".

A case counts as filed only when the network shows our submitting request — the form's
values, sent after we pressed, answered 2xx/3xx — and a receipt or success message produced
after it (issue 16: a wizard's step label 提交成功 and an empty next step were once taken for a
receipt although nothing had been sent). ``NetLog`` records every request of a tab's browser
context (its popups and frames too); ``submissions`` picks out the ones that carried our form.

Request bodies are kept only for methods that carry one and only while the tab is borrowed:
they hold the persona's values, so nothing here is ever written out; what goes into an
observation is the summary (``NetRecord.summary``: method, address without its query, status,
which of our fields it carried).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from playwright.async_api import BrowserContext, Request, Response

BODY_METHODS = ("POST", "PUT", "PATCH")
# Where a page's own code (or its form) talks to its server; images, styles and fonts never carry a form.
TALKING_TYPES = ("document", "xhr", "fetch", "other", "eventsource", "websocket")
MAX_BODY = 64 * 1024  # a form (or its JSON answer) is far smaller; more is an upload we do not need
MAX_RECORDS = 5000  # a page beaconing every second must not grow the log without end
# Parts of a value shorter than this are too common to prove anything (a name, a district).
MIN_PROOF_CHARS = 6


@dataclass
class NetRecord:
    seq: int
    started: float  # time.monotonic()
    started_at: datetime
    method: str
    url: str
    resource_type: str
    body: bytes | None  # the request body (BODY_METHODS only)
    status: int | None = None
    failure: str | None = None
    answer: str | None = None  # the response text of a request that carried a body
    finished: bool = False

    @property
    def answered_ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    def summary(self, fields: list[str] | None = None) -> dict[str, Any]:
        """What may be stored and shown: no query string (it may hold typed values), no body."""
        parts = urlsplit(self.url)
        return {"method": self.method, "url": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
                "status": self.status, "failure": self.failure, "resource_type": self.resource_type,
                "sent_at": self.started_at.isoformat(), "fields": fields or []}


@dataclass
class NetLog:
    """Every request of one browser context, in the order they started (reset per borrow)."""

    records: list[NetRecord] = field(default_factory=list)
    _by_request: dict[Request, NetRecord] = field(default_factory=dict)
    _reads: set[asyncio.Task[None]] = field(default_factory=set)
    _seq: int = 0

    def reset(self) -> None:
        self.records.clear()
        self._by_request.clear()

    def mark(self) -> int:
        """A point in time: ``since(mark)`` is what started after it."""
        return self._seq

    def since(self, mark: int) -> list[NetRecord]:
        return [r for r in self.records if r.seq > mark]

    async def answers_read(self, timeout_s: float = 5.0) -> None:
        """Wait until the answers of body-carrying requests have been read."""
        pending = [t for t in self._reads if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    # -- listeners ----------------------------------------------------------------------------

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("requestfailed", self._on_failed)
        context.on("requestfinished", self._on_finished)

    def _on_request(self, req: Request) -> None:
        self._seq += 1
        if len(self.records) >= MAX_RECORDS:
            return
        method = req.method.upper()
        body = None
        if method in BODY_METHODS:
            try:
                body = (req.post_data_buffer or b"")[:MAX_BODY]
            except Exception:  # a body Playwright cannot hand over (streamed upload)
                body = b""
        record = NetRecord(self._seq, time.monotonic(), datetime.now(UTC), method, req.url, req.resource_type, body)
        self.records.append(record)
        self._by_request[req] = record

    def _on_response(self, resp: Response) -> None:
        record = self._by_request.get(resp.request)
        if record is None:
            return
        record.status = resp.status
        if record.body is not None and record.resource_type in TALKING_TYPES and not (300 <= resp.status < 400):
            task = asyncio.ensure_future(self._read_answer(record, resp))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)

    async def _read_answer(self, record: NetRecord, resp: Response) -> None:
        try:
            ctype = (await resp.header_value("content-type") or "").lower()
            if ctype and not any(t in ctype for t in ("text", "json", "javascript", "xml")):
                return
            raw = (await resp.body())[:MAX_BODY]
        except Exception:  # the page moved on and the body is gone: the page text still tells
            return
        record.answer = decode_any(raw)[0]

    def _on_failed(self, req: Request) -> None:
        record = self._by_request.pop(req, None)
        if record is not None:
            record.failure, record.finished = (req.failure or "failed")[:200], True

    def _on_finished(self, req: Request) -> None:
        record = self._by_request.pop(req, None)
        if record is not None:
            record.finished = True


# -- which requests carried our form ------------------------------------------------------------


def decode_any(raw: bytes) -> list[str]:
    """The readings of a body a person's eye would make: UTF-8 (else GB18030, which Chinese
    sites still post in), URL-decoded in both, and JSON's escapes undone."""
    texts: list[str] = []
    for charset in ("utf-8", "gb18030"):
        try:
            texts.append(raw.decode(charset))
            break
        except UnicodeDecodeError:
            continue
    else:
        texts.append(raw.decode("utf-8", "replace"))
    plain = texts[0]
    for charset in ("utf-8", "gb18030"):
        try:
            decoded = unquote_plus(plain, encoding=charset, errors="strict")
        except UnicodeDecodeError:
            continue
        if decoded != plain:
            texts.append(decoded)
    stripped = plain.strip()
    if stripped[:1] in "{[":
        try:
            texts.append(json.dumps(json.loads(stripped), ensure_ascii=False))
        except ValueError:
            pass
    return texts


def fields_carried(record: NetRecord, values: dict[str, str]) -> list[str]:
    """Which of our typed values (title, content, …) the request carried, in its body or its
    address (a GET form). Values are matched by a distinctive part, not whole: sites trim,
    re-encode and cut text to their field lengths."""
    readings = decode_any(record.body) if record.body else []
    readings += decode_any(record.url.encode())
    carried = []
    for name, value in values.items():
        probe = _distinctive(value)
        if probe and any(probe in text for text in readings):
            carried.append(name)
    return carried


def _distinctive(value: str) -> str:
    value = "".join(value.split())
    return value[:12] if len(value) >= MIN_PROOF_CHARS else ""


@dataclass
class Sent:
    """The requests a press started that could have carried our form."""

    carrying: list[tuple[NetRecord, list[str]]]  # requests with our values in them
    opaque: list[NetRecord]  # body-carrying page requests without our values (encrypted forms)

    @property
    def any(self) -> bool:
        return bool(self.carrying or self.opaque)

    def best(self) -> tuple[NetRecord, list[str]] | None:
        """The request to cite: one that carried our values and was answered, else any."""
        ranked = sorted(self.carrying, key=lambda rf: (not rf[0].answered_ok, -len(rf[1]), rf[0].seq))
        if ranked:
            return ranked[0]
        return (self.opaque[0], []) if self.opaque else None


def submissions(records: list[NetRecord], values: dict[str, str], hosts: set[str] | None = None) -> Sent:
    """Requests among ``records`` that submitted a form: a page-level request (document,
    XHR/fetch) that carried our values, or a body-carrying one to the site (``hosts``) that
    carried none we could read (forms encrypted before sending)."""
    carrying, opaque = [], []
    for r in records:
        if r.resource_type not in TALKING_TYPES:
            continue
        found = fields_carried(r, values)
        if found:
            carrying.append((r, found))
        elif r.body is not None and r.method in BODY_METHODS and r.resource_type != "other" \
                and (hosts is None or (urlsplit(r.url).hostname or "") in hosts):
            opaque.append(r)
    return Sent(carrying, opaque)
