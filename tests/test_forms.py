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
