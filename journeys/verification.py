"""The two human checks a submission meets, behind small interfaces: SMS codes and image
captchas. No browser here; the submission journey calls these.

- ``SmsInbox.wait_for_code``: ``HttpSmsInbox`` polls a JSON inbox (simweb's ``/_sms``, or an
  ``SmsRelay`` that a phone-side SMS forwarder posts to); ``OperatorSmsInbox`` asks a person.
- ``CaptchaSolver.solve``: ``OcrCaptchaSolver`` (ddddocr), ``OperatorCaptchaSolver`` (a person
  looks at the saved image), ``FirstOf`` tries several in turn.

Who failed matters (a false accusation is worse than a miss): ``None`` means "no answer"
— no code arrived, nobody typed one, OCR is unsure — while ``SmsInboxError`` means our own
inbox could not be read, a tool failure that must never be blamed on the hotline.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import string
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import quote

import httpx
from aiohttp import web
from rich.console import Console

from hotline_audit.config import Settings
from hotline_audit.workdays import CHINA_TZ

CODE_WORDS = r"(?:验证码|校验码|动态码|动态密码|确认码|激活码|短信码|认证码|安全码|verification code|code)"
_SIGNATURE = re.compile(r"【[^】]*】|\[[^\]]*\]")
_CODE_AFTER = re.compile(CODE_WORDS + r"[^\d\n]{0,12}?(?<!\d)(\d{4,8})(?!\d)", re.IGNORECASE)
_CODE_BEFORE = re.compile(r"(?<!\d)(\d{4,8})(?!\d)[\s，,。:：]{0,3}[（(]?(?:为|是)?(?:您的)?(?:本次)?"
                          + CODE_WORDS, re.IGNORECASE)
# Numbers that are not codes: durations, money, years, tail numbers of cards and phones.
_NOT_CODE = re.compile(r"(?<!\d)\d{4,8}(?!\d)(?=\s*(?:分钟|分|秒|小时|元|年|次))|尾号\d{4}")


def extract_code(text: str) -> str | None:
    """The 4-8 digit verification code in a Chinese SMS, or None when there is none.

    The sender's signature (【南京12345】) is dropped first: 12345 is five digits too.
    """
    body = _SIGNATURE.sub(" ", text)
    for pattern in (_CODE_AFTER, _CODE_BEFORE):
        m = pattern.search(body)
        if m:
            return m.group(1)
    if not re.search(CODE_WORDS, body, re.IGNORECASE):
        return None
    candidates = re.findall(r"(?<!\d)\d{4,8}(?!\d)", _NOT_CODE.sub(" ", body))
    return candidates[0] if len(candidates) == 1 else None


# -- SMS ---------------------------------------------------------------------------------------


class SmsInboxError(RuntimeError):
    """Our inbox could not be read at all: a tool failure, not the hotline's."""


class SmsInbox(Protocol):
    async def wait_for_code(self, phone: str, since: datetime, timeout_s: float, *,
                            hint: str | None = None) -> str | None:
        """The newest code sent to ``phone`` at or after ``since`` (in the inbox's clock:
        for simweb its simulated ``GET /_clock``, which tests move days ahead);
        ``hint``, if given, must appear in the message (e.g. the city, when one phone serves
        several hotlines). None when no code arrived within ``timeout_s``."""
        ...


def _first(msg: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((msg[k] for k in keys if msg.get(k) not in (None, "")), None)


def _when(value: Any, naive_tz: timezone) -> datetime | None:
    """ISO text or epoch seconds/milliseconds; naive times are the phone's local time."""
    if value is None:
        return None
    try:
        if isinstance(value, int | float) or str(value).isdigit():
            n = float(value)
            return datetime.fromtimestamp(n / 1000 if n > 1e11 else n, UTC)
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=naive_tz)


def _digits(phone: Any) -> str:
    return re.sub(r"\D", "", str(phone or "")).removeprefix("86")[-11:]


