"""Rubric and scoring: exact scores, aggregates that add up, and simweb's gold rates."""

import math
from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml

from fixtures.gold_round import gold_round
from fixtures.simweb import build_population, population_rates
from hotline_audit.model import Hotline, Verdict
from hotline_audit.store import RoundData
from reports.rubric import RubricError, load_rubric
from reports.scoring import score_round


def v(hid, check, verdict, **metrics):
    return Verdict(hotline_id=hid, check=check, verdict=verdict, reason="r", reason_en="r",
                   confidence=1.0, metrics=metrics)


def synthetic():
    h = [
        Hotline(hotline_id="a", name="A", province="江苏省", city="A", tier="一线", merge_mode="整体并入"),
        Hotline(hotline_id="b", name="B", province="江苏省", city="B", tier="二线", merge_mode="双号并行"),
        Hotline(hotline_id="c", name="C", province="浙江省", city="C", tier="二线", merge_mode="整体并入"),
        Hotline(hotline_id="d", name="D", province="浙江省", city="D", tier="一线"),
        Hotline(hotline_id="e", name="E", province="浙江省", city="E", merge_mode="设分中心"),
        Hotline(hotline_id="f", name="F", province="江苏省", city="F", tier="二线", merge_mode="双号并行"),
    ]
    verdicts = [
        v("a", "stability", "ok"), v("a", "findability", "ok"), v("a", "effectiveness", "solved"),
        v("a", "stability.tls", "down"),  # not in the rubric: shown, never scored
        v("b", "stability", "degraded"), v("b", "findability", "inaccurate_search"),
        v("b", "effectiveness", "no_reply"),
        v("c", "stability", "down"), v("c", "findability", "nowhere_to_search"),
        v("c", "effectiveness", "cannot_submit"),
        v("d", "stability", "no_channel"), v("d", "findability", "no_channel"),
        v("d", "effectiveness", "no_channel"),
        v("e", "stability", "ok"), v("e", "findability", "needs_review"), v("e", "effectiveness", "tool_error"),
        v("f", "stability", "ok"), v("f", "findability", "ok"), v("f", "effectiveness", "not_solved"),
    ]
    now = datetime(2026, 11, 23, tzinfo=UTC)
    return RoundData(round="r", status="finished", started_at=now, finished_at=now, tool_version="t",
                     config_hash="c", settings={}, proxy=None, hotlines=h, done={x.hotline_id for x in h},
                     channels=[], verdicts=verdicts, observations={}, evidence=[])


ADJUST = dict(manual=[v("f", "effectiveness", "no_progress", by="op")],
              overrides=[v("f", "effectiveness", "solved", by="rev", at="2026-11-24T00:00:00+00:00")])


def scored(**kw):
    return score_round(synthetic(), load_rubric(), **(ADJUST | kw))


def test_hotline_scores_and_totals_are_exact():
    s = scored()
    h = s.hotlines
    assert h.loc["a", ["stability", "findability", "effectiveness", "total"]].tolist() == [100, 100, 100, 100]
    assert h.loc["b", ["stability", "findability", "effectiveness"]].tolist() == [60, 40, 40]
    assert h.loc["b", "total"] == pytest.approx(140 / 3)
    assert h.loc["c", "total"] == 0
    assert h.loc["d", ["stability", "findability", "effectiveness", "total"]].isna().all()  # no internet side
    assert h.loc["e", "stability"] == 100 and math.isnan(h.loc["e", "findability"]) and h.loc["e", "total"] == 100
    assert h.loc["f", "effectiveness"] == 100  # the override beats the manual answer
    assert h.loc["f", "adjusted"] == 1
    assert h["rank"].tolist()[:3] == [1, 4, 5] and h.loc["e", "rank"] == 1 and pd.isna(h.loc["d", "rank"])
    f = s.verdicts.set_index(["hotline_id", "check"]).loc[("f", "effectiveness")]
    assert (f["source"], f["auto_verdict"], f["by"]) == ("override", "not_solved", "rev")
    assert not s.verdicts.set_index(["hotline_id", "check"]).loc[("a", "stability.tls"), "scored"]


def test_summary_means():
    m = scored().summary.set_index("dimension")
    assert m.loc["stability", "mean"] == pytest.approx(72)
    assert m.loc["findability", "mean"] == pytest.approx(60)
    assert m.loc["effectiveness", "mean"] == pytest.approx(60)
    assert m.loc["total", "mean"] == pytest.approx((100 + 140 / 3 + 0 + 100 + 100) / 5)
    assert m.loc["total", "scored"] == 5 and m.loc["findability", "scored"] == 4


