"""Channel extraction from one page, as pure functions over real-looking portal HTML."""

from crawler.extract import canonical_url, decode_html, extract, links_by_script, mini_program_link

URL = "http://www.example12345.gov.cn/index.html"
HOSTS = {"www.example12345.gov.cn"}


def kinds(findings):
    return {(c.kind, c.value) for c in findings.channels}


def test_nav_entries_by_their_visible_words():
    html = """<html><body><div class="nav">
      <a href="/col/col3001/index.html">我要投诉</a> <a href="/col/col3002/index.html"> 办件 查询 </a>
      <a href="/zsk/">便民问答</a> <a href="/robot/" title="在线咨询机器人"><img src="r.png"></a>
      <a href="/app/">手机APP</a> <a href="http://m.example12345.gov.cn/">手机版</a>
      <a href="https://weibo.com/u/1234567890" target="_blank">官方微博</a></div></body></html>"""
    found = extract(URL, html, "ex", HOSTS)
    assert kinds(found) == {
        ("submit", "http://www.example12345.gov.cn/col/col3001/index.html"),
        ("track", "http://www.example12345.gov.cn/col/col3002/index.html"),
        ("knowledge_base", "http://www.example12345.gov.cn/zsk/"),
        ("robot", "http://www.example12345.gov.cn/robot/"),
        ("app", "http://www.example12345.gov.cn/app/"),
        ("h5", "http://m.example12345.gov.cn/"),
        ("weibo", "https://weibo.com/u/1234567890"),
    }
    submit = next(c for c in found.channels if c.kind == "submit")
    assert submit.found_on == URL and submit.element == "div.nav > a" and submit.text == "我要投诉"


def test_article_titles_in_dated_lists_are_not_entries():
    html = """<ul class="news"><li><a href="/art/1.html">公积金提取常见问题解答</a><span>2026-11-20</span></li>
      <li><a href="/art/2.html">关于网上留言办理情况的通报</a> 11-19</li></ul>"""
    assert kinds(extract(URL, html, "ex", HOSTS)) == set()


def test_hidden_spam_links_are_ignored_and_offsite_links_not_followed():
    html = """<div style="position:absolute;left:-9999px"><a href="/casino">我要投诉</a></div>
      <a href="http://www.example12345.gov.cn.mirror.test/">南京12345便民服务网</a>
      <a href="/about.html">关于我们</a>"""
    found = extract(URL, html, "ex", HOSTS)
    assert found.hidden_links == 1 and kinds(found) == set()
    assert found.offsite == [("http://www.example12345.gov.cn.mirror.test/", "南京12345便民服务网")]
    assert found.follow == ["http://www.example12345.gov.cn/about.html"]


def test_search_form_vs_other_forms():
    html = """<form action="/jrobot/search.do" method="get" target="_blank"><input name="q" placeholder="请输入关键字">
        <input type="hidden" name="webid" value="1"><button>搜索</button></form>
      <form action="/login" method="post"><input name="u"><input type="password" name="p"><button>登录</button></form>
      <form action="/track" method="get"><input name="no"><input name="code"><button>查询</button></form>"""
    assert kinds(extract(URL, html, "ex", HOSTS)) == {("search", "http://www.example12345.gov.cn/jrobot/search.do")}


def test_ajax_jsonp_search_endpoint_from_the_script():
    html = """<div id="box"><input id="kw" placeholder="搜索服务"><a id="go">搜索</a></div>
      <script>document.getElementById("go").onclick=function(){var s=document.createElement("script");
      s.src="http://so.example.gov.cn/guestweb4/jsonp?searchWord="+encodeURIComponent(kw.value)+"&callback=cb";}</script>"""
    assert kinds(extract(URL, html, "ex", HOSTS)) == {("search", "http://so.example.gov.cn/guestweb4/jsonp")}


def test_iframes_are_reported_to_visit():
    found = extract(URL, '<iframe src="/search/frame.html" title="站内搜索"></iframe>', "ex", HOSTS)
    assert found.frames == ["http://www.example12345.gov.cn/search/frame.html"]


def test_wechat_and_mini_program_ids_and_qr_images():
    html = """<div class="wx"><img src="/qr/wx.png" alt="微信公众号二维码"><p>微信公众号：南京12345<br>原始ID：gh_0123456789ab</p></div>
      <div class="mp"><img src="/qr/mp.png" alt="小程序码"><p>小程序：南京12345 AppID：wx0123456789abcdef</p></div>
      <div class="m"><img src="/qr/page.png" alt="二维码"><span>扫一扫在手机打开当前页</span></div>
      <p>订单号 wx0123456789abcdee 不是小程序</p>"""
    found = extract(URL, html, "ex", HOSTS)
    assert {(c.kind, c.value) for c in found.channels} == {
        ("wechat", "gh_0123456789ab"), ("mini_program", "wx0123456789abcdef")}
    qr = {q.url.rsplit("/", 1)[1]: q.page_qr for q in found.qr_images}
    assert qr == {"wx.png": False, "mp.png": False, "page.png": True}


