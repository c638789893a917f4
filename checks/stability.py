"""Judge a website's stability (系统稳定性) from its probes and its browser load.

Rules (thresholds from ``StabilityRules``):

- no website known: ``no_channel``;
- our side failed (proxy down, browser crash): ``tool_error``, never counted against a site;
- at least ``down_failure_share`` of attempts failed on the site's side (the census's 5%
  rule): ``down``;
- the browser load failed on the site's side while the probes succeeded: ``needs_review``,
  except a browser timeout on a site whose probes' median is already slow: ``degraded``;
- otherwise ``degraded`` when it is slow, its text is garbled (乱码) or its newest dated item is
  older than ``stale_days``; else ``ok``.

Throttling answers (429, a firewall page: hotline_audit/politeness.py) are no attempts: a
homepage the browser only ever saw blocked is ``needs_review``, and ``down`` or slowness while
the site throttled us become ``needs_review`` too (checks/throttling.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from statistics import median

from hotline_audit.config import StabilityRules
from hotline_audit.model import StabilityObservation, ThrottleSeen, Verdict, VerdictStatus
from hotline_audit.politeness import THROTTLE_REASONS, host_of
from hotline_audit.workdays import china_date

from .throttling import blocked_verdict, describe, throttle_code

CHECK = "stability"

ERROR_ZH = {
    "timeout": "超时",
    "connect": "无法连接",
    "dns": "域名无法解析",
    "redirect_loop": "重定向循环",
    "http_status": "服务器报错",
    "challenge": "访问被拦截(412)",
    "protocol": "连接中断",
    "tls": "证书/加密错误",
    "navigation": "页面打开失败",
    "private_address": "跳转到审计方内网地址(已拒绝)",
    "unresponsive": "页面脚本卡死",
    "dialog_loop": "对话框循环弹出",
    "refresh_loop": "页面循环刷新",
    "oversize": "页面过大",
    "rate_limited": "被限流",
    "waf_blocked": "被防火墙拦截",
}
# A page that stops a citizen using it by its own doing (pageload.py sets ``fault``): down once
# our browser has shown it works on a control page, since then the failure cannot be ours.
CONTROLLED_FAULTS = ("unresponsive", "dialog_loop", "refresh_loop")


def judge_stability(obs: StabilityObservation | None, rules: StabilityRules) -> Verdict:
    rule = (
        f"失败率≥{rules.down_failure_share:.0%}为无法访问; 探测中位耗时≥{rules.slow_median_ms / 1000:g}s"
        f"或加载≥{rules.slow_load_ms / 1000:g}s为缓慢; 乱码字符≥{rules.garbled_share:.0%}为乱码; "
        f"最新信息超过{rules.stale_days}天为未更新"
    )

    def verdict(status: VerdictStatus, zh: str, en: str, confidence: float = 1.0, **metrics: object) -> Verdict:
        return Verdict(
            hotline_id=obs.hotline_id if obs else "", check=CHECK, verdict=status, reason=zh,
            reason_en=en, confidence=confidence, rule=rule, metrics=metrics,  # type: ignore[arg-type]
            evidence=[obs.page_load.screenshot] if obs and obs.page_load and obs.page_load.screenshot else [],
        )

    if obs is None:
        return Verdict(hotline_id="", check=CHECK, verdict=VerdictStatus.tool_error, reason="未采集到观测数据",
                       reason_en="no observation was gathered", confidence=1.0, rule=rule)
    if obs.tool_error:
        return verdict(VerdictStatus.tool_error, f"检测工具故障: {obs.tool_error}", f"our tooling failed: {obs.tool_error}")
    if not obs.website:
        return verdict(VerdictStatus.no_channel, "未发现网站", "no website is known for this hotline")

    load = obs.page_load
    # A throttled attempt (the site's firewall answered us) says nothing about the site.
    throttled = [p for p in obs.probes if p.error_kind in THROTTLE_REASONS]
    attempts = [(p.ok, p.side, p.error_kind) for p in obs.probes if p.error_kind not in THROTTLE_REASONS]
    if load is not None:
        # A page that hung or looped counts against the site only once a control page showed
        # our browser works (below); until then it is no attempt of the site's.
        unproven = load.fault in CONTROLLED_FAULTS and not load.control_ok
        if load.throttle is None:
            attempts.append((load.ok, "tool" if unproven else load.side, load.error_kind))
    valid = [a for a in attempts if a[1] == "site"]
    tool_failures = len(attempts) - len(valid)
    failed = [kind or "navigation" for ok, _, kind in valid if not ok]
    share = len(failed) / len(valid) if valid else 0.0
    metrics = {
        "attempts": len(valid),
        "failures": len(failed),
        "failure_share": round(share, 4),
        "tool_failures": tool_failures,
        "throttled": len(throttled) + (1 if load is not None and load.throttle else 0),
    }
    if load is not None and load.throttle is not None:
        seen = obs.throttles or [ThrottleSeen(host=host_of(load.final_url or load.url), at=load.started_at,
                                              kind=load.throttle, status=load.status, url=load.url,
                                              component="browser")]
        listed_zh, listed_en = describe(seen)
        zh_kind, en_kind = THROTTLE_REASONS[load.throttle]
        return verdict(VerdictStatus.needs_review,
                       f"浏览器打开首页时{zh_kind}({listed_zh}), 看不到网站本身, 需人工复核",
                       f"{en_kind} when the browser opened the homepage ({listed_en}): the site itself was not seen",
                       0.5, reason_code=throttle_code(seen), **metrics)

    if valid and share >= rules.down_failure_share:
        kinds = Counter(failed).most_common()
        zh_kinds = "、".join(f"{ERROR_ZH.get(k, k)}{n}次" for k, n in kinds)
        en_kinds = ", ".join(f"{k} x{n}" for k, n in kinds)
        return blocked_verdict(verdict(
            VerdictStatus.down,
            f"{len(valid)}次访问中{len(failed)}次失败({share:.0%}, {zh_kinds}),达到{rules.down_failure_share:.0%}不可访问标准",
            f"{len(failed)} of {len(valid)} attempts failed ({share:.0%}: {en_kinds}), at or above the "
            f"{rules.down_failure_share:.0%} census threshold",
            **metrics,
        ), obs.throttles)
    if load is None or load.side == "tool" or not valid:
        detail = (load.error if load and load.side == "tool" else None) or "no attempt reached the site"
        return verdict(VerdictStatus.tool_error, f"检测工具故障,无法判断: {detail}",
                       f"our side failed, cannot judge: {detail}", **metrics)

    ok_ms = [p.elapsed_ms for p in obs.probes if p.ok]
    median_ms = round(median(ok_ms), 1) if ok_ms else None
    if load.fault == "private_address":  # our guard's record of the refused request is the proof
        return verdict(VerdictStatus.down, f"首页无法使用: {load.error}",
                       f"the homepage cannot be used: {load.error}", **metrics)
    if load.fault in CONTROLLED_FAULTS:
        if load.control_ok:
            return verdict(VerdictStatus.down, f"首页无法使用: {load.error}(同一浏览器打开对照页正常)",
                           f"the homepage cannot be used: {load.error} (our browser passed a control page)",
                           fault=load.fault, dialogs=load.dialogs, **metrics)
        if load.control_ok is False:
            return verdict(VerdictStatus.tool_error, f"检测工具故障: 浏览器连对照页也无法打开 ({load.error})",
                           f"our browser failed a control page too ({load.error})", **metrics)
        return verdict(VerdictStatus.needs_review, f"首页异常({load.error}),未能用对照页排除浏览器故障,需人工复核",
                       f"the homepage misbehaved ({load.error}); no control page ruled our browser out",
                       0.5, **metrics)
    if load.fault == "oversize":
        return verdict(VerdictStatus.degraded, f"首页体积过大: {load.error}", f"the homepage is too large: {load.error}",
                       **metrics)
    if not load.ok:
        # The probes already prove slowness; a browser that then gave up waiting is the same
        # slowness seen by a citizen, not a doubt about the site.
        if load.error_kind == "timeout" and median_ms is not None and median_ms >= rules.slow_median_ms:
            waited = f"{load.elapsed_ms / 1000:.1f}" if load.elapsed_ms else None
            return blocked_verdict(verdict(
                VerdictStatus.degraded,
                f"访问缓慢(探测中位耗时{median_ms / 1000:.1f}秒); 浏览器打开首页超时"
                + (f"(等待{waited}秒未完成)" if waited else ""),
                f"slow (median probe {median_ms / 1000:.1f} s); the browser load timed out"
                + (f" after {waited} s" if waited else ""),
                median_probe_ms=median_ms, load_ms=load.elapsed_ms, **metrics,
            ), obs.throttles)
        return verdict(
            VerdictStatus.needs_review,
            f"浏览器打开失败({ERROR_ZH.get(load.error_kind or '', load.error_kind)}: {load.error}),但HTTP探测正常,需人工复核",
            f"the browser load failed ({load.error}) while HTTP probes succeeded: a person must look",
            0.5, **metrics,
        )

    metrics.update(median_probe_ms=median_ms, load_ms=load.load_ms or load.elapsed_ms,
                   newest_date=load.newest_date)
    problems_zh: list[str] = []
    problems_en: list[str] = []
    confidence = 1.0
    slow = True
    if median_ms is not None and median_ms >= rules.slow_median_ms:
        problems_zh.append(f"访问缓慢(探测中位耗时{median_ms / 1000:.1f}秒)")
        problems_en.append(f"slow (median probe {median_ms / 1000:.1f} s)")
    elif (load.load_ms or 0) >= rules.slow_load_ms:
        problems_zh.append(f"页面加载缓慢({load.load_ms / 1000:.1f}秒)")
        problems_en.append(f"slow page load ({load.load_ms / 1000:.1f} s)")
    else:
        slow = False
    text_len = load.text_chars + len(load.title or "")
    if text_len and load.replacement_chars / text_len >= rules.garbled_share:
        problems_zh.append(f"页面乱码({load.replacement_chars}个无法解码字符,编码声明与内容不符)")
        problems_en.append(f"garbled text ({load.replacement_chars} undecodable characters: wrong charset)")
    if load.newest_date:
        age = (china_date(load.started_at) - date.fromisoformat(load.newest_date)).days
        metrics["newest_age_days"] = age
        if age > rules.stale_days:
            problems_zh.append(f"首页最新信息为{load.newest_date},已{age}天未更新")
            problems_en.append(f"newest dated item {load.newest_date} is {age} days old")
            confidence = 0.8  # dates are read from the page text, a heuristic
    if problems_zh:
        found = verdict(VerdictStatus.degraded, "; ".join(problems_zh), "; ".join(problems_en), confidence, **metrics)
        # Slowness may be the firewall's doing (it delays whom it suspects); dates and
        # garbled text are read from the page itself, whoever was slow.
        return blocked_verdict(found, obs.throttles) if slow else found
    note_zh = f"{len(valid)}次访问{'全部成功' if not failed else f'中{len(failed)}次失败,低于阈值'}"
    note_en = f"{len(valid) - len(failed)} of {len(valid)} attempts succeeded"
    if median_ms is not None:
        note_zh += f",中位耗时{median_ms:.0f}毫秒"
        note_en += f", median {median_ms:.0f} ms"
    return verdict(VerdictStatus.ok, note_zh, note_en, **metrics)
