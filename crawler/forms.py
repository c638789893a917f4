"""What a page is for, read from its forms as a person reads them.

A link's words do not always say where it goes (互动交流 may be a column or the letter form;
an unseen wording may say nothing we know). The page behind it does: a form with a long text
area and a name or phone field takes a letter; a form that asks for a case number and a query
code looks one up. Each field is read by what labels it — ``<label for>``, a wrapping label,
aria-label, placeholder, title, the cell or text before it — and by its name, which is often
pinyin initials (xm 姓名, sjhm 手机号码, lxdh 联系电话, slbh 受理编号, cxm 查询码 …).

Many portals put a notice before the letter form (写信须知, 诉求人承诺书): a person ticks
我已阅读并同意 and presses 下一步, and only then sees the form. Such a page — a notice to accept,
a control that goes on, words about writing to the hotline, nothing to type — is the way into a
submission page, and is read as one (``is_notice_gate``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from parsel import Selector

from .entries import speaks_of_writing

# What a field asks for, from its label words and its name/id (pinyin initials included).
ASKS: dict[str, re.Pattern[str]] = {
    "phone": re.compile(r"手机|电话|联系方式|移动号码|phone|mobile|\btel\b|sjh|lxdh|lxfs|\bdh\b", re.I),
    "name": re.compile(r"姓名|称呼|联系人|来信人|反映人|\bname\b|realname|\bxm\b|lxr|xingming", re.I),
    "case_number": re.compile(
        r"编号|受理号|单号|(?<!证)件号|流水号|工单号|信件号|案件号|查询号|\bno\b|caseno|case_?id|\bbh\b|slbh|xjbh|"
        r"gdbh|ajbh|lsh\b|serial|ticket", re.I),
    "code": re.compile(r"查询码|查询密码|提取码|密码|验证码|校验码|识别码|\bcode\b|cxm\b|yzm|pwd|passw|smscode|captcha",
                       re.I),
}
FIELD_TYPES = ("text", "tel", "number", "email", "password", "search", "")
# A notice gate: the box a person ticks (我已阅读并同意, 本人已知悉并承诺遵守 …), the control
# that accepts (同意, 我已阅读) or goes on (下一步, 开始写信), what a control that turns back says,
# and what a notice is called (写信须知, 承诺书, 注意事项; not 协议: a privacy or registration one).
AGREE_BOX = re.compile(r"同意|阅读|承诺|须知|知悉|知晓|接受|遵守")
ACCEPTS = re.compile(r"同意|阅读|接受|知晓|知悉|已阅")
GOES_ON = re.compile(r"下一步|继续|^开始|^进入|^我要|^写信|^留言")
TURNS_BACK = re.compile(r"不同意|不接受|取消|返回|拒绝|关闭|登录|注册|查询|搜索|检索")
NOTICE = re.compile(r"须知|承诺|注意事项|告知")
COUNTDOWN = re.compile(r"[(（]?\d+\s*(?:s|秒)[)）]?", re.I)


@dataclass(frozen=True)
class Field:
    tag: str  # input, textarea, select
    type: str
    words: str  # label, placeholder, aria-label, title, name, id: what says what it asks for

    def asks(self, what: str) -> bool:
        return bool(ASKS[what].search(self.words))


def purposes(html: str | Selector) -> set[str]:
    """``submit`` when a form on the page takes a letter, ``track`` when one looks a case up."""
    sel = html if isinstance(html, Selector) else Selector(text=html)
    found: set[str] = set()
    for fields in _field_groups(sel):
        kind = form_purpose(fields)
        if kind:
            found.add(kind)
    if "submit" not in found and is_notice_gate(sel):
        found.add("submit")
    return found


def is_notice_gate(html: str | Selector) -> bool:
    """A notice a person accepts before the letter form: an agree box or a heading that names
    a notice, a control that accepts or goes on (not one that turns back), words about writing
    to the hotline — and nothing to type (a login or registration agreement asks for a password;
    a form is read as a form)."""
    sel = html if isinstance(html, Selector) else Selector(text=html)
    if sel.css("textarea, input[type=password]"):
        return False
    controls = [COUNTDOWN.sub("", _clean(" ".join(c.xpath(".//text()").getall()) or c.attrib.get("value", "")))
                for c in sel.css("button, a, input[type=button], input[type=submit], [onclick], [role=button]")]
    controls = [c.replace(" ", "") for c in controls]
    controls = [c for c in controls if c and len(c) <= 12 and not TURNS_BACK.search(c)]
    if not any(ACCEPTS.search(c) or GOES_ON.search(c) for c in controls):
        return False
    boxes = [_box_words(sel, box) for box in sel.css("input[type=checkbox]")]
    heads = [_clean(" ".join(h.xpath(".//text()").getall()))
             for h in sel.css("h1, h2, h3, h4, h5, h6, title, legend, caption, strong")]
    if not (any(AGREE_BOX.search(b) for b in boxes) or any(NOTICE.search(h) for h in heads)):
        return False
    text = " ".join(sel.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]").getall())
    return speaks_of_writing(text)


def form_purpose(fields: list[Field]) -> str | None:
    """What one form is for, by the fields it asks a person to fill."""
    long_text = any(f.tag == "textarea" for f in fields)
    password = any(f.type == "password" for f in fields)
    if long_text and not password and any(f.asks("phone") or f.type == "tel" or f.asks("name") for f in fields):
        return "submit"
    if long_text:
        return None  # a comment box, or a letter form behind an account's password
    numbers = [f for f in fields if f.tag == "input" and f.asks("case_number")]
    codes = [f for f in fields if f.tag == "input" and f not in numbers and (f.asks("code") or f.type == "password")]
    if numbers and codes:
        return "track"  # a case number and its code (查询密码 is often a password box)
    return None  # a login or a registration (a phone and a password), a search box …


def _box_words(sel: Selector, box: Selector) -> str:
    """What a checkbox says: its ``<label for>``, the label around it, the text beside it."""
    words = box.xpath("ancestor::label[1]//text() | ../text()").getall()
    if box.attrib.get("id"):
        words += sel.xpath(f"//label[@for={_xpath_literal(box.attrib['id'])}]//text()").getall()
    return _clean(" ".join(words))


def _field_groups(sel: Selector) -> Iterable[list[Field]]:
    """The fields of each form, then the fields outside any form (pages built by scripts often
    have no ``<form>``: one group for the whole page)."""
    for form in sel.css("form"):
        yield [f for node in form.css("input, textarea, select") if (f := _field(sel, node))]
    loose = [f for node in sel.xpath("//*[self::input or self::textarea or self::select][not(ancestor::form)]")
             if (f := _field(sel, node))]
    if loose:
        yield loose


def _field(sel: Selector, node: Selector) -> Field | None:
    tag = node.root.tag
    kind = (node.attrib.get("type") or "").lower() if tag == "input" else ""
    if tag == "input" and kind not in FIELD_TYPES:
        return None  # hidden, submit, checkbox, radio, file …: nothing a person types into
    words = [node.attrib.get(a, "") for a in ("placeholder", "aria-label", "title", "name", "id")]
    ident = node.attrib.get("id")
    if ident:
        words += sel.xpath(f"//label[@for={_xpath_literal(ident)}]//text()").getall()
    label = node.xpath("ancestor::label[1]")
    if label:
        words.append(" ".join(label[0].xpath("./text() | ./*[not(self::select)]//text()").getall()))
    words.append(_text_before(node))
    return Field(tag=tag, type=kind, words=_clean(" ".join(words)))


def _text_before(node: Selector) -> str:
    """The words a person reads just before the field: the cell before its cell, or the text
    right before it (``姓　名：<input>``)."""
    el = node.root
    cell = next((a for a in el.iterancestors() if a.tag in ("td", "dd", "li")), None)
    if cell is not None and cell.tag in ("td", "dd"):
        prev = cell.getprevious()
        if prev is not None and isinstance(prev.tag, str):
            return " ".join(prev.itertext())[-20:]
    prev = el.getprevious()
    if prev is not None:
        text = (prev.tail or "") or " ".join(prev.itertext())
    else:
        parent = el.getparent()
        text = (parent.text or "") if parent is not None else ""
    return text[-20:]


def _clean(text: str) -> str:
    # NFKC folds full-width letters; every space (U+3000 in 姓　　名), colon and star goes.
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text)
    return re.sub(r"[\s:*]+", " ", text).strip()


def _xpath_literal(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "concat('" + value.replace("'", "',\"'\",'") + "')"
