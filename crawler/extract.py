"""Find a hotline's channels on one page: pure functions over HTML, no network.

The signals are what a citizen sees: the short visible text of links and buttons, the shape
of forms (one text box and a search button), the words beside a QR code, ids printed on the
page. Hidden links (暗链) are ignored; off-site links are recorded, never followed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import yaml
from parsel import Selector

from hotline_audit.model import Channel

from .entries import read_link
from .forms import purposes

GH_ID = re.compile(r"\bgh_[0-9a-f]{12}\b")
APP_ID = re.compile(r"\bwx[0-9a-f]{16}\b")
HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|(left|top)\s*:\s*-\d{3,}px|font-size\s*:\s*0|"
    r"(height|width)\s*:\s*0(px)?\s*;[^\"]*overflow\s*:\s*hidden", re.I)
APP_URL = re.compile(r"\.apk(\?|$)|apps\.apple\.com|itunes\.apple\.com|app\.mi\.com|sj\.qq\.com", re.I)
WEIBO_URL = re.compile(r"^https?://(www\.)?weibo\.(com|cn)/", re.I)
JS_ENDPOINT = re.compile(r"""["'](?P<url>(?:https?:)?//[^"'\s?]+|/[^"'\s?]*)\?(?P<param>[A-Za-z_]\w*)=["']""")
# On a single-page app the fragment is the route (/#/letter, /#!/query), not an anchor.
HASH_ROUTE = re.compile(r"^!?/")
# "微信搜索小程序“南京12345”", "搜索“南京12345”小程序": the name a citizen types in WeChat.
MINI_PROGRAM_NAME = re.compile(r"小程序\s*[“\"「『]([^”\"」』]{2,24})[”\"」』]|[“\"「『]([^”\"」』]{2,24})[”\"」』]\s*小程序")
# Inline scripts that write links into the page (document.write, innerHTML, a menu built from
# data): what they write is only seen once the page has run in a browser.
INLINE_SCRIPT = re.compile(r"(?is)<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>")
SCRIPT_WRITES = re.compile(r"document\.write|\.innerHTML\s*\+?=|insertAdjacentHTML|\.outerHTML\s*=|"
                           r"\.append(Child)?\s*\(|\.prepend\s*\(")
SCRIPT_LINK_LITERAL = re.compile(
    r"""<a\s[^<>]*href\s*=|\.href\s*=\s*["'`][^"'`]|setAttribute\(\s*["']href["']\s*,\s*["'`]|"""
    r"""["']?\b(url|href|link|path|linkurl)\b["']?\s*:\s*["'`](/|https?:|\.\.?/|#!?/)""", re.I)
DATE = re.compile(r"20\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}|\b\d{1,2}-\d{1,2}\b")


@dataclass(frozen=True)
class Lexicon:
    """Word lists where a list is the right tool: a search box's words, a QR code's caption,
    how a city portal names its hotline. Entry links are read by meaning (``crawler.entries``)."""

    words: dict[str, tuple[str, ...]]

    def says(self, group: str, text: str) -> bool:
        return any(w in text for w in self.words[group])


@cache
def load_lexicon() -> Lexicon:
    data = yaml.safe_load(resources.files("crawler").joinpath("lexicon.yaml").read_text("utf-8"))
    return Lexicon({k: tuple(str(w) for w in v) for k, v in data.items()})


@dataclass
class QrImage:
    """A QR-looking image to fetch and decode, with the words around it."""

    url: str
    context: str
    element: str
    page_qr: bool  # its caption says "open this page on your phone"


@dataclass
class LinkSeen:
    """The link that leads to a followed page: provenance for what that page turns out to be."""

    url: str
    found_on: str
    text: str
    element: str
    excerpt: str
    named: bool  # its words already named an entry (or another link to the page did)
    about: bool = False  # its words talk about entries (信件公开): not one, whatever the page
    dated: bool = False  # in a dated list: an article
    kind: str | None = None  # the entry its words named (or another link's to the page)

    @property
    def may_be_entry(self) -> bool:
        """Whether the page's own structure may say what this link is (its words did not)."""
        return not (self.named or self.about or self.dated)


@dataclass
class PageFindings:
    channels: list[Channel] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)  # same-site pages worth a visit
    links: dict[str, LinkSeen] = field(default_factory=dict)  # how each followed page is linked
    purposes: set[str] = field(default_factory=set)  # submit/track: what this page's forms are for
    mini_program_names: list[tuple[str, str]] = field(default_factory=list)  # (name, context)
    frames: list[str] = field(default_factory=list)  # iframes (search boxes live there too)
    qr_images: list[QrImage] = field(default_factory=list)
    offsite: list[tuple[str, str]] = field(default_factory=list)  # (url, text) not followed
    hidden_links: int = 0


def canonical_url(url: str) -> str:
    """channels.csv's one form of a URL: lower-case scheme and host, path, query; the fragment
    only where it is a single-page app's route (``#/letter``, ``#!/query``), not an anchor."""
    parts = urlsplit(url.strip())
    fragment = parts.fragment if HASH_ROUTE.match(parts.fragment) else ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, fragment))