def normalise_messages(payload: Any, naive_tz: timezone = CHINA_TZ) -> list[dict[str, Any]]:
    """``{to, text, received_at}`` dicts from simweb's list or the shapes SMS forwarders post
    (``content``/``msg``, ``timestamp`` in ms, wrapped in ``data``/``messages``)."""
    if isinstance(payload, dict):
        inner = _first(payload, ("messages", "data", "items", "sms", "list"))
        payload = inner if isinstance(inner, list) else [payload]
    out = []
    for msg in payload if isinstance(payload, list) else []:
        if not isinstance(msg, dict):
            continue
        text = _first(msg, ("text", "content", "body", "msg", "message", "sms"))
        if text is None:
            continue
        to = _first(msg, ("to", "phone", "receiver", "mobile", "number"))
        when = _first(msg, ("received_at", "receive_time", "timestamp", "time", "date", "sent_at"))
        out.append({"to": _digits(to) if to else None, "text": str(text),
                    "received_at": _when(when, naive_tz)})
    return out


def _pick_code(messages: list[dict[str, Any]], phone: str, since: datetime,
               seen: set[str] | None, hint: str | None) -> str | None:
    fresh = []
    for n, m in enumerate(messages):
        if m["to"] and m["to"] != _digits(phone):
            continue
        if hint and hint not in m["text"]:
            continue
        when = m["received_at"]
        if when is None:  # no time: only what appeared after our first look counts
            if seen is None or _fingerprint(m) in seen:
                continue
        elif when < since:
            continue
        code = extract_code(m["text"])
        if code:
            fresh.append((when or datetime.max.replace(tzinfo=UTC), n, code))
    return max(fresh)[2] if fresh else None


def _fingerprint(m: dict[str, Any]) -> str:
    return hashlib.sha256(f"{m['to']}\x00{m['text']}".encode()).hexdigest()