def test_gbk_declared_as_utf8_is_decoded():
    body = '<html><head><meta charset="utf-8"><title>南京12345</title></head></html>'.encode("gbk")
    text, charset = decode_html(body, "utf-8")
    assert "南京12345" in text and charset == "gb18030"
    assert decode_html("中文".encode(), None) == ("中文", "utf-8")


def test_unseen_entry_wordings_on_a_page():
    html = """<div class="menu"><a href="/sjxx/">书记信箱</a><a href="/hfcx/">回复查询</a>
      <a href="/hdjl/">互动交流</a><a href="/xjgk/">信件公开</a><a href="/znkf/">在线智能咨询</a></div>"""
    found = extract(URL, html, "ex", HOSTS)
    assert kinds(found) == {("submit", "http://www.example12345.gov.cn/sjxx/"),
                            ("track", "http://www.example12345.gov.cn/hfcx/"),
                            ("robot", "http://www.example12345.gov.cn/znkf/")}
    # 互动交流 may be the form or a column: its page decides; 信件公开 is a list, whatever its page.
    links = found.links
    assert links["http://www.example12345.gov.cn/hdjl/"].may_be_entry
    assert not links["http://www.example12345.gov.cn/xjgk/"].may_be_entry
    assert not links["http://www.example12345.gov.cn/sjxx/"].may_be_entry  # named already


def test_hash_routes_are_kept_and_anchors_dropped():
    assert canonical_url("HTTP://Rx.Example.GOV.cn/#/appeal/new") == "http://rx.example.gov.cn/#/appeal/new"
    assert canonical_url("http://rx.example.gov.cn/index.html#!/query?x=1") == \
        "http://rx.example.gov.cn/index.html#!/query?x=1"
    assert canonical_url("http://rx.example.gov.cn/list.html#top") == "http://rx.example.gov.cn/list.html"
    assert canonical_url("http://rx.example.gov.cn/a#") == "http://rx.example.gov.cn/a"
    spa = "http://rx.example.gov.cn/"
    html = """<nav><a href="#/letter">我要写信</a><a href="/#/query">信件查询</a><a href="#top">返回顶部</a>
      <a href="#/hdjl">互动交流</a></nav><ul><li><a href="#/notice/12">关于热线的通知</a><time>2026/01/02</time></li></ul>"""
    found = extract(spa, html, "ex", {"rx.example.gov.cn"})
    assert kinds(found) == {("submit", "http://rx.example.gov.cn/#/letter"),
                            ("track", "http://rx.example.gov.cn/#/query")}
    # A route is seen only in a browser: followed only where its words said nothing.
    assert found.follow == ["http://rx.example.gov.cn/#/hdjl"]


def test_mini_programs_from_weixin_links_and_search_text():
    assert mini_program_link("weixin://dl/business/?appid=wx0123456789abcdef&path=pages/index") == "wx0123456789abcdef"
    assert mini_program_link("weixin://dl/business/?username=gh_0123456789ab") == "gh_0123456789ab"
    assert mini_program_link("weixin://dl/business/?t=AbCdEf123") == "weixin://dl/business/?t=AbCdEf123"
    assert mini_program_link("weixin://dl/officialaccounts") is None
    assert mini_program_link("http://www.example.gov.cn/?appid=wx0123456789abcdef") is None
    html = """<div class="mp"><p>微信搜索小程序“南京12345”</p>
      <a href="weixin://dl/business/?appid=wx0123456789abcdef">点击打开小程序</a></div>"""
    found = extract(URL, html, "ex", HOSTS)
    assert kinds(found) == {("mini_program", "wx0123456789abcdef")}
    assert [n for n, _ in found.mini_program_names] == ["南京12345"]
    named_only = extract(URL, "<p>打开微信，搜索「宁小通」小程序即可反映问题</p>", "ex", HOSTS)
    assert kinds(named_only) == set() and [n for n, _ in named_only.mini_program_names] == ["宁小通"]


def test_a_name_is_the_mini_program_only_where_no_appid_is_known():
    from crawler.results import resolve

    def name(hid):
        return {"type": "mini_program_name", "hotline_id": hid, "value": "南京12345", "found_on": URL, "text": "…"}
    appid = {"type": "channel", "hotline_id": "a", "kind": "mini_program", "value": "wx0123456789abcdef",
             "found_on": URL}
    code = {"type": "mini_program_qr", "hotline_id": "c", "value": "https://mp.weixin.qq.com/a/~abc",
            "found_on": URL, "element": "div.mp > img", "text": "小程序码"}
    out = resolve([name("a"), appid, {**code, "hotline_id": "b"}, name("b"), code])
    assert [c.value for c in out.channels["a"]] == ["wx0123456789abcdef"]
    assert [(c.kind, c.value) for c in out.channels["b"]] == [("mini_program", "南京12345")]
    assert [(c.kind, c.value) for c in out.channels["c"]] == [("mini_program", "https://mp.weixin.qq.com/a/~abc")]


