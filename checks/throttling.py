"""Blocked is our problem until proven otherwise (issue 18).

A site that rate-limited us or put its firewall in front of us (hotline_audit/politeness.py:
429, 503 with Retry-After, "访问过于频繁", a slider asking whether we are human) answered *us*,
an automated visitor, not a citizen. Whatever a check could not see because of that is no
evidence against the hotline: a problem verdict reached while the hotline's hosts throttled
us becomes ``needs_review``, with reason code ``rate_limited`` or ``waf_blocked`` and the
throttling answers as its evidence. Positive verdicts stand (the site worked when it let us in).
"""

from __future__ import annotations

from collections.abc import Sequence

from hotline_audit.model import ThrottleSeen, Verdict, VerdictStatus
from hotline_audit.politeness import THROTTLE_REASONS

# Verdicts that accuse the hotline of something.
PROBLEMS = frozenset({
    VerdictStatus.down, VerdictStatus.degraded, VerdictStatus.nowhere_to_search,
    VerdictStatus.inaccurate_search, VerdictStatus.cannot_submit, VerdictStatus.no_progress,
    VerdictStatus.no_reply, VerdictStatus.not_solved,
})
SHOWN = 3  # throttling answers named in a reason


def throttle_code(throttles: Sequence[ThrottleSeen]) -> str:
    """waf_blocked when a firewall blocked us at least once, else rate_limited."""
    return "waf_blocked" if any(t.kind == "waf_blocked" for t in throttles) else "rate_limited"


def describe(throttles: Sequence[ThrottleSeen]) -> tuple[str, str]:
    """(Chinese, English) list of the first throttling answers: host, time, status."""
    def one(t: ThrottleSeen, zh: bool) -> str:
        when = t.at.astimezone().strftime("%H:%M:%S")
        status = f"HTTP {t.status}" if t.status else ("拦截页" if zh else "block page")
        return f"{t.host} {when} {status}"

    first = list(throttles)[:SHOWN]
    more_zh = f"等{len(throttles)}次" if len(throttles) > SHOWN else f"共{len(throttles)}次"
    more_en = f" and {len(throttles) - SHOWN} more" if len(throttles) > SHOWN else ""
    return ("; ".join(one(t, True) for t in first) + f"({more_zh})",
            "; ".join(one(t, False) for t in first) + more_en)


def blocked_verdict(verdict: Verdict, throttles: Sequence[ThrottleSeen]) -> Verdict:
    """``verdict`` itself when it accuses nobody or nothing throttled us; else needs_review
    saying what the check would have concluded, and why that cannot stand."""
    if verdict.verdict not in PROBLEMS or not throttles:
        return verdict
    code = throttle_code(throttles)
    zh_kind, en_kind = THROTTLE_REASONS[code]
    listed_zh, listed_en = describe(throttles)
    metrics = {**verdict.metrics, "reason_code": code, "throttles": len(throttles),
               "would_be": verdict.verdict.value}
    return verdict.model_copy(update={
        "verdict": VerdictStatus.needs_review,
        "reason": f"检测期间{zh_kind}({listed_zh}); 被拦截不能算作热线的问题, 原判断“{verdict.reason}”需人工复核",
        "reason_en": f"{en_kind} during the check ({listed_en}); a block is not the hotline's failure, "
                     f"so '{verdict.reason_en}' is left to a person",
        "confidence": 0.5,
        "metrics": metrics,
    })
