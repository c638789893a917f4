"""The findability question bank and the pure findability check: no browser, no network."""

import random
from datetime import date

import pytest

from checks.findability import (
    ECHO,
    NEWS,
    NO_ACTION,
    NO_SUBJECT,
    RELEVANT,
    STALE,
    answers,
    judge_findability,
    relevance,
)
from fixtures.simweb.corpus import TOPIC_BY_KEY, build_corpus
from fixtures.simweb.search import search
from hotline_audit.config import FindabilityRules
from hotline_audit.model import EntryPoint, FindabilityObservation, QueryAttempt, SearchHit
from hotline_audit.questions import QuestionBankError, default_path, load_questions, pick_questions

TODAY = date(2026, 11, 23)
RULES = FindabilityRules()
BANK = load_questions()
Q = {q.id: q for q in BANK}
CARD = Q["sb-card-loss"]  # "{city}社保卡丢了怎么补办"
SITE = "http://www.nj12345.gov.cn.test/"
SEARCH = SITE + "jrobot/search.do"


def rel(title, snippet="", question=CARD, day="2026-03-18", url=""):
    return relevance(SearchHit(title=title, snippet=snippet, date=day, url=url), question, RULES, TODAY)


# -- the bank ----------------------------------------------------------------------------------

def test_bank_is_large_varied_and_tied_to_simweb_topics():
    assert len(BANK) >= 48
    assert len({q.area for q in BANK}) >= 10
    assert len({q.id for q in BANK}) == len(BANK)
    assert len({q.text for q in BANK}) == len(BANK)
    assert sum("{city}" in q.text for q in BANK) >= 10
    for q in BANK:
        assert q.topic in TOPIC_BY_KEY, q.id
        assert TOPIC_BY_KEY[q.topic].area == q.area, q.id
        assert q.answer_words and q.must_words


def test_query_for_fills_the_city():
    assert CARD.query_for("南京") == "南京社保卡丢了怎么补办"
    assert Q["hj-residence-permit"].query_for("苏州") == "外地人在苏州怎么办居住证"
    assert all("{" not in q.query_for("成都") for q in BANK)
    assert Q["mz-marriage"].query_for("成都") == Q["mz-marriage"].text  # no placeholder


def test_bank_ships_as_package_data():
    assert default_path().name == "questions.yaml" and default_path().is_file()


# Measured (40 portals of the default population, 58 questions x every current service article
# of another topic, title + whole body: 198,759 pairs): 0 wrongly judged relevant.
@pytest.mark.parametrize("city,seed", [("南京", "h001"), ("乌鲁木齐", "h177"), ("三亚", 7)])
def test_every_question_is_answered_by_its_simweb_topic_and_only_by_it(city, seed):
    corpus = build_corpus(city, seed, TODAY)
    service = [a for a in corpus if a.kind == "service" and a.status == "current"]
    wrong = []
    for q in BANK:
        judged = [(a, rel(a.title, a.body, q, a.published.isoformat())[0]) for a in service]
        assert any(ok for a, ok in judged if a.topic == q.topic), f"{q.id}: no article of {q.topic}"
        wrong += [(q.id, a.topic, a.title) for a, ok in judged if ok and a.topic != q.topic]
    assert wrong == []


def test_abolished_versions_and_hotline_news_never_answer():
    corpus = build_corpus("南京", "h001", TODAY)
    others = [a for a in corpus if a.status == "abolished" or a.kind == "news"]
    assert sum(a.status == "abolished" for a in others) >= 12 and sum(a.kind == "news" for a in others) >= 20
    for q in BANK:
        for a in others:
            # with and without the date shown: the text alone must give them away
            for day in (a.published.isoformat(), None):
                assert not rel(a.title, a.body, q, day)[0], (q.id, a.title)


