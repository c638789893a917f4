"""The stability check as a pure function: observations in, verdict out, no browser."""

from datetime import UTC, datetime, timedelta

from checks.stability import judge_stability
from hotline_audit.config import StabilityRules
from hotline_audit.model import PageLoad, Probe, StabilityObservation

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
RULES = StabilityRules()


def probe(ok=True, ms=40.0, kind=None, side="site", status=200):
    return Probe(started_at=NOW, elapsed_ms=ms, ok=ok, error_kind=kind, side=side,
                 status=status if ok or kind == "http_status" else None)


def load(ok=True, side="site", kind=None, newest="2026-11-22", text=2000, bad=0, load_ms=300.0):
    return PageLoad(url="http://x.gov.cn.test/", started_at=NOW, ok=ok, side=side, error_kind=kind,
                    error=None if ok else f"{kind} error", status=200 if ok else None, text_chars=text,
                    replacement_chars=bad, newest_date=newest, load_ms=load_ms, screenshot="evidence/x/stability/homepage.png")


def obs(probes, page_load, website="http://x.gov.cn.test/"):
    return StabilityObservation(hotline_id="x", website=website, observed_at=NOW, probes=probes, page_load=page_load)


def test_healthy_site_is_ok_with_evidence():
    v = judge_stability(obs([probe()] * 20, load()), RULES)
    assert v.verdict == "ok"
    assert v.evidence == ["evidence/x/stability/homepage.png"]
    assert v.metrics["failures"] == 0 and v.metrics["attempts"] == 21
    assert "5%" in v.rule


def test_no_website_is_no_channel():
    assert judge_stability(obs([], None, website=None), RULES).verdict == "no_channel"


def test_census_rule_five_percent_is_down():
    # 2 of 21 attempts (9.5%) fail: at or above 5% means unreachable.
    probes = [probe()] * 18 + [probe(False, kind="timeout", ms=15000)] * 2
    v = judge_stability(obs(probes, load()), RULES)
    assert v.verdict == "down"
    assert "超时2次" in v.reason and "timeout x2" in v.reason_en


def test_one_failure_in_21_stays_below_the_rule():
    probes = [probe()] * 19 + [probe(False, kind="http_status", status=502)]
    v = judge_stability(obs(probes, load()), RULES)
    assert v.verdict == "ok"
    assert "低于阈值" in v.reason


def test_everything_failing_is_down():
    probes = [probe(False, kind="redirect_loop")] * 20
    v = judge_stability(obs(probes, load(ok=False, kind="redirect_loop")), RULES)
    assert v.verdict == "down" and "重定向循环21次" in v.reason


def test_proxy_down_is_tool_error_never_down():
    probes = [probe(False, kind="proxy_unreachable", side="tool")] * 20
    v = judge_stability(obs(probes, load(ok=False, side="tool", kind="proxy")), RULES)
    assert v.verdict == "tool_error"


def test_browser_crash_with_good_probes_is_tool_error():
    v = judge_stability(obs([probe()] * 20, load(ok=False, side="tool", kind="browser")), RULES)
    assert v.verdict == "tool_error"


def test_tool_failures_do_not_dilute_or_inflate_the_share():
    # Half the probes failed on our side; of the site's 11 attempts none failed.
    probes = [probe()] * 10 + [probe(False, kind="proxy_unreachable", side="tool")] * 10
    v = judge_stability(obs(probes, load()), RULES)
    assert v.verdict == "ok" and v.metrics["attempts"] == 11 and v.metrics["tool_failures"] == 10


def test_browser_fails_but_probes_fine_needs_review():
    v = judge_stability(obs([probe()] * 20, load(ok=False, kind="timeout")), RULES)
    assert v.verdict == "needs_review" and v.confidence < 1


def test_slow_probes_and_a_browser_timeout_is_degraded():
    # simweb seed 7: probes' median 8.8 s, then the browser gave up at 15 s. The probes prove
    # the slowness; the timeout is that slowness as a citizen meets it, not a doubt.
    page = load(ok=False, kind="timeout").model_copy(update={"elapsed_ms": 15012.0})
    v = judge_stability(obs([probe(ms=8800)] * 20, page), RULES)
    assert v.verdict == "degraded" and v.confidence == 1
    assert "探测中位耗时8.8秒" in v.reason and "超时" in v.reason
    assert "median probe 8.8 s" in v.reason_en and "timed out after 15.0 s" in v.reason_en
    assert v.metrics["median_probe_ms"] == 8800 and v.metrics["failures"] == 1


def test_fast_probes_and_a_browser_timeout_still_needs_review():
    v = judge_stability(obs([probe(ms=2900)] * 20, load(ok=False, kind="timeout")), RULES)
    assert v.verdict == "needs_review"


def test_slow_probes_and_another_browser_failure_still_needs_review():
    # Slowness does not explain a refused or broken page load: a person looks.
    v = judge_stability(obs([probe(ms=8800)] * 20, load(ok=False, kind="http_status")), RULES)
    assert v.verdict == "needs_review"


def test_browser_timeout_on_our_side_is_never_degraded():
    v = judge_stability(obs([probe(ms=8800)] * 20, load(ok=False, side="tool", kind="timeout")), RULES)
    assert v.verdict == "tool_error"


def test_slow_site_is_degraded():
    v = judge_stability(obs([probe(ms=7200)] * 20, load(load_ms=7600)), RULES)
    assert v.verdict == "degraded" and "访问缓慢" in v.reason


def test_slow_browser_load_alone_is_degraded():
    v = judge_stability(obs([probe()] * 20, load(load_ms=12500)), RULES)
    assert v.verdict == "degraded" and "页面加载缓慢" in v.reason


def test_garbled_text_is_degraded():
    v = judge_stability(obs([probe()] * 20, load(text=1000, bad=250)), RULES)
    assert v.verdict == "degraded" and "乱码" in v.reason


def test_a_few_replacement_characters_are_tolerated():
    assert judge_stability(obs([probe()] * 20, load(text=5000, bad=3)), RULES).verdict == "ok"


def test_stale_homepage_is_degraded_with_lower_confidence():
    newest = (NOW - timedelta(days=30)).date().isoformat()
    v = judge_stability(obs([probe()] * 20, load(newest=newest)), RULES)
    assert v.verdict == "degraded" and v.confidence < 1
    assert v.metrics["newest_age_days"] == 30 and "30天未更新" in v.reason


def test_fourteen_days_is_not_yet_stale():
    newest = (NOW - timedelta(days=14)).date().isoformat()
    assert judge_stability(obs([probe()] * 20, load(newest=newest)), RULES).verdict == "ok"


def test_page_age_counts_in_china_days_after_utc_evening():
    # 17:00 UTC is already 01:00 the next day in China, where the page's dates are written.
    late = NOW.replace(hour=17)
    page = load(newest="2026-11-04").model_copy(update={"started_at": late})
    v = judge_stability(obs([probe()] * 20, page), RULES)
    assert v.metrics["newest_age_days"] == 20


def test_no_dates_found_is_not_held_against_the_site():
    assert judge_stability(obs([probe()] * 20, load(newest=None)), RULES).verdict == "ok"


def test_rules_come_from_config():
    strict = StabilityRules(slow_median_ms=30)
    assert judge_stability(obs([probe(ms=40)] * 20, load()), strict).verdict == "degraded"
