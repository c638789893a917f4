"""The findability journey: a citizen's questions typed into a portal's own search box,
knowledge base and Q&A robot, and what came back, as a person sees it. It judges nothing.

Entry points are found as a person finds them: a search box on the homepage (0 clicks), or
links by what their words mean (知识库, 便民百科, 小慧助手 … read by meaning as discovery reads
them, ``crawler.entries``; a link to a search page by the search words of ``crawler/lexicon.yaml``),
following at most ``max_clicks`` links. Results are read by general signals, not one CMS's markup: a list of
links with text, often beside a date and a snippet, that was not on the page before the query.
A knowledge base without a box is read as a person browses it: its list, and the text of the
few entries titled most like the question (short titles often name the matter only inside).
Every wait is for an event (a request, a navigation, a DOM change, a dialog), bounded by
``query_timeout_s``; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import heapq
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from playwright.async_api import Dialog, Download, Frame, Page, Request, Response
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from crawler.entries import entry_kind
from crawler.extract import load_lexicon
from hotline_audit.model import (
    Channel,
    EntryPoint,
    EvidenceFile,
    FindabilityObservation,
    FindVia,
    Hotline,
    QueryAttempt,
    SearchHit,
    Side,
)

from .browser import Tab, shot_format
from .capture import Capture
from .pageload import (
    FROZEN_FAULTS,
    classify_browser_error,
    goto_unless_cut,
    page_fault,
    page_responds,
    stop_loading,
    unreachable_kind,
)
from .stability import JourneyContext, evidence_record

CHECK = "findability"
VIA_OF_KIND: dict[str, FindVia] = {"search": "search", "knowledge_base": "knowledge_base", "robot": "robot"}
# Channel kinds whose hosts belong to the hotline's own site (not Weibo, app stores, ...).
SITE_KINDS = ("website", "search", "knowledge_base", "robot", "submit", "track", "h5")

QUIET_S = 0.1  # no request and no DOM change for this long: the page has settled
POLL_S = 0.03
NO_REACTION_S = 2.0  # a submit that starts nothing at all within this long did nothing
MAX_HELD_EXTENSION_S = 60.0  # a query's deadline moves by our budget's holds, at most this much
# A search that hung for query_timeout_s is recorded; the rest on that entry are not sent
# (each would cost the full timeout again: the round's largest waste).
GIVE_UP_AFTER_TIMEOUTS = 1
EXPLORE_PAGES = 4  # pages visited beyond the homepage when no search box is in sight
HOME_PATIENCE = 2.0  # a homepage that did not open in time is given this many times as long once
KB_LIST_MAX = 200
KB_OPEN = 3  # entries of a box-less knowledge base read per question: those titled most like it
KB_BODY_CHARS = 500
SHOT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0

# Reasons a check may compare against (the Chinese is what auditors read).
REASON_OFFSITE = "跳转到站外"
REASON_NO_LIST = "页面上没有可识别的结果列表，也没有“无结果”提示"
REASON_NO_REACTION = "提交查询后页面没有反应"
REASON_NOT_RESULTS = "提交查询后打开的页面不是搜索结果页（没有结果，也不提所查内容）"
REASON_KB_LIST = "知识库没有搜索框，记录其条目列表"
REASON_KB_READ = "；打开{n}篇标题最像所问的条目读了正文"
REASON_UNREADABLE = "结果以图片显示，无法读取文字"
REASON_GAVE_UP = "查询超时，其余问题未再查询"
REASON_SKIPPED = "此入口已有{n}次查询超时，本问题未再发送"

NO_RESULT_RE = re.compile(
    r"没有找到|未找到|未能找到|未检索到|没有检索到|查无|无相关|暂无(相关)?(结果|数据|信息|内容|答案)"
    r"|共找到\s*0\s*条|\b0\s*条(相关)?(结果|记录)|没有(相关|符合)|结果为空"
)
ERROR_TEXT_RE = re.compile(
    r"系统繁忙|服务器(错误|异常|繁忙)|Internal Server Error|Service Unavailable|Bad Gateway"
    r"|页面出错|访问出错|系统(错误|异常)|Error\s*5\d\d"
)
# Links worth a look when no search box is in sight (a person's guess where search lives).
PROMISING = re.compile(r"搜索|检索|互动|12345|热线|便民|服务|咨询|政民|公众参与|办事")


class QuestionLike(Protocol):
    """What the journey needs of a question (hotline_audit.questions.Question fits)."""

    @property
    def id(self) -> str: ...

    def query_for(self, city: str) -> str: ...


# -- scripts run in the page ------------------------------------------------------------------

_SHOWN = """const shown = el => { const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1 || r.right < 0 || r.bottom < 0) return false;
  const s = getComputedStyle(el); return s.visibility !== 'hidden' && s.opacity !== '0'; };