def test_problem_rates_are_exact():
    r = scored().rates.set_index("problem")
    assert r.loc["nowhere_to_search", ["count", "of", "undetermined"]].tolist() == [1, 4, 1]
    assert r.loc["inaccurate_search", ["count", "of"]].tolist() == [1, 4]
    assert r.loc["cannot_submit", ["count", "of", "undetermined"]].tolist() == [1, 4, 1]
    assert r.loc["no_progress", ["count", "of"]].tolist() == [0, 3]
    assert r.loc["no_reply", ["count", "of"]].tolist() == [1, 3]
    assert r.loc["not_solved", ["count", "of"]].tolist() == [0, 3]
    assert r.loc["no_reply", "rate"] == pytest.approx(1 / 3)
    assert r.loc["no_reply", "report_2021"] == 0.2151
    # Without the people's verdicts, f is not solved.
    raw = score_round(synthetic(), load_rubric()).rates.set_index("problem")
    assert raw.loc["not_solved", "count"] == 1


def test_group_tables_add_up_to_the_totals():
    s = scored()
    tiers = s.by_tier.set_index("tier")
    assert list(tiers.index) == ["一线", "二线", "未知"]
    assert tiers.loc["二线", "hotlines"] == 3 and tiers.loc["一线", "total"] == 100
    assert s.by_merge_mode.set_index("merge_mode").loc["未知", "hotlines"] == 1
    for table in s.groups().values():
        assert table["hotlines"].sum() == len(s.hotlines)
        for dim in [*s.dimensions, "total"]:
            n = table[f"n_{dim}"]
            assert n.sum() == s.summary.set_index("dimension").loc[dim, "scored"]
            weighted = (table[dim].fillna(0) * n).sum() / n.sum()
            assert weighted == pytest.approx(s.summary.set_index("dimension").loc[dim, "mean"])
        for _, rate in s.rates.iterrows():
            assert table[f"{rate['problem']}_count"].sum() == rate["count"]
            assert table[f"{rate['problem']}_of"].sum() == rate["of"]


def test_another_rubric_rescores_without_recrawling(tmp_path):
    text = load_rubric().model_dump(mode="json")
    text["checks"]["stability"]["verdict_scores"]["degraded"] = 0
    text["dimensions"]["effectiveness"]["weight"] = 2
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(text, allow_unicode=True), encoding="utf-8")
    rubric = load_rubric(path)
    assert rubric.fingerprint() != load_rubric().fingerprint()
    h = score_round(synthetic(), rubric).hotlines
    assert h.loc["b", "stability"] == 0
    assert h.loc["b", "total"] == pytest.approx((0 + 40 + 2 * 40) / 4)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["checks"]["stability"]["verdict_scores"].update(needs_review=0), "needs_review must be null"),
    (lambda d: d["checks"]["stability"].update(dimension="speed"), "unknown dimension"),
    (lambda d: d["checks"]["stability"]["verdict_scores"].update(ok=120), "0-100"),
    (lambda d: d["checks"]["stability"]["verdict_scores"].update(great=100), "great"),
])
def test_bad_rubrics_fail_with_a_clear_message(tmp_path, change, message):
    data = load_rubric().model_dump(mode="json")
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RubricError, match=message):
        load_rubric(path)


def test_rates_on_simweb_gold_equal_the_population_rates():
    s = score_round(gold_round(), load_rubric())
    expected = {r["problem"]: r for r in population_rates(build_population())}
    got = s.rates.set_index("problem")
    assert set(got.index) == set(expected)
    # Gold's needs_review (a slider captcha: a person's step) is out of the rates, as undetermined.
    sliders = sum(1 for p in build_population() if p.effectiveness == "needs_review")
    assert sliders >= 1
    for problem, e in expected.items():
        assert got.loc[problem, "count"] == e["count"] and got.loc[problem, "of"] == e["of"]
        assert got.loc[problem, "rate"] == pytest.approx(e["rate"])
        assert got.loc[problem, "undetermined"] == (0 if problem.endswith("search") else sliders)
    assert s.hotlines["total"].notna().sum() == 185  # 344 - 159 offline
    for table in s.groups().values():
        assert table["hotlines"].sum() == 344
