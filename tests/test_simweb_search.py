"""simweb's content corpus and site search: realistic, deterministic, and each mode as labelled."""

import re
from collections import Counter
from datetime import date, timedelta

import pytest

from fixtures.simweb.corpus import AREAS, TOPICS, Article, Topic, build_corpus
from fixtures.simweb.search import SEARCH_MODES, Hit, build_index, search

TODAY = date(2025, 6, 1)
CITIES = ("北京", "乌鲁木齐", "马鞍山", "河池")
SEEDS = (1, "s2")
PORTALS = [(city, seed) for city in CITIES for seed in SEEDS]
THREE_YEARS = timedelta(days=3 * 365)
TOPIC = {t.key: t for t in TOPICS}


def corpus(city="北京", seed=1, today=TODAY):
    return build_corpus(city, seed, today)


def text(a: Article) -> str:
    return a.title + a.body


def answers(topic: Topic, a: Article) -> bool:
    return any(w in text(a) for w in topic.answer_words) and any(
        w in text(a) for w in topic.must_words)


def sentences(body: str) -> int:
    return body.count("。")


def queries(topic: Topic, city: str) -> list[str]:
    return [topic.question.format(city=city), topic.question.replace("{city}", "")]


# --- corpus ---------------------------------------------------------------------------------


def test_corpus_is_deterministic_and_depends_on_city_and_seed():
    a = corpus()
    build_corpus.cache_clear()
    b = corpus()
    assert a == b and a is not b
    # Another city gets other text, not just another name: its own draw of articles and words.
    other_city = [x.body.replace("上海", "北京") for x in corpus("上海")]
    assert other_city != [x.body for x in a]
    assert len(set(other_city) - {x.body for x in a}) > len(a) / 2
    assert [x.title for x in corpus(seed=2)] != [x.title for x in a]
    assert corpus(today=TODAY + timedelta(days=1)) != a


def test_areas_and_topics():
    assert len(AREAS) >= 10 and len(set(AREAS)) == len(AREAS)
    for area in ("社保", "医保", "公积金", "户籍", "出入境", "交通", "教育", "住房", "市场监管", "民政"):
        assert area in AREAS
    assert len(TOPICS) >= 48
    assert len({t.key for t in TOPICS}) == len(TOPICS)
    per_area = Counter(t.area for t in TOPICS)
    assert set(per_area) == set(AREAS)
    assert min(per_area.values()) >= 4
    for t in TOPICS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", t.key)
        assert re.search(r"[\u4e00-\u9fff]{4}", t.question)
        assert t.answer_words and t.must_words
    assert sum("{city}" in t.question for t in TOPICS) >= 10


@pytest.mark.parametrize("city,seed", PORTALS)
def test_portal_corpus_shape(city, seed):
    arts = corpus(city, seed)
    assert len({a.id for a in arts}) == len(arts)
    service = [a for a in arts if a.kind == "service"]
    news = [a for a in arts if a.kind == "news"]
    assert len(service) + len(news) == len(arts)
    assert 25 <= len(news) <= 40
    assert len({a.title for a in news}) == len(news)
    for a in arts:
        assert "{" not in a.title + a.body and "}" not in a.title + a.body
        assert 2 <= sentences(a.body) <= 6, a.body
        assert a.status in ("current", "abolished")
        assert a.published <= TODAY
    for a in news:
        assert a.area == "热线动态" and a.topic is None and a.status == "current"
        assert TODAY - a.published <= timedelta(days=183)
    for a in service:
        assert a.area in AREAS and a.topic in TOPIC and TOPIC[a.topic].area == a.area
    current = Counter(a.topic for a in service if a.status == "current")
    assert set(current) == set(TOPIC) and set(current.values()) <= {1, 2}
    for a in service:
        if a.status == "current":
            assert TODAY - a.published <= timedelta(days=731)
            assert answers(TOPIC[a.topic], a), a
    abolished = [a for a in service if a.status == "abolished"]
    assert len(TOPICS) / 4 <= len({a.topic for a in abolished}) <= len(TOPICS) / 2.5
    assert {a.area for a in abolished} == set(AREAS)  # something old in every area
    for a in abolished:
        age = TODAY - a.published
        assert timedelta(days=4 * 365) <= age <= timedelta(days=9 * 366)
        assert re.search(r"（\d{4}年(版)?）", a.title), a.title
        assert re.search("废止|失效|停止执行", a.body), a.body


@pytest.mark.parametrize("city,seed", PORTALS)
def test_articles_answer_only_their_own_topic(city, seed):
    for a in corpus(city, seed):
        for t in TOPICS:
            if t.key != a.topic:
                assert not answers(t, a), (t.key, a.title, a.body)


