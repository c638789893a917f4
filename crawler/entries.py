"""What a short link text names, read by meaning rather than looked up in a phrase list.

Portals word their entries without end (我要留言, 市民诉求, 书记信箱, 民生直通车, 有事您说话 …;
回复查询, 我的诉求, 办理情况查询 …). A text is cut into jieba tokens and matched against a few
*concepts* — an intent to write, a mailbox, a lookup, a case, a status — and the entry is the
combination of concepts it holds: a lookup of a case is a tracking page, an intent to write is
a submission page. Words match on token boundaries, so 件 (a case) is not read inside 文件.

Some words name a column as often as a form (互动交流, 政民互动): such a text is *ambiguous*
and the page behind it decides (``crawler.forms``). Texts that talk *about* entries — a list of
answered letters (信件公开), a notice (写信须知), a phone number (投诉电话) — are no entry.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)

MAX_NAV_TEXT = 12  # longer link texts are article titles, not entries

# Each concept is a handful of words a portal uses for it. Words of one character match only a
# whole token (件 is a case in 我的件, not in 文件); longer ones may sit inside a token
# (问政 in 问政于民) or span several (有话说 = 有 + 话 + 说).
CONCEPTS: dict[str, tuple[str, ...]] = {
    # to write to the hotline: the act, or the thing one writes
    "write": ("写信", "来信", "留言", "诉求", "投诉", "反映", "咨询", "建议", "建言", "献策", "信访",
              "求助", "举报", "提问", "申诉", "爆料", "意见", "有话说", "说话", "说事", "呼声", "心声",
              "民声", "问政", "心里话"),
    # a channel that takes letters
    "mailbox": ("信箱", "直通车", "留言板", "留言台"),
    # words that name a section (互动交流) as often as a form: the page behind them decides
    "column": ("互动", "交流", "参与", "民意", "沟通"),
    "lookup": ("查询", "查看", "查阅", "查找", "跟踪", "追踪", "查件", "查"),
    "status": ("进度", "结果", "回复", "答复", "办理情况", "处理情况", "办理", "办结", "反馈", "状态"),
    # receiving a case: looked up (受理查询) it is tracking, else the place that takes it (网上受理)
    "receive": ("受理",),
    "case": ("办件", "信件", "诉求", "工单", "留言", "件", "来信", "投诉", "咨询", "信访", "案件"),
    "mine": ("我的",),
    "robot": ("机器人", "智能", "AI"),
    "converse": ("问答", "客服", "咨询", "助手", "问", "答", "应答", "秘书", "对话", "聊天"),
    "knowledge": ("知识", "问答", "常见问题", "办事指南", "百科", "答疑", "解答", "FAQ"),
    "app": ("APP", "客户端", "掌上"),
    "download": ("下载",),
    "mobile": ("手机", "移动", "触屏", "WAP", "微信"),
    "version": ("版", "端"),
    # about entries, not an entry: published letters, notices, statistics, other columns
    "about": ("公开", "选登", "公示", "摘登", "精选", "统计", "分析", "通报", "报告", "须知", "说明",
              "规定", "办法", "制度", "流程", "指南", "动态", "简介", "介绍", "征集", "调查", "访谈",
              "直播", "电话", "排行", "满意度", "评价", "典型", "案例", "回应", "解读", "曝光", "新闻",
              "要闻", "通知", "公告", "承诺",
              # forms that are not a letter to the hotline: website errors, surveys, articles
              "纠错", "问卷", "投稿", "报名", "登录", "注册"),
}
# A named assistant ("小智问答", "小慧助手"): a robot, though no concept word says so.
PERSONA = re.compile(r"小[\u4e00-\u9fff](问答|助手|客服|机器人)")
KINDS = ("submit", "track", "knowledge_base", "robot", "app", "h5")


@dataclass(frozen=True)
class Reading:
    """What a link text says: the entry it names, or that its page must decide, or neither."""

    kind: str | None  # one of KINDS
    ambiguous: bool = False  # a column word (互动交流): a submission page only if its page is one
    about: bool = False  # talks about entries (信件公开, 写信须知): not an entry, whatever its page


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits), no spaces of any kind, Latin in upper case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


@cache
def _tokenizer() -> jieba.Tokenizer:
    # A tokenizer of our own: words added here must not change how other modules cut text.
    tok = jieba.Tokenizer()
    tok.initialize()
    for words in CONCEPTS.values():
        for w in words:
            if len(w) > 1 and not w.isascii():
                tok.add_word(w)
    return tok


@lru_cache(maxsize=65536)
def _concepts(text: str) -> frozenset[str]:
    tokens = [t for t in _tokenizer().lcut(text) if t.strip()]
    return frozenset(name for name, words in CONCEPTS.items() if any(_holds(tokens, w) for w in words))


def _holds(tokens: list[str], word: str) -> bool:
    """``word`` on token boundaries: a whole token, a run of whole tokens, or (two characters
    and more) inside one token."""
    if len(word) == 1:
        return word in tokens
    if any(word in t for t in tokens):
        return True
    for i in range(len(tokens)):
        run = ""
        for t in tokens[i:]:
            run += t
            if run == word:
                return True
            if not word.startswith(run):
                break
    return False


@lru_cache(maxsize=65536)  # a crawl reads the same menus on every page; titles vary without end
def read_link(text: str) -> Reading:
    """What the short visible text of a link (or its title / an image's alt) names."""
    text = normalize(text)
    if not text or len(text) > MAX_NAV_TEXT:
        return Reading(None)
    c = _concepts(text)
    # Most specific first: "在线智能咨询" is the robot, not a submission form; "办件查询" looks a
    # case up rather than files one; "政策问答" is a knowledge base.
    if "robot" in c and ("converse" in c or "机器人" in text) or PERSONA.search(text):
        return Reading("robot")
    if "about" in c and c & {"write", "mailbox", "lookup", "status", "receive", "case", "column"}:
        return Reading(None, about=True)
    if (c & {"lookup", "mine"} and c & {"status", "receive", "case"}) or "进度" in text:
        return Reading("track")
    if "knowledge" in c:
        return Reading("knowledge_base")
    if "status" in c and c & {"write", "case"}:
        return Reading(None, about=True)  # 留言回复, 诉求办理情况: what was answered, a list
    if c & {"write", "mailbox"} or ("receive" in c and "status" not in c):
        return Reading("submit")
    if "app" in c or ("download" in c and "mobile" in c):
        return Reading("app")
    if "mobile" in c and "version" in c:
        return Reading("h5")
    if "about" in c:
        return Reading(None, about=True)  # 网站纠错, 热线简介: a page of another kind, whatever its form
    if "column" in c:
        return Reading(None, ambiguous=True)
    return Reading(None)


def speaks_of_writing(text: str) -> bool:
    """Whether a passage talks of writing to the hotline — its ``write`` or ``mailbox`` words
    (投诉, 留言, 反映, 信访, 信箱 …) on token boundaries: a notice before a letter form does."""
    tokens = [t for t in _tokenizer().lcut(normalize(text)[:3000]) if t.strip()]
    return any(_holds(tokens, w) for w in CONCEPTS["write"] + CONCEPTS["mailbox"])


def entry_kind(text: str) -> str | None:
    """The entry a short link text names (``KINDS``), or None — ambiguous words included."""
    return read_link(text).kind
