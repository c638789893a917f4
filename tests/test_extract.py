"""Channel extraction from one page, as pure functions over real-looking portal HTML."""

from crawler.extract import decode_html, extract, load_lexicon

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


def test_lexicon_is_data_and_prefers_the_specific_kind():
    lex = load_lexicon()
    assert lex.kind_of("在线咨询机器人") == "robot"
    assert lex.kind_of("我要咨询") == "submit"
    assert lex.kind_of("关于进一步规范热线工单转办时限的通知公告") is None


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
                requested.append(out.url)
                queue.append(out.url)
            elif out.get("type") == "failure":
                failures.append(out)
    assert len(requested) == 9  # the entry page plus 9 more: the budget of 10
    assert [f["kind"] for f in failures] == ["page_budget_exhausted"]  # said once, not per page
