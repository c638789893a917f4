"""The shared data model: what journeys observe and what checks conclude.

Observations are facts with timings and evidence paths; verdicts are judgements over them.
Both are plain pydantic models so they travel through the store as JSON unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class VerdictStatus(StrEnum):
    """The verdict vocabulary shared by checks, scores and reports (DESIGN §2)."""

    ok = "ok"
    degraded = "degraded"
    down = "down"
    nowhere_to_search = "nowhere_to_search"
    inaccurate_search = "inaccurate_search"
    cannot_submit = "cannot_submit"
    no_progress = "no_progress"
    no_reply = "no_reply"
    not_solved = "not_solved"
    solved = "solved"
    no_channel = "no_channel"
    needs_review = "needs_review"
    tool_error = "tool_error"


# The report's own Chinese terms, kept visible in every output.
VERDICT_LABELS_ZH: dict[str, str] = {
    "ok": "正常",
    "degraded": "访问异常",
    "down": "无法访问",
    "nowhere_to_search": "无处查",
    "inaccurate_search": "查不准",
    "cannot_submit": "无法提交",
    "no_progress": "无法显示受理进度",
    "no_reply": "无回应",
    "not_solved": "不能解决",
    "solved": "已解决",
    "no_channel": "无渠道",
    "needs_review": "需人工复核",
    "tool_error": "工具故障",
}

# Which side a failure belongs to: the hotline's site, or our own tooling (browser, proxy).
# Only "site" failures may count against a hotline.
Side = Literal["site", "tool"]


class Hotline(BaseModel):
    """One row of a registry."""

    hotline_id: str
    name: str
    province: str
    city: str
    tier: str | None = None
    merge_mode: str | None = None
    website: str | None = None
    gov_portal: str | None = None  # the city government portal, to find a website not listed
    h5: str | None = None  # a WeChat H5 site (hotlines that have no website of their own)
    wechat: str | None = None
    mini_program: str | None = None
    app: str | None = None
    weibo: str | None = None


class Channel(BaseModel):
    """An entry point of a hotline, with where it was found (provenance)."""

    hotline_id: str
    kind: str
    value: str
    found_on: str
    element: str | None = None
    text: str | None = None
    excerpt: str | None = None


class Probe(BaseModel):
    """One plain HTTP GET of a website."""

    started_at: datetime
    elapsed_ms: float
    status: int | None = None
    ok: bool
    error_kind: str | None = None  # timeout, connect, redirect_loop, http_status, challenge, ...
    error: str | None = None
    side: Side = "site"
    final_url: str | None = None
    bytes: int = 0
    retry_after_s: float | None = None  # what a throttling answer asked us to wait


class PageLoad(BaseModel):
    """One full page load in Chromium, as a citizen's browser would do it."""

    url: str
    started_at: datetime
    ok: bool
    status: int | None = None
    final_url: str | None = None
    error_kind: str | None = None
    error: str | None = None
    side: Side = "site"
    elapsed_ms: float | None = None
    ttfb_ms: float | None = None
    dom_content_loaded_ms: float | None = None
    load_ms: float | None = None
    navigations: list[int] = Field(default_factory=list, description="main-frame statuses seen")
    title: str | None = None
    text_chars: int = 0
    replacement_chars: int = 0
    dates_found: int = 0
    newest_date: str | None = None  # ISO date of the newest dated item on the page
    console_errors: list[str] = Field(default_factory=list)
    failed_requests: list[str] = Field(default_factory=list)
    screenshot: str | None = None  # path relative to the round directory
    # What the page did to the browser (journeys/pageload.py PAGE_FAULTS): "unresponsive" (its
    # scripts never let go), "dialog_loop", "refresh_loop", "private_address" (it sent the
    # browser into the auditor's network, refused), "oversize" (cut at the size limit).
    fault: str | None = None
    dialogs: int = Field(0, description="alert/confirm/prompt dialogs the page opened (dismissed)")
    popups: int = Field(0, description="windows the page opened (closed with the visit)")
    refused: list[str] = Field(default_factory=list, description="requests refused: auditor's network")
    # Whether our browser loaded a control page right after this page misbehaved: only then is
    # the misbehaviour the site's (None: no control was needed).
    control_ok: bool | None = None
    # A throttling answer instead of the page (hotline_audit/politeness.py classify):
    # "rate_limited" or "waf_blocked"; the page then says nothing about the site.
    throttle: str | None = None
    paced_ms: float | None = Field(
        None, description="time our politeness budget held the page's requests back; "
        "already taken out of elapsed_ms")


class ThrottleSeen(BaseModel):
    """A throttling answer a site gave one of our components during a check: the evidence
    that a block was the site's reaction to us, not a failure of the hotline."""

    host: str
    at: datetime
    kind: str  # rate_limited, waf_blocked
    status: int | None = None
    url: str
    component: str  # crawl, probe, browser
    retry_after_s: float | None = None
    waited_s: float = 0.0