@pytest.mark.parametrize("city,seed", [("南京", "h001"), ("哈尔滨", "h042")])
def test_simweb_search_modes_judged_as_a_citizen_would(city, seed):
    """Accurate search answers every question in its first 10 results (with simweb's 80-char
    snippets); the 查不准 modes never yield a relevant result."""
    corpus = build_corpus(city, seed, TODAY)
    for q in BANK:
        for mode in ("accurate", "irrelevant", "stale", "news_only"):
            hits = search(corpus, q.query_for(city), mode, limit=RULES.top_results)
            found = [h for h in hits if rel(h.article.title, h.snippet, q, h.article.published.isoformat())[0]]
            if mode == "accurate":
                assert found and all(h.article.topic == q.topic for h in found), q.id
            else:
                assert found == [], (mode, q.id)


def test_pick_questions_is_reproducible_spread_and_varies():
    a = pick_questions(BANK, "h001", "2026Q4", 5)
    assert [q.id for q in a] == [q.id for q in pick_questions(BANK, "h001", "2026Q4", 5)]
    assert len({q.area for q in a}) == 5
    shuffled = BANK[:]
    random.Random(3).shuffle(shuffled)
    assert [q.id for q in pick_questions(shuffled, "h001", "2026Q4", 5)] == [q.id for q in a]
    sets = {frozenset(q.id for q in pick_questions(BANK, f"h{i:03d}", "2026Q4", 5)) for i in range(30)}
    assert len(sets) >= 28
    assert {q.id for q in pick_questions(BANK, "h001", "2027Q1", 5)} != {q.id for q in a}
    twelve = pick_questions(BANK, "h002", "r", 12)
    assert len({q.area for q in twelve}) == 12
    assert len({q.id for q in pick_questions(BANK, "h002", "r", 500)}) == len(BANK)
    assert pick_questions(BANK, "h002", "r", 0) == []


GOOD = """questions:
  - id: a-1
    area: 社保
    text: "{city}社保卡丢了怎么补办"
    answer_words: [社保卡]
    must_words: [补办]
"""


@pytest.mark.parametrize("bad,line,words", [
    (GOOD + "  - id: a-2\n    area: 社保\n    text: 养老金怎么领\n    answer_words: [养老金]\n", 7, "must_words"),
    (GOOD + GOOD.split("\n", 1)[1], 7, "duplicate id a-1"),
    (GOOD.replace("{city}", "{town}"), 4, "{town}"),
    (GOOD.replace("area:", "areaa:"), 3, "areaa: Extra inputs are not permitted"),
    (GOOD.replace("[补办]", "[补办"), 7, "invalid YAML"),
    (GOOD + "  - just a string\n", 7, "mapping"),
    ("items: []\n", 1, "questions"),
])
def test_malformed_bank_names_file_and_line(tmp_path, bad, line, words):
    path = tmp_path / "bank.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(QuestionBankError) as e:
        load_questions(path)
    assert f"{path}:{line}" in str(e.value) and words in str(e.value)


def test_a_small_valid_bank_loads(tmp_path):
    path = tmp_path / "bank.yaml"
    path.write_text(GOOD, encoding="utf-8")
    [q] = load_questions(path)
    assert q.id == "a-1" and q.topic is None and q.query_for("南京") == "南京社保卡丢了怎么补办"


# -- relevance of one result -------------------------------------------------------------------

def test_a_guide_with_synonyms_is_relevant():
    # Hanweb-style guide: 社会保障卡 (not 社保卡) and 挂失/补领 (not 补办)
    assert rel("南京市社会保障卡挂失补领办事指南",
               "事项名称：社会保障卡补领。办理材料：本人有效身份证件。办理地点：各社保卡服务网点。") == (True, RELEVANT)
    assert rel("住房公积金提取", "职工购买自住住房的，可申请提取住房公积金。", Q["gjj-withdraw"])[0]


def test_another_topic_or_another_matter_is_not_relevant():
    assert rel("住房公积金提取业务办事指南", "提取住房公积金所需材料：身份证、银行卡。") == (False, NO_SUBJECT)
    assert rel("社会保障卡首次申领服务指南", "首次申领社保卡不收取任何费用。") == (False, NO_ACTION)


