"""Judge service effectiveness (服务有效性) from a submission and its rechecks.

The verdict is the first stage that fails (DESIGN §6):

1. ``no_channel``: no website or H5 page to submit on;
2. ``cannot_submit`` with reason 无提交入口 / 收不到验证码 / 注册失败 / 验证码 / 表单报错
   (``metrics["cannot_reason"]`` holds the bare term, as simweb's gold ``detail`` does);
3. ``no_progress`` (无法显示受理进度): the tracking page never showed our case;
4. ``no_reply`` (无回应): no reply although we looked after the reply window (N working days
   per case type) had passed; before that ``needs_review`` with reason 未到答复期限 — pending is
   not a failure;
5. ``not_solved`` (不能解决): the reply only forwards the case, only gives a phone number, only
   acknowledges it or restates it, or says it cannot be handled;
6. ``solved``.

Our own failures give ``tool_error``; an operator step that timed out, a form error that may
be our own typing, or a reply the rules cannot read give ``needs_review``. When in doubt the
hotline is not accused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import jieba

from hotline_audit.config import EffectivenessSettings
from hotline_audit.model import StageFailure, SubmissionObservation, Verdict, VerdictStatus
from hotline_audit.workdays import ExtraDays, add_workdays, china_date

from .throttling import blocked_verdict

CHECK = "effectiveness"
jieba.setLogLevel(logging.WARNING)

# -- receipts ------------------------------------------------------------------------------------

# Longest first, so 受理编号 wins over 编号 and 查询密码 over 密码.
NUMBER_LABELS = ("受理编号", "受理单号", "受理号码", "受理号", "工单编号", "工单号码", "工单号", "信件编号", "信件号",
                 "诉求编号", "诉求单号", "诉求号", "事项编号", "办件编号", "办件号", "业务编号", "留言编号", "来信编号",
                 "登记编号", "登记号", "流水号", "案件号", "单号", "编号")
CODE_LABELS = ("查询密码", "查询编码", "查询码", "提取码", "查询验证码", "密码")
_RECEIPT = re.compile(
    r"(?P<label>" + "|".join(sorted(NUMBER_LABELS + CODE_LABELS, key=len, reverse=True)) + r")"
    r"[\s:：]*(?:为|是)?[\s:：]*[【\[「“\"'（(]?\s*(?P<value>[A-Za-z0-9][A-Za-z0-9_-]{3,39})")


def parse_receipt(text: str) -> dict[str, str]:
    """Receipt ids from a receipt page's text: each label as the page words it, plus
    ``number`` (the case number) and ``code`` (the query/extraction code) for tracking.

    >>> parse_receipt("流水号：LS-260301-12345 提取码：k3m9qa")["code"]
    'k3m9qa'
    """
    found: dict[str, str] = {}
    for m in _RECEIPT.finditer(text):
        label, value = m["label"], m["value"]
        found.setdefault(label, value)
        key = "code" if label in CODE_LABELS else "number"
        found.setdefault(key, value)
    return found


# -- replies ---------------------------------------------------------------------------------

RESOLVED = ("已解决", "已修复", "已维修", "已更换", "已恢复", "恢复正常", "已清运", "已清理", "已拆除",
            "已整改", "整改完毕", "已取缔", "已疏通", "已修补", "已补装", "已退还", "已退款", "已退费",
            "已支付", "已发放", "已处理完毕", "处理完毕", "已落实", "已规范", "已停止", "已调整", "已开通")
# Done in the past tense: 已/已经/现已 … then a concrete act, within one clause.
DONE = re.compile(r"(?:已|已经|现已|均已)[^，。；！\n]{0,10}?(?:安排|派|责令|约谈|立案|处罚|查处|拆除|清理|"
                  r"维修|修复|修剪|更换|清运|疏通|整改|调解|处理|办理|恢复|补装|退还|支付|开展|督促)")
FORWARD = ("已转交", "已转办", "转交", "转办", "转至", "已移交", "职责范围", "不属于本", "非本单位",
           "请您直接与", "请直接与", "建议您向", "建议您咨询", "建议您到", "请您到", "请您向", "另行咨询",
           "自行协商", "通过法律途径", "向人民法院", "请咨询")
PHONE_REFERRAL = ("请拨打", "拨打", "联系电话", "咨询电话", "致电", "电话咨询", "电话联系")
PHONE_NUMBER = re.compile(r"(?<!\d)(?:0\d{2,3}-?\d{7,8}|1[3-9]\d{9}|12345|12333|12315|96\d{3,4})(?!\d)")
ACK = ("已收悉", "已收到", "感谢您的来信", "感谢您的反映", "感谢您对", "我们将尽快", "将尽快", "正在处理",
       "正在办理", "已登记", "已记录", "将及时", "会及时", "将进一步", "高度重视", "已受理")
ANSWER = ("可通过", "可以通过", "需携带", "需提供", "需要提供", "材料", "流程", "条件", "具体如下", "如下",
          "登录", "可在", "可前往", "办理时限", "工作日", "比例", "标准")
NEGATIVE = re.compile(r"(?:未|没有|尚未|暂未|无法|不能|未能|暂不|暂无法|不予)(?:能够|能|得到|予以)?"
                      r"(?:解决|处理|修复|维修|办理|受理|落实|恢复|退还|支持|答复)")
# Conditional clauses (如仍有疑问…, 如问题未解决…) say nothing about what was done.
CONDITIONAL = re.compile(r"(?:如|如果|若|倘若|假如)[^。；！\n]*")
STOPWORDS = frozenset("您 你 我们 反映 问题 收悉 感谢 来信 有关 相关 部门 情况 关于 已经 进行 工作 市民 "
                      "热线 平台 12345 支持 理解 的 了 和 是 在".split())


@dataclass
class ReplyAssessment:
    kind: str  # solved, refused, forwarded, phone_only, ack_only, restated, unclear
    confidence: float
    zh: str
    en: str
    signals: dict[str, list[str]] = field(default_factory=dict)


@cache
def _tokens(text: str) -> frozenset[str]:
    return frozenset(t for t in jieba.lcut(text)
                     if len(t) >= 2 and t not in STOPWORDS and not t.isdigit() and re.search(r"\w", t))


def assess_reply(text: str, keywords: list[str], submission: str = "", case_type: str | None = None,
                 title: str | None = None) -> ReplyAssessment:
    """What a reply amounts to. ``submission`` is what we wrote: words the reply merely echoes
    back from it are not evidence of action."""
    body = text.replace(title, "“”") if title else text  # the quoted title proves nothing
    body = CONDITIONAL.sub("", body)
    negative = NEGATIVE.findall(body)
    clean = NEGATIVE.sub("", body)
    resolved = [p for p in RESOLVED if p in clean]
    done = [d for d in DONE.findall(clean) if not re.search(r"转|移交", d)]  # 已转交…办理 is no act
    kw_new = [k for k in keywords if k in clean and k not in submission]
    answers = [p for p in ANSWER if p in clean]
    forward = [p for p in FORWARD if p in clean]
    phone = [p for p in PHONE_REFERRAL if p in clean] + PHONE_NUMBER.findall(clean)
    ack = [p for p in ACK if p in clean]
    reply_tokens = _tokens(clean)
    echoed = reply_tokens & _tokens(submission) if submission else frozenset()
    overlap = len(echoed) / len(reply_tokens) if reply_tokens else 0.0
    signals = {"resolved": resolved, "done": done, "keywords": kw_new, "answers": answers,
               "forward": forward, "phone": phone, "ack": ack, "negative": negative}

    def out(kind: str, confidence: float, zh: str, en: str) -> ReplyAssessment:
        return ReplyAssessment(kind, confidence, zh, en, signals)

    if negative and not resolved:
        return out("refused", 0.85, f"答复称{negative[0]}", f"the reply says it could not act ({negative[0]})")
    if resolved and (done or kw_new):
        return out("solved", 0.9, f"答复说明已处理并解决({'、'.join(resolved[:3])})",
                   f"the reply reports the problem handled ({', '.join(resolved[:3])})")
    if resolved:
        return out("solved", 0.8, f"答复称{resolved[0]}", f"the reply says {resolved[0]}")
    if done and kw_new:
        return out("solved", 0.8, f"答复说明已采取措施({'、'.join(kw_new[:3])})",
                   f"the reply reports action taken ({', '.join(kw_new[:3])})")
    if case_type in ("咨询", "建议") and len(kw_new) >= 2 and (answers or len(kw_new) >= 3) \
            and not (forward and len(kw_new) < 3):
        return out("solved", 0.8, f"答复具体解答了咨询内容({'、'.join(kw_new[:3])})",
                   f"the reply answers the question ({', '.join(kw_new[:3])})")
    if forward or phone:
        parts_zh = (["仅告知转交/由其他部门办理"] if forward else []) + (["仅提供联系电话"] if phone else [])
        parts_en = (["only forwards it to another body"] if forward else []) + (["only gives a phone number"] if phone else [])
        return out("forwarded" if forward else "phone_only", 0.85,
                   "答复" + "，".join(parts_zh) + "，未说明处理结果",
                   "the reply " + " and ".join(parts_en) + ", with no outcome")
    if overlap >= 0.5 and not done:
        return out("restated", 0.75, "答复仅复述所反映的问题，未说明处理措施和结果",
                   "the reply only restates the problem, with no action or outcome")
    if ack and not done:
        return out("ack_only", 0.75, "答复仅表示已收悉/将处理，未说明处理结果",
                   "the reply only acknowledges the case, with no outcome")
    return out("unclear", 0.4, "答复内容无法自动判断是否解决", "the reply cannot be judged automatically")


# -- the verdict ---------------------------------------------------------------------------------

# Stage order: a code that never comes is why registration fails, not the other way round.
STAGES = (
    ("entry", "entry_found", "无提交入口", "no submission entry"),
    ("sms", "sms_code_received", "收不到验证码", "the SMS code never arrived"),
    ("register", "registered", "注册失败", "registration failed"),
    ("login", "logged_in", "注册失败", "login with the new account failed"),
    ("captcha", "captcha_solved", "验证码", "the captcha could not be passed"),
    ("form", "form_accepted", "表单报错", "the form was rejected"),
)
# Messages that blame what was typed: possibly our journey's fault, so a person looks.
VALIDATION = re.compile(r"请填写|请输入|请选择|不能为空|格式不正确|格式有误|不少于|不能少于|必填")


def reply_window(case_type: str | None, settings: EffectivenessSettings) -> int:
    """Working days allowed for a reply; an unknown type gets the longest window."""
    days = settings.reply_workdays
    return days.get(case_type or "", max(days.values(), default=15))


def reply_due(submitted: date, case_type: str | None, settings: EffectivenessSettings) -> date:
    """The last day of the reply window, in working days from the China date of submission."""
    extra = ExtraDays.of(settings.holidays, settings.makeup_workdays)
    return add_workdays(submitted, reply_window(case_type, settings), extra)


def judge_effectiveness(obs: SubmissionObservation | None, settings: EffectivenessSettings) -> Verdict:
    """The verdict by the rules below; a problem found while the hotline's sites throttled us
    is needs_review (checks/throttling.py)."""
    return blocked_verdict(_judge(obs, settings), obs.throttles if obs else [])


def _judge(obs: SubmissionObservation | None, settings: EffectivenessSettings) -> Verdict:
    windows = "、".join(f"{k}{v}个工作日" for k, v in settings.reply_workdays.items())
    rule = (f"依次判定: 无提交入口/收不到验证码/注册失败/验证码/表单报错为无法提交; 查询页不显示办理进度为"
            f"无法显示受理进度; 答复期限({windows})届满后仍无答复为无回应; 答复仅转办、仅给电话、"
            f"仅复述或仅表示收悉为不能解决")
    hid = obs.hotline_id if obs else ""

    def verdict(status: VerdictStatus, zh: str, en: str, confidence: float = 1.0,
                extra: list[str] | None = None, **metrics: object) -> Verdict:
        evidence = list(obs.evidence) if obs else []
        evidence += [e for e in extra or [] if e and e not in evidence]
        return Verdict(hotline_id=hid, check=CHECK, verdict=status, reason=zh, reason_en=en,
                       confidence=confidence, rule=rule, evidence=evidence, metrics=metrics)  # type: ignore[arg-type]

    if obs is None:
        return verdict(VerdictStatus.tool_error, "未采集到观测数据", "no observation was gathered")
    if obs.tool_error:
        return verdict(VerdictStatus.tool_error, f"检测工具故障: {obs.tool_error}",
                       f"our tooling failed: {obs.tool_error}")
    if obs.channel is None and not obs.url:
        return verdict(VerdictStatus.no_channel, "未发现网站或H5提交渠道", "no website or H5 page to submit on")

    for stage, flag, reason, reason_en in STAGES:
        if getattr(obs, flag) is False:
            return _stage_verdict(obs, stage, reason, reason_en, verdict)
    if obs.form_accepted is not True:
        return verdict(VerdictStatus.needs_review, "未完成提交(未实际提交或流程中断)，无法判断",
                       "the submission was not completed (not allowed, or the flow stopped)", 0.5,
                       stage="submit")
    if obs.filing is None:
        # What follows (no progress, no reply, not solved) accuses the hotline of dropping a
        # case: only a case proven to have reached it can be dropped.
        return verdict(VerdictStatus.needs_review, "提交未经证实：未记录到送达网站的提交请求及其后的回执，需人工复核",
                       "the filing is not proven: no submitting request and receipt after it is on record", 0.5,
                       stage="submit")
    return _after_submission(obs, settings, verdict)


Build = Callable[..., Verdict]  # judge_effectiveness's local verdict() builder


# Stages where the site refuses an answer we sent: its refusal must follow a request of ours
# (the network log), or it may be the page's own script refusing our typing.
REQUEST_STAGES = ("register", "login", "captcha", "form")


def _request_evidence(failure: StageFailure) -> list[str]:
    r = failure.request
    return [r.har] if r is not None and r.har else []


def _request_words(failure: StageFailure | None) -> tuple[str, str]:
    """The cited request, as the reason says it (zh, en)."""
    r = failure.request if failure else None
    if r is None:
        return "", ""
    status = f"HTTP {r.status}" if r.status is not None else (r.failure or "无应答")
    return f"（提交请求 {r.method} {r.url} → {status}）", f" (request {r.method} {r.url} -> {status})"


def _entry_metric(obs: SubmissionObservation) -> dict[str, object]:
    return {"entry_via": obs.entry_via} if obs.entry_via else {}


def _stage_verdict(obs: SubmissionObservation, stage: str, reason: str, reason_en: str,
                   verdict: Build) -> Verdict:
    fails: list[StageFailure] = [f for f in obs.failures if f.stage == stage]
    shots = [f.screenshot for f in fails if f.screenshot]
    metrics: dict[str, object] = {"stage": stage, **_entry_metric(obs)}
    review = [f for f in fails if f.review]
    if review:
        return verdict(VerdictStatus.needs_review, f"{review[-1].message}", f"{stage}: not proven whose failure "
                       f"it is ({review[-1].message})", 0.5, shots + _request_evidence(review[-1]), **metrics)
    site = [f for f in fails if f.side == "site" and not f.operator_timeout]
    unproven = [f for f in site if stage in REQUEST_STAGES and f.request is None]
    if unproven and len(unproven) == len(site):
        return verdict(VerdictStatus.needs_review, f"页面提示“{unproven[-1].message}”，但未记录到网站拒绝的提交请求，需人工复核",
                       f"{stage}: the page refused ({unproven[-1].message}) but no request of ours is on record",
                       0.5, shots, **metrics)
    site = [f for f in site if f not in unproven]
    detail = next((f.message for f in site if f.message), None) or next(iter(obs.error_texts), "")
    cited = next((f for f in reversed(site) if f.request is not None), None)
    if cited is not None:
        metrics["request"] = f"{cited.request.method} {cited.request.url} {cited.request.status}"  # type: ignore[union-attr]
    shots += _request_evidence(cited) if cited else []
    if stage == "form" and site and all(VALIDATION.search(f.message or "") for f in site):
        return verdict(VerdictStatus.needs_review, f"表单提示填写有误({detail})，可能是检测工具填写不当，需人工复核",
                       f"the form complained about our input ({detail}): may be our fault", 0.5, shots, **metrics)
    if site:
        confidence = 0.9
        if stage == "captcha" and obs.captcha_solver == "ocr":
            confidence = 0.7  # OCR answers can be wrong; a person's rejected answer is stronger
        if stage == "entry" and not any(f.message and "无法访问" in f.message for f in site):
            confidence = 0.8  # we may have missed a link a person would find
        req_zh, req_en = _request_words(cited)
        zh = f"无法提交（{reason}）" + (f"：{detail}" if detail else "") + req_zh
        return verdict(VerdictStatus.cannot_submit, zh,
                       f"cannot submit: {reason_en}" + (f" ({detail})" if detail else "") + req_en,
                       confidence, shots, cannot_reason=reason, **metrics)
    if not fails:
        # A stage marked failed with nothing on record: no evidence to hold against anyone.
        return verdict(VerdictStatus.needs_review, f"{reason}环节未完成，但没有记录到网站的拒绝，需人工复核",
                       f"{stage} did not complete, and no refusal by the site is on record", 0.5, shots, **metrics)
    if any(f.operator_timeout for f in fails) or obs.needs_operator:
        return verdict(VerdictStatus.needs_review, f"{reason}环节需要人工操作但无人响应(超时或批处理模式)",
                       f"{stage}: a person was needed and none answered", 0.5, shots, **metrics)
    detail = fails[0].message
    return verdict(VerdictStatus.tool_error, f"检测工具故障({stage}): {detail}", f"our tooling failed at {stage}: {detail}",
                   1.0, shots, **metrics)


def _after_submission(obs: SubmissionObservation, settings: EffectivenessSettings,
                      verdict: Build) -> Verdict:
    submitted = obs.submitted_at or obs.observed_at
    day = china_date(submitted)
    window = reply_window(obs.case_type, settings)
    due = reply_due(day, obs.case_type, settings)
    metrics: dict[str, object] = {"submitted": day.isoformat(), "case_type": obs.case_type,
                                  "reply_workdays": window, "due_date": due.isoformat(),
                                  "case_number": obs.receipt.get("number"), **_entry_metric(obs)}
    filing = obs.filing
    assert filing is not None
    request = filing.request
    metrics["filed_by"] = (f"{request.method} {request.url} {request.status}" if filing.kind == "request" and request
                           else f"{filing.kind}: {filing.said or ''}")
    site_checks = [c for c in obs.progress if c.side == "site" and not c.review]
    # The filing first: every verdict from here on says the case reached the hotline.
    shots = ([request.har] if request and request.har else []) + [c.screenshot for c in obs.progress if c.screenshot]

    if not obs.replies and not any(c.shown for c in site_checks):
        if site_checks:
            last = max(site_checks, key=lambda c: c.checked_at)
            late = china_date(last.checked_at) > day
            text = next((c.status_text for c in reversed(site_checks) if c.status_text), None)
            return verdict(VerdictStatus.no_progress,
                           f"查询页面不显示受理进度(查询{len(site_checks)}次" + (f"，页面显示“{text}”" if text else "") + ")",
                           f"the tracking page showed no progress ({len(site_checks)} checks)",
                           0.9 if late else 0.75, shots, **metrics)
        unread = [c for c in obs.progress if c.review]
        if unread:
            text = unread[-1].status_text or "查询结果页面既未显示该件，也未提示查无此件"
            return verdict(VerdictStatus.needs_review, f"无法确认受理进度({text})，需人工复核",
                           f"progress could not be established ({text}): a person must look", 0.5, shots,
                           **metrics)
        if obs.progress:
            return verdict(VerdictStatus.tool_error, f"查询进度时检测工具故障: {obs.progress[-1].error}",
                           f"our tooling failed while tracking: {obs.progress[-1].error}", 1.0, shots, **metrics)
        return verdict(VerdictStatus.needs_review, "已提交但尚未查询受理进度", "submitted, progress not yet checked",
                       0.5, shots, **metrics)

    if not obs.replies:
        looked = [c.checked_at for c in site_checks]
        last_look = china_date(max(looked))
        metrics["last_checked"] = last_look.isoformat()
        if last_look > due:
            return verdict(VerdictStatus.no_reply,
                           f"提交后超过答复期限({window}个工作日，截止{due.isoformat()})仍无答复，最后查询于{last_look.isoformat()}",
                           f"no reply {window} working days after submission (due {due}), last checked {last_look}",
                           0.9, shots, **metrics)
        tool_after = [c for c in obs.progress if c.side == "tool" and china_date(c.checked_at) > due]
        if tool_after:
            return verdict(VerdictStatus.tool_error, f"答复期限后复查失败: {tool_after[-1].error}",
                           f"the recheck after the deadline failed: {tool_after[-1].error}", 1.0, shots, **metrics)
        return verdict(VerdictStatus.needs_review, f"未到答复期限(截止{due.isoformat()})，暂无答复",
                       f"no reply yet, not yet due (due {due})", 0.5, shots, **metrics)

    submission = f"{obs.title or ''}{obs.body or ''}"
    judged = [assess_reply(r.text, obs.keywords, submission, obs.case_type, obs.title) for r in obs.replies]
    replied = [r.replied_at or r.seen_at for r in obs.replies]
    metrics["reply_date"] = china_date(min(replied)).isoformat()
    late = china_date(min(replied)) > due
    metrics["reply_late"] = int(late)
    suffix_zh = "（超期答复）" if late else ""
    best = next((a for a in judged if a.kind == "solved"), judged[-1])
    if best.kind == "solved":
        return verdict(VerdictStatus.solved, best.zh + suffix_zh, best.en, best.confidence, shots, **metrics)
    if best.kind == "unclear":
        return verdict(VerdictStatus.needs_review, best.zh + "，需人工复核", best.en, best.confidence, shots, **metrics)
    metrics["reply_kind"] = best.kind
    return verdict(VerdictStatus.not_solved, best.zh + suffix_zh, best.en, best.confidence, shots, **metrics)
