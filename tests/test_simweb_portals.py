"""The full simulated population behaves as its gold labels say, seen over HTTP."""

import io
import re
from datetime import date

import httpx
import pytest
import zxingcpp
from PIL import Image

from fixtures.simweb import build_population
from fixtures.simweb.corpus import TOPICS
from fixtures.simweb.gold import channel_values
from fixtures.simweb.layouts import LAYOUTS
from fixtures.simweb.population import DEAD_TRAITS

WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.50"
PORTALS = build_population()
USABLE = [p for p in PORTALS if p.host and p.trait not in (*DEAD_TRAITS, "slow", "js_challenge", "flapping")]


@pytest.fixture(scope="module")
def client(simweb_full):
    with httpx.Client(proxy=simweb_full, timeout=10, trust_env=False, headers={"User-Agent": WECHAT_UA}) as c:
        yield c


def first(**want):
    return next(p for p in USABLE if all(getattr(p, k) == v for k, v in want.items()))


def question(city):
    topic = next(t for t in TOPICS if t.key.startswith("sb"))  # a 社保 question
    return topic, topic.question.format(city=city)


def results(client, p):
    layout = LAYOUTS["h5" if p.site_kind == "h5_only" else p.template]
    topic, q = question(p.city)
    url = channel_values(p)["search"]
    r = client.get(url, params={layout.search_param: q, "callback": "cb"})
    titles = re.findall(r'class="result-title"[^>]*>([^<]+)<|"title": "([^"]+)"', r.text)
    return r, topic, ["".join(t) for t in titles]


def answers(topic, text):
    return any(w in text for w in topic.answer_words) and any(w in text for w in topic.must_words)


@pytest.mark.parametrize("widget", ["form_get", "ajax_jsonp", "iframe", "new_tab"])
def test_accurate_search_answers_through_every_widget(client, widget):
    p = first(search_widget=widget, search_quality="accurate", findability="ok")
    home = client.get(p.website or p.h5).text
    assert LAYOUTS[p.template].search.split("/")[-1] in home or LAYOUTS[p.template].jsonp.split("/")[-1] in home \
        or LAYOUTS[p.template].search_frame.split("/")[-1] in home
    r, topic, titles = results(client, p)
    assert r.status_code == 200 and titles
    assert answers(topic, " ".join(titles[:3]) + r.text[:4000])


@pytest.mark.parametrize("quality", ["empty", "irrelevant", "stale", "news_only"])
def test_inaccurate_search_modes(client, quality):
    p = first(search_quality=quality, findability="inaccurate_search")
    r, topic, titles = results(client, p)
    assert r.status_code == 200
    if quality == "empty":
        assert titles == []
    if quality == "stale":  # only outdated pages: published more than three years ago
        dates = [date.fromisoformat(a or b) for a, b in re.findall(r'class="result-date">([\d-]+)<|"date": "([\d-]+)"', r.text)]
        assert titles and len(dates) == len(titles)
        assert all((date.today() - d).days > 3 * 365 for d in dates)
    if quality in ("irrelevant", "news_only"):
        assert not any(answers(topic, t) for t in titles)


def test_search_that_errors_or_is_never_linked(client):
    broken = first(search_quality="error")
    r, _, _ = results(client, broken)
    assert r.status_code == 500
    hidden = first(search_widget="unlinked")
    home = client.get(hidden.website or hidden.h5).text
    layout = LAYOUTS[hidden.template]
    assert layout.unlinked_search not in home and layout.search not in home
    assert client.get(f"http://{hidden.host}{layout.unlinked_search}").status_code == 200


def test_knowledge_base_and_robot_answer(client):
    p = first(has_kb=True, has_robot=True, findability="ok")
    urls = channel_values(p)
    assert "kb-list" in client.get(urls["knowledge_base"]).text
    topic, q = question(p.city)
    answer = client.get(urls["robot"] + "ask", params={"q": q}).json()
    assert answers(topic, answer["answer"] + answer["link"]["title"])


def test_h5_pages_demand_the_wechat_user_agent(simweb_full):
    p = next(p for p in PORTALS if p.site_kind == "h5_only")
    with httpx.Client(proxy=simweb_full, timeout=10, trust_env=False) as plain:
        assert "请在微信客户端打开" in plain.get(p.h5).text
    with httpx.Client(proxy=simweb_full, timeout=10, trust_env=False, headers={"User-Agent": WECHAT_UA}) as wx:
        assert "掌上热线" in wx.get(p.h5).text


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_page_qr_decodes_to_the_page_itself_and_wechat_qr_to_an_account(client):
    trap = first(site_kind="standalone", traps=next(p.traps for p in USABLE if "page_qr" in p.traps and p.site_kind == "standalone"))
    page = client.get(trap.website).text
    assert "扫一扫在手机打开当前页" in page
    assert decode(client.get(f"http://{trap.host}/images/qr/page.png").content) == [trap.website]
    wx = next(p for p in USABLE if p.wechat_id and p.website)
    home = client.get(wx.website).text
    assert wx.wechat_name in home and (wx.wechat_id in home) == wx.wechat_id_shown
    assert decode(client.get(f"http://{wx.host}/images/qr/wechat.png").content)[0].startswith("http://weixin.qq.com/r/")


def test_hidden_links_and_mirror_are_on_the_page_but_not_channels(client):
    hidden = next(p for p in USABLE if "hidden_links" in p.traps and p.website)
    assert "left:-9999px" in client.get(hidden.website).text
    mirror = next(p for p in USABLE if "mirror" in p.traps and p.website)
    assert ".mirror.test/" in client.get(mirror.website).text
    assert not any(".mirror.test" in v for v in channel_values(mirror).values())


def test_every_gold_web_channel_answers(client):
    # Every URL the gold file lists as a channel exists (2xx) for the usable portals.
    checked = 0
    for p in USABLE[::5]:
        for kind, url in channel_values(p).items():
            if kind in ("wechat", "mini_program", "weibo") or (kind == "search" and p.search_quality in ("error", "timeout")):
                continue
            r = client.get(url)
            login_first = r.status_code == 302 and "login" in r.headers["location"] and p.needs_login
            assert r.status_code == 200 or login_first, (p.hotline_id, kind, url)
            checked += 1
    assert checked > 50
