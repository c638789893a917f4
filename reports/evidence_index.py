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

TLS_ERRORS_ZH = {
    "tls_alert": "服务器发送TLS告警", "tls_error": "TLS协议错误", "timeout": "握手超时", "connect": "无法连接",
    "dns": "域名无法解析", "closed": "握手中连接被关闭", "proxy_unreachable": "无法连接代理(检测工具一方)",
    "proxy_refused": "代理未建立隧道(检测工具一方)", "client": "检测工具故障",
}


def tls_rows(cert: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The TLS facts as (Chinese + English label, value) rows; empty when not observed."""
    if not cert or not cert.get("observed"):
        return []
    if not cert.get("tls"):
        return [("网址 URL", cert.get("url") or "–"),
                ("加密 Encryption", "未使用HTTPS,网站以明文HTTP提供 served over plain http, no TLS")]
    yes_no = {True: "是 yes", False: "否 no", None: "无法判断 unknown"}
    rows = [("网址 URL", cert["url"]),
            ("观测时间 Observed (UTC)", str(cert.get("observed_at") or "–")),
            ("连接方式 Connection", "经代理 CONNECT via proxy" if cert.get("via_proxy") else "直连 direct")]
    if not cert.get("handshake_ok"):
        kind = cert.get("error_kind") or ""
        alert = f" {cert['alert']}" if cert.get("alert") else ""
        rows.append(("TLS握手 Handshake", f"失败 failed: {TLS_ERRORS_ZH.get(kind, kind)}{alert} ({kind}) — {cert.get('error') or ''}"))
        return rows
    days = cert.get("days_to_expiry")
    left = "–" if days is None else (f"已过期{-days}天 expired {-days} days ago" if days < 0 else f"{days}天 days")
    verified = yes_no[cert.get("verified")]
    if cert.get("verify_error"):
        verified += f" ({cert['verify_error']})"
    rows += [
        ("TLS握手 Handshake", "成功 ok"),
        ("协议 Protocol", cert.get("protocol") or "–"),
        ("加密套件 Cipher", cert.get("cipher") or "–"),
        ("证书主体 Subject CN", cert.get("subject_cn") or "–"),
        ("颁发者 Issuer", cert.get("issuer") or "–"),
        ("备用名称 SANs", ", ".join(cert.get("sans") or []) or "–"),
        ("生效时间 Not before (UTC)", str(cert.get("not_before") or "–")),
        ("到期时间 Not after (UTC)", str(cert.get("not_after") or "–")),
        ("剩余有效期 Days to expiry", left),
        ("SHA-256 指纹 Fingerprint", cert.get("sha256") or "–"),
        ("系统信任库验证 Trusted by the system store", verified),
        ("域名匹配 Host name matches", yes_no[cert.get("hostname_matches")]),
    ]
    if cert.get("error"):
        rows.append(("备注 Note", cert["error"]))
    return rows


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
        facts=facts, verdicts=shown, files=listed, source_zh=SOURCE_ZH,
        tls=tls_rows(facts.get("tls_certificate")))
    # Redact the rendered page as a whole: it holds nothing but text we escaped.
    return Markup(redactor(html))