class TlsFacts(BaseModel):
    """The site's TLS connection and leaf certificate, seen once per round (facts, no verdict).

    The certificate is read with verification off, so a broken chain still shows who issued
    it; ``verified`` and ``hostname_matches`` are then decided separately."""

    url: str
    observed_at: datetime = Field(default_factory=utcnow)
    tls: bool  # False: the site is served over plain http, nothing else below applies
    host: str | None = None
    port: int | None = None
    via_proxy: bool = False
    elapsed_ms: float | None = None
    handshake_ok: bool | None = None
    error_kind: str | None = None  # tls_alert, tls_error, timeout, connect, proxy_refused, ...
    error: str | None = None
    alert: str | None = None  # the TLS alert the server sent, e.g. handshake_failure
    side: Side = "site"
    protocol: str | None = None  # e.g. TLSv1.3
    cipher: str | None = None
    subject_cn: str | None = None
    subject: str | None = None  # RFC 4514
    issuer: str | None = None  # RFC 4514
    issuer_cn: str | None = None
    sans: list[str] = Field(default_factory=list)
    serial_number: str | None = None  # hex
    not_before: datetime | None = None  # UTC
    not_after: datetime | None = None  # UTC
    sha256: str | None = None  # of the leaf certificate's DER, lowercase hex
    days_to_expiry: int | None = None  # at observed_at; negative once expired
    verified: bool | None = None  # against the system trust store; None: could not tell
    verify_error: str | None = None  # OpenSSL's reason, e.g. "self-signed certificate"
    hostname_matches: bool | None = None


class StabilityObservation(BaseModel):
    hotline_id: str
    website: str | None
    observed_at: datetime = Field(default_factory=utcnow)
    proxy: str | None = None
    probes: list[Probe] = Field(default_factory=list)
    page_load: PageLoad | None = None
    tls: TlsFacts | None = None  # None in rounds stored before TLS facts were recorded
    tool_error: str | None = None  # the journey itself failed before observing
    throttles: list[ThrottleSeen] = Field(default_factory=list)


class EvidenceFile(BaseModel):
    """A file a journey saved as evidence; ``path`` is relative to the round directory."""

    hotline_id: str
    check: str
    path: str
    sha256: str
    bytes: int
    media_type: str
    created_at: datetime = Field(default_factory=utcnow)


class Verdict(BaseModel):
    hotline_id: str
    check: str
    verdict: VerdictStatus
    reason: str  # Chinese, for the auditor and the city
    reason_en: str
    confidence: float = Field(ge=0, le=1)
    rule: str = ""  # the rule and thresholds applied, shown beside the verdict
    evidence: list[str] = Field(default_factory=list)
    metrics: dict[str, float | int | str | None] = Field(default_factory=dict)


# -- findability (信息可得性) ------------------------------------------------------------------

FindVia = Literal["search", "knowledge_base", "robot"]
AttemptOutcome = Literal["results", "no_results", "error", "timeout", "blocked"]


class SearchHit(BaseModel):
    """One result as a citizen sees it on the results page (or the robot's answer)."""

    title: str
    snippet: str = ""
    url: str = ""
    date: str | None = None  # as shown next to the result, if any


class EntryPoint(BaseModel):
    """A way to look something up, as reached from the homepage."""

    via: FindVia
    url: str
    clicks: int | None = None  # clicks from the homepage; None when not linked from it
    reachable: bool = False
    error: str | None = None
    side: Side = "site"
    screenshot: str | None = None


class QueryAttempt(BaseModel):
    """One question typed into one entry point, and what came back."""

    question_id: str
    query: str
    via: FindVia
    entry_url: str
    outcome: AttemptOutcome
    side: Side = "site"
    reason: str | None = None  # what went wrong, in words (alert text, HTTP status, ...)
    results_url: str | None = None
    hits: list[SearchHit] = Field(default_factory=list)
    unreadable: bool = False  # results shown, but their text could not be read (images, canvas)
    browsed: bool = False  # a list read through (a knowledge base without a box), not a search
    elapsed_ms: float | None = None
    screenshots: list[str] = Field(default_factory=list)


class FindabilityObservation(BaseModel):
    hotline_id: str
    website: str | None
    h5: str | None = None  # the WeChat H5 site looked at too (an internet channel of its own)
    observed_at: datetime = Field(default_factory=utcnow)
    entry_points: list[EntryPoint] = Field(default_factory=list)
    attempts: list[QueryAttempt] = Field(default_factory=list)
    # The homepage could not be read (its error): whether an entry is linked from it is unknown.
    home_error: str | None = None
    # The homepage was cut at the size limit (network.max_page_mb): only its beginning was read,
    # so an entry not found on it is not shown to be missing.
    home_cut: bool = False
    tool_error: str | None = None  # the journey itself failed before observing
    throttles: list[ThrottleSeen] = Field(default_factory=list)


