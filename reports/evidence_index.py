"""The evidence pack's index.html: each verdict explained in Chinese, beside its reason, rule
and the pack's files (links work once the zip is unpacked). Escaped and redacted like the
report."""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup

from hotline_audit.model import VERDICT_LABELS_ZH

from .redaction import Redactor
from .scoring import SOURCE_ZH

CHECK_ZH = {"stability": "系统稳定性", "findability": "信息可得性", "effectiveness": "服务有效性"}

# What a verdict means and which rule decides it, in the words a hotline's staff would use.
MEANING_ZH = {
    "ok": "检测未发现问题。",
    "degraded": "网站可以访问，但存在访问缓慢、页面乱码、首页超过两周未更新等问题。",
    "down": "网站无法访问：按国办秘函〔2019〕19号，探测失败比例达到5%及以上（单次超时15秒）即视为无法访问。",
    "nowhere_to_search": "无处查：从首页出发，在规定点击次数内找不到可用的搜索框、知识库或智能问答，或搜索功能报错、超时。",
    "inaccurate_search": "查不准：可以搜索，但对典型市民问题，达到规定比例的问题搜不到相关且有效的结果。",
    "cannot_submit": "无法提交：因无提交入口、注册失败、收不到短信验证码、验证码无法通过或表单报错，诉求未能提交。",
    "no_progress": "无法显示受理进度：诉求已提交并取得回执，但按回执查询始终查不到办理状态。",
    "no_reply": "无回应：超过答复时限（按工作日计算，含法定节假日与调休）仍未收到答复。",
    "not_solved": "不能解决：已答复，但答复仅转办、仅告知电话、仅表示收悉或称无法办理，问题未得到解决。",
    "solved": "已解决：答复说明问题已得到处理。",
    "no_channel": "无渠道：未发现可供检测的互联网渠道，本项不计分。",
    "needs_review": "需人工复核：证据不足以作出判定，不计入问题，也不扣分。",
    "tool_error": "工具故障：检测工具自身出错（如浏览器、代理故障），不计入热线的问题，也不扣分。",
}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"), autoescape=True, undefined=jinja2.StrictUndefined)


def render_index(facts: dict[str, Any], verdicts: list[dict[str, Any]],
                 files: dict[str, tuple[bytes, dict[str, Any]]], packed: dict[str, str],
                 redactor: Redactor) -> str:
    """``packed`` maps a round-relative evidence path to its name in the pack."""
    shown = []
    for v in verdicts:
        paths = [packed[p] for p in v["evidence"] if p in packed]
        images = [p for p in paths if p.lower().endswith((".png", ".jpg", ".jpeg", ".webp"))]
        others = [p for p in paths if p not in images]
        shown.append({**v, "label_zh": VERDICT_LABELS_ZH.get(v["verdict"], v["verdict"]),
                      "check_zh": CHECK_ZH.get(v["check"].split(".")[0], ""), "meaning": MEANING_ZH.get(v["verdict"], ""),
                      "images": images, "others": others,
                      "absent": [p for p in v["evidence"] if p not in packed]})
    listed = [(p, meta) for p, (_, meta) in sorted(files.items())]
    html = _env.get_template("evidence_index.html.j2").render(
        facts=facts, verdicts=shown, files=listed, source_zh=SOURCE_ZH)
    # Redact the rendered page as a whole: it holds nothing but text we escaped.
    return Markup(redactor(html))
