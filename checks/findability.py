"""Judge findability (信息可得性): can a citizen find an answer to typical questions?

Two pure functions, no browser, no network:

- ``relevance(hit, question, rules, today)``: does one search result answer one question?
  Its title + snippet must hold a subject word and an action word of the question (on jieba
  token boundaries), and must not be out of date (废止/失效, an old 年版, an old date), hotline
  news (会议/调研/通报 ...), or a message that only repeats the question (留言 with no 答复).
- ``judge_findability(obs, questions, rules, today)``:
  ``tool_error`` (our side failed; never counted against a hotline), ``no_channel`` (neither a
  website nor a WeChat H5 site), ``nowhere_to_search`` (无处查: no search, knowledge base or robot within
  ``max_clicks`` of the homepage, or every lookup errors), ``inaccurate_search`` (查不准: at least
  ``inaccurate_share`` of the questions get no relevant result in the first ``top_results``),
  ``needs_review`` when the evidence conflicts or unknowns could flip the verdict, else ``ok``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from datetime import date
from functools import lru_cache

import jieba

from hotline_audit.config import FindabilityRules
from hotline_audit.model import (
    VERDICT_LABELS_ZH,
    EntryPoint,
    FindabilityObservation,
    QueryAttempt,
    SearchHit,
    Verdict,
    VerdictStatus,
)
from hotline_audit.questions import CITY, Question, load_questions

from .throttling import blocked_verdict

jieba.setLogLevel(logging.WARNING)

CHECK = "findability"

# relevance() reasons: a short code, with labels for the verdict's reasons.
RELEVANT = "relevant"
NO_SUBJECT = "no_subject_word"
NO_ACTION = "no_action_word"
STALE = "stale"
NEWS = "news"
ECHO = "echo"
REASON_ZH = {NO_SUBJECT: "主题不符", NO_ACTION: "未涉及所问事项", STALE: "过期/废止信息",
             NEWS: "热线新闻/会议动态", ECHO: "仅重复问题未作答"}
REASON_EN = {NO_SUBJECT: "off-topic", NO_ACTION: "does not cover the asked matter",
             STALE: "outdated/abolished", NEWS: "hotline news/meeting report",
             ECHO: "repeats the question without answering"}
VIA_ZH = {"search": "站内搜索", "knowledge_base": "知识库", "robot": "智能问答"}
OUTCOME_ZH = {"no_results": "无结果", "error": "查询出错", "timeout": "查询超时", "blocked": "被拦截"}

# Text is NFKC-normalised first, so full-width brackets and colons are ASCII here.
# A document that says of itself that it no longer applies; "原《办法》同时废止" in a new
# document does not count.
_STALE_TEXT = re.compile(
    r"(本|该|此)(办法|指南|规定|通知|文件|政策|公告|细则|方案|意见|规程|条目|信息|内容)"
    r"[^。;]{0,30}(废止|失效|停止执行|停止施行)"
    r"|已(被|于[^。;]{0,15})?废止|(已|起)停止(执行|施行)|仅供(查阅|参考)?历史"
    r"|[【\[(](已)?(废止|失效|过期)[】\])]|(有效性|时效性|效力状态|状态):\s*(已)?(废止|失效)"
)
# "(2019年版)" anywhere, or a bare "(2019年)" version tag in a title.
_VERSION_YEAR = re.compile(r"((?:19|20)\d{2})\s*年\s*(?:修订)?版")
_BOOK_TITLE = re.compile(r"《[^》]*》")
_TITLE_YEAR = re.compile(r"\(\s*((?:19|20)\d{2})\s*年\s*\)")
_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2}))?")

# News about the hotline or a meeting, as opposed to a guide a citizen can act on.
_NEWS_WORDS = ("召开", "会议", "推进会", "部署会", "工作会", "座谈", "调研", "视察", "莅临", "走访",
               "工作动态", "通报", "表彰", "获评", "荣获", "评为", "考核结果", "培训班", "启动仪式",
               "一行", "交流会", "专项行动", "主题活动")
_HOWTO_WORDS = ("办事指南", "服务指南", "办理指南", "所需材料", "申请材料", "办理材料", "办理地点",
                "办理时限", "办理流程", "申请条件", "常见问题", "问:", "答:", "一次性告知",
                "政策解读", "怎么办", "如何办理", "怎么申请", "怎么领")
_HOTLINE = re.compile(r"12345|热线")

# A citizen's message (留言/来信) shown as a result, and the markers of a reply to it.
_MESSAGE_WORDS = ("网友留言", "网民留言", "市民留言", "群众留言", "留言选登", "来信选登", "群众来信",
                  "市民来信", "留言内容", "来信内容", "咨询内容", "诉求内容", "留言板", "留言时间",
                  "来信人", "我要留言")
_MESSAGE_URL = re.compile(r"liuyan|guestbook|leaveword|/lyb/|/letter|/mailbox", re.I)
_REPLY = re.compile(r"(答复|回复|办理结果|处理结果|处理意见|办理情况)(内容|意见)?\s*[:]|答:")
_GUIDANCE = ("携带", "前往", "所需材料", "办理地点", "可通过", "登录")


def relevance(hit: SearchHit, question: Question, rules: FindabilityRules,
              today: date) -> tuple[bool, str]:
    """(True, "relevant") when ``hit`` answers ``question``, else (False, reason code)."""
    title, snippet = _norm(hit.title), _norm(hit.snippet)
    text = f"{title}\n{snippet}"
    news = _is_news(title, snippet)
    if not _has_word(text, question.answer_words):
        return False, NEWS if news else NO_SUBJECT
    if not _has_word(text, question.must_words):
        return False, NEWS if news else NO_ACTION
    if _is_stale(title, snippet, hit.date, rules, today):
        return False, STALE
    if news:
        return False, NEWS
    if _echoes(title, snippet, hit.url, question):
        return False, ECHO
    return True, RELEVANT


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").lower().split())


_added_words: set[str] = set()


def _add_words(words: list[str]) -> None:
    """Teach jieba the bank's terms so they tokenize as units. The default bank goes in first,
    all at once, so segmentation does not depend on which questions were judged before."""
    if not _added_words:
        words = [_norm(w) for q in load_questions() for w in (*q.answer_words, *q.must_words)] + words
    new = [w for w in dict.fromkeys(words) if w and w not in _added_words]
    if new:
        for w in new:
            jieba.add_word(w)
        _added_words.update(new)
        _tokens.cache_clear()


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    """Some word occurs on jieba token boundaries, or as the head or tail of one token
    (公积金 in 住房公积金, 医保 in 医保局), never straddling two ordinary tokens (新车 in
    更新|车辆). An end may fall inside another bank term, since overlapping terms cannot both
    be tokens (交通违法 in 交通|违法处理)."""
    words = tuple(w for w in (_norm(w) for w in words) if w)
    if not any(w in text for w in words):
        return False  # cheap exit before tokenising
    _add_words(list(words))
    token_at = _tokens(text)
    for w in words:
        at = text.find(w)
        while at >= 0:
            s, e = at, at + len(w)
            first, last = token_at[s], token_at[e - 1]
            if first == last:
                ok = first[0] == s or first[1] == e
            else:
                ok = ((first[0] == s or text[first[0]:first[1]] in _added_words)
                      and (last[1] == e or text[last[0]:last[1]] in _added_words))
            if ok:
                return True
            at = text.find(w, at + 1)
    return False


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[tuple[int, int], ...]:
    """For each character, the (start, end) of the jieba token holding it."""
    out: list[tuple[int, int]] = []
    for _, s, e in jieba.tokenize(text, HMM=False):
        out.extend([(s, e)] * (e - s))
    return tuple(out)


def _is_stale(title: str, snippet: str, shown: str | None, rules: FindabilityRules,
              today: date) -> bool:
    cutoff = _years_before(today, rules.stale_years)
    text = f"{title}\n{snippet}"
    if _STALE_TEXT.search(text):
        return True
    # A cited 《目录（2019年版）》 is not this document's own version.
    own_title, own = _BOOK_TITLE.sub("", title), _BOOK_TITLE.sub("", text)
    years = [int(y) for y in _VERSION_YEAR.findall(own) + _TITLE_YEAR.findall(own_title)]
    if any(y < cutoff.year for y in years):
        return True
    when = _parse_date(shown)
    return when is not None and when < cutoff


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _parse_date(shown: str | None) -> date | None:
    m = _DATE.search(_norm(shown or ""))
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3] or 1))
    except ValueError:
        return None


def _is_news(title: str, snippet: str) -> bool:
    text = f"{title}\n{snippet}"
    if any(w in text for w in _HOWTO_WORDS):
        return False
    return any(w in title for w in _NEWS_WORDS) or (
        bool(_HOTLINE.search(title)) and any(w in snippet for w in _NEWS_WORDS))


def _echoes(title: str, snippet: str, url: str, question: Question) -> bool:
    """A result that only repeats the question: its title holds the question (or it is a
    citizen's message) and nothing shown beyond the question answers it."""
    pieces = [p for p in (_squash(_norm(p)) for p in question.text.split(CITY)) if p]
    echoed = bool(pieces) and sum(map(len, pieces)) >= 4 and all(p in _squash(title) for p in pieces)
    message = any(w in title or w in snippet for w in _MESSAGE_WORDS) or bool(_MESSAGE_URL.search(url or ""))
    if not (echoed or message):
        return False
    if not snippet and not message:
        return False  # a bare FAQ title: nothing says it is unanswered
    reply = _REPLY.search(snippet)
    rest = snippet[reply.end():] if reply else ("" if message else snippet)
    rest = _squash(rest)
    for p in pieces:
        rest = rest.replace(p, "")
    answered = (_has_word(rest, question.answer_words) or _has_word(rest, question.must_words)
                or any(w in rest for w in _GUIDANCE))
    return not answered


def _squash(text: str) -> str:
    """Only letters and digits: punctuation and spaces differ between a question and a title."""
    return "".join(ch for ch in text if ch.isalnum())


# -- the verdict -------------------------------------------------------------------------------

FAILED = ("error", "timeout", "blocked")


class _Status:
    """How one question fared: answered, unanswered (with why), errored, or unknown."""

    def __init__(self, question: Question, kind: str, why_zh: str, why_en: str,
                 via: str | None = None, query: str | None = None) -> None:
        self.question, self.kind, self.why_zh, self.why_en = question, kind, why_zh, why_en
        self.via = via
        self.query = query or question.core


def judge_findability(obs: FindabilityObservation | None, questions: list[Question],
                      rules: FindabilityRules, today: date) -> Verdict:
    """The verdict by the rules below; a problem found while the hotline's sites throttled us
    is needs_review (checks/throttling.py)."""
    return blocked_verdict(_judge(obs, questions, rules, today), obs.throttles if obs else [])


def _judge(obs: FindabilityObservation | None, questions: list[Question],
           rules: FindabilityRules, today: date) -> Verdict:
    rule = (f"无处查: 首页{rules.max_clicks}次点击内无搜索/知识库/智能问答, "
            f"或全部出错/超时(查询超过{rules.query_timeout_s:g}秒算超时); "
            f"查不准: ≥{rules.inaccurate_share:.0%}问题前{rules.top_results}条结果无相关"
            f"(相关: 含主题词和事项词, 非废止/超过{rules.stale_years}年/新闻/复述问题)")
    if obs is None:
        return Verdict(hotline_id="", check=CHECK, verdict=VerdictStatus.tool_error,
                       reason="未采集到观测数据", reason_en="no observation was gathered",
                       confidence=1.0, rule=rule)
    evidence = list(dict.fromkeys(
        [e.screenshot for e in obs.entry_points if e.screenshot]
        + [s for a in obs.attempts for s in a.screenshots]))

    def verdict(status: VerdictStatus, zh: str, en: str, confidence: float,
                **metrics: object) -> Verdict:
        return Verdict(hotline_id=obs.hotline_id, check=CHECK, verdict=status, reason=zh,
                       reason_en=en, confidence=confidence, rule=rule, evidence=evidence,
                       metrics=metrics)  # type: ignore[arg-type]

    if obs.tool_error:
        return verdict(VerdictStatus.tool_error, f"检测工具故障: {obs.tool_error}",
                       f"our tooling failed: {obs.tool_error}", 1.0)
    if not obs.website and not obs.h5 and not obs.entry_points and not obs.attempts:
        # A WeChat-only hotline has no website, but its H5 site is an internet channel: it is
        # judged like a website, so an H5 site without any lookup is nowhere to search.
        return verdict(VerdictStatus.no_channel, "未发现网站或微信H5页面",
                       "no website or WeChat H5 site is known for this hotline", 1.0)

    eps = obs.entry_points
    linked = [e for e in eps if e.clicks is not None and e.clicks <= rules.max_clicks]
    usable = [e for e in linked if e.reachable]
    base = {"questions_asked": len(questions), "entry_points_found": len(eps),
            "entry_points_reachable": len(usable), "attempts": len(obs.attempts),
            "tool_failures": sum(a.side == "tool" for a in obs.attempts)}
    if not usable:
        if any(e.side == "tool" and not e.reachable for e in linked):
            return verdict(VerdictStatus.tool_error, "检测工具故障, 未能打开查询入口",
                           "our side failed to open the lookup entry points", 1.0, **base)
        deep = [e for e in eps if e.reachable and e.clicks is not None and e.clicks > rules.max_clicks]
        deep_keys = {(e.via, e.url) for e in deep}
        deep_answers = [s for s in _statuses([a for a in obs.attempts
                                              if (a.via, a.entry_url) in deep_keys],
                                             questions, rules, today) if s.kind == "answered"]
        if deep_answers:
            clicks = min(e.clicks or 0 for e in deep)
            return verdict(
                VerdictStatus.needs_review,
                f"首页{rules.max_clicks}次点击内无查询入口, 但{clicks}次点击可达的入口能答出"
                f"{len(deep_answers)}个问题, 需人工复核是否算无处查",
                f"no lookup within {rules.max_clicks} clicks, but one {clicks} clicks deep answers "
                f"{len(deep_answers)} question(s): a person must decide", 0.5, **base)
        direct = [e for e in eps if e.clicks is None and e.reachable]
        if obs.home_error and direct:
            # Entries that open when reached directly, on a site whose homepage we could not
            # read: "not linked from the homepage" would be our claim, not something we saw.
            return verdict(
                VerdictStatus.needs_review,
                f"首页未能打开({obs.home_error})，无法判断{'、'.join(VIA_ZH[e.via] for e in direct)}是否在首页有入口，需人工复核",
                f"the homepage could not be read ({obs.home_error}): whether the entry points found "
                "elsewhere are linked from it is unknown", 0.5, **base)
        if obs.home_cut:
            return verdict(
                VerdictStatus.needs_review,
                "首页超过大小上限, 只读取了开头部分, 其中未见查询入口, 需人工复核",
                "the homepage was over the size limit and only its beginning was read: no lookup entry "
                "there, which does not show there is none", 0.5, **base)
        zh, en = _why_nowhere(eps, rules, obs)
        return verdict(VerdictStatus.nowhere_to_search, f"无处查: {zh}", f"nowhere to search: {en}",
                       0.8, **base)

    if obs.attempts and all(a.side == "tool" for a in obs.attempts):
        detail = next((a.reason for a in obs.attempts if a.reason), "all lookups failed on our side")
        return verdict(VerdictStatus.tool_error, f"检测工具故障, 全部查询未能完成: {detail}",
                       f"every lookup failed on our side: {detail}", 1.0, **base)
    usable_keys = {(e.via, e.url) for e in usable}
    known_keys = {(e.via, e.url) for e in eps}
    usable_vias = {e.via for e in usable}
    counted = [a for a in obs.attempts if (a.via, a.entry_url) in usable_keys
               or ((a.via, a.entry_url) not in known_keys and a.via in usable_vias)]
    statuses = _statuses(counted, questions, rules, today)
    kinds = Counter(s.kind for s in statuses)
    unknown = kinds["tool"] + kinds["unreadable"]
    total = len(statuses)
    metrics = {**base, "questions_answered": kinds["answered"],
               "questions_unanswered": kinds["unanswered"] + kinds["errored"],
               "questions_unjudged": unknown,
               "answered_via": ",".join(sorted({s.via for s in statuses if s.via}))}
    if total == 0 or unknown == total:
        if kinds["unreadable"]:
            return verdict(VerdictStatus.needs_review, "查询有结果但内容无法识别, 需人工复核",
                           "results were shown but could not be read: a person must look", 0.5, **metrics)
        return verdict(VerdictStatus.tool_error, "检测工具故障, 没有可判断的查询",
                       "no lookup could be judged (our side)", 1.0, **metrics)

    # Unknown questions (our failures, unreadable results) are counted both ways; if that can
    # change the verdict, a person decides.
    optimistic = _decide(kinds["answered"] + unknown, kinds["unanswered"], kinds["errored"], rules)
    pessimistic = _decide(kinds["answered"], kinds["unanswered"], kinds["errored"] + unknown, rules)
    share = (total - kinds["answered"] - unknown) / total
    metrics["unanswered_share"] = round(share, 4)
    failed = [s for s in statuses if s.kind in ("unanswered", "errored")]
    failed_zh = "; ".join(f"“{s.query}”({s.why_zh})" for s in failed)
    failed_en = "; ".join(f"'{s.question.id}' ({s.why_en})" for s in failed)
    unknown_zh = "; ".join(f"“{s.query}”({s.why_zh})" for s in statuses if s.kind in ("tool", "unreadable"))
    if optimistic != pessimistic:
        return verdict(
            VerdictStatus.needs_review,
            f"{total}个问题中{unknown}个无法判断({unknown_zh}), 结论可能是{VERDICT_LABELS_ZH[optimistic]}"
            f"或{VERDICT_LABELS_ZH[pessimistic]}, 需人工复核" + (f"; 未答出: {failed_zh}" if failed else ""),
            f"{unknown} of {total} questions could not be judged; the verdict could be {optimistic} "
            f"or {pessimistic}: a person must look", 0.5, **metrics)
    status = pessimistic
    if status == VerdictStatus.nowhere_to_search:
        return verdict(status, f"无处查: 查询入口可打开, 但全部{total}个问题查询均失败: {failed_zh}",
                       f"nowhere to search: every lookup failed: {failed_en}", 0.9, **metrics)
    if status == VerdictStatus.inaccurate_search:
        return verdict(
            status,
            f"查不准: {total}个问题中{len(failed)}个({share:.0%})前{rules.top_results}条结果无相关内容"
            f"(阈值{rules.inaccurate_share:.0%}): {failed_zh}",
            f"inaccurate search: {len(failed)} of {total} questions ({share:.0%}) got no relevant "
            f"result in the first {rules.top_results} (threshold {rules.inaccurate_share:.0%}): "
            f"{failed_en}", 0.9 if not kinds["answered"] else 0.8, **metrics)
    vias = "、".join(VIA_ZH[v] for v in sorted({s.via for s in statuses if s.via}))
    zh = f"{total}个问题中{kinds['answered']}个在前{rules.top_results}条结果中找到相关内容(经{vias})"
    en = f"{kinds['answered']} of {total} questions found a relevant result in the first {rules.top_results}"
    if failed:
        zh += f"; 未答出: {failed_zh}"
        en += f"; not answered: {failed_en}"
    if unknown:
        zh += f"; 无法判断: {unknown_zh}"
        en += f"; {unknown} could not be judged"
    return verdict(VerdictStatus.ok, zh, en, 0.9, **metrics)


def _decide(answered: int, unanswered: int, errored: int, rules: FindabilityRules) -> VerdictStatus:
    total = answered + unanswered + errored
    if errored == total:
        return VerdictStatus.nowhere_to_search  # every lookup failed on the site's side
    if (unanswered + errored) / total >= rules.inaccurate_share:
        return VerdictStatus.inaccurate_search
    return VerdictStatus.ok


def _statuses(attempts: list[QueryAttempt], questions: list[Question], rules: FindabilityRules,
              today: date) -> list[_Status]:
    by_q: dict[str, list[QueryAttempt]] = {}
    for a in attempts:
        by_q.setdefault(a.question_id, []).append(a)
    return [_status(q, by_q.get(q.id, []), rules, today) for q in questions]


def _judged_hits(attempt: QueryAttempt, rules: FindabilityRules) -> list[SearchHit]:
    """The hits an attempt is judged on: a search's first results, all of a list a citizen
    browses; none when the site showed no results or our side failed."""
    if attempt.outcome != "results" or attempt.side == "tool":
        return []
    return attempt.hits if attempt.browsed else attempt.hits[:rules.top_results]


def answers(attempt: QueryAttempt, question: Question, rules: FindabilityRules, today: date) -> bool:
    """Whether this one attempt answers ``question`` (the journey uses it not to ask again)."""
    return any(relevance(hit, question, rules, today)[0] for hit in _judged_hits(attempt, rules))


def _status(q: Question, attempts: list[QueryAttempt], rules: FindabilityRules,
            today: date) -> _Status:
    query = next((a.query for a in attempts if a.query), None)
    reasons: Counter[str] = Counter()
    for a in attempts:
        for hit in _judged_hits(a, rules):
            ok, why = relevance(hit, q, rules, today)
            if ok:
                return _Status(q, "answered", "已答出", "answered", a.via, query)
            reasons[why] += 1
    if not attempts or any(a.side == "tool" for a in attempts):
        return _Status(q, "tool", "工具故障未能查询", "our side failed", query=query)
    if any(a.outcome == "results" and a.unreadable for a in attempts):
        return _Status(q, "unreadable", "结果无法识别", "results unreadable", query=query)
    if all(a.outcome in FAILED for a in attempts):
        zh = "、".join(dict.fromkeys(OUTCOME_ZH[a.outcome] + (f"({a.reason[:40]})" if a.reason else "")
                                     for a in attempts))
        en = ", ".join(dict.fromkeys(a.outcome for a in attempts))
        return _Status(q, "errored", zh, en, query=query)
    if not reasons:
        return _Status(q, "unanswered", "无结果", "no results", query=query)
    zh = "、".join(f"{REASON_ZH[r]}{n}条" for r, n in reasons.most_common())
    en = ", ".join(f"{REASON_EN[r]} x{n}" for r, n in reasons.most_common())
    return _Status(q, "unanswered", f"{sum(reasons.values())}条结果均不相关: {zh}",
                   f"{sum(reasons.values())} results, none relevant: {en}", query=query)


def _why_nowhere(eps: list[EntryPoint], rules: FindabilityRules,
                 obs: FindabilityObservation) -> tuple[str, str]:
    if not eps:
        # Name the H5 site where it was looked at too: a WeChat-only hotline has no website.
        where_zh, where_en = "", "the homepage"
        if obs.h5:
            where_zh = "网站及微信H5页面" if obs.website else "微信H5页面"
            where_en = "the website's or the WeChat H5 site's homepage" if obs.website else "the WeChat H5 site's homepage"
        return (f"{where_zh}首页{rules.max_clicks}次点击内未发现站内搜索、知识库或智能问答入口",
                f"no site search, knowledge base or Q&A robot within {rules.max_clicks} clicks of {where_en}")
    zh: list[str] = []
    en: list[str] = []
    for e in eps:
        name = VIA_ZH[e.via]
        if e.clicks is None:
            zh.append(f"{name}页面存在但首页无链接({e.url})")
            en.append(f"{e.via} exists but is not linked from the homepage")
        elif e.clicks > rules.max_clicks:
            zh.append(f"{name}需{e.clicks}次点击才能到达(超过{rules.max_clicks}次)")
            en.append(f"{e.via} is {e.clicks} clicks deep (over {rules.max_clicks})")
        else:
            zh.append(f"{name}无法打开({e.error or '出错'})")
            en.append(f"{e.via} could not be opened ({e.error or 'error'})")
    return "; ".join(zh), "; ".join(en)