def test_words_must_sit_on_token_boundaries():
    # 新车 straddles 更新|车辆 here: not the subject of "买了新车怎么上牌"
    assert rel("车管所更新车辆号牌查询系统的公告", "号牌查询系统将于周六升级。", Q["jt-new-car"]) == (False, NO_SUBJECT)
    assert rel("新车注册登记上牌须知", "新车可在4S店延伸服务点上牌。", Q["jt-new-car"])[0]


@pytest.mark.parametrize("title,snippet,day", [
    ("南京市社会保障卡管理暂行办法", "社会保障卡遗失的，持卡人应及时办理挂失补办。本办法已于2021年3月1日废止。", "2015-06-01"),
    ("南京市社会保障卡管理暂行办法", "社会保障卡遗失的，持卡人应及时办理挂失补办。本办法已于2021年3月1日废止。", None),
    ("社会保障卡挂失补办办事指南（2018年版）", "申请人需提交身份证原件及复印件一式两份。", None),
    ("社会保障卡挂失补办操作规程（2017年）", "补办社保卡需本人到服务大厅现场办理。", None),
    ("【已失效】关于社会保障卡挂失补办有关问题的通知", "社保卡挂失补办业务按以下规定办理。", None),
    ("社保卡挂失补办流程", "社保卡丢失后可到合作银行网点挂失补办，补卡工本费20元。", "2019-04-02"),
    ("社会保障卡补办指南", "该指南已失效，仅供查阅历史信息。社保卡补办请以最新指南为准。", None),
])
def test_outdated_or_abolished_is_not_relevant(title, snippet, day):
    assert rel(title, snippet, day=day) == (False, STALE)


def test_current_documents_citing_old_ones_stay_relevant():
    assert rel("南京市社会保障卡管理办法", "社会保障卡遗失的应办理挂失补办。本办法自2025年1月1日起施行，"
               "原《南京市社会保障卡管理暂行办法》同时废止。", day="2024-12-20")[0]
    assert rel("社会保障卡挂失补办办事指南（2025年版）", "依据《中华人民共和国社会保险法》（2018年修正）。")[0]
    assert rel("社保卡补办后可在定点医院使用", "按《国家基本医疗保险药品目录（2019年版）》结算。")[0]
    assert rel("社保卡挂失补办", "可到网点补办。", day=None)[0]  # no date shown: not stale


def test_hotline_news_and_meetings_are_not_relevant():
    assert rel("市12345热线召开社保卡补办服务质量推进会",
               "会议通报了社会保障卡挂失补办业务办理情况，要求各网点提高效率。") == (False, NEWS)
    assert rel("南京12345热线10月份工单办理情况通报",
               "10月共受理群众来电12万件，按时办结率98.6%。") == (False, NEWS)
    assert rel("市人社局领导到社保卡服务中心调研", "调研组详细了解了社保卡挂失补办等业务。") == (False, NEWS)
    # a guide that mentions the hotline is still a guide
    assert rel("社保卡丢了怎么补办？12345热线为您解答",
               "问：社保卡丢了怎么补办？答：可先拨打服务专线临时挂失，再到网点补办。")[0]


def test_a_result_that_only_repeats_the_question_is_not_relevant():
    # a citizen's message on the 留言板, no reply shown
    assert rel("网友留言：社保卡丢了怎么补办？", "留言内容：我的社保卡丢了怎么补办？急！留言时间：2026-10-03",
               url="http://www.nj12345.gov.cn.test/liuyan/detail?id=88231") == (False, ECHO)
    # the title echoes the question and the snippet adds nothing
    assert rel("南京社保卡丢了怎么补办", "南京社保卡丢了怎么补办？ 2026-10-12 浏览次数：35") == (False, ECHO)
    # a reply that answers nothing
    assert rel("社保卡丢了怎么补办", "答复：您好，您的留言已收到，已转相关部门处理，感谢您的关注。") == (False, ECHO)