# -- service effectiveness (服务有效性) ---------------------------------------------------------

SubmitStage = Literal["entry", "register", "sms", "login", "captcha", "form"]


class NetRequest(BaseModel):
    """A request the journey's press sent, as evidence: method, address without its query,
    the answer's status, which of our typed values it carried. Never its body (the persona)."""

    method: str
    url: str
    status: int | None = None
    failure: str | None = None  # the browser's reason when no answer came
    resource_type: str = ""
    sent_at: datetime | None = None
    fields: list[str] = Field(default_factory=list)  # our values it carried: title, content …
    har: str | None = None  # the HAR file that holds the whole exchange


class FilingProof(BaseModel):
    """Why we hold a case as filed: our submitting request, answered 2xx/3xx, followed by a
    receipt or success message that was not on the page before (``request``); or the site
    listing our case under our account or phone (``listed``)."""

    kind: Literal["request", "listed"]
    request: NetRequest | None = None
    said: str | None = None  # the receipt or success text that followed (redacted, short)
    said_in: Literal["response", "page", "list"] | None = None


class StageFailure(BaseModel):
    """One thing that went wrong on the way to a submission, and whose fault it was."""

    stage: SubmitStage
    side: Side = "site"
    message: str = ""  # the error text the page showed, or what our tool hit
    operator_timeout: bool = False  # a person was needed (SMS code, captcha) and none answered
    screenshot: str | None = None
    # The request whose answer refused us (a site's refusal must follow a request we sent).
    request: NetRequest | None = None
    # Neither side's failing is proven (e.g. the page changed, but nothing was sent): a person looks.
    review: bool = False


class ProgressCheck(BaseModel):
    """One look at the tracking page (查询办理进度) for our case."""

    checked_at: datetime
    url: str | None = None
    shown: bool  # the page showed our case's handling status
    status_text: str | None = None  # e.g. 已受理 / 办理中 / 已办结, or the page's "no result" text
    side: Side = "site"  # "tool": we could not look (proxy, browser), so it says nothing
    error: str | None = None
    screenshot: str | None = None
    # The look proves nothing either way (no tracking entry found, a result page we could not
    # read): a person looks, and it never counts as "no progress shown".
    review: bool = False


class ReplyRecord(BaseModel):
    """The hotline's answer to our case, as shown on the tracking page (or sent by SMS)."""

    text: str
    replied_at: datetime | None = None  # the date the page gives for the reply
    seen_at: datetime
    source: str = "track"  # track, sms, mine (我的诉求)


class SubmissionObservation(BaseModel):
    """Everything the submission journey and its rechecks saw for one hotline. Stage flags are
    None when the stage was not reached or not needed (no login, no captcha)."""

    hotline_id: str
    observed_at: datetime = Field(default_factory=utcnow)
    channel: Literal["website", "h5"] | None = None  # None: no internet channel to test
    url: str | None = None  # the submission page
    scenario_id: str | None = None
    case_type: str | None = None  # 咨询 / 投诉 / 求助 / 建议
    title: str | None = None
    body: str | None = None
    keywords: list[str] = Field(default_factory=list)  # the scenario's, kept with the case
    entry_found: bool = False
    # How the submission page was found: discovery's channel, a homepage link's words, a column
    # page holding the form — what a disputed 无提交入口 or a wrong page is checked against.
    entry_via: str | None = None
    needs_login: bool | None = None
    registered: bool | None = None
    sms_code_received: bool | None = None
    logged_in: bool | None = None
    captcha_present: bool | None = None
    captcha_solved: bool | None = None  # the site accepted our captcha answer
    captcha_solver: str | None = None  # ocr, operator
    captcha_attempts: int = 0
    form_accepted: bool | None = None
    filing: FilingProof | None = None  # the evidence that the case reached the site
    submitted_at: datetime | None = None
    error_texts: list[str] = Field(default_factory=list)
    failures: list[StageFailure] = Field(default_factory=list)
    receipt: dict[str, str] = Field(default_factory=dict)  # parse_receipt() of the receipt page
    receipt_text: str | None = None
    progress: list[ProgressCheck] = Field(default_factory=list)
    replies: list[ReplyRecord] = Field(default_factory=list)
    needs_operator: bool = False  # some step waited for a person who did not answer
    tool_error: str | None = None  # the journey itself failed before observing
    evidence: list[str] = Field(default_factory=list)
    throttles: list[ThrottleSeen] = Field(default_factory=list)