def mini_program_link(url: str) -> str | None:
    """The mini-program a ``weixin://dl/…`` link opens: its AppID, else its ``gh_`` user name,
    else the link itself (a ticket link ``weixin://dl/business/?t=…`` names no id)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "weixin" or parts.netloc.lower() != "dl":
        return None
    query = {k.lower(): v for k, v in parse_qs(parts.query).items()}
    appid = next((v for v in query.get("appid", []) if APP_ID.fullmatch(v)), None)
    if appid:
        return appid
    username = next((v for v in query.get("username", []) if GH_ID.fullmatch(v)), None)
    if username:
        return username
    if parts.path.strip("/").lower() == "business" and parts.query:
        return canonical_url(url)
    return None


def links_by_script(html: str) -> bool:
    """Whether an inline script writes links into the page (``document.write('<a …')``, a menu
    built from data after load): those links exist only once the page has run."""
    return any(SCRIPT_WRITES.search(code) and SCRIPT_LINK_LITERAL.search(code)
               for code in INLINE_SCRIPT.findall(html))


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def css_path(node: Selector) -> str:
    """A readable CSS path of an element, for provenance."""
    names = []
    for el in [node.root, *node.root.iterancestors()]:
        tag = el.tag if isinstance(el.tag, str) else ""
        if not tag or tag in ("html", "body"):
            continue
        ident = el.get("id")
        cls = (el.get("class") or "").split()
        names.append(f"{tag}#{ident}" if ident else f"{tag}.{cls[0]}" if cls else tag)
        if ident:
            break
    return " > ".join(reversed(names))


def is_hidden(node: Selector) -> bool:
    for el in [node.root, *node.root.iterancestors()]:
        if not isinstance(el.tag, str):
            continue
        if HIDDEN_STYLE.search(el.get("style") or "") or el.get("hidden") is not None:
            return True
    return False


def text_of(node: Selector) -> str:
    return re.sub(r"\s+", " ", " ".join(node.xpath(".//text()").getall())).strip()


def in_dated_row(node: Selector, rows: dict[object, bool] | None = None) -> bool:
    """A link in a list row that carries a date (news and article lists). ``rows`` remembers
    each row's answer, so a page of many links reads each row once."""
    for el in node.root.iterancestors():
        if not isinstance(el.tag, str):
            continue
        if el.tag in ("li", "tr", "dd", "dt", "p", "div"):
            if rows is not None and el in rows:
                return rows[el]
            row = " ".join(el.itertext())
            dated = len(row) < 200 and bool(DATE.search(row))
            if rows is not None:
                rows[el] = dated
            return dated
    return False


def decode_html(body: bytes, declared: str | None) -> tuple[str, str]:
    """Text of a page and the charset that decoded it. Many portals declare UTF-8 and send
    GBK: when the declared charset fails, GB18030 (a superset of GBK) is tried."""
    for charset in dict.fromkeys([c for c in ((declared or "").lower() or "utf-8", "utf-8", "gb18030") if c]):
        try:
            return body.decode(charset), charset
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("utf-8", "replace"), "utf-8?"


def same_site(url: str, site_hosts: set[str]) -> bool:
    return (urlsplit(url).hostname or "") in site_hosts