def test_a_message_with_a_real_reply_or_a_bare_faq_title_is_relevant():
    assert rel("关于社保卡补办的咨询", "留言内容：社保卡丢了怎么补办？答复内容：您好，请携带本人身份证到就近"
               "社保卡服务网点办理挂失补办，一般10个工作日制卡。")[0]
    assert rel("社保卡丢了怎么补办？", "")[0]  # a knowledge-base entry listed by title only


# -- the verdict -------------------------------------------------------------------------------

ASKED = [Q[i] for i in ("sb-card-loss", "gjj-withdraw", "hj-idcard", "mz-marriage", "jt-violation")]
ANSWERS = {
    "sb-card-loss": SearchHit(title="社会保障卡挂失补办办事指南", snippet="社保卡丢失后可到服务网点挂失补办。", date="2026-05-06"),
    "gjj-withdraw": SearchHit(title="住房公积金提取服务指南", snippet="购房、租房可申请提取住房公积金。", date="2025-11-02"),
    "hj-idcard": SearchHit(title="居民身份证到期换领", snippet="有效期满前三个月可申请换领。", date="2026-01-15"),
    "mz-marriage": SearchHit(title="结婚登记办事指南", snippet="双方持户口簿、身份证到婚姻登记处办理，当场发给结婚证。"),
    "jt-violation": SearchHit(title="交通违法处理和缴纳罚款", snippet="可通过交管12123APP缴纳罚款。"),
}
OFF_TOPIC = SearchHit(title="南京12345热线召开三季度工作推进会", snippet="会议通报了三季度工单办理质量评查结果。", date="2026-10-01")
STALE_HIT = SearchHit(title="社会保障卡挂失补办办事指南（2016年版）", snippet="补办社保卡需本人到场。", date="2016-03-01")


def ep(via="search", url=SEARCH, clicks=1, reachable=True, side="site", error=None):
    return EntryPoint(via=via, url=url, clicks=clicks, reachable=reachable, side=side, error=error,
                      screenshot=f"evidence/nj/findability/{via}.png")


def attempt(q, hits=(), outcome="results", via="search", url=SEARCH, side="site", unreadable=False, reason=None):
    return QueryAttempt(question_id=q.id, query=q.query_for("南京"), via=via, entry_url=url, outcome=outcome,
                        side=side, hits=list(hits), unreadable=unreadable, reason=reason,
                        screenshots=[f"evidence/nj/findability/{via}-{q.id}.png"])


def observe(attempts, entry_points=None, website=SITE, tool_error=None):
    return FindabilityObservation(hotline_id="nj", website=website, entry_points=[ep()] if entry_points is None else entry_points,
                                  attempts=attempts, tool_error=tool_error)


def judge(obs, questions=ASKED):
    return judge_findability(obs, questions, RULES, TODAY)


def answered(q, via="search", url=SEARCH):
    return attempt(q, [OFF_TOPIC, ANSWERS[q.id]], via=via, url=url)


def test_all_answered_is_ok_with_evidence_and_metrics():
    v = judge(observe([answered(q) for q in ASKED]))
    assert v.verdict == "ok" and v.check == "findability"
    assert v.metrics["questions_asked"] == 5 and v.metrics["questions_answered"] == 5
    assert v.metrics["unanswered_share"] == 0 and v.metrics["entry_points_reachable"] == 1
    assert "evidence/nj/findability/search-sb-card-loss.png" in v.evidence
    assert "evidence/nj/findability/search.png" in v.evidence
    assert "无处查" in v.rule and "查不准" in v.rule and "50%" in v.rule and "3次点击" in v.rule
    assert f"{RULES.query_timeout_s:g}秒算超时" in v.rule


def test_two_of_five_unanswered_is_still_ok_and_names_them():
    atts = [answered(q) for q in ASKED[:3]]
    atts += [attempt(ASKED[3], outcome="no_results"), attempt(ASKED[4], [OFF_TOPIC])]
    v = judge(observe(atts))
    assert v.verdict == "ok"
    assert v.metrics["unanswered_share"] == 0.4
    assert "领结婚证要带哪些材料" in v.reason and "无结果" in v.reason


