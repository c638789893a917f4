"""The outsiders gate: the whole product, run as an auditor runs it (``discover`` and
``audit --only effectiveness`` through ``--proxy``), on nine portals written *not* the simweb
way (``fixtures/outsiders``), each held against its hand-written gold:

- the channels discovery finds are exactly gold's (none missing, none made up);
- where gold says a person's complaint gets filed, it reached the portal exactly once, under
  the portal's label for the scenario's case type, with the scenario's title; elsewhere nothing;
- the effectiveness verdict (right after the audit, before any reply window) is gold's, and
  its reason says why (未到答复期限 for a filed case the tracking page shows, 表单报错 …);
- never a problem verdict where gold says filed or needs_review (a false accusation);
- no request of the round went to a host the portals do not serve.

A failure names the portal and what differs; ``bench/outsiders.py`` prints the same as a table.
``tests/test_outsiders_honest.py`` proves the gold itself: a person files where it says so."""

from __future__ import annotations

import pytest

from fixtures.outsiders import GOLD
from fixtures.outsiders.gate import GateRun, run_gate

# A normal test, not an acceptance gate: nine hotlines take under two minutes (40 s on 2 cores
# while most portals stop at the entry; each portal that files adds its flow, ~5-15 s).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("outsiders"), pytest.mark.timeout(900)]

IDS = [g.hotline_id for g in GOLD]


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> GateRun:
    run = run_gate(tmp_path_factory.mktemp("outsiders"))
    for what, secs in run.timings.items():
        print(f"{what}: {secs:.0f} s")
    return run


@pytest.mark.parametrize("hotline", IDS)
def test_channels_match_gold(gate, hotline):
    r = gate.results[hotline]
    assert not r.missing_channels and not r.extra_channels, \
        f"missing {sorted(r.missing_channels)}; not in gold {sorted(r.extra_channels)}"


@pytest.mark.parametrize("hotline", IDS)
def test_filed_exactly_where_gold_says(gate, hotline):
    r = gate.results[hotline]
    assert not r.filing_problems(), (r.filing_problems(), r.verdict, r.reason[:300], r.attempts)


@pytest.mark.parametrize("hotline", IDS)
def test_verdict_matches_gold(gate, hotline):
    r = gate.results[hotline]
    assert not r.verdict_problems(), (r.verdict_problems(), r.reason[:400])


@pytest.mark.parametrize("hotline", IDS)
def test_no_false_accusation(gate, hotline):
    """The rule that protects hotlines: where a person could file, or a person must look, the
    audit never says the hotline failed."""
    r = gate.results[hotline]
    assert not r.false_accusation, (r.verdict, r.reason[:400])


def test_refusal_is_on_record_where_gold_says_cannot_submit(gate):
    """cannot_submit needs the site's refusal of our request: the request must have reached it."""
    for r in gate.results.values():
        if r.gold.effectiveness == "cannot_submit" and r.verdict == "cannot_submit":
            assert r.attempts, f"{r.gold.hotline_id}: judged cannot_submit with no request on the portal's record"


def test_no_traffic_to_hosts_outside_the_portals(gate):
    assert gate.foreign == []


# -- the gate's own judging, on made-up results (no browser) --------------------------------------


def _result(hotline: str, *, verdict: str, reason: str = "", cases: list[dict] | None = None,
            channels: set[tuple[str, str]] | None = None):
    from fixtures.outsiders.gate import PortalResult, round_name
    from hotline_audit.scenarios import pick_scenario

    gold = next(g for g in GOLD if g.hotline_id == hotline)
    scenario = pick_scenario(hotline, round_name())
    found = channels if channels is not None else {(k, v) for k, vs in gold.channels.items() for v in vs}
    return PortalResult(gold=gold, scenario=scenario, title=scenario.render(gold.city)[0], channels=found,
                        verdict=verdict, reason=reason, cases=cases or [], attempts=[])


def test_gate_flags_a_problem_verdict_where_a_person_files_or_must_look():
    assert _result("sq-mailbox", verdict="cannot_submit").false_accusation
    assert _result("ganzhou-slider", verdict="no_progress").false_accusation
    assert not _result("jj-busy", verdict="cannot_submit").false_accusation
    assert not _result("sq-mailbox", verdict="needs_review").false_accusation


def test_gate_wants_one_case_under_the_scenario_type_and_the_reason_named():
    r = _result("nc-layui", verdict="needs_review", reason="未到答复期限(截止2026-12-21)，暂无答复")
    assert r.scenario.case_type == "投诉"  # round_name() picks a round where the layui portal files a complaint
    case = {"number": "NC1", "title": r.title, "category": "投诉"}
    assert r.filing_problems() == ["0 cases reached the portal, gold says exactly 1"]
    r.cases = [case]
    assert r.filing_problems() == [] and r.verdict_problems() == []
    r.cases = [{**case, "category": "咨询"}]
    assert r.filing_problems() and "投诉" in r.filing_problems()[0]
    r.cases = [case, case]
    assert r.filing_problems()
    r.reason = "无法确认受理进度，需人工复核"
    assert r.verdict_problems() == ["reason does not say 未到答复期限 (pending)"]


def test_gate_counts_missing_and_made_up_channels_not_optional_ones():
    gold = next(g for g in GOLD if g.hotline_id == "xy-platform")
    found = {(k, v) for k, vs in gold.channels.items() for v in vs}
    framed = ("submit", gold.optional["submit"][0])
    assert not _result("xy-platform", verdict="needs_review", channels=found | {framed}).extra_channels
    r = _result("xy-platform", verdict="needs_review", channels=(found - {("track", gold.channels["track"][0])})
                | {("search", "http://12345.xiangyang.gov.cn.test/")})
    assert r.missing_channels == {("track", gold.channels["track"][0])}
    assert r.extra_channels == {("search", "http://12345.xiangyang.gov.cn.test/")}
