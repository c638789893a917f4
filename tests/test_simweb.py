"""simweb behaves as labelled, seen by a plain HTTP client through its proxy."""

import re
from collections import Counter
from datetime import UTC, date, datetime

import httpx
import pytest

from fixtures.simweb import (
    DEFAULT_COUNT,
    build_population,
    gold_rows,
    population_rates,
    registry_rows,
)
from fixtures.simweb.gold import CHANNEL_KINDS
from fixtures.simweb.population import (
    CANNOT_SUBMIT_REASONS,
    HOSTILE_TRAITS,
    STABILITY_GOLD,
    TEMPLATES,
)
from fixtures.simweb.server import CHALLENGE_COOKIE, Clock, challenge_token

from .conftest import COUNT, SEED


def portal(trait):
    return next(p for p in build_population(SEED, COUNT) if p.trait == trait)


@pytest.fixture
def client(simweb):
    with httpx.Client(proxy=simweb, timeout=20, trust_env=False) as c:
        yield c


def test_population_is_deterministic_and_covers_every_trait():
    a, b = build_population(7, 24), build_population(7, 24)
    assert a == b
    assert build_population(8, 24) != a
    assert set(p.trait for p in a) == set(STABILITY_GOLD) - set(HOSTILE_TRAITS)  # hostile ones are opt-in
    assert len({p.hotline_id for p in build_population(1, 300)}) == 300


def test_default_population_matches_the_2019_census_and_the_2021_rates():
    portals = build_population()
    assert len(portals) == DEFAULT_COUNT == 344
    assert Counter(p.site_kind for p in portals) == {"standalone": 107, "gov_column": 71, "h5_only": 7, "none": 159}
    assert set(p.template for p in portals if p.host) == set(TEMPLATES)
    for row in population_rates(portals):
        assert abs(row["gap_hotlines"]) <= 1, row
    assert len({p.province for p in portals}) == 31
    assert all(re.fullmatch(r"\d{6}", p.adcode) for p in portals)
    assert Counter(p.tier for p in portals).keys() == {"一线", "新一线", "二线", "三线", "四线", "五线"}
    assert {p.cannot_reason for p in portals if p.effectiveness == "cannot_submit"} == set(CANNOT_SUBMIT_REASONS)


def test_gold_lists_every_channel_kind_in_canonical_form():
    gold = gold_rows(build_population())
    kinds = {g["check"].removeprefix("channel.") for g in gold if g["check"].startswith("channel.")}
    assert kinds == set(CHANNEL_KINDS)
    for g in gold:
        value = g["verdict"]
        if g["check"] == "channel.wechat":
            assert re.fullmatch(r"gh_[0-9a-f]{12}", value) or value.startswith("http://weixin.qq.com/r/")
        elif g["check"] == "channel.mini_program":
            assert re.fullmatch(r"wx[0-9a-f]{16}", value)
        elif g["check"].startswith("channel."):
            # A fragment only where it is an app's route (/#/letter), never an anchor.
            assert value.startswith(("http://", "https://")) and ("#" not in value or "/#/" in value)
    routed = {g["verdict"] for g in gold if "#" in g["verdict"]}
    assert routed and {g["check"] for g in gold if g["verdict"] in routed} == {"channel.submit", "channel.track"}


def test_entry_wordings_of_the_families_are_in_no_list_the_product_uses():
    """simweb's unseen wordings stay unseen: discovery must read them, not look them up."""
    from crawler.entries import CONCEPTS
    from crawler.extract import load_lexicon
    from fixtures.simweb.pages import COLUMN_LABELS, UNSEEN_LABELS

    listed = {w for words in load_lexicon().words.values() for w in words}
    listed |= {w for words in CONCEPTS.values() for w in words}
    wordings = [w for ws in UNSEEN_LABELS.values() for w in ws] + list(COLUMN_LABELS)
    assert not [w for w in wordings if w in listed]


def test_families_vary_by_portal_without_moving_the_population():
    from fixtures.simweb.layouts import hash_routes
    from fixtures.simweb.pages import COLUMN_LABELS, UNSEEN_LABELS, style, submit_by_form

    portals = [p for p in build_population() if p.host]
    styles = {p.hotline_id: style(p, p.template) for p in portals}
    submit_words = Counter(styles[p.hotline_id].labels["submit"] for p in portals if p.submit_via == "website")
    assert len(set(submit_words) & set(UNSEEN_LABELS["submit"])) >= 8
    assert sum(submit_words[w] for w in COLUMN_LABELS) == sum(submit_by_form(p) for p in portals) >= 10
    assert sum(hash_routes(p) for p in portals) >= 8
    assert sum(bool(s.app_script) for s in styles.values()) >= 8
    assert sum(bool(s.mini_program_link) for s in styles.values()) >= 8
    # Every column-word site shows its form without a login: only its form can say what it is.
    assert not any(p.needs_login for p in portals if submit_by_form(p))