def test_three_of_five_unanswered_is_inaccurate_with_reasons():
    atts = [answered(q) for q in ASKED[2:]]
    atts[0] = attempt(ASKED[2], [OFF_TOPIC] * 10 + [ANSWERS["hj-idcard"]])  # 11th result: too late
    atts += [attempt(ASKED[0], [STALE_HIT, OFF_TOPIC]), attempt(ASKED[1], outcome="no_results")]
    v = judge(observe(atts))
    assert v.verdict == "inaccurate_search"
    assert v.reason.startswith("查不准")
    assert "南京社保卡丢了怎么补办" in v.reason and "过期/废止信息1条" in v.reason
    assert "热线新闻/会议动态" in v.reason and "无结果" in v.reason
    assert v.metrics["questions_answered"] == 2 and v.metrics["unanswered_share"] == 0.6
    assert "inaccurate" in v.reason_en and "sb-card-loss" in v.reason_en


def test_half_unanswered_is_inaccurate_at_the_threshold():
    four = ASKED[:4]
    v = judge(observe([answered(q) for q in four[:2]] + [attempt(q, [OFF_TOPIC]) for q in four[2:]]), four)
    assert v.verdict == "inaccurate_search" and v.metrics["unanswered_share"] == 0.5


def test_any_entry_point_may_answer():
    robot = SITE + "robot/"
    atts = [attempt(q, outcome="no_results") for q in ASKED]
    atts += [answered(q, via="robot", url=robot) for q in ASKED[:4]]
    v = judge(observe(atts, [ep(), ep("robot", robot, clicks=2)]))
    assert v.verdict == "ok" and v.metrics["questions_answered"] == 4
    assert v.metrics["answered_via"] == "robot" and "智能问答" in v.reason


def test_one_attempt_answers_by_the_same_rule_as_the_verdict():
    """What the journey asks of the rule before asking a question elsewhere."""
    q = ASKED[0]
    assert answers(answered(q), q, RULES, TODAY)
    assert not answers(answered(q), ASKED[1], RULES, TODAY)  # another question's answer
    assert not answers(attempt(q, [OFF_TOPIC, STALE_HIT]), q, RULES, TODAY)
    assert not answers(attempt(q, [OFF_TOPIC] * 10 + [ANSWERS[q.id]]), q, RULES, TODAY)  # 11th
    assert answers(attempt(q, [OFF_TOPIC] * 10 + [ANSWERS[q.id]]).model_copy(update={"browsed": True}),
                   q, RULES, TODAY)
    assert not answers(answered(q).model_copy(update={"side": "tool"}), q, RULES, TODAY)
    assert not answers(answered(q).model_copy(update={"outcome": "timeout"}), q, RULES, TODAY)


def test_a_browsed_knowledge_base_list_counts_whole_a_search_only_its_first_page():
    kb = SITE + "col/col2001/index.html"
    listing = [OFF_TOPIC] * 30 + [ANSWERS[q.id] for q in ASKED]  # the answers far down the list
    browsed = [attempt(q, listing, via="knowledge_base", url=kb).model_copy(update={"browsed": True})
               for q in ASKED]
    assert judge(observe(browsed, [ep("knowledge_base", kb)])).verdict == "ok"
    searched = [attempt(q, listing, via="knowledge_base", url=kb) for q in ASKED]
    assert judge(observe(searched, [ep("knowledge_base", kb)])).verdict == "inaccurate_search"