def extract(url: str, html: str, hotline_id: str, site_hosts: set[str], lexicon: Lexicon | None = None) -> PageFindings:
    """Everything one page says about the hotline's channels."""
    lexicon = lexicon or load_lexicon()
    sel = Selector(text=html)
    found = PageFindings()

    def add(kind: str, value: str, node: Selector | None, text: str = "") -> None:
        excerpt = node.get()[:300] if node is not None else None
        found.channels.append(Channel(hotline_id=hotline_id, kind=kind, value=value, found_on=url,
                                      element=css_path(node) if node is not None else None,
                                      text=text[:200] or None, excerpt=excerpt))

    rows: dict[object, bool] = {}
    for a in sel.css("a[href]"):
        href = (a.attrib.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "tel:")):
            continue
        if href.startswith("#") and not HASH_ROUTE.match(href[1:]):
            continue  # an anchor on this page
        if is_hidden(a):
            found.hidden_links += 1
            continue
        target = urljoin(url, href)
        text = text_of(a) or a.attrib.get("title", "") or " ".join(a.css("img::attr(alt)").getall())
        mini_program = mini_program_link(target)
        if mini_program:  # weixin://dl/business/?appid=…: opens the mini-program in WeChat
            add("mini_program", mini_program, a, text)
            continue
        if WEIBO_URL.match(target):
            add("weibo", canonical_url(target), a, text)
            continue
        if APP_URL.search(target):
            continue  # download files themselves; the page that offers them is the channel
        reading = read_link(text)
        dated = in_dated_row(a, rows)
        kind = None if dated else reading.kind  # "常见问题解答" in a dated news list is an article
        if kind == "h5" or (kind is None and not same_site(target, site_hosts)):
            if kind == "h5":
                add("h5", canonical_url(target), a, text)
            else:
                found.offsite.append((target, text))
            continue
        if kind is not None:
            add(kind, canonical_url(target), a, text)
        if same_site(target, site_hosts) and target.startswith(("http://", "https://")):
            page = canonical_url(target)
            seen = LinkSeen(page, url, text[:200], css_path(a), a.get()[:300], named=kind is not None,
                            about=reading.about, dated=dated, kind=kind)
            if urlsplit(page).fragment and not seen.may_be_entry:
                continue  # a route is seen only in a browser: worth it only where words said nothing
            _remember(found, seen)

    for frame in sel.css("iframe[src]"):
        if not is_hidden(frame):
            found.frames.append(canonical_url(urljoin(url, frame.attrib["src"])))

    for form in sel.css("form"):
        if is_hidden(form) or form.css("input[type=password], textarea"):
            continue
        boxes = [i for i in form.css("input") if (i.attrib.get("type") or "text").lower() in ("text", "search")]
        if len(boxes) != 1:
            continue
        words = " ".join([text_of(form), *(b.attrib.get("placeholder", "") for b in boxes),
                          *form.css("input[type=submit]::attr(value), button::text").getall()])
        if (form.attrib.get("method") or "get").lower() == "get" and lexicon.says("search", words):
            add("search", without_query(urljoin(url, form.attrib.get("action") or url)), form, words.strip())

    # Search boxes without a form: a text box and a script that calls an endpoint (AJAX/JSONP).
    scripts = " ".join(sel.css("script:not([src])::text").getall())
    loose_boxes = [i for i in sel.xpath("//input[not(ancestor::form)]")
                   if (i.attrib.get("type") or "text").lower() in ("text", "search") and not is_hidden(i)]
    if loose_boxes and scripts:
        placeholder = " ".join(b.attrib.get("placeholder", "") for b in loose_boxes)
        buttons = " ".join(text_of(b) for b in sel.xpath("//a[not(ancestor::form)] | //button[not(ancestor::form)]")
                           if len(text_of(b)) <= 4)
        if lexicon.says("search", placeholder + " " + buttons):
            for m in JS_ENDPOINT.finditer(scripts):
                endpoint = urljoin(url, m.group("url"))
                add("search", without_query(endpoint), loose_boxes[0], placeholder)
                break

    found.purposes = purposes(sel)
    page_text = text_of(sel.css("body")[0]) if sel.css("body") else ""
    for gh in dict.fromkeys(GH_ID.findall(page_text)):
        add("wechat", gh, None, _around(page_text, gh))
    for appid in dict.fromkeys(APP_ID.findall(page_text)):
        before = page_text[max(0, page_text.find(appid) - 40):page_text.find(appid)]
        if lexicon.says("mini_program", before) or "appid" in before.lower():
            add("mini_program", appid, None, _around(page_text, appid))
    for m in MINI_PROGRAM_NAME.finditer(page_text):
        found.mini_program_names.append((m.group(1) or m.group(2), _around(page_text, m.group(0))))

    for img in sel.css("img[src]"):
        if is_hidden(img):
            continue
        context = " ".join([img.attrib.get("alt", ""), text_of(img.xpath("..")[0]) if img.xpath("..") else ""])
        if lexicon.says("page_qr", context) or lexicon.says("wechat", context) or "二维码" in context \
                or lexicon.says("mini_program", context):
            found.qr_images.append(QrImage(url=urljoin(url, img.attrib["src"]), context=context.strip()[:200],
                                           element=css_path(img), page_qr=lexicon.says("page_qr", context)))
    found.follow = list(found.links)
    return found


def _remember(found: PageFindings, seen: LinkSeen) -> None:
    """One provenance per followed page: a link that may be the entry beats one that cannot;
    a page any link named stays named."""
    before = found.links.get(seen.url)
    if before is None:
        found.links[seen.url] = seen
        return
    named = before.named or seen.named
    keep = seen if seen.may_be_entry and not before.may_be_entry else before
    found.links[seen.url] = LinkSeen(**{**keep.__dict__, "named": named, "kind": before.kind or seen.kind})


def find_hotline_site(url: str, html: str, lexicon: Lexicon | None = None) -> list[tuple[str, str, str]]:
    """Links on a city government portal that name the 12345 hotline, best first, as
    (url, text, css path). News items in dated lists are left out: they are about the hotline,
    not the way to it."""
    lexicon = lexicon or load_lexicon()
    words = lexicon.words["hotline_site"]
    ranked = []
    for a in Selector(text=html).css("a[href]"):
        href = (a.attrib.get("href") or "").strip()
        text = re.sub(r"\s+", "", text_of(a) or a.attrib.get("title", ""))
        if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")) or not text:
            continue
        if len(text) > 20 or is_hidden(a) or in_dated_row(a):
            continue
        rank = next((i for i, w in enumerate(words) if w in text), None)
        if rank is not None:
            ranked.append((rank, canonical_url(urljoin(url, href)), text, css_path(a)))
    ranked.sort(key=lambda r: r[0])
    return list(dict.fromkeys((u, t, e) for _, u, t, e in ranked))


def _around(text: str, needle: str, width: int = 60) -> str:
    i = text.find(needle)
    return text[max(0, i - width): i + len(needle) + width]