def test_links_written_by_scripts_are_told_apart_from_scripts_that_only_fetch():
    written = [
        """<script>document.write('<a href="/app/">APP下载</a>');</script>""",
        """<script>window.onload = function () { box.innerHTML = '<a class="x" href="/app/">手机客户端</a>'; };</script>""",
        """<script>var menus = [{"name": "\\u5ba2\\u6237\\u7aef", "url": "/app/"}];
           menus.forEach(function (m) { var a = document.createElement("a"); a.href = m.url; nav.appendChild(a); });</script>""",
        """<script>var a = document.createElement("a"); a.setAttribute("href", "/app/"); bar.append(a);</script>""",
        """<script>var menu = [{title: "我要反映", path: "#/appeal/new"}];
           nav.innerHTML = menu.map(function (m) { return "<a href=" + m.path + ">" + m.title; }).join("");</script>""",
    ]
    for html in written:
        assert links_by_script(html), html
    fetch_only = [
        """<script>s.src = "http://so.example.gov.cn/jsonp?q=" + kw; document.body.appendChild(s);
           res.forEach(function (r) { var a = document.createElement("a"); a.href = r.url; list.appendChild(a); });</script>""",
        """<script src="/js/menu.js"></script>""",
        """<script>document.getElementById("today").textContent = new Date().toLocaleDateString();</script>""",
    ]
    for html in fetch_only:
        assert not links_by_script(html), html


def test_a_calendar_cannot_trap_the_spider():
    from scrapy.http import HtmlResponse, Request

    from crawler.spider import HotlineSpider

    spider = HotlineSpider(hotlines=[], page_budget=10, start_depth=50)
    meta = {"hotline_id": "ex", "hosts": HOSTS, "depth_left": 50, "h5": False}
    requested = []
    failures = []
    queue = [URL]
    while queue:
        url = queue.pop()
        month = int(url.rsplit("=", 1)[1]) if "=" in url else 0
        links = "".join(f'<a href="/cal?month={month + i}">{month + i}月</a>' for i in range(1, 30))
        html = f"<html><body><p>办事日历</p>{links}</body></html>".encode()
        response = HtmlResponse(url, body=html, encoding="utf-8", request=Request(url, meta=meta))
        for out in spider.parse(response, entry=url == URL):
            if isinstance(out, Request):
                if "playwright" in out.meta:
                    continue  # the entry page's one render (no submission entry found): not a page of the budget
                requested.append(out.url)
                queue.append(out.url)
            elif out.get("type") == "failure":
                failures.append(out)
    assert len(requested) == 9  # the entry page plus 9 more: the budget of 10
    assert [f["kind"] for f in failures] == ["page_budget_exhausted"]  # said once, not per page


def _crawl(pages, start=URL, hosts=HOSTS):
    """The spider over ``pages`` (url -> html) without a network: (items, requests)."""
    from scrapy.http import HtmlResponse, Request

    from crawler.spider import HotlineSpider

    spider = HotlineSpider(hotlines=[], page_budget=20, start_depth=1)
    items, requested = [], []
    queue = [(start, {"hotline_id": "ex", "hosts": hosts, "depth_left": 1, "h5": False}, True)]
    while queue:
        url, meta, entry = queue.pop(0)
        # A route's page is what a browser shows at that address (the test gives it).
        body = pages.get(url) or pages.get(url.split("#")[0]) or "<html><body>栏目</body></html>"
        response = HtmlResponse(url, body=body.encode(), encoding="utf-8", request=Request(url, meta=meta))
        for out in spider.parse(response, entry=entry):
            if isinstance(out, Request):
                if "playwright" not in out.meta and "qr" not in out.meta:
                    requested.append(out.url)
                    queue.append((out.url, out.meta, False))
            else:
                items.append(out)
    return items, requested


def _entries(items):
    from crawler.results import resolve

    return {(c.kind, c.value): c for c in resolve(items).channels["ex"] if c.kind in ("submit", "track")}


LETTER_FORM = """<html><body><h2>来信</h2><form method="post"><label>姓名 <input name="xm"></label>
  <label>手机 <input name="sjhm" type="tel"></label><label>内容 <textarea name="nr"></textarea></label>
  <button>提交</button></form></body></html>"""
LOOKUP_FORM = """<html><body><form><label>受理编号 <input name="no"></label><label>查询码 <input name="code"></label>
  <button>查询</button></form></body></html>"""