# A knowledge base without a box (孝感's in simweb seed 1): short question-like titles that name
# the matter in words other than the bank's; the journey reads the entries titled most like the
# question, and their text is the hit's snippet.
KB_READ = {
    "sj-food-license": ("开餐馆怎么办食品经营许可证？常见问题解答",
                        "发布日期：2025-07-08 来源：孝感市12345热线 近期不少市民咨询开餐馆办食品经营许可证需要什么材料，"
                        "现将食品经营许可申请有关事项解答如下。对需要现场核查的，一般在10个工作日内核发许可证。"),
    "mz-senior-allowance": ("孝感高龄津贴怎么领？一文看懂",
                            "现将高龄津贴申领有关事项解答如下。可前往户籍所在地社区居委会办理，审核通过后次月起按月发放。"),
    "yb-offsite-filing": ("异地就医备案怎么办？常见问题解答",
                          "问：孝感医保异地就医备案怎么办？答：医保异地就医备案可按以下方式办理。申请人需准备本人医保电子凭证。"),
    "gjj-loan": ("住房公积金贷款条件及贷款额度常见问题解答", ""),
    "sw-annual-tax": ("个税年度汇算怎么退税？常见问题解答", ""),
}


def test_a_knowledge_base_entry_read_through_answers_what_its_short_title_does_not():
    q = Q["yb-offsite-filing"]
    title, body = KB_READ[q.id]
    assert rel(title, "", q) == (False, NO_SUBJECT)  # 医保 is only in the entry's text
    assert rel(title, body, q) == (True, RELEVANT)
    # The traps still hold with the text read: abolished, a bare message, hotline news.
    assert rel(title, body + "本指南已于2024年3月1日废止。", q) == (False, STALE)
    assert rel("网友留言：医保异地就医备案怎么弄", "留言内容：孝感医保异地就医备案怎么弄？急！留言时间：2026-10-03", q) \
        == (False, ECHO)
    assert rel("孝感12345热线召开异地就医备案工作推进会", "会议通报了医保异地就医备案办理情况。", q) == (False, NEWS)


def test_a_box_less_knowledge_base_is_judged_on_the_entries_read_not_only_their_titles():
    questions = [Q[i] for i in KB_READ]
    kb = "http://www.xiaogan.gov.cn.test/zmhd/12345/zsk/"

    def listing(read):
        return [SearchHit(title=t, snippet=b if read else "", url=f"{kb}{n}.html", date="2026-05-01")
                for n, (t, b) in enumerate(KB_READ.values())] + [OFF_TOPIC] * 20

    def browsed(read):
        return [attempt(q, listing(read), via="knowledge_base", url=kb).model_copy(update={"browsed": True})
                for q in questions]

    titles_only = judge(observe(browsed(False), [ep("knowledge_base", kb)]), questions)
    assert titles_only.verdict == "inaccurate_search"  # the miss this fixed: 3 of 5 unanswered
    read = judge(observe(browsed(True), [ep("knowledge_base", kb)]), questions)
    assert read.verdict == "ok" and read.metrics["questions_answered"] == 5


def test_a_wechat_only_hotline_is_judged_on_its_h5_site():
    h5 = "http://m12345.nanjing.gov.cn.test/h5/search"
    obs = observe([answered(q, url=h5) for q in ASKED], [ep(url=h5)], website=None)
    assert judge(obs).verdict == "ok"


def test_no_website_is_no_channel():
    v = judge(observe([], [], website=None))
    assert v.verdict == "no_channel" and "H5" in v.reason


def test_a_wechat_h5_site_without_any_lookup_is_nowhere_not_no_channel():
    # simweb seed 13: two WeChat-only hotlines whose H5 site has no search were no_channel.
    obs = observe([], [], website=None).model_copy(update={"h5": "http://m12345.anqing.gov.cn.test/"})
    v = judge(obs)
    assert v.verdict == "nowhere_to_search"
    assert "微信H5页面首页3次点击内未发现" in v.reason and "WeChat H5 site" in v.reason_en


def test_a_website_and_an_h5_site_both_without_lookups_are_named():
    obs = observe([], []).model_copy(update={"h5": "http://m12345.nanjing.gov.cn.test/"})
    v = judge(obs)
    assert v.verdict == "nowhere_to_search" and "网站及微信H5页面" in v.reason