def test_news_never_look_like_answers():
    for city, seed in PORTALS:
        for a in corpus(city, seed):
            if a.kind == "news":
                assert not any(answers(t, a) for t in TOPICS), a
                assert not any(t.answered_by(text(a)) for t in TOPICS)


# --- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.key)
def test_accurate_top3_answers_every_topic(topic):
    for city, seed in PORTALS:
        arts = corpus(city, seed)
        for q in queries(topic, city):
            hits = search(arts, q, "accurate")
            assert hits and all(isinstance(h, Hit) for h in hits)
            assert any(h.article.status == "current" and answers(topic, h.article)
                       for h in hits[:3]), (city, seed, q, [h.article.title for h in hits[:3]])


@pytest.mark.parametrize("city,seed", PORTALS)
def test_accurate_ranks_current_versions_above_abolished_ones(city, seed):
    arts = corpus(city, seed)
    for t in TOPICS:
        hits = search(arts, t.question.format(city=city), "accurate", limit=len(arts))
        ranks = {h.article.id: k for k, h in enumerate(hits)}
        mine = [h.article for h in hits if h.article.topic == t.key]
        for old in (a for a in mine if a.status == "abolished"):
            for cur in (a for a in mine if a.status == "current"):
                assert ranks[cur.id] < ranks[old.id]


def test_accurate_respects_limit_and_builds_snippets():
    arts = corpus()
    hits = search(arts, "北京公积金怎么提取", "accurate", limit=4)
    assert len(hits) == 4
    for h in hits:
        assert 0 < len(h.snippet) <= 80 and h.snippet in h.article.body
    assert "提取" in hits[0].snippet or "公积金" in hits[0].snippet
    assert search(arts, "北京公积金怎么提取", "accurate", limit=0) == []
    assert search(arts, "zzqqxx", "accurate") == []


def test_empty_mode_finds_nothing():
    arts = corpus()
    for t in TOPICS:
        assert search(arts, t.question.format(city="北京"), "empty") == []


@pytest.mark.parametrize("city,seed", PORTALS)
def test_irrelevant_mode_never_answers(city, seed):
    arts = corpus(city, seed)
    for t in TOPICS:
        for q in queries(t, city):
            hits = search(arts, q, "irrelevant")
            assert hits, q
            assert len(hits) <= 10
            for h in hits:
                assert not answers(t, h.article), (q, h.article.title)
                assert h.article.topic != t.key
                assert len(h.snippet) <= 80 and h.snippet in h.article.body


@pytest.mark.parametrize("city,seed", PORTALS)
def test_stale_mode_returns_only_outdated_articles(city, seed):
    arts = corpus(city, seed)
    for t in TOPICS:
        for q in queries(t, city):
            hits = search(arts, q, "stale")
            assert hits, q
            for h in hits:
                a = h.article
                assert a.status == "abolished" or (
                    a.kind == "service" and TODAY - a.published > THREE_YEARS), a


def test_stale_mode_prefers_the_query_topic_and_is_empty_without_old_articles():
    for city, seed in PORTALS:
        arts = corpus(city, seed)
        for topic in {a.topic for a in arts if a.status == "abolished"}:
            q = TOPIC[topic].question.format(city=city)
            assert any(h.article.topic == topic for h in search(arts, q, "stale")[:3]), q
    fresh = tuple(a for a in corpus() if a.status == "current")
    assert search(fresh, "北京公积金怎么提取", "stale") == []


@pytest.mark.parametrize("city,seed", PORTALS)
def test_news_only_mode_returns_only_news(city, seed):
    arts = corpus(city, seed)
    for t in TOPICS:
        for h in search(arts, t.question.format(city=city), "news_only"):
            assert h.article.kind == "news"
    hits = search(arts, f"{city}12345热线工单办理情况", "news_only")
    assert hits and all(h.article.kind == "news" for h in hits)


def test_unknown_mode_raises_and_blank_queries_find_nothing():
    arts = corpus()
    with pytest.raises(ValueError):
        search(arts, "公积金", "fuzzy")
    with pytest.raises(ValueError):
        search(arts, "", "fuzzy")
    for mode in SEARCH_MODES:
        assert search(arts, "", mode) == []
        assert search(arts, "   \t", mode) == []


def test_search_accepts_a_prebuilt_index_and_caches_by_corpus():
    arts = corpus()
    index = build_index(arts)
    assert build_index(arts) is index
    assert build_index(index) is index
    q = "北京护照丢了怎么补发"
    for mode in SEARCH_MODES:
        assert search(index, q, mode) == search(arts, q, mode)
    copy = tuple(arts)  # the same tuple object: same cache entry
    assert build_index(copy) is index
    assert build_index(tuple(list(arts))) is not index
