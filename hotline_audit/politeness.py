"""One politeness budget per host for everything an audit sends (issue 18).

Government portals sit behind web application firewalls that block an address sending too
fast, often for every site behind the same provincial firewall, and an audit that trips one
would then report the block as the hotline's failure. So every *page-level* request (a crawled
page, a probe, a browser navigation, a form post, an XHR or fetch a journey triggers) takes a
slot from its host's budget first, whichever component sends it and in whichever process:

- at most ``per_minute`` slots start in any 60 seconds, never two closer than
  ``min_interval_s`` (with ``jitter``), and at most ``in_flight`` are held at once;
- ``robots.txt``'s ``Crawl-delay`` (``set_crawl_delay``) widens the interval for everyone;
- a throttling answer (HTTP 429, 503 with ``Retry-After``, a firewall page: ``classify``) makes
  the host wait ``Retry-After`` or an exponential back-off, and halves its rate for the rest of
  the round (``throttled``); components then try again later instead of judging the answer.

The budget lives in a small SQLite file (``state_file``, WAL) so that the discovery crawler (a
child process), the round and a recheck started beside it share it: slots are reserved in one
transaction each, in time order per host, which is what keeps any 60-second window at or under
``per_minute`` however many processes ask. The same file is the request log the report's
politeness table is read from (``host_stats``). A page's sub-resources (scripts, styles,
images) are not page-level: they load as a visitor's browser loads them, within Chromium's own
cap of six connections per host (journeys/pacing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

ThrottleKind = Literal["rate_limited", "waf_blocked"]

# What a throttling answer means, for reports (Chinese) and logs (English).
THROTTLE_REASONS: dict[str, tuple[str, str]] = {
    "rate_limited": ("网站对本工具限流(访问频率限制)", "the site rate-limited us"),
    "waf_blocked": ("网站防火墙拦截了本工具", "the site's firewall blocked us"),
}
POLL_S = 0.05
# A throttling answer this soon after the last one answers a request sent before the back-off:
# the same strike.
ECHO_S = 1.0  # how often a request waiting for an in-flight slot looks again
WINDOW_S = 60.0


class PolitenessSettings(BaseModel):
    """How hard one host may be asked, by all of a round's components together."""

    per_minute: int = Field(
        60, ge=1, description="page-level requests one host receives from us in any 60 seconds "
        "(crawl, probes, browser navigations, form posts, XHR/fetch), all components and processes "
        "together: about one a second, what government sites' firewalls tolerate",
    )
    min_interval_s: float = Field(
        0.5, ge=0, description="seconds between two page-level requests to one host at least "
        "(a page's own XHRs wait this long between them, as a slow visitor's would)",
    )
    jitter: float = Field(0.3, ge=0, le=1, description="each interval is up to this share longer, at random")
    in_flight: int = Field(2, ge=1, description="page-level requests to one host in flight at once")
    max_hold_s: float = Field(
        30.0, gt=0, description="an in-flight slot is given back after this long whatever happens to "
        "its request (a long-polling page cannot keep a host's slots)",
    )
    backoff_s: float = Field(10.0, gt=0, description="first wait after a throttling answer without Retry-After")
    backoff_max_s: float = Field(600.0, gt=0, description="longest wait after throttling answers")
    max_slowdown: int = Field(16, ge=1, description="how far a host's rate may be halved after throttling")
    give_up_after: int = Field(
        4, ge=1, description="strikes (throttling answers after a back-off) after which a host is left "
        "alone for the rest of the round: its remaining probes are not sent and throttled steps are "
        "not tried again (needs_review: rate_limited or waf_blocked)",
    )
    retries: int = Field(
        3, ge=0, description="times a throttled request is tried again (after the wait) before the "
        "step is left to a person (needs_review, rate_limited or waf_blocked)",
    )
    robots_disallow: Literal["obey", "ignore"] = Field(
        "obey", description="obey: discovery does not crawl pages robots.txt disallows (the "
        "report lists them); ignore: public service pages are audited anyway (the report says so). "
        "Crawl-delay is always honoured",
    )
    contact: str = Field(
        "", description="how a site's administrator reaches the auditor (an address or a URL), "
        "added to the User-Agent; empty: the project's page",
    )
    state_file: Path | None = Field(
        None, description="the shared budget and request log (SQLite); empty: politeness.sqlite in "
        "the output directory, shared by every command writing there",
    )


