"""A whole stability round against simweb in real Chromium, judged against gold labels."""

import hashlib
from pathlib import Path

import pytest

from fixtures.simweb import build_population
from fixtures.simweb.population import DEAD_TRAITS

from .conftest import COUNT, SEED

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("stability_round")]


def trait_of():
    return {p.hotline_id: p.trait for p in build_population(SEED, COUNT)}


def test_stability_agrees_100_percent_with_gold(stability_round):
    got = {v.hotline_id: v.verdict.value for v in stability_round.data.verdicts if v.check == "stability"}
    expected = {hid: verdict for (hid, check), verdict in stability_round.gold.items() if check == "stability"}
    traits = trait_of()
    mismatches = {hid: (traits[hid], expected[hid], got.get(hid)) for hid in expected if got.get(hid) != expected[hid]}
    print(f"stability agreement: {len(expected) - len(mismatches)}/{len(expected)}")
    assert not mismatches


def obs_for(stability_round, trait):
    hid = next(h for h, t in trait_of().items() if t == trait)
    return stability_round.data.observations[(hid, "stability")], hid


def test_chromium_passes_the_js_challenge(stability_round):
    obs, _ = obs_for(stability_round, "js_challenge")
    load = obs["page_load"]
    assert load["ok"] and load["navigations"][0] == 412 and load["navigations"][-1] == 200
    assert all(p["ok"] for p in obs["probes"])  # probes carry the browser's cookie


def test_gbk_mislabelled_page_shows_replacement_characters(stability_round):
    obs, _ = obs_for(stability_round, "gbk_mislabelled")
    assert obs["page_load"]["replacement_chars"] > 10


def test_todays_greeting_is_not_taken_for_an_update(stability_round):
    # Hanweb-style pages print "今天是YYYY年M月D日"; only dated links count as updates.
    for trait in ("stale_homepage", "healthy"):
        obs, _ = obs_for(stability_round, trait)
        assert obs["page_load"]["dates_found"] >= 5
    stale, hid = obs_for(stability_round, "stale_homepage")
    portal = next(p for p in build_population(SEED, COUNT) if p.hotline_id == hid)
    verdict = next(v for v in stability_round.data.verdicts if v.hotline_id == hid)
    assert verdict.metrics["newest_age_days"] in (portal.stale_days, portal.stale_days + 1)


def test_single_page_app_content_is_read_after_scripts_run(stability_round):
    spa = [p for p in build_population(SEED, COUNT)
           if p.template == "spa" and p.trait not in DEAD_TRAITS]
    assert spa
    for p in spa:
        load = stability_round.data.observations[(p.hotline_id, "stability")]["page_load"]
        # the static HTML holds only "加载中…"; the rendered page lists dated notices
        assert load["dates_found"] >= 5 and load["text_chars"] > 100


def test_timings_console_errors_and_failed_requests_are_recorded(stability_round):
    obs, _ = obs_for(stability_round, "healthy")
    load = obs["page_load"]
    assert load["ttfb_ms"] is not None and load["load_ms"] >= load["dom_content_loaded_ms"] > 0
    assert len(obs["probes"]) == stability_round.settings.probe.count
    challenge, _ = obs_for(stability_round, "js_challenge")
    assert any("412" in e for e in challenge["page_load"]["console_errors"])


def test_screenshots_are_evidence_with_hashes(stability_round):
    shots = [e for e in stability_round.data.evidence if e.media_type == "image/jpeg"]
    with_site = [p for p in build_population(SEED, COUNT) if p.host]
    assert len(shots) >= len(with_site) - 2  # hung/looping sites may show nothing to capture
    for e in shots:
        data = (stability_round.round_dir / e.path).read_bytes()
        assert data[:3] == b"\xff\xd8\xff"  # JPEG, the default format
        assert hashlib.sha256(data).hexdigest() == e.sha256
    ok = [v for v in stability_round.data.verdicts if v.verdict == "ok"]
    assert all(v.evidence and Path(v.evidence[0]).suffix == ".jpg" for v in ok)