def test_registry_and_gold_agree_on_who_is_who():
    portals = build_population(SEED, COUNT)
    rows = registry_rows(portals)
    gold = gold_rows(portals)
    assert [r["hotline_id"] for r in rows] == [p.hotline_id for p in portals]
    stability = {g["hotline_id"]: g["verdict"] for g in gold if g["check"] == "stability"}
    assert stability == {p.hotline_id: STABILITY_GOLD[p.trait] if p.website else "no_channel" for p in portals}
    assert all(r["website"] == "" for r in rows if stability[r["hotline_id"]] == "no_channel")


def test_healthy_portal_serves_chinese_homepage(client):
    r = client.get(portal("healthy").website)
    assert r.status_code == 200
    assert "12345" in r.text and "热线" in r.text


def test_js_challenge_blocks_a_plain_client_and_admits_one_with_the_cookie(client):
    p = portal("js_challenge")
    r = client.get(p.website)
    assert r.status_code == 412 and "<script>" in r.text and "document.cookie" in r.text
    r2 = client.get(p.website, headers={"Cookie": f"{CHALLENGE_COOKIE}={challenge_token(p.host)}"})
    assert r2.status_code == 200


def test_gbk_page_is_declared_utf8(client):
    r = client.get(portal("gbk_mislabelled").website)
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    assert "12345" in r.content.decode("gbk")


def test_redirect_loop(client):
    with pytest.raises(httpx.TooManyRedirects):
        client.get(portal("redirect_loop").website, follow_redirects=True)


def test_always_5xx(client):
    assert client.get(portal("always_5xx").website).status_code >= 500


def test_flapping_fails_more_than_the_census_allows(client):
    p = portal("flapping")
    statuses = Counter(client.get(p.website).status_code for _ in range(20))
    assert statuses[502] / 20 >= 0.05 and statuses[200] > 0


def test_unknown_host_answers_like_a_proxy_that_cannot_resolve(client):
    r = client.get("http://www.nowhere12345.gov.cn.test/")
    assert r.status_code == 502


def test_hang_outlasts_a_timeout(client):
    with pytest.raises(httpx.ReadTimeout):
        client.get(portal("hang").website, timeout=1.5)


def dated_items(client, p):
    text = client.get(p.website).text
    if p.template == "spa":  # the page renders its notices from the JSON API
        text += client.get(f"http://{p.host}/api/portal/home").text
    # dated items are links with a date; the "今天是…" greeting has no link
    linked = "\n".join(line for line in text.splitlines() if "<a " in line or '"title"' in line)
    found = re.findall(r"(20\d\d)[-年/](\d\d)[-月/](\d\d)", linked)
    return [date(int(y), int(m), int(d)) for y, m, d in found]


def test_stale_homepage_newest_item_is_older_than_two_weeks(client):
    p = portal("stale_homepage")
    today = Clock().today()
    dates = dated_items(client, p)
    assert dates and (today - max(dates)).days == p.stale_days > 14
    assert (today - max(dated_items(client, portal("healthy")))).days <= 2


def test_clock_moves_by_days_and_to_a_date():
    clock = Clock()
    start = clock.now()
    clock.advance(3)
    assert 3 * 86400 - 5 < (clock.now() - start).total_seconds() < 3 * 86400 + 5
    clock.set(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    assert clock.today() == date(2026, 10, 1)


def test_clock_endpoint(simweb):
    now = httpx.get(f"{simweb}/_clock", trust_env=False).json()["now"]
    assert abs((datetime.fromisoformat(now) - datetime.now(UTC)).total_seconds()) < 60


def test_tls_error_portal_fails_the_handshake_through_the_proxy(simweb):
    p = portal("tls_error")
    assert p.website.startswith("https://")
    with httpx.Client(proxy=simweb, timeout=10, trust_env=False) as c, pytest.raises(httpx.ConnectError) as info:
        c.get(p.website)
    assert "HANDSHAKE_FAILURE" in repr(info.value.__cause__ or info.value.__context__)
    with httpx.Client(proxy=simweb, timeout=10, trust_env=False) as c, pytest.raises(httpx.ProxyError):
        c.get(f"https://{portal('healthy').host}/")  # simweb serves the others over plain HTTP
