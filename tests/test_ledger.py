"""The case ledger (no browser): its state machine, compare-and-set, deadlines; and the pure
parts of the submission journey (submission gate, crash hook, reading progress and lists)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hotline_audit.config import load_settings
from hotline_audit.ledger import (
    FAILED,
    INTENT,
    PLANNED,
    SUBMITTED,
    UNKNOWN,
    Ledger,
    LedgerConflict,
    LedgerError,
    persona_key,
)
from hotline_audit.model import Hotline, SubmissionObservation, Verdict, VerdictStatus
from hotline_audit.personas import Persona, fake_persona
from hotline_audit.scenarios import get_scenario
from hotline_audit.store import Store
from journeys.effectiveness import (
    _may_press,
    _read_progress,
    _receipt_from_rows,
    is_sandbox_url,
    submissions_allowed,
)

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = get_scenario("streetlight-out")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in China


@pytest.fixture
def ledger(tmp_path):
    return Ledger(Store(f"sqlite:///{tmp_path / 'store.db'}"))


def begin(ledger, hotline="nanjing", round_name="R1"):
    return ledger.begin(hotline, round_name, SCENARIO, title="幸福路路灯连续多晚不亮",
                        persona=persona_key(fake_persona()))


def obs(**kw):
    return SubmissionObservation(hotline_id="nanjing", **kw)


def test_begin_returns_the_existing_case(ledger):
    case = begin(ledger)
    assert case.state == PLANNED and case.version == 0
    again = begin(ledger)
    assert again.id == case.id and len(ledger.cases("R1")) == 1
    assert begin(ledger, round_name="R2").id != case.id


def test_a_submitted_case_never_goes_back(ledger):
    case = begin(ledger)
    case = ledger.mark_submitting(case, channel="website", url="http://x.test/submit", at=NOW)
    assert (case.state, case.presses, case.pressed_at) == (INTENT, 1, NOW)
    case = ledger.record_receipt(case, {"number": "SQ2025001", "code": "abc"}, submitted_at=NOW,
                                 due_at=date(2026, 3, 16), observation=obs(form_accepted=True))
    assert case.state == SUBMITTED
    for move in (lambda: ledger.mark_submitting(case, channel="website", url=None),
                 lambda: ledger.record_failure(case, "form", "x"),
                 lambda: ledger.mark_unknown(case, "x")):
        with pytest.raises(LedgerError):
            move()
    fresh = ledger.get("nanjing", "R1", SCENARIO.id)
    assert fresh.receipt == {"number": "SQ2025001", "code": "abc"} and fresh.submitted_at == NOW
    assert fresh.submitted_at.tzinfo is not None and fresh.observed().form_accepted


def test_two_writers_cannot_both_press(ledger):
    mine, theirs = begin(ledger), begin(ledger)
    ledger.mark_submitting(mine, channel="website", url=None)
    with pytest.raises(LedgerConflict):
        ledger.mark_submitting(theirs, channel="website", url=None)
    assert ledger.refresh(mine).presses == 1


def test_unknown_is_pressed_again_only_as_a_counted_resubmit(ledger):
    case = ledger.mark_submitting(begin(ledger), channel="website", url=None)
    case = ledger.mark_unknown(case, "crashed")
    assert case.state == UNKNOWN
    with pytest.raises(LedgerError):
        ledger.mark_submitting(case, channel="website", url=None)
    case = ledger.mark_submitting(case, channel="website", url=None, resubmit=True)
    assert (case.state, case.resubmits, case.presses) == (INTENT, 1, 2)


def test_a_refused_case_may_be_tried_again(ledger):
    case = ledger.record_failure(begin(ledger), "register", "注册失败")
    assert (case.state, case.failure_stage) == (FAILED, "register")
    assert ledger.mark_submitting(case, channel="h5", url=None).state == INTENT


def test_due_cases_and_closing(ledger):
    case = ledger.mark_submitting(begin(ledger), channel="website", url=None)
    case = ledger.record_receipt(case, {"number": "SQ2025001"}, submitted_at=NOW, due_at=date(2026, 3, 16))
    assert ledger.due(datetime(2026, 3, 16, 10, tzinfo=UTC)) == []  # the last day is not past
    later = datetime(2026, 3, 17, 2, tzinfo=UTC)
    assert [c.id for c in ledger.due(later)] == [case.id]
    pending = Verdict(hotline_id="nanjing", check="effectiveness", verdict=VerdictStatus.needs_review,
                      reason="x", reason_en="x", confidence=0.5)
    case = ledger.record_check(case, obs(), pending, now=later)
    assert not case.closed and ledger.due(later)
    final = pending.model_copy(update={"verdict": VerdictStatus.no_reply})
    case = ledger.record_check(case, obs(), final, now=later)
    assert case.closed and case.verdict == "no_reply" and case.checks == 2 and not ledger.due(later)


def test_restarting_a_round_keeps_its_cases(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    ledger = Ledger(store)
    begin(ledger)
    hotlines = [Hotline(hotline_id="nanjing", name="n", province="p", city="c")]
    for _ in range(2):  # begin_round without resume deletes the run's rows, not the ledger's
        store.begin_round("R1", hotlines, tool_version="t", config_hash="h", settings={}, registry="r", proxy=None)
    assert len(Ledger(Store(store.url)).cases("R1")) == 1


def test_persona_key_hides_the_phone():
    p = fake_persona()
    assert persona_key(p) == persona_key(fake_persona()) != persona_key(fake_persona("other"))
    assert p.phone not in persona_key(p)


def test_receipt_numbers(ledger):
    case = ledger.mark_submitting(begin(ledger), channel="website", url=None)
    ledger.record_receipt(case, {"number": "SQ9"}, submitted_at=NOW, due_at=date(2026, 3, 16))
    assert ledger.receipt_numbers("nanjing") == {"SQ9"} and ledger.receipt_numbers("x") == set()


# -- the submission gate and the crash hook ------------------------------------------------------


@pytest.mark.parametrize("url,sandbox", [
    ("http://www.nanjing12345.gov.cn.test/", True), ("http://127.0.0.1:8080/", True),
    ("http://localhost/", True), ("http://[::1]:80/", True),
    ("https://www.nanjing.gov.cn/", False), ("http://10.0.0.1/", False), ("http://test.example.com/", False),
])
def test_sandbox_urls(url, sandbox):
    assert is_sandbox_url(url) is sandbox


def test_real_hotlines_need_the_allow_flag_and_a_real_persona(tmp_path):
    sim = [Hotline(hotline_id="a", name="a", province="p", city="c", website="http://www.a.gov.cn.test/"),
           Hotline(hotline_id="b", name="b", province="p", city="c")]
    real = [*sim, Hotline(hotline_id="r", name="r", province="p", city="c", website="https://www.r.gov.cn/")]
    ok, message = submissions_allowed(load_settings(None), sim)
    assert ok and "simweb" in message
    ok, message = submissions_allowed(load_settings(None), real)
    assert not ok and "allow_submit" in message
    ok, message = submissions_allowed(load_settings(None, effectiveness={"allow_submit": True}), real)
    assert not ok and "persona" in message
    persona = tmp_path / "persona.yaml"
    allowed = load_settings(None, effectiveness={"allow_submit": True, "persona_file": persona})
    ok, message = submissions_allowed(allowed, real)
    assert ok and "1" in message


def run_crash_hook(env_value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_AUDIT_CRASH_AT"}
    if env_value:
        env["HOTLINE_AUDIT_CRASH_AT"] = env_value
    code = "from journeys.effectiveness import crash_point; crash_point('after_submit'); print('alive')"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_crash_point_kills_only_where_named():
    assert run_crash_hook("after_submit").returncode == -signal.SIGKILL
    survived = run_crash_hook("before_submit")
    assert survived.returncode == 0 and "alive" in survived.stdout


# -- reading pages -------------------------------------------------------------------------------


def test_progress_rows_and_replies():
    seen = datetime(2026, 3, 20, tzinfo=UTC)
    rows = ["2026-03-02 10:00 已受理 您的诉求已受理。",
            "2026-03-03 10:00 办理中 已转市城市管理局办理。",
            "2026-03-09 10:00 已办结 经核实，您反映的问题市城市管理局已安排人员现场处理，问题已解决。"]
    shown, status, replies = _read_progress(rows, [], "\n".join(rows), seen)
    assert shown and status == "已办结" and len(replies) == 1
    assert replies[0].text.startswith("经核实") and replies[0].replied_at == datetime(2026, 3, 9, 2, tzinfo=UTC)
    shown, status, replies = _read_progress([], ["暂无该件办理信息"], "暂无该件办理信息", seen)
    assert (shown, status, replies) == (False, "暂无该件办理信息", [])
    # a footer date is not progress
    assert not _read_progress(["2026-03-01 网站更新"], [], "", seen)[0]


def test_my_cases_list_matches_title_date_and_skips_known_numbers():
    rows = [{"受理编号": "SQ2025001", "查询码": "aaa111", "标题": "幸福路路灯连续多晚不亮", "提交日期": "2025-01-01"},
            {"受理编号": "SQ2026002", "查询码": "bbb222", "标题": "幸福路路灯连续多晚不亮", "提交日期": "2026-03-02"},
            {"受理编号": "SQ2026003", "查询码": "ccc333", "标题": "别的事", "提交日期": "2026-03-02"}]
    title = "幸福路路灯连续多晚不亮"
    assert _receipt_from_rows(rows, title, date(2026, 3, 2), set())["number"] == "SQ2026002"
    assert _receipt_from_rows(rows, title, None, {"SQ2025001"})["code"] == "bbb222"
    assert _receipt_from_rows(rows, title, date(2026, 3, 2), {"SQ2026002"}) is None
    assert _receipt_from_rows(rows, "完全不同的标题", None, set()) is None


def test_the_journey_presses_only_where_allowed():
    real_person = Persona(name="张三", phone="13800138000", email="a@b.cn", id_number=fake_persona().id_number)
    off, on = load_settings(None), load_settings(None, effectiveness={"allow_submit": True})
    assert _may_press("http://www.tieling.gov.cn.test/x", off, fake_persona())
    assert not _may_press("https://www.tieling.gov.cn/x", off, real_person)
    assert not _may_press("https://www.tieling.gov.cn/x", on, fake_persona())  # the test persona, never
    assert _may_press("https://www.tieling.gov.cn/x", on, real_person)