def test_nothing_to_search_is_nowhere():
    v = judge(observe([], []))
    assert v.verdict == "nowhere_to_search" and v.reason.startswith("无处查")
    assert "3次点击内未发现" in v.reason


def test_unlinked_search_is_nowhere_even_when_it_answers():
    v = judge(observe([answered(q) for q in ASKED], [ep(clicks=None)]))
    assert v.verdict == "nowhere_to_search" and "首页无链接" in v.reason


def test_unlinked_is_only_said_of_a_homepage_we_read():
    """A slow or broken homepage we could not read says nothing about its links: entries that
    answer when reached directly then need a person, never 无处查."""
    obs = observe([answered(q) for q in ASKED], [ep(clicks=None)])
    obs.home_error = "页面在 30 秒内没有打开"
    v = judge(obs)
    assert v.verdict == "needs_review" and "首页未能打开" in v.reason


def test_broken_search_page_is_nowhere():
    v = judge(observe([], [ep(reachable=False, error="HTTP 404")]))
    assert v.verdict == "nowhere_to_search" and "HTTP 404" in v.reason


def test_every_lookup_failing_on_the_site_is_nowhere():
    atts = [attempt(q, outcome="error", reason="HTTP 500 系统繁忙") for q in ASKED[:3]]
    atts += [attempt(q, outcome="timeout") for q in ASKED[3:]]
    v = judge(observe(atts))
    assert v.verdict == "nowhere_to_search"
    assert "查询出错" in v.reason and "查询超时" in v.reason


def test_deep_entry_point_that_answers_needs_review():
    v = judge(observe([answered(q) for q in ASKED], [ep(clicks=5)]))
    assert v.verdict == "needs_review" and v.confidence == 0.5 and "5次点击" in v.reason
    # deep and answering nothing: nowhere
    v = judge(observe([attempt(q, [OFF_TOPIC]) for q in ASKED], [ep(clicks=5)]))
    assert v.verdict == "nowhere_to_search"


def test_unreadable_results_that_could_flip_the_verdict_need_review():
    atts = [answered(q) for q in ASKED[:2]] + [attempt(ASKED[2], [OFF_TOPIC])]
    atts += [attempt(q, [SearchHit(title="")], unreadable=True) for q in ASKED[3:]]
    v = judge(observe(atts))
    assert v.verdict == "needs_review" and v.metrics["questions_unjudged"] == 2
    assert "结果无法识别" in v.reason


def test_unreadable_results_that_cannot_flip_the_verdict_do_not_block_it():
    atts = [answered(q) for q in ASKED[:4]] + [attempt(ASKED[4], [SearchHit(title="")], unreadable=True)]
    assert judge(observe(atts)).verdict == "ok"


def test_tool_failures_on_some_questions_need_review_when_they_matter():
    atts = [answered(q) for q in ASKED[:2]] + [attempt(ASKED[2], outcome="no_results")]
    atts += [attempt(q, outcome="timeout", side="tool", reason="proxy refused") for q in ASKED[3:]]
    v = judge(observe(atts))
    assert v.verdict == "needs_review" and "工具故障未能查询" in v.reason
    atts = [answered(q) for q in ASKED[:4]] + [attempt(ASKED[4], outcome="error", side="tool")]
    assert judge(observe(atts)).verdict == "ok"


def test_tool_failures_are_never_counted_against_the_hotline():
    v = judge(observe([attempt(q, outcome="error", side="tool", reason="browser crashed") for q in ASKED]))
    assert v.verdict == "tool_error" and "browser crashed" in v.reason
    v = judge(observe([], tool_error="proxy unreachable"))
    assert v.verdict == "tool_error" and "proxy unreachable" in v.reason
    assert judge(observe([], [ep(reachable=False, side="tool", error="net::ERR_PROXY")])).verdict == "tool_error"
    assert judge(observe([])).verdict == "tool_error"  # reachable, but nothing was asked
    assert judge(None).verdict == "tool_error"