class HttpSmsInbox:
    """Polls a JSON SMS inbox: ``url_template`` has ``{phone}``, e.g. simweb's
    ``http://any.test/_sms?phone={phone}`` reached through the round's proxy."""

    def __init__(self, url_template: str, proxy: str | None = None, poll_s: float = 1.0,
                 naive_tz: timezone = CHINA_TZ, transport: httpx.AsyncBaseTransport | None = None,
                 skew_s: float = 30.0) -> None:
        if "{phone}" not in url_template:
            raise ValueError("the SMS inbox URL needs a {phone} placeholder")
        self.url_template, self.proxy, self.poll_s, self.naive_tz = url_template, proxy, poll_s, naive_tz
        self.skew = timedelta(seconds=skew_s)  # a phone's clock runs a little off ours
        self.transport = transport  # tests and odd setups (e.g. a Unix socket) plug in here

    async def wait_for_code(self, phone: str, since: datetime, timeout_s: float, *,
                            hint: str | None = None) -> str | None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=self.naive_tz)
        since -= self.skew
        url = self.url_template.format(phone=quote(phone))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        seen: set[str] | None = None
        last_error: str | None = None
        async with httpx.AsyncClient(proxy=self.proxy, timeout=min(10.0, timeout_s), trust_env=False,
                                     transport=self.transport) as client:
            while True:
                try:
                    messages = await self._messages(client, url)
                except (httpx.HTTPError, ValueError) as e:
                    last_error = f"{type(e).__name__}: {e}"
                else:
                    code = _pick_code(messages, phone, since, seen, hint)
                    if code:
                        return code
                    if seen is None:
                        seen = {_fingerprint(m) for m in messages}
                if loop.time() + self.poll_s > deadline:
                    break
                await asyncio.sleep(self.poll_s)
        if seen is None:
            raise SmsInboxError(f"SMS inbox {url} could not be read: {last_error}")
        return None

    async def _messages(self, client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
        resp = await client.get(url)
        resp.raise_for_status()
        return normalise_messages(resp.json(), self.naive_tz)

    async def texts_since(self, phone: str, since: datetime) -> list[str]:
        """The texts of the messages to ``phone`` at or after ``since`` (undated ones too)."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=self.naive_tz)
        since -= self.skew
        url = self.url_template.format(phone=quote(phone))
        try:
            async with httpx.AsyncClient(proxy=self.proxy, timeout=10.0, trust_env=False,
                                         transport=self.transport) as client:
                messages = await self._messages(client, url)
        except (httpx.HTTPError, ValueError) as e:
            raise SmsInboxError(f"SMS inbox {url} could not be read: {type(e).__name__}: {e}") from e
        return [m["text"] for m in messages if (not m["to"] or m["to"] == _digits(phone))
                and (m["received_at"] is None or m["received_at"] >= since)]


class SmsRelay:
    """A tiny inbox for a phone-side SMS forwarder app: it POSTs each SMS as JSON or a form
    to ``/sms?token=…``; ``GET /sms?phone=…&token=…`` returns them as simweb's ``/_sms`` does,
    so ``HttpSmsInbox`` reads both alike. The token keeps strangers from planting codes."""

    def __init__(self, token: str, phone: str | None = None, naive_tz: timezone = CHINA_TZ,
                 on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.token, self.phone, self.naive_tz, self.on_message = token, phone, naive_tz, on_message
        self.messages: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/sms", self.handle)
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if request.query.get("token") != self.token and request.headers.get("X-Token") != self.token:
            return web.json_response({"ok": False, "msg": "bad token"}, status=403)
        if request.method == "POST":
            if request.content_type == "application/json":
                payload: Any = await request.json()
            else:
                payload = dict(await request.post())
            for m in normalise_messages(payload, self.naive_tz):
                # The forwarding phone itself received it: its own number is the recipient.
                m["to"] = m["to"] or self.phone
                m["received_at"] = m["received_at"] or datetime.now(UTC)
                self.messages.append(m)
                if self.on_message:
                    self.on_message(m)
            return web.json_response({"ok": True})
        phone = _digits(request.query.get("phone", ""))
        return web.json_response([
            {"to": m["to"], "text": m["text"], "received_at": m["received_at"].isoformat()}
            for m in self.messages if not phone or not m["to"] or _digits(m["to"]) == phone])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve, and return the port (``port=0`` picks a free one)."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


# -- a person at the terminal ------------------------------------------------------------------


def is_interactive(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


async def ask_operator(prompt: str, timeout_s: float, stdin: TextIO | None = None,
                       console: Console | None = None) -> str | None:
    """One line typed by a person within ``timeout_s``; None at once in batch mode (stdin is
    not a terminal), on timeout, or on an empty line. Reads without a thread, so a timeout
    leaves nothing blocked on stdin."""
    stdin = stdin or sys.stdin
    if not is_interactive(stdin):
        return None
    (console or Console(stderr=True)).print(prompt)
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def readable() -> None:
        if not answer.done():
            answer.set_result(stdin.readline())

    loop.add_reader(stdin.fileno(), readable)
    try:
        line = await asyncio.wait_for(answer, timeout_s)
    except TimeoutError:
        return None
    finally:
        loop.remove_reader(stdin.fileno())
    return line.strip() or None


def _masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[7:]}" if len(phone) == 11 else phone


class OperatorSmsInbox:
    """A person reads the code off the persona's phone and types it (or pastes the SMS)."""

    def __init__(self, stdin: TextIO | None = None, console: Console | None = None) -> None:
        self.stdin, self.console = stdin, console

    async def wait_for_code(self, phone: str, since: datetime, timeout_s: float, *,
                            hint: str | None = None) -> str | None:
        where = f"（{hint}）" if hint else ""
        typed = await ask_operator(
            f"[bold]请查看手机 {_masked(phone)} 收到的短信验证码{where}，输入后回车"
            f"（{timeout_s:.0f} 秒内，直接回车表示未收到）[/bold]", timeout_s, self.stdin, self.console)
        if typed is None:
            return None
        return typed if re.fullmatch(r"\d{4,8}", typed) else extract_code(typed)


# -- captchas ----------------------------------------------------------------------------------


class CaptchaSolver(Protocol):
    async def solve(self, image_png: bytes) -> str | None:
        """The captcha's text, or None when this solver cannot tell."""
        ...


# ddddocr's Chinese model sometimes reads a Latin letter at the image edge as a look-alike
# Chinese character or symbol (T as 下/干/工, Z as 乙, J as 了, 7 as >); mapped back only when
# the captcha's alphabet is known and holds the Latin character.
LOOKALIKES = {"下": "T", "干": "T", "丁": "T", "工": "T", "于": "T", "乙": "Z", "了": "J",
              ">": "7", "。": "O", "口": "O", "O": "0", "0": "O", "I": "1", "1": "I", "l": "1"}


ALNUM = string.digits + string.ascii_letters


class OcrCaptchaSolver:
    """ddddocr, loaded on first use. ``charset``: the characters the captcha may contain
    (answers with others are refused: better to ask again than to send a wrong answer);
    ``length``: how many it has (min, max). Arithmetic or Chinese-character captchas need
    another charset, or fall through to an operator."""

    def __init__(self, charset: str | None = ALNUM, length: tuple[int, int] | None = (4, 6)) -> None:
        self.charset, self.length = charset, length
        self._ocr: Any = None
        self._error: str | None = None
        self._lock = asyncio.Lock()

    @property
    def available(self) -> bool:
        self._load()
        return self._ocr is not None

    @property
    def unavailable_reason(self) -> str | None:
        self._load()
        return self._error

    def _load(self) -> None:
        if self._ocr is not None or self._error is not None:
            return
        try:
            import ddddocr  # heavy (onnxruntime, OpenCV): only when a captcha shows up

            self._ocr = ddddocr.DdddOcr(show_ad=False)
        except Exception as e:  # ImportError, or a model file that will not load
            self._error = f"ddddocr unavailable: {type(e).__name__}: {e}"

    def normalise(self, raw: str) -> str | None:
        text = re.sub(r"\s", "", raw)
        if self.charset:
            if not any(c.islower() for c in self.charset):
                text = text.upper()
            text = "".join(c if c in self.charset else
                           LOOKALIKES.get(c, "") if LOOKALIKES.get(c, "") in self.charset else c
                           for c in text)
            if any(c not in self.charset for c in text):
                return None
        if not text or (self.length and not self.length[0] <= len(text) <= self.length[1]):
            return None
        return text

    async def solve(self, image_png: bytes) -> str | None:
        if not self.available:
            return None
        async with self._lock:  # one ONNX session; classification takes about 10 ms
            raw = await asyncio.to_thread(self._ocr.classification, image_png)
        return self.normalise(str(raw))


class OperatorCaptchaSolver:
    """Saves the image where a person can open it, shows the path, and reads the answer."""

    def __init__(self, save_dir: Path, timeout_s: float = 300.0, stdin: TextIO | None = None,
                 console: Console | None = None) -> None:
        self.save_dir, self.timeout_s, self.stdin, self.console = save_dir, timeout_s, stdin, console

    async def solve(self, image_png: bytes) -> str | None:
        if not is_interactive(self.stdin or sys.stdin):
            return None
        self.save_dir.mkdir(parents=True, exist_ok=True)
        path = self.save_dir / f"captcha-{hashlib.sha256(image_png).hexdigest()[:12]}.png"
        path.write_bytes(image_png)
        return await ask_operator(
            f"[bold]请打开验证码图片 {path} ，输入图中字符后回车（{self.timeout_s:.0f} 秒内）[/bold]",
            self.timeout_s, self.stdin, self.console)


class FirstOf:
    """Tries captcha solvers in order; the first answer wins."""

    def __init__(self, *solvers: CaptchaSolver) -> None:
        self.solvers = solvers

    async def solve(self, image_png: bytes) -> str | None:
        for solver in self.solvers:
            answer = await solver.solve(image_png)
            if answer:
                return answer
        return None


def captcha_solver(settings: Settings, save_dir: Path, charset: str | None = None) -> CaptchaSolver:
    """The solver ``effectiveness.captcha_mode`` asks for."""
    eff = settings.effectiveness
    operator = OperatorCaptchaSolver(save_dir, eff.operator_timeout_s)
    if eff.captcha_mode == "operator":
        return operator
    ocr = OcrCaptchaSolver(charset or ALNUM)
    return ocr if eff.captcha_mode == "ocr" else FirstOf(ocr, operator)


def sms_inbox(settings: Settings) -> SmsInbox:
    """The configured HTTP inbox, else a person. The inbox is our own infrastructure, so it is
    reached directly, not through the audit's proxy (a mainland egress point could not reach a
    relay on the operator's network); ``{proxy}`` in the URL stands for the round's proxy
    address, which is how simweb's inbox is named: ``{proxy}/_sms?phone={phone}``."""
    url = settings.effectiveness.sms_inbox_url
    if not url:
        return OperatorSmsInbox()
    if "{proxy}" in url:
        if not settings.proxy:
            raise ValueError("sms_inbox_url uses {proxy} but no proxy is set")
        url = url.replace("{proxy}", settings.proxy.rstrip("/"))
    return HttpSmsInbox(url)
