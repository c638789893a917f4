"""What a page is for, by its forms: a letter form, a case lookup, or neither — whatever its
markup (labels in cells, pinyin field names, full-width spaces, no <form> at all)."""

from crawler.forms import purposes


def test_a_letter_form_with_pinyin_names_and_labels_in_cells():
    html = """<form action="/jact/front/mailwrite.do" method="post"><table>
      <tr><td>姓　　名：</td><td><input name="xm" type="text"></td></tr>
      <tr><td class="l">联系电话<span>*</span></td><td><input name="lxdh"></td></tr>
      <tr><td>信件标题</td><td><input name="bt"></td></tr>
      <tr><td>信件内容</td><td><textarea name="nr"></textarea></td></tr>
      <tr><td>验证码</td><td><input name="yzm"><img src="/yzm.jpg"></td></tr></table>
      <input type="submit" value="提交"></form>"""
    assert purposes(html) == {"submit"}


def test_a_letter_form_known_by_its_placeholder_and_aria_label():
    html = """<form><input placeholder="请输入您的手机号"><input aria-label="标题">
      <textarea placeholder="请详细描述您的诉求"></textarea><button>提交</button></form>"""
    assert purposes(html) == {"submit"}


def test_a_script_built_form_without_a_form_element():
    html = """<div id="app"><div class="el-form-item"><label for="c1">联系人</label><input id="c1"></div>
      <div class="el-form-item"><label for="c2">反映内容</label><textarea id="c2"></textarea></div>
      <button class="el-button">提 交</button></div>"""
    assert purposes(html) == {"submit"}


def test_a_case_lookup_in_its_many_wordings():
    for number, code, code_type in (("受理编号", "查询码", "text"), ("信件编号", "查询密码", "password"),
                                    ("流水号", "提取码", "text"), ("工单号", "验证码", "text")):
        html = f"""<form method="get"><label>{number} <input name="a"></label>
          <label>{code} <input name="b" type="{code_type}"></label><button>查询</button></form>"""
        assert purposes(html) == {"track"}, (number, code)
    by_name = '<form><input name="slbh" placeholder="请输入"><input name="cxm"><button>查询</button></form>'
    assert purposes(by_name) == {"track"}


def test_a_page_that_both_takes_and_looks_up_letters():
    html = """<form><label>姓名<input name="name"></label><textarea name="content"></textarea></form>
      <form><label>信件编号<input name="no"></label><label>查询码<input name="code"></label></form>"""
    assert purposes(html) == {"submit", "track"}


def test_forms_that_are_neither():
    login = '<form><label>手机号 <input name="phone" type="tel"></label><label>密码 <input type="password" name="p"></label></form>'
    register = """<form><label>姓名 <input name="name"></label><label>手机号 <input name="phone" type="tel"></label>
      <label>短信验证码 <input name="code"></label><label>密码 <input name="password" type="password"></label></form>"""
    search = '<form action="/search"><input name="q" placeholder="请输入关键字"><button>搜索</button></form>'
    comment = '<form><textarea name="comment" placeholder="发表评论"></textarea><button>发表</button></form>'
    by_phone = """<form><label>手机号 <input name="phone" type="tel"></label>
      <label>短信验证码 <input name="smscode" type="tel"></label><button>按手机号查询</button></form>"""
    id_card = '<form><label>证件号码 <input name="zjhm"></label><label>验证码 <input name="yzm"></label></form>'
    for html in (login, register, search, comment, by_phone, id_card):
        assert purposes(html) == set(), html


def test_a_notice_to_accept_before_the_letter_form_is_the_way_in():
    """写信须知 pages in the wordings and markups of real portals: an agree box and a button a
    script moves on from, a countdown in the button, a heading and a link, a POST that agrees."""
    notice = "<p>一、本信箱受理群众反映的问题和意见建议。二、请如实反映情况，留下真实联系方式。</p>"
    hanweb = f"""<div class="xz"><h2>写信须知</h2>{notice}<input type="checkbox" id="ckb">
      <label for="ckb">我已阅读并同意以上条款</label><input type="button" value="我要写信" onclick="goWrite()">
      <input type="button" value="返回" onclick="history.back()"></div>"""
    pledge = f"""<div class="cns"><h3>诉求人承诺书</h3>{notice}
      <button id="ok" disabled>同意并继续(5秒)</button><button>不同意</button></div>"""
    linked = f'<h3>网上信访注意事项</h3>{notice}<p><a href="write.jsp">进入写信页面</a> <a href="/">返回首页</a></p>'
    posted = f"""<h4>留言须知</h4>{notice}<form method="post"><label><input type="checkbox" name="ty" required>
      本人已知悉并承诺遵守</label> <input type="submit" value="下一步"></form>"""
    for html in (hanweb, pledge, linked, posted):
        assert purposes(html) == {"submit"}, html


def test_notices_and_agreements_that_are_not_the_way_in():
    notice = "<p>请如实反映问题，留下真实联系方式。</p>"
    # A registration agreement asks for a password; a column lists letters beside a link to its
    # notice; a notice alone has nothing to accept; an article about complaints has no notice.
    register = f"""<h3>用户注册须知</h3>{notice}<label><input type="checkbox"> 我已阅读并同意</label>
      <input name="u"><input type="password" name="p"><button>注册</button>"""
    column = """<h2>互动交流</h2><a href="xz.html">写信须知</a> <a href="write/">我要写信</a>
      <ul><li><a href="1.html">关于小区噪音扰民问题的答复</a> 2024-05-01</li></ul>"""
    bare = f"<h3>写信须知</h3>{notice}<a href='/'>返回首页</a>"
    article = "<h1>我市12345热线投诉量下降</h1><p>市民反映的问题办结率提高。</p><a href='next.html'>下一页</a>"
    unrelated = "<h3>办事须知</h3><p>请携带身份证原件。</p><label><input type=checkbox> 我已阅读</label><button>下一步</button>"
    for html in (register, column, bare, article, unrelated):
        assert purposes(html) == set(), html
