"""Entry links read by meaning: wordings no list holds are recognised from their concepts, and
texts that only look alike (news titles, robots, columns, notices) are not taken for entries."""

import pytest

from crawler.entries import entry_kind, read_link

# Wordings of real portals, none of them written anywhere in the product.
UNSEEN = {
    "submit": ["市民诉求", "书记信箱", "市长信箱", "留言咨询", "网上信访", "民生直通车", "百姓心声", "我有话说",
               "问政于民", "有事您说话", "我要建言", "阳光信访", "我要爆料", "百姓呼声", "网络问政", "领导信箱",
               "互动留言", "网上受理", "我要提问", "求助热线留言", "意见建议", "我要求助"],
    "track": ["回复查询", "我的诉求", "办理情况查询", "查看回复", "我的信件", "处理结果查询", "诉求跟踪",
              "查看办理结果", "答复查询", "信件办理查询", "我的件", "投诉进度"],
    "knowledge_base": ["政策问答", "热点解答", "便民百科", "知识问答", "常见问答", "答疑解惑", "办事指南"],
    "robot": ["在线智能咨询", "AI客服", "智能助手", "问答机器人", "小慧助手", "智能小助手", "小智问答"],
    "app": ["手机客户端", "安卓客户端", "掌上热线APP", "下载客户端", "移动APP", "移动端下载", "iPhone客户端"],
    "h5": ["手机版", "触屏版", "WAP版", "微信版", "移动端"],
}


@pytest.mark.parametrize(("kind", "text"), [(k, t) for k, ts in UNSEEN.items() for t in ts])
def test_unseen_wordings_are_read_by_meaning(kind, text):
    assert entry_kind(text) == kind


@pytest.mark.parametrize("text", ["互动交流", "政民互动", "公众互动", "互动平台", "交流互动", "公众参与"])
def test_column_words_leave_it_to_the_page(text):
    reading = read_link(text)
    assert reading.kind is None and reading.ambiguous and not reading.about


@pytest.mark.parametrize("text", ["信件公开", "来信选登", "写信须知", "投诉电话", "留言回复", "诉求办理情况",
                                  "信访指南", "意见征集", "办件公开", "投诉统计分析", "网站纠错", "我要投稿",
                                  "在线问卷", "用户登录"])
def test_texts_about_entries_are_not_entries(text):
    reading = read_link(text)
    assert reading.kind is None and reading.about and not reading.ambiguous
    # …so the page behind them is not taken for an entry by its form either.


@pytest.mark.parametrize(("text", "kind"), [
    ("在线咨询机器人", "robot"),  # a robot, though 咨询 is an intent to write
    ("在线智能咨询", "robot"),
    ("办件查询", "track"),  # a lookup of a case, though 办件 is a case one files
    ("留言查询", "track"),
    ("受理查询", "track"),
    ("网上受理", "submit"),
    ("政策问答", "knowledge_base"),  # not a question one sends
    ("常见问题查询", "knowledge_base"),
    ("掌上12345", "app"),
    ("市民诉求（微信）", "submit"),  # the WeChat H5 form: an entry, not the H5 site
])
def test_the_specific_reading_wins(text, kind):
    assert entry_kind(text) == kind


@pytest.mark.parametrize("text", [
    "关于进一步规范热线工单转办时限的通知公告",  # a long text is a title
    "市民反映小区路灯不亮问题已协调解决",
    "文件查询",  # 件 is a case only as a word of its own, not inside 文件
    "查询", "搜索", "首页", "热线简介", "网上调查", "在线访谈", "小程序", "微信小程序", "12345热线", "下载中心", "",
])
def test_other_texts_name_no_entry(text):
    assert entry_kind(text) is None


def test_spaces_and_full_width_forms_read_the_same():
    assert entry_kind(" 我 要　留 言 ") == "submit"
    assert entry_kind("ＡＰＰ下载") == "app"
    assert entry_kind("办件\n查询") == "track"