BASE = "http://www.example12345.gov.cn"


def test_a_page_behind_a_column_word_is_the_entry_its_forms_say():
    home = """<html><body><div class="nav"><a href="/hdjl/">互动交流</a><a href="/bjcx/">结果反馈</a>
      <a href="/xjgk/">信件公开</a><a href="/jc/">网站纠错</a></div>
      <ul><li><a href="/art/1.html">关于开展满意度回访的说明</a><span>2026-01-02</span></li></ul></body></html>"""
    pages = {URL: home, f"{BASE}/hdjl/": LETTER_FORM, f"{BASE}/bjcx/": LOOKUP_FORM,
             f"{BASE}/xjgk/": LETTER_FORM, f"{BASE}/jc/": LETTER_FORM, f"{BASE}/art/1.html": LETTER_FORM}
    items, _ = _crawl(pages)
    entries = _entries(items)
    assert set(entries) == {("submit", f"{BASE}/hdjl/"), ("track", f"{BASE}/bjcx/")}
    by_form = entries[("submit", f"{BASE}/hdjl/")]
    assert (by_form.found_on, by_form.text, by_form.element) == (URL, "互动交流", "div.nav > a")


def test_a_form_is_a_fallback_where_words_already_named_the_entry():
    home = """<html><body><a href="/wyxx/">我要写信</a><a href="/hdjl/">互动交流</a><a href="/cx/">信件查询</a>
      </body></html>"""
    pages = {URL: home, f"{BASE}/wyxx/": LETTER_FORM, f"{BASE}/hdjl/": LETTER_FORM, f"{BASE}/cx/": LOOKUP_FORM}
    items, _ = _crawl(pages)
    assert set(_entries(items)) == {("submit", f"{BASE}/wyxx/"), ("track", f"{BASE}/cx/")}
    # The page 我要写信 named is not reported a second time by its form.
    assert not any(i.get("value") == f"{BASE}/wyxx/" for i in items if i["type"] == "form_channel")


def test_a_route_that_frames_the_form_is_the_entry():
    spa = "http://rx.example.gov.cn/"
    hosts = {"rx.example.gov.cn"}
    shell = '<html><body><nav><a href="#/hdjl">政民互动</a></nav><div id="view"></div></body></html>'
    route = '<html><body><nav><a href="#/hdjl">政民互动</a></nav><iframe src="/mailbox/write.do"></iframe></body></html>'
    pages = {spa: shell, spa + "#/hdjl": route, "http://rx.example.gov.cn/mailbox/write.do": LETTER_FORM}
    items, requested = _crawl(pages, start=spa, hosts=hosts)
    assert requested == [spa + "#/hdjl", "http://rx.example.gov.cn/mailbox/write.do"]
    entries = _entries(items)
    assert set(entries) == {("submit", spa + "#/hdjl")}
    assert (entries[("submit", spa + "#/hdjl")].found_on, entries[("submit", spa + "#/hdjl")].text) == (spa, "政民互动")


def test_a_notice_before_the_form_is_one_entry_with_it():
    """写信须知 behind a column word is the submission page; its own 进入写信 link (the form
    after agreeing) and a wizard's 下一步 page are steps through it, not more entries."""
    home = """<html><body><a href="/hdjl/">政民互动</a><a href="/wyxx/">我要写信</a><a href="/cx/">信件查询</a>
      </body></html>"""
    gate = """<html><body><h3>网上信访须知</h3><p>请如实反映问题，留下真实有效的联系方式。</p>
      <p><a class="btn" href="/hdjl/?agree=1">进入写信</a> <a href="/">返回首页</a></p></body></html>"""
    wizard = """<html><body><h3>写信须知</h3><p>本信箱受理咨询、投诉和建议。</p>
      <label><input type="checkbox" id="ok"> 我已阅读并同意</label><a href="/wyxx/step2">我要写信</a></body></html>"""
    platform = "http://wsxf.example.gov.cn/front/mail/write.do"  # another origin, framed
    framing = f'<html><body><h2>网上信访</h2><iframe src="{platform}"></iframe></body></html>'
    pages = {URL: home.replace("</body>", '<a href="/wsxf/">网上信访</a></body>'), f"{BASE}/hdjl/": gate,
             f"{BASE}/wyxx/": wizard, f"{BASE}/cx/": LOOKUP_FORM, f"{BASE}/wsxf/": framing,
             platform: gate.replace("/hdjl/?agree=1", platform + "?agree=1")}
    items, _ = _crawl(pages)
    assert set(_entries(items)) == {("submit", f"{BASE}/wyxx/"), ("submit", f"{BASE}/wsxf/"), ("track", f"{BASE}/cx/")}
    assert {i["value"] for i in items if i["type"] == "form_channel"} == {f"{BASE}/hdjl/"}