PROJECT_URL = "https://github.com/hotline-audit/hotline-audit"


def who_we_are(contact: str = "", version: str = "") -> str:
    """The token that names the tool and how to reach the auditor, e.g.
    ``hotline-audit/0.9 (+audit@example.org)``."""
    from . import __version__

    return f"hotline-audit/{version or __version__} (+{contact.strip() or PROJECT_URL})"


def user_agent(contact: str = "", version: str = "", chrome: str = "124.0.0.0") -> str:
    """The User-Agent every component sends: a current Chrome's (``chrome``: the version of
    the Chromium in use), then who we are and how to reach us, as census tools identify
    themselves; the same for a whole round."""
    return ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{chrome} Safari/537.36 {who_we_are(contact, version)}")


# -- what a throttling answer looks like ---------------------------------------------------------

# Words, not whole phrases: firewalls word their pages in many ways (访问过于频繁, 您的请求太快了,
# 操作频率过高, 请求次数超过限制 ...). A rate limit says "too often/fast/many" about "visits/requests".
_TOO_OFTEN = r"(?:过于频繁|太频繁|频繁|过快|太快|过多|太多|过高|太高|超过.{0,6}限制|超出.{0,6}限制|超限|限流)"
_VISITS = r"(?:访问|请求|操作|查询|刷新|提交|点击)"
RATE_RE = re.compile(rf"{_VISITS}.{{0,8}}{_TOO_OFTEN}|{_TOO_OFTEN}.{{0,4}}{_VISITS}")
# A block says the request was stopped, by whom, or asks to prove we are human.
BLOCK_RE = re.compile(
    r"(?:访问|请求|操作|连接)?(?:被|已被|遭到)?(?:拦截|阻断|封禁|屏蔽|拒绝)"
    r"|禁止访问|访问受限|限制访问|黑名单"
    r"|防火墙|安全防护|网站卫士|云盾|安全狗|创宇盾|加速乐|云加速|云锁|护卫神|雷池"
    r"|\bWAF\b|web application firewall|access denied|request blocked|too many requests"
    r"|是否(?:为|是)?(?:真人|机器人)|不是机器人|人机(?:验证|识别|校验)|安全验证|滑动验证|拖动滑块|访问验证",
    re.IGNORECASE,
)
# Firewall pages are short; a portal page that mentions 频繁 in a news item is not one.
MAX_BLOCK_PAGE_CHARS = 1500


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Fillable fields in markup: a page with several is a form to fill in (a complaint form guarded
# by a slider is the hotline's own page), not a firewall's; a firewall's captcha gate has one.
_FIELD_RE = re.compile(r"<(?:textarea|select)\b|<input\b(?![^>]*\btype\s*=\s*[\"']?"
                       r"(?:hidden|submit|button|image|reset|checkbox|radio)\b)", re.IGNORECASE)
FORM_FIELDS = 2


def form_fields(markup: str) -> int:
    """How many fields a person could type into or choose in (inputs, textareas, selects)."""
    return len(_FIELD_RE.findall(markup))


def classify(status: int | None, headers: Mapping[str, str] | None = None, text: str = "",
             fields: int = 0) -> ThrottleKind | None:
    """Whether an answer throttles us: ``rate_limited`` (429, 503 with Retry-After, a "too
    frequent" page), ``waf_blocked`` (a short page saying it blocked or wants a human), or None.

    ``text`` is what a person reads on the page (not its markup); ``headers`` any mapping
    whose keys may be in any case; ``fields`` the page's fillable fields (``form_fields``): a
    page with ``FORM_FIELDS`` or more is a form, whatever it says about sliders."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if status == 429:
        return "rate_limited"
    if status == 503 and lowered.get("retry-after"):
        return "rate_limited"
    if fields >= FORM_FIELDS:
        return None
    words = " ".join(text.split())
    if not words or len(words) > MAX_BLOCK_PAGE_CHARS:
        return None
    if RATE_RE.search(words):
        return "rate_limited"
    if BLOCK_RE.search(words) and (status is None or status >= 400 or len(words) < 400):
        return "waf_blocked"
    return None


def page_facts(raw: bytes, encoding: str | None = None) -> tuple[str, int]:
    """(what a person reads, fillable fields) of a short HTML page or plain-text answer."""
    markup = raw.decode(encoding or "utf-8", errors="replace") if raw else ""
    return visible_text(raw, encoding), form_fields(markup)


def visible_text(raw: bytes, encoding: str | None = None) -> str:
    """What a person reads on a (short) HTML page or plain-text answer: no tags, scripts or styles."""
    if not raw:
        return ""
    text = raw.decode(encoding or "utf-8", errors="replace")
    if "<" not in text:
        return text
    try:
        import lxml.html

        doc = lxml.html.document_fromstring(text)
        for bad in doc.xpath("//script|//style|//noscript|//template"):
            bad.drop_tree()
        return " ".join(doc.text_content().split())
    except Exception:  # not HTML after all (or empty): read it as it is
        return re.sub(r"<[^>]+>", " ", text)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


# -- the shared budget ---------------------------------------------------------------------------


@dataclass
class Ticket:
    """One page-level request's slot: when it was asked for and when it could start."""

    id: int
    host: str
    asked: float  # time.time()
    start: float  # time.time() of the slot
    inflight_id: int | None = None

    @property
    def held_s(self) -> float:
        """How long our own budget held the request back (never the site's time)."""
        return max(0.0, self.start - self.asked)


@dataclass(frozen=True)
class Throttle:
    """A throttling answer a site gave us: evidence that a block was not the hotline's failure."""

    host: str
    at: float  # time.time()
    kind: str
    status: int | None
    url: str
    component: str
    hotline_id: str
    retry_after_s: float | None
    waited_s: float

    def describe_zh(self) -> str:
        when = datetime.fromtimestamp(self.at, UTC).astimezone().strftime("%H:%M:%S")
        status = f"HTTP {self.status}" if self.status else "拦截页"
        return f"{when} {self.host} {status}({THROTTLE_REASONS[self.kind][0]})"


@dataclass(frozen=True)
class HostStats:
    """Per host, for the report: how hard we asked and what the host said."""

    host: str
    requests: int
    peak_per_minute: int
    throttles: int
    first_throttle: float | None
    components: str


SCHEMA = """
CREATE TABLE IF NOT EXISTS hosts (
    host TEXT PRIMARY KEY, last_slot REAL NOT NULL DEFAULT 0, backoff_until REAL NOT NULL DEFAULT 0,
    slowdown INTEGER NOT NULL DEFAULT 1, strikes INTEGER NOT NULL DEFAULT 0,
    crawl_delay REAL NOT NULL DEFAULT 0, last_throttle REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, host TEXT NOT NULL, t REAL NOT NULL, asked REAL NOT NULL,
    component TEXT NOT NULL, round TEXT NOT NULL, hotline_id TEXT NOT NULL, url TEXT NOT NULL,
    status INTEGER, throttle TEXT);
CREATE INDEX IF NOT EXISTS requests_host_t ON requests(host, t);
CREATE INDEX IF NOT EXISTS requests_round ON requests(round);
CREATE TABLE IF NOT EXISTS inflight (
    id INTEGER PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS throttles (
    id INTEGER PRIMARY KEY, host TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, status INTEGER,
    url TEXT NOT NULL, component TEXT NOT NULL, round TEXT NOT NULL, hotline_id TEXT NOT NULL,
    retry_after REAL, waited REAL NOT NULL);
CREATE INDEX IF NOT EXISTS throttles_host_at ON throttles(host, at);
"""
# A host's halved rate comes back after this long without a throttling answer.
SLOWDOWN_RESET_S = 1800.0


class Politeness:
    """The budget of one state file, for one component of one round (or a recheck).

    Thread-safe and usable from any event loop (the round's, the guard proxy's, Scrapy's):
    each call is one short SQLite transaction on a connection of the calling thread; waiting
    is ``asyncio.sleep`` in the caller's loop."""

    def __init__(self, state_file: Path, settings: PolitenessSettings | None = None,
                 round_name: str = "", component: str = "") -> None:
        self.path = Path(state_file)
        self.settings = settings or PolitenessSettings()
        self.round_name = round_name
        self.component = component
        self._local = threading.local()
        self._rng = random.Random()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db().executescript(SCHEMA)  # runs in a transaction of its own

    def for_component(self, component: str) -> Politeness:
        """The same budget, with requests booked to ``component`` (crawl, probe, browser ...)."""
        other = Politeness.__new__(Politeness)
        other.__dict__.update(self.__dict__)
        other.component = component
        other._local = threading.local()
        return other

    # -- SQLite ----------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=True)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _host_row(self, db: sqlite3.Connection, host: str) -> tuple[float, float, int, float, float]:
        db.execute("INSERT OR IGNORE INTO hosts(host) VALUES (?)", (host,))
        row = db.execute("SELECT last_slot, backoff_until, slowdown, crawl_delay, last_throttle FROM hosts "
                         "WHERE host=?", (host,)).fetchone()
        return row[0], row[1], row[2], row[3], row[4]

    # -- slots -----------------------------------------------------------------------------------

    def _try_inflight(self, host: str, now: float) -> int | None:
        limit = self.settings.in_flight
        with self._tx() as db:
            db.execute("DELETE FROM inflight WHERE expires < ?", (now,))
            rows = db.execute("SELECT id, pid FROM inflight WHERE host=?", (host,)).fetchall()
            dead = [rid for rid, pid in rows if pid != os.getpid() and not _alive(pid)]
            if dead:
                db.executemany("DELETE FROM inflight WHERE id=?", [(d,) for d in dead])
            if len(rows) - len(dead) >= limit:
                return None
            cur = db.execute("INSERT INTO inflight(host, pid, expires) VALUES (?, ?, ?)",
                             (host, os.getpid(), now + self.settings.max_hold_s))
            return cur.lastrowid

    def expected_wait_s(self, url: str, n: int = 1) -> float:
        """About how long ``n`` more page-level requests to ``url``'s host would take to be let
        through: their slots worked out as ``_reserve`` would give them (after what is booked
        ahead, the interval, the back-off and the 60 s window), without booking anything."""
        s = self.settings
        host = host_of(url)
        db = self._db()
        row = db.execute("SELECT last_slot, backoff_until, slowdown, crawl_delay FROM hosts WHERE host=?",
                         (host,)).fetchone()
        last_slot, backoff_until, slowdown, crawl_delay = row or (0.0, 0.0, 1, 0.0)
        interval = max(s.min_interval_s, crawl_delay) * slowdown * (1 + s.jitter)
        allowed = max(1, s.per_minute // slowdown)
        slots = sorted(t for (t,) in db.execute("SELECT t FROM requests WHERE host=? ORDER BY t DESC LIMIT ?",
                                                 (host, allowed)))
        now = time.time()
        slot = last_slot
        for _ in range(max(0, n)):
            slot = max(now, slot + interval if slot else now, backoff_until)
            if len(slots) >= allowed:
                slot = max(slot, slots[-allowed] + WINDOW_S)
            slots.append(slot)
        return max(0.0, slot - now)

    def _reserve(self, host: str, url: str, hotline_id: str, asked: float) -> Ticket:
        s = self.settings
        now = time.time()
        with self._tx() as db:
            last_slot, backoff_until, slowdown, crawl_delay, last_throttle = self._host_row(db, host)
            if slowdown > 1 and now - last_throttle > SLOWDOWN_RESET_S:
                slowdown = 1
                db.execute("UPDATE hosts SET slowdown=1, strikes=0 WHERE host=?", (host,))
            interval = max(s.min_interval_s, crawl_delay) * slowdown
            interval *= 1.0 + s.jitter * self._rng.random()
            slot = max(now, last_slot + interval if last_slot else now, backoff_until)
            allowed = max(1, s.per_minute // slowdown)
            nth = db.execute("SELECT t FROM requests WHERE host=? ORDER BY t DESC LIMIT 1 OFFSET ?",
                             (host, allowed - 1)).fetchone()
            if nth is not None:
                slot = max(slot, nth[0] + WINDOW_S)
            cur = db.execute(
                "INSERT INTO requests(host, t, asked, component, round, hotline_id, url) VALUES (?,?,?,?,?,?,?)",
                (host, slot, asked, self.component, self.round_name, hotline_id, url[:500]))
            db.execute("UPDATE hosts SET last_slot=? WHERE host=?", (slot, host))
        return Ticket(id=cur.lastrowid or 0, host=host, asked=asked, start=slot)

    async def acquire(self, url: str, hotline_id: str = "") -> Ticket:
        """Wait for ``url``'s host to have an in-flight slot and a start time, then return the
        ticket (give it back with ``release``). Unknown hosts (no name) pass at once."""
        host = host_of(url)
        asked = time.time()
        if not host:
            return Ticket(id=0, host="", asked=asked, start=asked)
        while (inflight := self._try_inflight(host, time.time())) is None:
            await asyncio.sleep(POLL_S * (1 + self._rng.random()))
        try:
            ticket = self._reserve(host, url, hotline_id, asked)
            ticket.inflight_id = inflight
            delay = ticket.start - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        except BaseException:
            self._free(inflight)
            raise
        return ticket

    def book(self, url: str, hotline_id: str = "") -> None:
        """Count a page-level request that left without waiting for its slot (a popup's first
        document, sent before our browser session could hold it): the host's next slots then
        keep the window and the interval as if it had waited."""
        host = host_of(url)
        if not host:
            return
        now = time.time()
        with self._tx() as db:
            last_slot = self._host_row(db, host)[0]
            db.execute(
                "INSERT INTO requests(host, t, asked, component, round, hotline_id, url) VALUES (?,?,?,?,?,?,?)",
                (host, max(now, last_slot), now, self.component, self.round_name, hotline_id, url[:500]))
            db.execute("UPDATE hosts SET last_slot=? WHERE host=?", (max(now, last_slot), host))

    def _free(self, inflight_id: int | None) -> None:
        if inflight_id is None:
            return
        with self._tx() as db:
            db.execute("DELETE FROM inflight WHERE id=?", (inflight_id,))

    def release(self, ticket: Ticket, status: int | None = None, throttle: str | None = None) -> None:
        """The request ended (``status`` as answered; ``throttle`` when it throttled us)."""
        self._free(ticket.inflight_id)
        ticket.inflight_id = None
        if ticket.id and (status is not None or throttle):
            with self._tx() as db:
                db.execute("UPDATE requests SET status=?, throttle=? WHERE id=?", (status, throttle, ticket.id))

    @contextlib.asynccontextmanager
    async def slot(self, url: str, hotline_id: str = "") -> AsyncIterator[Ticket]:
        ticket = await self.acquire(url, hotline_id)
        try:
            yield ticket
        finally:
            self.release(ticket)

    # -- what sites say ----------------------------------------------------------------------------

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        """robots.txt's Crawl-delay for ``host``: the least interval for every component."""
        with self._tx() as db:
            self._host_row(db, host.lower())
            db.execute("UPDATE hosts SET crawl_delay=? WHERE host=?", (max(0.0, min(seconds, 300.0)), host.lower()))

    def throttled(self, url: str, kind: str, status: int | None = None, retry_after: float | None = None,
                  hotline_id: str = "") -> float:
        """Record a throttling answer and make the host wait; returns the seconds it waits
        (``Retry-After`` when given, else ``backoff_s`` doubled per strike, at most
        ``backoff_max_s``). A new strike halves the host's rate for the rest of the round; an
        answer that comes while the host already backs off (to a request sent before) is
        recorded but is no new strike. Strikes are forgotten after ``backoff_max_s`` of quiet."""
        s = self.settings
        host = host_of(url)
        now = time.time()
        with self._tx() as db:
            _, backoff_until, slowdown, _, last_throttle = self._host_row(db, host)
            strikes = db.execute("SELECT strikes FROM hosts WHERE host=?", (host,)).fetchone()[0]
            if now - last_throttle > s.backoff_max_s:
                strikes = 0
            echo = now < backoff_until or now - last_throttle < ECHO_S
            # The n-th strike waits backoff_s * 2**(n-1); an echo, as long as the strike it echoes.
            nth = strikes if echo else strikes + 1
            wait = retry_after if retry_after is not None else s.backoff_s * 2 ** min(max(nth - 1, 0), 8)
            wait = min(max(wait, 1.0), s.backoff_max_s)
            if not echo:
                strikes, slowdown = strikes + 1, min(slowdown * 2, s.max_slowdown)
            db.execute("UPDATE hosts SET backoff_until=?, slowdown=?, strikes=?, last_throttle=? WHERE host=?",
                       (max(backoff_until, now + wait), slowdown, strikes, now, host))
            db.execute("INSERT INTO throttles(host, at, kind, status, url, component, round, hotline_id, retry_after, "
                       "waited) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (host, now, kind, status, url[:500], self.component, self.round_name, hotline_id,
                        retry_after, wait))
        return wait

    def last_throttle(self, url: str) -> Throttle | None:
        """The latest throttling answer from ``url``'s host, if any."""
        row = self._db().execute(
            "SELECT host, at, kind, status, url, component, hotline_id, retry_after, waited FROM throttles "
            "WHERE host = ? ORDER BY at DESC LIMIT 1", (host_of(url),)).fetchone()
        return Throttle(*row) if row else None

    def refusing(self, url: str) -> bool:
        """Whether ``url``'s host keeps throttling us (``give_up_after`` strikes without a
        quiet spell): components then stop trying again this round; what is left of their work
        on the host is the firewall's doing (needs_review), and the host is not asked for it."""
        host = host_of(url)
        row = self._db().execute("SELECT strikes, last_throttle FROM hosts WHERE host=?", (host,)).fetchone()
        return bool(row) and row[0] >= self.settings.give_up_after and time.time() - row[1] <= self.settings.backoff_max_s

    def waiting_s(self, url: str) -> float:
        """How long the host of ``url`` still backs off (0 when it does not)."""
        host = host_of(url)
        row = self._db().execute("SELECT backoff_until FROM hosts WHERE host=?", (host,)).fetchone()
        return max(0.0, (row[0] if row else 0.0) - time.time())

    def throttles(self, hosts: Iterable[str], since: float = 0.0, hotline_id: str = "") -> list[Throttle]:
        """Throttling answers from ``hosts`` (or booked to ``hotline_id``) since ``since``
        (time.time()), oldest first."""
        wanted = sorted({h.lower() for h in hosts if h})
        if not wanted and not hotline_id:
            return []
        marks = ",".join("?" * len(wanted))
        rows = self._db().execute(
            f"SELECT host, at, kind, status, url, component, hotline_id, retry_after, waited FROM throttles "
            f"WHERE (host IN ({marks}) OR (hotline_id != '' AND hotline_id = ?)) AND at >= ? ORDER BY at",
            (*wanted, hotline_id, since)).fetchall()
        return [Throttle(*row) for row in rows]

    def round_throttles(self, round_name: str) -> list[Throttle]:
        """Every throttling answer booked by ``round_name``'s components, oldest first."""
        rows = self._db().execute(
            "SELECT host, at, kind, status, url, component, hotline_id, retry_after, waited FROM throttles "
            "WHERE round = ? ORDER BY at", (round_name,)).fetchall()
        return [Throttle(*row) for row in rows]

    def host_stats(self, round_name: str | None = None) -> list[HostStats]:
        """Per host: page-level requests, the most in any 60 s, throttling answers (this round's
        when ``round_name`` is given, else everything in the file)."""
        where, args = ("WHERE round=?", (round_name,)) if round_name is not None else ("", ())
        db = self._db()
        times: dict[str, list[float]] = {}
        components: dict[str, set[str]] = {}
        for host, t, component in db.execute(f"SELECT host, t, component FROM requests {where} ORDER BY host, t",
                                             args):
            times.setdefault(host, []).append(t)
            components.setdefault(host, set()).add(component)
        throttled: dict[str, tuple[int, float]] = {
            host: (n, first) for host, n, first in db.execute(
                f"SELECT host, COUNT(*), MIN(at) FROM throttles {where} GROUP BY host", args)}
        stats = []
        for host in sorted(set(times) | set(throttled)):
            n, first = throttled.get(host, (0, None))
            stats.append(HostStats(host=host, requests=len(times.get(host, [])),
                                   peak_per_minute=peak_in_window(times.get(host, [])), throttles=n,
                                   first_throttle=first, components=",".join(sorted(components.get(host, ())))))
        return stats

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def peak_in_window(times: list[float], window_s: float = WINDOW_S) -> int:
    """The most of ``times`` (sorted) inside any half-open window of ``window_s`` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state_file_for(settings: PolitenessSettings, out: Path) -> Path:
    """Where the shared budget lives: the setting, else politeness.sqlite in ``out``."""
    return settings.state_file or (Path(out) / "politeness.sqlite")


def open_budget(settings: PolitenessSettings, out: Path, round_name: str = "", component: str = "") -> Politeness:
    """The budget every command writing to ``out`` shares (the round's, a recheck's, discovery's)."""
    return Politeness(state_file_for(settings, out), settings, round_name, component)