const clean = s => (s || '').replace(/\\s+/g, ' ').trim();"""

# Text boxes a person would take for search: a search-like hint (placeholder, name) or a
# 搜索/检索/查询 button beside it; login and submission forms (passwords, many fields) are not.
FIND_BOXES_JS = "(prefix) => {" + _SHOWN + r"""
  const WORDS = /搜\s*索|检\s*索|查\s*询|关键[字词]|search|query/i;
  const NAMES = /^(q|kw|wd|key|keys|keyword|keywords|searchword|searchkey|searchtext|query|word|text)$/i;
  const label = el => clean(el.innerText || el.value || el.title || el.getAttribute('aria-label')
                            || (el.querySelector('img') || {}).alt);
  const texty = i => ['text', 'search', ''].includes((i.getAttribute('type') || 'text').toLowerCase());
  // A results page scrolled to its first hit hides the box above: a person scrolls back up.
  if (window.scrollY || window.scrollX) window.scrollTo(0, 0);
  document.querySelectorAll('[data-ha-box],[data-ha-btn]').forEach(e => {
    e.removeAttribute('data-ha-box'); e.removeAttribute('data-ha-btn'); });
  const out = [];
  let n = 0;
  for (const input of document.querySelectorAll('input')) {
    if (!texty(input) || input.disabled || input.readOnly || !shown(input)) continue;
    const form = input.form;
    if (form && (form.querySelector('input[type=password], textarea')
                 || [...form.querySelectorAll('input')].filter(texty).length > 2)) continue;
    let button = null;
    let scope = form || input.parentElement;
    for (let up = 0; scope && up < 4 && !button; up++) {
      const cands = [...scope.querySelectorAll(
        'button, input[type=submit], input[type=button], input[type=image], a, [onclick], [role=button]')]
        .filter(b => b !== input && shown(b));
      button = cands.find(b => WORDS.test(label(b)) || /^(go|搜|查)$/i.test(label(b)))
        || (form ? cands.find(b => b.matches('button, input[type=submit], input[type=image]')) : null) || null;
      if (form) break;
      scope = scope.parentElement;
    }
    const hints = [input.placeholder, input.name, input.id, input.title, input.getAttribute('aria-label')].join(' ');
    let score = 0;
    if (WORDS.test(hints) || NAMES.test(input.name || input.id || '')) score += 2;
    if (button) score += WORDS.test(label(button)) ? 2 : 1;
    if ((input.getAttribute('type') || '').toLowerCase() === 'search') score += 2;
    if (form && (form.getAttribute('method') || 'get').toLowerCase() === 'get') score += 1;
    if (score < 2) continue;
    const mark = prefix + (n++);
    input.setAttribute('data-ha-box', mark);
    if (button) button.setAttribute('data-ha-btn', mark);
    out.push({mark, score, button: !!button, action: form ? form.action : null});
  }
  return out;
}"""

# Visible links with short text (entries, menus); rows with a date are articles, not entries.
LINKS_JS = "(prefix) => {" + _SHOWN + r"""
  const DATE = /20\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}/;
  document.querySelectorAll('[data-ha-link]').forEach(e => e.removeAttribute('data-ha-link'));
  const out = [];
  let i = 0;
  for (const a of document.querySelectorAll('a[href]')) {
    if (!shown(a)) continue;
    const text = clean(a.innerText) || clean(a.title) || clean((a.querySelector('img') || {}).alt);
    if (!text || text.length > 20) continue;
    let href = a.href;
    if (!/^https?:/.test(href)) {  // javascript:void(0) with window.open('…') in onclick
      const m = (a.getAttribute('onclick') || '').match(/['"]((?:https?:)?\/\/[^'"\s]+|\/[^'"\s]*)['"]/);
      if (!m) continue;
      try { href = new URL(m[1], location.href).href; } catch (e) { continue; }
    }
    let row = a;  // the largest ancestor (3 levels at most) holding this one link: its row
    for (let up = a.parentElement, n = 0; up && up !== document.body && n < 3; up = up.parentElement, n++) {
      if (up.querySelectorAll('a[href]').length > 1) break;
      row = up;
    }
    const mark = prefix + (i++);
    a.setAttribute('data-ha-link', mark);
    out.push({text, href, mark, dated: DATE.test(row.innerText || '')});
  }
  return out;
}"""

HREFS_JS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"

# The text of knowledge-base entries, fetched in the page (same cookies, proxy, encoding rules
# as a click; parallel, no rendering): the words after the entry's title, page chrome removed.
# A short title ("异地就医备案怎么办？") often names the matter only in its body.
READ_ENTRIES_JS = r"""async (args) => {
  const clean = s => (s || '').replace(/\s+/g, ' ').trim();
  const CHROME = 'script, style, noscript, template, nav, header, footer, form, iframe, [class*=foot], [id*=foot],'
    + ' [class*=nav], [id*=nav], [class*=menu], [class*=crumb], [class*=share]';
  const decode = (buf, labels) => {
    for (const label of labels) { try { if (label) return new TextDecoder(label).decode(buf); } catch (e) {} }
    return new TextDecoder('utf-8').decode(buf);
  };
  const read = async ([url, title]) => {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), args.timeout);
    try {
      const r = await fetch(url, {credentials: 'include', signal: stop.signal});
      const type = r.headers.get('content-type') || 'text/html';
      if (!r.ok || !/html/i.test(type) || +(r.headers.get('content-length') || 0) > 2e6) return null;
      const buf = await r.arrayBuffer();
      // As a browser decodes: the HTTP charset, else the page's <meta>, else UTF-8.
      const head = new TextDecoder('latin1').decode(buf.slice(0, 2048));
      const html = decode(buf, [(type.match(/charset=["']?([\w-]+)/i) || [])[1],
                                (head.match(/<meta[^>]+charset=["']?([\w-]+)/i) || [])[1]]);
      const doc = new DOMParser().parseFromString(html, 'text/html');
      if (!doc.body) return null;
      doc.querySelectorAll(CHROME).forEach(e => e.remove());
      doc.body.querySelectorAll('p, div, li, td, br, h1, h2, h3, h4, h5, h6, section, article, span')
        .forEach(e => e.append(' '));
      const text = clean(doc.body.textContent);
      const at = title ? text.indexOf(title) : -1;
      return (at >= 0 ? text.slice(at + title.length) : text).trim().slice(0, args.max);
    } catch (e) {
      return null;  // cross-origin, aborted, not a page: the title is all that is known
    } finally {
      clearTimeout(timer);
    }
  };
  return Promise.all(args.items.map(read));
}"""

# Marks what the page adds after this point (AJAX results, a robot's answer bubble).
OBSERVE_JS = r"""() => {
  if (window.__haObs) window.__haObs.disconnect();
  document.querySelectorAll('[data-ha-new]').forEach(e => e.removeAttribute('data-ha-new'));
  const state = window.__haMut = {n: 0, t: performance.now()};
  const mark = node => { const el = node.nodeType === 1 ? node : node.parentElement;
                         if (el && el.setAttribute) el.setAttribute('data-ha-new', '1'); };
  window.__haObs = new MutationObserver(records => {
    for (const r of records) {
      if (r.target.closest && r.target.closest('[data-ha-box],[data-ha-robot]')) continue;
      state.n++;
      if (r.type === 'characterData') mark(r.target); else r.addedNodes.forEach(mark);
    }
    state.t = performance.now();
  });
  window.__haObs.observe(document.body || document.documentElement,
                         {childList: true, subtree: true, characterData: true});
}"""
# Waits in the page (one round trip, not a poll per tick) until the DOM has been quiet for
# ``quiet`` ms, at most ``max`` ms: [changes so far, ms since the last, readyState], or null
# when the document is not the one OBSERVE_JS watched.
DOM_QUIET_JS = r"""(a) => new Promise(resolve => {
  const s = window.__haMut;
  if (!s) return resolve(null);
  const t0 = performance.now();
  const tick = () => {
    const since = performance.now() - s.t;
    if (since >= a.quiet || performance.now() - t0 >= a.max) resolve([s.n, since, document.readyState]);
    else setTimeout(tick, Math.max(10, a.quiet - since));
  };
  tick();
})"""

# Result lists: each visible link with text climbs to the largest ancestor that holds no other
# text link (its "item": title, snippet, date); items are grouped by their parent (the list).
RESULTS_JS = "(args) => {" + _SHOWN + r"""
  const before = new Set(args.before || []);
  const DATE = /((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})/;
  const CHROME = /^(首页|网站首页|上一页|下一页|尾页|末页|返回|更多|更多>>|高级搜索|高级检索|登录|注册|English|无障碍|关闭)$/i;
  const PAGE_CHROME = 'footer, nav, header, [class*=foot], [id*=foot], [class*=nav], [id*=nav], [class*=menu]';
  const linkText = a => clean(a.innerText) || clean(a.title);
  const groups = new Map();
  let images = 0;
  const links = [...document.querySelectorAll('a[href]')];
  links.forEach((a, order) => {
    if (!shown(a)) return;
    const title = linkText(a);
    const fresh = args.sameDoc ? !!a.closest('[data-ha-new]') : !before.has(a.href);
    if (title.length < 4 || CHROME.test(title)) {
      if (!title && fresh && [...a.querySelectorAll('img, canvas, svg')].some(i => i.getBoundingClientRect().width >= 40)) images++;
      return;
    }
    let item = a;
    for (let up = a.parentElement; up && up !== document.body; up = up.parentElement) {
      let n = 0;
      for (const x of up.querySelectorAll('a[href]')) if (linkText(x).length >= 4 && ++n > 1) break;
      if (n > 1 || clean(up.innerText).length > 600) break;
      item = up;
    }
    const text = clean(item.innerText);
    const m = text.match(DATE);
    let snippet = text.replace(title, ' ');
    if (m) snippet = snippet.replace(m[0], ' ');
    const key = item.parentElement || item;
    if (!groups.has(key)) groups.set(key, {order, chrome: !!item.closest(PAGE_CHROME), items: []});
    groups.get(key).items.push({
      title: title.slice(0, 300), url: /^https?:/.test(a.href) ? a.href : '',
      snippet: clean(snippet).slice(0, 300), fresh,
      date: m ? `${m[1]}-${m[2].padStart(2, '0')}-${m[3].padStart(2, '0')}` : null});
  });
  // The words a person reads after the query: what the page added, or the whole new page.
  const added = args.sameDoc ? [...document.querySelectorAll('[data-ha-new]')]
    .filter(e => !(e.parentElement && e.parentElement.closest('[data-ha-new]'))) : [document.body];
  const text = added.map(e => e ? e.innerText || e.textContent || '' : '').join('\n').slice(0, 20000);
  // A results page repeats the query somewhere (a heading, the box); an unrelated page does not.
  const probe = (args.query || '').slice(0, 6);
  const echo = !probe || (document.body && document.body.innerText.includes(probe))
    || [...document.querySelectorAll('input, textarea')].some(i => (i.value || '').includes(probe));
  return {groups: [...groups.values()].map(g => ({...g, items: g.items.slice(0, args.limit)})), images, text, echo};
}"""

# A chat robot's input: a text box or textarea beside a 发送/提问 button.
ROBOT_BOX_JS = "() => {" + _SHOWN + r"""
  const SEND = /发\s*送|提\s*问|咨\s*询|提\s*交|send|问/i;  // a short button label, not an answer's link
  const label = b => clean(b.innerText || b.value || b.title);
  document.querySelectorAll('[data-ha-robot],[data-ha-robot-btn]').forEach(e => {
    e.removeAttribute('data-ha-robot'); e.removeAttribute('data-ha-robot-btn'); });
  let best = null;
  for (const input of document.querySelectorAll('textarea, input')) {
    const type = (input.getAttribute('type') || 'text').toLowerCase();
    if (!['text', 'search', ''].includes(type) && input.tagName !== 'TEXTAREA') continue;
    if (input.disabled || input.readOnly || !shown(input)) continue;
    let button = null;
    for (let scope = input.parentElement, up = 0; scope && up < 4 && !button; scope = scope.parentElement, up++)
      button = [...scope.querySelectorAll('button, input[type=submit], input[type=button], a, [onclick], [role=button]')]
        .find(b => b !== input && shown(b) && label(b).length <= 6 && SEND.test(label(b))) || null;
    const score = (button ? 3 : 0) + (/问题|咨询|提问|输入/.test(input.placeholder || '') ? 1 : 0)
                  + (input.tagName === 'TEXTAREA' ? 1 : 0);
    if (score > 0 && (!best || score > best.score)) best = {input, button, score};
  }
  if (!best) return null;
  best.input.setAttribute('data-ha-robot', '1');
  if (best.button) best.button.setAttribute('data-ha-robot-btn', '1');
  return {button: !!best.button};
}"""

# What the robot added since OBSERVE_JS, minus the echo of the question.
ROBOT_ANSWER_JS = "(question) => {" + _SHOWN + r"""
  const tops = [...document.querySelectorAll('[data-ha-new]')]
    .filter(e => !(e.parentElement && e.parentElement.closest('[data-ha-new]')) && shown(e));
  const q = clean(question);
  const out = [];
  for (const el of tops) {
    const text = clean(el.innerText);
    if (!text || (text.includes(q) && text.length <= q.length + 12)) continue;  // the echo ("我：…")
    const links = [...el.querySelectorAll('a[href]')].map(a => ({title: clean(a.innerText), url: a.href}));
    out.push({text: text.slice(0, 1000), links});
  }
  return out;
}"""


# -- small helpers ----------------------------------------------------------------------------

def _norm(url: str) -> str:
    """A URL without query and fragment, to tell whether two addresses are the same entry."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "") if url else ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


def _best_group(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The result list among a page's link groups: new links, dated, with snippets, long titles."""
    best: list[dict[str, Any]] = []
    best_score = 0.0
    for g in groups:
        items = g["items"]
        n = len(items)
        if not n or sum(i["fresh"] for i in items) / n < 0.5:
            continue  # page chrome that was there before the query
        dated = sum(bool(i["date"]) for i in items) / n
        snippets = sum(len(i["snippet"]) >= 10 for i in items) / n
        long_titles = sum(len(i["title"]) for i in items) / n >= 8
        score = n * (1 + dated + snippets) * (1.0 if long_titles else 0.5) * (0.3 if g["chrome"] else 1.0)
        if score > best_score:
            best, best_score = items, score
    return best


def _list_entries(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All article-like lists of a page (a knowledge base groups its entries by area)."""
    out: list[dict[str, Any]] = []
    for g in sorted(groups, key=lambda g: g["order"]):
        items = g["items"]
        if items and not g["chrome"] and sum(i["fresh"] for i in items) / len(items) >= 0.5 \
                and sum(len(i["title"]) for i in items) / len(items) >= 6:
            out.extend(items)
    return out[:KB_LIST_MAX]


_PAIR_BREAK = re.compile(r"[^0-9A-Za-z\u3400-\u9fff]+")


def _pairs(text: str) -> set[str]:
    """Two-character pieces of the words in ``text`` (not across punctuation)."""
    return {run[i:i + 2] for run in _PAIR_BREAK.split(text.lower()) for i in range(len(run) - 1)}


def _kb_picks(query: str, city: str, hits: Sequence[SearchHit], n: int = KB_OPEN) -> list[SearchHit]:
    """The entries a person reading a knowledge base's list opens for ``query``: the ``n`` whose
    titles share the most two-character pieces with it (at least two; the city name aside)."""
    wanted = _pairs(query.replace(city, " ") if city else query)
    scored = [(len(wanted & _pairs(h.title)), i) for i, h in enumerate(hits) if h.url]
    scored.sort(key=lambda si: (-si[0], si[1]))
    return [hits[i] for score, i in scored[:n] if score >= 2]


def _hit(item: dict[str, Any]) -> SearchHit:
    return SearchHit(title=item["title"], snippet=item["snippet"], url=item["url"], date=item["date"])


def _excerpt(pattern: re.Pattern[str], text: str) -> str | None:
    """The line of ``text`` where ``pattern`` first matches (what the page said), or None."""
    m = pattern.search(text)
    if m is None:
        return None
    start, end = text.rfind("\n", 0, m.start()) + 1, text.find("\n", m.end())
    return re.sub(r"\s+", " ", text[start:end if end >= 0 else len(text)]).strip()[:200]


class _SiteStuck(Exception):
    """The site's page froze the tab (a busy or dialog loop) or keeps replacing itself: nothing
    more can be seen with it. Our browser passed a control page, so this is the site's doing."""


class _ToolFailure(Exception):
    """Our browser died: stop the journey, never blame the hotline."""


@dataclass
class _Box:
    frame: Frame
    mark: str
    button: bool
    action: str | None

    def input(self) -> Any:
        return self.frame.locator(f'[data-ha-box="{self.mark}"]')

    def submit_button(self) -> Any:
        return self.frame.locator(f'[data-ha-btn="{self.mark}"]')

    def aliases(self) -> set[str]:
        return {_norm(u) for u in (self.frame.url, self.action) if u and u.startswith("http")}


@dataclass
class _Entry:
    point: EntryPoint
    aliases: set[str] = field(default_factory=set)  # URLs meaning this entry (page, form, endpoints)
    exclude: set[str] = field(default_factory=set)  # a KB page's boxes that are the site search
    engines: set[str] = field(default_factory=set)  # where its box sends queries (form actions)
    before: list[str] | None = None  # links on the entry page before any query

    @property
    def via(self) -> FindVia:
        return self.point.via

    @property
    def url(self) -> str:
        return self.point.url


class _Watch:
    """Everything that happens in the tab's browser context after a query is sent."""

    def __init__(self, journey: _Journey) -> None:
        self.journey = journey
        self.context = journey.tab.context
        self.last = time.monotonic()
        self.dialogs0 = len(journey.dialogs)
        self.downloads0 = len(journey.downloads)
        self.pending: set[Request] = set()
        self.requested = 0
        self.urls: list[str] = []
        self.navigated: list[Frame] = []
        self.status: dict[Frame, int] = {}
        self.status_of_url: dict[str, int] = {}  # a popup's first document may come before its frame
        self.failed: list[str] = []
        self.popups: list[Page] = []
        self._handlers: list[tuple[str, Callable[..., Any]]] = [
            ("request", self._request), ("requestfinished", self._finished),
            ("requestfailed", self._failed), ("response", self._response), ("page", self._page)]
        for event, fn in self._handlers:
            self.context.on(event, fn)

    def close(self) -> None:
        for event, fn in self._handlers:
            self.context.remove_listener(event, fn)

    def _request(self, req: Request) -> None:
        self.pending.add(req)
        self.requested += 1
        self.last = time.monotonic()
        if req.resource_type in ("document", "script", "xhr", "fetch"):  # endpoints, not styling
            self.urls.append(req.url)
        if req.is_navigation_request():
            try:
                self.navigated.append(req.frame)
            except PlaywrightError:  # a service worker's request has no frame
                pass

    def _finished(self, req: Request) -> None:
        self.pending.discard(req)
        self.last = time.monotonic()

    def _failed(self, req: Request) -> None:
        self._finished(req)
        self.failed.append(f"{req.failure or 'failed'} {req.url[:200]}")

    def _response(self, resp: Response) -> None:
        req = resp.request
        if req.is_navigation_request():
            self.status_of_url[resp.url] = resp.status
            try:
                self.status[req.frame] = resp.status
            except PlaywrightError:
                pass
        elif resp.status >= 400:
            self.failed.append(f"HTTP {resp.status} {req.url[:200]}")

    def _page(self, page: Page) -> None:
        self.popups.append(page)
        self.journey.listen(page)

    def status_for(self, frame: Frame) -> int | None:
        return self.status.get(frame) or self.status_of_url.get(frame.url)

    @property
    def dialogs(self) -> list[str]:
        return self.journey.dialogs[self.dialogs0:]

    @property
    def downloads(self) -> list[str]:
        return self.journey.downloads[self.downloads0:]

    def happened(self, mutated: bool) -> bool:
        return bool(mutated or self.requested or self.popups or self.navigated or self.dialogs or self.downloads)

    def quiet(self) -> bool:
        return not self.pending and time.monotonic() - self.last >= QUIET_S

    def target(self, page: Page, box_frame: Frame) -> tuple[Page, Frame]:
        """Where the results are: a new tab, the navigated page or frame, or the box's own page."""
        if self.popups:
            return self.popups[-1], self.popups[-1].main_frame
        if page.main_frame in self.navigated:
            return page, page.main_frame
        if box_frame in self.navigated:
            return page, box_frame
        others = [f for f in self.navigated if not f.is_detached() and f.page == page]
        return page, (others[0] if others else box_frame)


async def _eval(frame: Frame, script: str, arg: Any = None, timeout_s: float = 2.0) -> Any:
    """Evaluate in a frame; None when the document went away (navigation) or did not answer.
    A closed page or browser is raised: that is our failure, not an empty page."""
    try:
        async with asyncio.timeout(timeout_s):
            return await frame.evaluate(script, arg)
    except TimeoutError:
        return None
    except PlaywrightError as exc:
        if classify_browser_error(_first_line(exc))[1] == "tool" or frame.page.is_closed():
            raise
        return None


# -- the journey ------------------------------------------------------------------------------


# Whether one attempt answers its question, by the judging rule (checks.findability.answers).
Answered = Callable[[Any, QueryAttempt], bool]
VIA_ORDER = {"search": 0, "knowledge_base": 1, "robot": 2}  # the site search first: it answers most


class _Journey:
    """One site (the website, or the WeChat H5 site) in one tab."""

    def __init__(self, ctx: JourneyContext, hotline: Hotline, tab: Tab, prefix: str,
                 answered: Answered | None = None) -> None:
        self.ctx = ctx
        self.answered = answered
        self.hotline = hotline
        self.tab = tab
        self.prefix = prefix
        self.rules = ctx.settings.findability
        self.nav_timeout_s = ctx.settings.browser.navigation_timeout_s
        self.settle_s = ctx.settings.browser.settle_s
        self.entries: list[_Entry] = []
        self.attempts: list[QueryAttempt] = []
        self.evidence: list[EvidenceFile] = []
        self.dialogs: list[str] = []
        self.downloads: list[str] = []
        self.allowed_hosts: set[str] = set()
        self.home_links: list[str] = []
        self.home_error: str | None = None  # the homepage could not be read
        self.last_cut = False  # the page last opened was cut at the size limit
        self.home_cut = False
        self.current: str | None = None  # the entry page loaded untouched in the tab, if any
        self.after_results: _Entry | None = None  # the tab shows this entry's last results
        # A new tab holding the last results, kept open: the next question is typed there, as a
        # person does, instead of a new tab per question (a new page costs ~5 reused ones).
        self.popup: Page | None = None
        self._listened: list[Page] = []
        self.listen(tab.page)

    # browser plumbing

    def listen(self, page: Page) -> None:
        page.on("dialog", self._dialog)
        page.on("download", self._download)
        self._listened.append(page)

    def detach(self) -> None:
        for page in self._listened:
            page.remove_listener("dialog", self._dialog)
            page.remove_listener("download", self._download)

    async def _dialog(self, dialog: Dialog) -> None:
        # A person reads the alert and presses OK; its text is the evidence.
        self.dialogs.append(f"{dialog.type}: {dialog.message[:300]}")
        try:
            await dialog.accept()
        except PlaywrightError:
            pass

    def _download(self, download: Download) -> None:
        self.downloads.append(download.suggested_filename or download.url[:200])
        asyncio.ensure_future(self._cancel(download))

    @staticmethod
    async def _cancel(download: Download) -> None:
        try:
            await download.cancel()
        except PlaywrightError:
            pass

    def _check_alive(self, exc: BaseException) -> tuple[str, Side]:
        """(kind, side) of a browser error; raises _ToolFailure when the browser is gone."""
        message = _first_line(exc)
        kind, side = classify_browser_error(message)
        if self.tab.page.is_closed() or kind == "browser" or not self.ctx.browser.connected:
            raise _ToolFailure(f"{kind}: {message}") from exc
        return kind, ("tool" if side == "tool" else "site")

    async def open(self, url: str, patience: float = 1.0) -> tuple[bool, str | None, Side]:
        """Go to a page like a person (one reload after a server error): (ok, error, side).
        ``patience`` times the navigation timeout is waited for it."""
        self.current = None
        error: str | None = None
        page, events = self.tab.page, self.tab.events
        timeout_s = self.nav_timeout_s * patience
        for attempt in range(2):
            seen = len(events.navigations)
            navs_before, dialogs_before = len(events.frame_navigations), events.dialogs
            try:
                # Stopped at once when the guard cut the page at the size limit (its top is read).
                response = await goto_unless_cut(self.tab, url, timeout_s)
            except (PlaywrightTimeout, TimeoutError):
                if not await stop_loading(page, self.tab.cdp, len(events.frame_navigations) > navs_before):  # stuck in its own scripts or dialogs
                    await self._stuck(page_fault(self.tab, [url, page.url], navs_before, dialogs_before)
                                      or ("unresponsive", "页面脚本卡死, 浏览器无法操作"))
                return False, f"页面在 {timeout_s:g} 秒内没有打开", "site"
            except PlaywrightError as exc:
                if "interrupted by another navigation" in str(exc) and attempt == 0:
                    continue  # the error page of an earlier failed load committed late: go again
                if "ERR_ABORTED" in str(exc):
                    # A dying browser aborts its loads before it reports itself gone: look again.
                    await asyncio.sleep(0.5)
                mapped = unreachable_kind(self.tab, [url, page.url])
                kind, side = mapped if mapped else self._check_alive(exc)
                return False, f"{kind}: {_first_line(exc)}", "tool" if side == "tool" else "site"
            # JS challenges reload the page and single-page apps fetch their content after "load".
            await events.settle(quiet_s=QUIET_S, max_s=self.settle_s)
            try:
                await page.wait_for_load_state("load", timeout=self.settle_s * 1000)
            except PlaywrightTimeout:
                pass
            fault = page_fault(self.tab, [url, page.url], navs_before, dialogs_before)
            if fault is None and not await page_responds(page, self.tab.cdp):
                fault = "unresponsive", "页面加载后脚本卡死, 浏览器无法操作"
            self.last_cut = fault is not None and fault[0] == "oversize"
            if fault is not None and fault[0] != "oversize":
                if fault[0] == "private_address":
                    return False, fault[1], "site"
                await self._stuck(fault)
            statuses = events.navigations[seen:]
            status = statuses[-1] if statuses else (response.status if response else None)
            if status is None or status < 400:
                return True, None, "site"
            error = f"HTTP {status}"
            if (mapped := unreachable_kind(self.tab, [url, page.url])) and status >= 500:
                return False, f"{mapped[0]}: {error}", "tool" if mapped[1] == "tool" else "site"
            if status < 500:
                break
        return False, error, "site"

    async def _stuck(self, fault: tuple[str, str]) -> None:
        """End the walk on a page that froze the tab or keeps reloading, once our browser has
        shown on a control page that it works (else the failure is ours)."""
        if fault[0] in FROZEN_FAULTS:
            self.tab.unfit = True
        if not await self.ctx.browser.browser_works():
            raise _ToolFailure(f"browser failed a control page after: {fault[1]}")
        raise _SiteStuck(fault[1])

    async def shot(self, page: Page, name: str) -> str | None:
        """A viewport screenshot saved as evidence; its round-relative path."""
        fmt = shot_format(self.ctx.settings.browser)
        path = self.ctx.evidence_path(self.hotline.hotline_id, CHECK, _safe(self.prefix + name) + fmt.suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            async with asyncio.timeout(SHOT_TIMEOUT_S):
                # caret as is: hiding it costs a style injection (~30 ms) and the caret is honest
                await page.screenshot(path=str(path), timeout=SHOT_TIMEOUT_S * 1000, caret="initial", **fmt.options)
        except (PlaywrightError, TimeoutError):
            return None
        record = evidence_record(self.ctx, self.hotline.hotline_id, CHECK, path, fmt.media_type)
        self.evidence.append(record)
        return record.path

    # finding the entry points

    def entry(self, via: FindVia, url: str, clicks: int | None, reachable: bool = False) -> _Entry:
        found = _Entry(EntryPoint(via=via, url=url, clicks=clicks, reachable=reachable), {_norm(url)})
        self.entries.append(found)
        return found

    def linked(self, via: FindVia) -> list[_Entry]:
        return [e for e in self.entries if e.via == via and e.point.clicks is not None]

    async def find_boxes(self, exclude: set[str] | None = None, page: Page | None = None) -> list[_Box]:
        """Search boxes on the tab's page (or ``page``), in every frame, best first (none in ``exclude``)."""
        found: list[tuple[int, _Box]] = []
        for i, frame in enumerate((page or self.tab.page).frames):
            if frame.is_detached():
                continue
            for box in await _eval(frame, FIND_BOXES_JS, f"f{i}-") or []:
                candidate = _Box(frame, box["mark"], box["button"], box["action"])
                if not (exclude and candidate.aliases() & exclude):
                    found.append((box["score"], candidate))
        found.sort(key=lambda sb: -sb[0])
        return [b for _, b in found]

    def add_search(self, url: str, clicks: int, box: _Box) -> None:
        entry = self.entry("search", url, clicks, reachable=True)
        entry.aliases |= box.aliases()
        self.allowed_hosts |= {_host(u) for u in (box.frame.url, box.action) if u}

    async def find_entries(self, home: str) -> None:
        """Breadth-first from the homepage: boxes, then links by their words, up to max_clicks.
        Beyond the links that name an entry, a few promising pages are opened, and only while
        no search box is in sight."""
        queue: list[tuple[int, int, int, str]] = []  # (clicks, priority, order, url)
        seen = {_norm(home)}
        explored, url, clicks = 0, home, 0
        while True:
            boxes = await self.find_boxes()
            if boxes and not self.linked("search"):
                self.add_search(url, clicks, boxes[0])
            if clicks == 0:
                self.home_links = await _eval(self.tab.page.main_frame, HREFS_JS) or []
            if clicks < self.rules.max_clicks:
                for link in await _eval(self.tab.page.main_frame, LINKS_JS, "l") or []:
                    self.consider_link(link, clicks + 1, seen, queue)
            while True:
                if not queue or self.linked("search") or explored >= EXPLORE_PAGES:
                    if self.linked("search") and self.linked("search")[0].url == url:
                        # Only read so far: the first question is typed here, not after a reload.
                        self.current = _norm(url)
                    return
                clicks, _, _, url = heapq.heappop(queue)
                explored += 1
                if (await self.open(url))[0]:
                    url = self.tab.page.url
                    break

    def consider_link(self, link: dict[str, Any], clicks: int, seen: set[str],
                      queue: list[tuple[int, int, int, str]]) -> None:
        href, key = link["href"], _norm(link["href"])
        if link["dated"] or key in seen:  # a dated row is an article, not an entry
            return
        lexicon = load_lexicon()
        kind = entry_kind(link["text"])
        if kind in ("knowledge_base", "robot"):
            if not self.linked(kind):
                seen.add(key)
                self.entry(kind, href, clicks)
        elif kind is None and _host(href) in self.allowed_hosts:
            search_link = lexicon.says("search", link["text"])
            if search_link or PROMISING.search(link["text"]):
                seen.add(key)
                heapq.heappush(queue, (clicks, 0 if search_link else 1, len(seen), href))

    # asking

    def still_open(self, questions: Sequence[QuestionLike]) -> Sequence[QuestionLike]:
        """The questions no entry point within reach has answered yet; the first question when
        all were, so that each entry still shows whether it answers at all. (The check takes a
        question's first answer, so asking an answered one again cannot change a verdict.)"""
        if self.answered is None:
            return questions
        left = [q for q in questions if not any(a.question_id == q.id and self.answers(a, q) for a in self.attempts)]
        return left or questions[:1]

    def answers(self, attempt: QueryAttempt, question: QuestionLike) -> bool:
        point = self.entry_of(attempt).point
        within = point.reachable and point.clicks is not None and point.clicks <= self.rules.max_clicks
        return within and self.answered is not None and self.answered(question, attempt)

    async def ask_all(self, entry: _Entry, questions: Sequence[QuestionLike]) -> None:
        questions = self.still_open(questions)
        if entry.via == "robot":
            await self.ask_robot(entry, questions)
        elif entry.via == "knowledge_base":
            await self.ask_kb(entry, questions)
        else:
            await self.ask_each(entry, questions, self.ask_box)

    async def ask_each(self, entry: _Entry, questions: Sequence[QuestionLike],
                       ask: Callable[[_Entry, QuestionLike, bool], Awaitable[QueryAttempt]]) -> None:
        timeouts = 0
        pacer = self.tab.pacer
        for n, question in enumerate(questions):
            for _ in range(self.ctx.settings.politeness.retries + 1):
                throttled = len(pacer.throttles) if pacer else 0
                try:
                    attempt = await ask(entry, question, n == 0)
                except (PlaywrightError, TimeoutError) as exc:
                    _, side = self._check_alive(exc)
                    self.current = None
                    attempt = self._attempt(entry, question)
                    attempt.side, attempt.reason = side, _first_line(exc)
                if pacer is None or not await pacer.throttled_since(throttled) or pacer.budget.refusing(entry.url):
                    break
                # The site throttled us while we asked: what we saw is its firewall, not its
                # answer. Ask again from the entry page once the host's back-off is over.
                self.current = None
            self.attempts.append(attempt)
            timeouts = timeouts + 1 if attempt.outcome == "timeout" else 0
            if timeouts >= GIVE_UP_AFTER_TIMEOUTS and n + 1 < len(questions):
                # Bounded cost: the rest are recorded as not sent, so every question has a line.
                entry.point.error = f"{REASON_GAVE_UP}（{timeouts} 次）"
                for rest in questions[n + 1:]:
                    skipped = self._attempt(entry, rest)
                    skipped.outcome, skipped.reason = "timeout", REASON_SKIPPED.format(n=timeouts)
                    self.attempts.append(skipped)
                break
        await self.drop_popup()  # the next entry starts from its own page

    async def ready(self, entry: _Entry) -> tuple[bool, str | None, Side]:
        """The entry page loaded and untouched (an AJAX page is reused as a person would)."""
        if self.current == _norm(entry.url) and not self.tab.page.is_closed():
            return True, None, "site"
        ok, error, side = await self.open(entry.url)
        if ok:
            self.current = _norm(entry.url)
        return ok, error, side

    def _attempt(self, entry: _Entry, question: QuestionLike) -> QueryAttempt:
        return QueryAttempt(question_id=question.id, query=question.query_for(self.hotline.city),
                            via=entry.via, entry_url=entry.url, outcome="error")

    async def box_for(self, entry: _Entry, attempt: QueryAttempt) -> _Box | None:
        """The entry's box: on the results page of its last query when that page has a box
        sending to the same engine (as a person types the next question there), else on the
        entry page, opened afresh."""
        if self.after_results is entry:
            pages = [self.popup] if self.popup is not None and not self.popup.is_closed() else []
            if self.current != _norm(entry.url):
                pages.append(self.tab.page)
            for page in pages:
                for box in await self.find_boxes(entry.exclude, page):
                    if box.action and _norm(box.action) in entry.engines:
                        return box
        ok, error, side = await self.ready(entry)
        if not ok:
            attempt.reason, attempt.side = error, side
            return None
        boxes = await self.find_boxes(entry.exclude)
        if not boxes:
            self.current = None
            attempt.reason = "搜索框不见了"
            return None
        box = boxes[0]
        if box.action:
            entry.engines.add(_norm(box.action))
        if entry.before is None:  # the page chrome a results page may repeat
            frames = {self.tab.page.main_frame, box.frame}
            entry.before = [href for f in frames for href in await _eval(f, HREFS_JS) or []]
        return box

    async def ask_box(self, entry: _Entry, question: QuestionLike, first: bool) -> QueryAttempt:
        attempt = self._attempt(entry, question)
        box = await self.box_for(entry, attempt)
        self.after_results = None
        if box is None:
            return attempt
        page = box.frame.page  # the tab's page, or the results tab kept open
        await box.input().fill(attempt.query, timeout=5000)
        if first:
            await box.input().scroll_into_view_if_needed(timeout=2000)
            typed = await self.shot(page, f"{entry.via}{self.entries.index(entry)}-{question.id}-typed")
            if typed:
                attempt.screenshots.append(typed)
                entry.point.screenshot = entry.point.screenshot or typed
        before_links = entry.before or []
        await _eval(box.frame, OBSERVE_JS)
        watch = _Watch(self)
        state = "error"
        try:
            started = time.monotonic()
            deadline = started + self.rules.query_timeout_s
            await self.submit(box)
            state = await self.wait(watch, box.frame, started, deadline)
            if state == "nothing" and box.button:  # the button did nothing: a person presses Enter
                await box.input().press("Enter", timeout=3000, no_wait_after=True)
                state = await self.wait(watch, box.frame, time.monotonic(), deadline)
            attempt.elapsed_ms = round((time.monotonic() - started - self.tab.held_s(started)) * 1000, 1)
            if state == "timeout":  # stop the hung load, so what the person sees can be read
                # (whether the results' document came is not known: stopped, not asked)
                await stop_loading(watch.target(page, box.frame)[0], committed=False)
            await self.read_results(attempt, entry, watch, box.frame, state, before_links)
        finally:
            watch.close()
            shown_in = watch.target(page, box.frame)[0] if state == "done" else None
            await self.close_popups(watch, keep=shown_in if shown_in is not self.tab.page else None)
        if state != "done" or any(f.page == self.tab.page for f in watch.navigated):
            # A late answer must not land on the next query's page: start it afresh.
            self.current = None
        self.after_results = entry if state == "done" else None
        entry.aliases |= {_norm(u) for u in watch.urls if u.startswith("http")}
        return attempt

    async def submit(self, box: _Box) -> None:
        if box.button:
            try:
                # force: the box finder already saw it shown; skips Playwright's settling waits
                await box.submit_button().click(timeout=3000, no_wait_after=True, force=True)
                return
            except PlaywrightError:  # detached or off-page: a person presses Enter instead
                pass
        await box.input().press("Enter", timeout=3000, no_wait_after=True)

    async def wait(self, watch: _Watch, frame: Frame, since: float, deadline: float,
                   ready: Callable[[], Awaitable[bool]] | None = None) -> str:
        """Until the page has answered and settled: done, timeout, nothing (no reaction) or download."""
        while True:
            if watch.downloads:
                return "download"
            # DOM changes matter once the network is quiet (or when there was no request at all).
            mutations = None
            if watch.quiet():
                wait_ms = max(0.0, min(0.5, deadline - time.monotonic())) * 1000
                mutations = await _eval(frame, DOM_QUIET_JS, {"quiet": QUIET_S * 1000, "max": wait_ms},
                                        timeout_s=1.5)
            mutated = bool(mutations and mutations[0])
            now = time.monotonic()
            if watch.happened(mutated):
                if watch.quiet() and (mutations is None or mutations[1] >= QUIET_S * 1000) \
                        and await self.settled(watch, frame, mutations, ready):
                    return "done"
            elif now - since >= NO_REACTION_S:
                return "nothing"
            # Our budget's holds are not the site's time (up to a point: a host backing off for
            # minutes has throttled us, which its verdict will say).
            if now >= deadline + min(self.tab.held_s(since), MAX_HELD_EXTENSION_S):
                return "timeout"
            await asyncio.sleep(POLL_S)

    async def settled(self, watch: _Watch, frame: Frame, mutations: list[Any] | None,
                      ready: Callable[[], Awaitable[bool]] | None) -> bool:
        _, target = watch.target(self.tab.page, frame)
        if target is frame and mutations is not None:
            state = mutations[2]
        else:
            state = await _eval(target, "() => document.readyState", timeout_s=1.0)
        return state == "complete" and (ready is None or await ready())

    async def close_popups(self, watch: _Watch, keep: Page | None = None) -> None:
        """Close the tabs a query opened, but ``keep`` (which becomes the kept results tab)."""
        for popup in [*watch.popups, self.popup]:
            if popup is not None and popup is not keep:
                try:
                    await popup.close()
                except PlaywrightError:
                    pass
        self.popup = keep

    async def drop_popup(self) -> None:
        if self.popup is not None:
            try:
                await self.popup.close()
            except PlaywrightError:
                pass
            self.popup = None

    async def read_results(self, attempt: QueryAttempt, entry: _Entry, watch: _Watch, box_frame: Frame,
                           state: str, before_links: list[str]) -> None:
        page, frame = watch.target(box_frame.page, box_frame)
        same_doc = frame is box_frame and frame not in watch.navigated
        attempt.results_url = frame.url if not frame.is_detached() else None
        read = None if state == "download" else await _eval(
            frame, RESULTS_JS, {"before": before_links, "sameDoc": same_doc, "limit": self.rules.top_results,
                                "query": attempt.query},
            timeout_s=READ_TIMEOUT_S)
        hits = [_hit(i) for i in _best_group(read["groups"])] if read else []
        attempt.outcome, attempt.reason = self.outcome(state, watch, frame, same_doc, read, hits)
        attempt.hits = hits[: self.rules.top_results]
        attempt.unreadable = attempt.reason == REASON_UNREADABLE
        if watch.dialogs:
            dialog_text = "弹窗：" + "；".join(watch.dialogs)
            attempt.reason = dialog_text if attempt.reason in (None, REASON_NO_LIST) else f"{attempt.reason}；{dialog_text}"
        if hits and hits[0].url:
            await _eval(frame, "(u) => { const a = [...document.querySelectorAll('a[href]')].find(a => a.href === u);"
                               " if (a) a.scrollIntoView({block: 'center'}); }", hits[0].url)
        shown = await self.shot(page, f"{entry.via}{self.entries.index(entry)}-{attempt.question_id}-results")
        if shown:
            attempt.screenshots.append(shown)

    def outcome(self, state: str, watch: _Watch, frame: Frame, same_doc: bool, read: dict[str, Any] | None,
                hits: list[SearchHit]) -> tuple[Any, str | None]:
        """(outcome, reason) of one query, from what the browser saw."""
        if state == "download":
            return "error", f"点击搜索后下载了文件（{watch.downloads[0]}），没有显示结果页"
        host = _host(frame.url)
        if not same_doc and host and frame.url.startswith("http") and host not in self.allowed_hosts:
            status = watch.status_for(frame)
            return "error", f"{REASON_OFFSITE}：{host}" + (f"（HTTP {status}）" if status else "")
        status = watch.status_for(frame)
        if status is not None and status >= 400:
            return "error", f"HTTP {status}"
        if hits:
            return "results", (f"{self.rules.query_timeout_s:g} 秒后页面仍在加载" if state == "timeout" else None)
        if read and read["images"]:
            return "results", REASON_UNREADABLE
        if state == "timeout":
            return "timeout", f"{self.rules.query_timeout_s:g} 秒内没有返回结果"
        if watch.dialogs:
            return "blocked", None
        text = read["text"] if read else ""
        if (match := _excerpt(NO_RESULT_RE, text)) is not None:
            return "no_results", match
        if (match := _excerpt(ERROR_TEXT_RE, text)) is not None:
            return "error", match
        if same_doc and watch.failed:
            return "error", watch.failed[0]
        if state == "nothing":
            return "error", REASON_NO_REACTION
        if read is None:
            return "error", "无法读取结果页"
        if not same_doc and not read["echo"]:
            return "error", REASON_NOT_RESULTS
        return "no_results", REASON_NO_LIST

    async def open_entry(self, entry: _Entry) -> bool:
        ok, error, side = await self.ready(entry)
        entry.point.reachable = ok
        entry.point.error, entry.point.side = error, side
        if ok:
            entry.aliases.add(_norm(self.tab.page.url))
        return ok

    async def ask_kb(self, entry: _Entry, questions: Sequence[QuestionLike]) -> None:
        if not await self.open_entry(entry):
            return
        # A box on a KB page that sends to the site search is the site search, not the KB's own.
        entry.exclude = set().union(*(e.aliases for e in self.entries if e.via == "search"))
        if await self.find_boxes(entry.exclude):
            await self.ask_each(entry, questions, self.ask_box)
            return
        read = await _eval(self.tab.page.main_frame, RESULTS_JS,
                           {"before": self.home_links, "sameDoc": False, "limit": KB_LIST_MAX},
                           timeout_s=READ_TIMEOUT_S)
        listed = [_hit(i) for i in _list_entries(read["groups"])] if read else []
        shown = await self.shot(self.tab.page, f"knowledge_base{self.entries.index(entry)}-list")
        picks = {q.id: _kb_picks(q.query_for(self.hotline.city), self.hotline.city, listed) for q in questions}
        bodies = await self.read_entries([h for hits in picks.values() for h in hits])
        for question in questions:
            attempt = self._attempt(entry, question)
            attempt.outcome = "results" if listed else "no_results"
            opened = {h.url: bodies[h.url] for h in picks[question.id] if bodies.get(h.url)}
            attempt.reason = REASON_KB_LIST + (REASON_KB_READ.format(n=len(opened)) if opened else "")
            attempt.browsed = True
            attempt.results_url = self.tab.page.url
            attempt.hits = [h.model_copy(update={"snippet": opened[h.url]}) if h.url in opened else h
                            for h in listed]
            attempt.screenshots = [shown] if shown else []
            self.attempts.append(attempt)

    async def read_entries(self, hits: list[SearchHit]) -> dict[str, str]:
        """url -> the text of each entry (one parallel read in the page); unreadable ones left out."""
        items = list({h.url: [h.url, h.title] for h in hits}.values())
        if not items:
            return {}
        # The reads are page-level requests too: the budget lets them through one by one.
        patience = READ_TIMEOUT_S + (self.tab.pacer.time_for(items[0][0], len(items)) if self.tab.pacer else 0.0)
        texts = await _eval(self.tab.page.main_frame, READ_ENTRIES_JS,
                            {"items": items, "timeout": patience * 1000, "max": KB_BODY_CHARS},
                            timeout_s=patience + 1)
        return {url: text for (url, _), text in zip(items, texts or [], strict=False) if text}

    async def ask_robot(self, entry: _Entry, questions: Sequence[QuestionLike]) -> None:
        if not await self.open_entry(entry):
            return
        if await _eval(self.tab.page.main_frame, ROBOT_BOX_JS) is None:
            entry.point.error = "页面上没有提问输入框"
            return
        await self.ask_each(entry, questions, self.ask_one_robot)

    @staticmethod
    async def send(page: Page, button: bool) -> None:
        if button:
            try:
                await page.locator("[data-ha-robot-btn]").click(timeout=3000, no_wait_after=True, force=True)
                return
            except PlaywrightError:  # a person presses Enter instead
                pass
        await page.locator("[data-ha-robot]").press("Enter", timeout=3000, no_wait_after=True)

    async def ask_one_robot(self, entry: _Entry, question: QuestionLike, first: bool) -> QueryAttempt:
        attempt = self._attempt(entry, question)
        ok, error, side = await self.ready(entry)
        page = self.tab.page
        box = await _eval(page.main_frame, ROBOT_BOX_JS) if ok else None
        if box is None:
            attempt.reason, attempt.side = error or "页面上没有提问输入框", side
            return attempt
        await page.locator("[data-ha-robot]").fill(attempt.query, timeout=5000)
        if first:
            typed = await self.shot(page, f"robot{self.entries.index(entry)}-{question.id}-typed")
            if typed:
                attempt.screenshots.append(typed)
                entry.point.screenshot = entry.point.screenshot or typed
        await _eval(page.main_frame, OBSERVE_JS)
        answers: list[dict[str, Any]] = []

        async def answered() -> bool:
            answers[:] = await _eval(page.main_frame, ROBOT_ANSWER_JS, attempt.query) or []
            return bool(answers)

        watch = _Watch(self)
        try:
            started = time.monotonic()
            await self.send(page, bool(box["button"]))
            state = await self.wait(watch, page.main_frame, started, started + self.rules.query_timeout_s, answered)
            attempt.elapsed_ms = round((time.monotonic() - started - self.tab.held_s(started)) * 1000, 1)
            if state == "timeout":
                # An answer shown just as time ran out (before the page went quiet) is an answer.
                await answered()
        finally:
            watch.close()
            await self.close_popups(watch)
        if state != "done" or any(f.page == page for f in watch.navigated):
            self.current = None
        self.robot_outcome(attempt, state, answers, watch)
        shown = await self.shot(page, f"robot{self.entries.index(entry)}-{question.id}-answer")
        if shown:
            attempt.screenshots.append(shown)
        return attempt

    def robot_outcome(self, attempt: QueryAttempt, state: str, answers: list[dict[str, Any]], watch: _Watch) -> None:
        attempt.results_url = self.tab.page.url
        for answer in answers:
            links = [link for link in answer["links"] if link["title"]] or [{"title": answer["text"][:80], "url": ""}]
            attempt.hits += [SearchHit(title=link["title"][:300], snippet=answer["text"], url=link["url"])
                             for link in links]
        attempt.hits = attempt.hits[: self.rules.top_results]
        text = " ".join(a["text"] for a in answers)
        if answers:
            no_answer = NO_RESULT_RE.search(text) and not any(a["links"] for a in answers)
            attempt.outcome = "no_results" if no_answer else "results"
        elif state == "timeout":
            attempt.outcome, attempt.reason = "timeout", f"{self.rules.query_timeout_s:g} 秒内机器人没有回答"
        elif watch.failed:
            attempt.reason = watch.failed[0]
        else:
            attempt.reason = "发送问题后机器人没有回答"
        if watch.dialogs:
            attempt.reason = "；".join(filter(None, [attempt.reason, "弹窗：" + "；".join(watch.dialogs)]))

    # the whole site

    def known(self, url: str) -> bool:
        key = _norm(url)
        return any(key in e.aliases for e in self.entries)

    async def run(self, home: str, channels: list[Channel], questions: Sequence[QuestionLike]) -> str | None:
        """Observe one site; returns our own failure (tool error), if any."""
        self.allowed_hosts |= {_host(home)} | {_host(c.value) for c in channels if c.kind in SITE_KINDS}
        try:
            ok, error, side = await self.open(home)
            if not ok and side == "site" and error and "秒内没有打开" in error:
                # A slow homepage: a person waits a while longer before giving up on it.
                ok, error, side = await self.open(home, patience=HOME_PATIENCE)
            if side == "tool":
                return error
            if ok:
                self.home_cut = self.last_cut
                self.allowed_hosts.add(_host(self.tab.page.url))
                await self.find_entries(self.tab.page.url)
            else:
                # Without the homepage nobody can tell whether an entry is linked from it.
                self.home_error = error or "首页无法打开"
            for entry in sorted(self.entries, key=lambda e: VIA_ORDER[e.via]):
                await self.ask_all(entry, questions)
            await self.ask_unlinked(channels, questions)
        except _SiteStuck as exc:
            # What was seen stays; the page's own failure is recorded where it happened.
            if not self.entries or self.home_error is not None:
                self.home_error = str(exc)
            else:
                for entry in self.entries:
                    if not entry.point.error and not any(a.entry_url == entry.url for a in self.attempts):
                        entry.point.error = str(exc)
        except _ToolFailure as exc:
            return str(exc)
        return None

    async def ask_unlinked(self, channels: list[Channel], questions: Sequence[QuestionLike]) -> None:
        """Entry points discovery knows but a person cannot reach from the homepage (clicks None):
        opened directly to see they exist; asked only when no linked entry of the kind works."""
        for channel in channels:
            via = VIA_OF_KIND.get(channel.kind)
            if via is None or not channel.value.startswith("http") or self.known(channel.value):
                continue
            # A link to it on the homepage is a way to it, whatever its words say (unknown
            # wording, text garbled by a wrong charset): one click.
            linked = _norm(channel.value) in {_norm(h) for h in self.home_links}
            entry = self.entry(via, channel.value, 1 if linked else None)
            if via == "search":
                if not await self.open_entry(entry):
                    continue
                boxes = await self.find_boxes()
                if not boxes:
                    entry.point.error = "页面上没有搜索框"
                    continue
                entry.aliases |= boxes[0].aliases()
                self.allowed_hosts |= {_host(u) for u in (boxes[0].frame.url, boxes[0].action) if u}
            working = any(a.outcome in ("results", "no_results") and a.via == via
                          and self.entry_of(a).point.clicks is not None for a in self.attempts)
            if working:
                if via != "search":
                    await self.open_entry(entry)
                continue
            await self.ask_all(entry, questions)

    def entry_of(self, attempt: QueryAttempt) -> _Entry:
        return next(e for e in self.entries if e.url == attempt.entry_url and e.via == attempt.via)


def _search_works(obs: FindabilityObservation) -> bool:
    return any(a.via == "search" and a.outcome in ("results", "no_results") and a.side == "site"
               for a in obs.attempts)


async def _observe_site(ctx: JourneyContext, hotline: Hotline, home: str, channels: list[Channel],
                        questions: Sequence[QuestionLike], obs: FindabilityObservation,
                        evidence: list[EvidenceFile], mobile: bool, answered: Answered | None) -> str | None:
    capture = Capture(ctx.evidence_path(hotline.hotline_id, CHECK, "h5-journey" if mobile else "journey"),
                      options=ctx.settings.evidence, check=CHECK)
    try:
        async with ctx.browser.tab(mobile=mobile, capture=capture, hotline_id=hotline.hotline_id) as tab:
            journey = _Journey(ctx, hotline, tab, "h5-" if mobile else "", answered)
            try:
                return await journey.run(home, channels, questions)
            finally:
                await journey.drop_popup()  # the tab goes back to the pool: no page of this site left
                journey.detach()
                obs.entry_points += [e.point for e in journey.entries]
                obs.home_error = obs.home_error or journey.home_error
                obs.home_cut = obs.home_cut or journey.home_cut
                obs.attempts += journey.attempts
                evidence += journey.evidence
    except PlaywrightError as exc:  # the browser itself failed between pages
        return f"browser: {_first_line(exc)}"
    finally:
        evidence += capture.records(ctx.round_dir, hotline.hotline_id, CHECK)


async def observe_findability(ctx: JourneyContext, hotline: Hotline, channels: list[Channel],
                              questions: Sequence[QuestionLike], answered: Answered | None = None,
                              ) -> tuple[FindabilityObservation, list[EvidenceFile]]:
    """``_observe_findability``, with the throttling answers the hotline's sites gave us meanwhile."""
    since = time.time()
    obs, evidence = await _observe_findability(ctx, hotline, channels, questions, answered)
    hosts = {_host(u) for u in (obs.website, obs.h5, *(c.value for c in channels), *(a.entry_url for a in obs.attempts))
             if u and u.startswith("http")}
    obs.throttles = ctx.throttles_since(hotline.hotline_id, hosts, since)
    return obs, evidence


async def _observe_findability(ctx: JourneyContext, hotline: Hotline, channels: list[Channel],
                               questions: Sequence[QuestionLike], answered: Answered | None = None,
                               ) -> tuple[FindabilityObservation, list[EvidenceFile]]:
    """Ask ``questions`` through every search box, knowledge base and robot a citizen can reach.

    With ``answered`` (the judging rule for one attempt), a later entry point is not asked what
    an earlier one already answered: the site search goes first, then knowledge bases, then
    robots, and each is asked at least one question.

    ``channels`` are discovery's for this hotline. Where the website has no working search and
    discovery found a WeChat H5 site, the H5 site is tried too, on a phone with WeChat's user
    agent (its entry points and attempts carry H5 URLs; clicks count from the H5 homepage)."""
    website = hotline.website or next((c.value for c in channels if c.kind == "website"), None)
    h5 = next((c.value for c in channels if c.kind == "h5" and c.value.startswith("http")), None)
    obs = FindabilityObservation(hotline_id=hotline.hotline_id, website=website)
    evidence: list[EvidenceFile] = []
    h5_host = _host(h5)
    if website:
        own = [c for c in channels if not h5_host or _host(c.value) != h5_host or h5_host == _host(website)]
        obs.tool_error = await _observe_site(ctx, hotline, website, own, questions, obs, evidence, mobile=False,
                                              answered=answered)
        if obs.tool_error:
            return obs, evidence
    if h5 and not _search_works(obs):
        obs.h5 = h5
        on_h5 = [c for c in channels if _host(c.value) == h5_host]
        obs.tool_error = await _observe_site(ctx, hotline, h5, on_h5, questions, obs, evidence, mobile=True,
                                              answered=answered)
    return obs, evidence
