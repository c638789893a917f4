"""A portal behind a rate limit is audited fully, only slower (issue 18).

zibo (seed 1: healthy, a search box, a complaint form behind a log-in, and a reply that
solves the case) answers 429 with ``Retry-After: 5`` past 30 page-level requests a minute, as a
government firewall does. The whole round as an auditor runs it, with default settings:
discovery, stability, findability, the citizen journey, the clock a month on, then
``recheck --due``. What must hold: every verdict is gold's (the firewall did not cost the
hotline a thing, nor leave anything undecided), the firewall did refuse us (so the test tests
something) and we waited as told, and simweb's own log shows no host above the budget's page-
level rate in any minute, discovery, probes, journeys and recheck together."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml

from fixtures.simweb import build_population, registry_rows
from fixtures.simweb.gold import gold_rows
from hotline_audit.files import csv_bytes
from hotline_audit.politeness import Politeness, PolitenessSettings
from hotline_audit.simweb_process import simweb_process
from hotline_audit.store import Store

from .conftest import QUICK_POLITENESS
from .test_hostile_round import cli

# About 4 minutes (the limited portal alone takes most of it): in `make acceptance`;
# tests/test_browser_pacing.py, tests/test_crawl_politeness.py and tests/test_politeness.py hold
# the same rules in `make test`.
pytestmark = [pytest.mark.browser, pytest.mark.acceptance, pytest.mark.xdist_group("waf_round"),
              pytest.mark.timeout(1800)]

SEED, COUNT = 1, 24
LIMITED = "zibo"
OTHER = "tieling"  # beside it, unlimited: the budget is per host
PER_MIN, RETRY_AFTER = 30, 5
ROUND = "waf"


@pytest.fixture(scope="module")
def waf_round(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The round at the default politeness (the suite's quicker pace is switched off)."""
    quick = {name: os.environ.pop(name) for name in QUICK_POLITENESS if name in os.environ}
    try:
        yield _waf_round(tmp_path_factory)
    finally:
        os.environ.update(quick)


def _waf_round(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("waf")
    portals = build_population(SEED, COUNT)
    chosen = [p for p in portals if p.hotline_id in (LIMITED, OTHER)]
    (tmp / "registry.csv").write_bytes(csv_bytes(registry_rows(chosen, all_websites=True)))
    config = tmp / "audit.yaml"
    config.write_text(yaml.safe_dump({
        "effectiveness": {"sms_inbox_url": "{proxy}/_sms?phone={phone}", "captcha_mode": "ocr", "sms_wait_s": 12.0},
    }))
    common = ["--out", str(tmp / "runs"), "--db", f"sqlite:///{tmp / 'audit.db'}", "--config", str(config)]
    with simweb_process(SEED, COUNT, waf=0, local_port=None) as proxy:
        httpx.post(f"{proxy}/_waf", json={"hotline_id": LIMITED, "waf": "limit_retry_after", "per_min": PER_MIN,
                                          "retry_after": RETRY_AFTER}, timeout=10, trust_env=False).raise_for_status()
        t0 = time.perf_counter()
        summary = cli("audit", "--registry", str(tmp / "registry.csv"), "--round", ROUND, "--proxy", proxy, *common)
        moved = httpx.post(f"{proxy}/_clock", json={"advance_days": 30}, timeout=10, trust_env=False).json()
        cli("recheck", "--due", "--round", ROUND, "--now", moved["now"], "--proxy", proxy, *common)
        seconds = time.perf_counter() - t0
        rates = httpx.get(f"{proxy}/_rates", timeout=30, trust_env=False).json()
        log = httpx.get(f"{proxy}/_requests", timeout=30, trust_env=False).json()
    data = Store(f"sqlite:///{tmp / 'audit.db'}").load_round(ROUND)
    assert data is not None
    gold = {(g["hotline_id"], g["check"]): g["verdict"] for g in gold_rows(portals)
            if g["hotline_id"] in (LIMITED, OTHER) and g["check"] in ("stability", "findability", "effectiveness")}
    budget = Politeness(tmp / "runs" / "politeness.sqlite", PolitenessSettings())
    return {"verdicts": {(v.hotline_id, v.check): v for v in data.verdicts}, "gold": gold, "rates": rates,
            "log": log, "seconds": seconds, "summary": summary, "throttles": budget.round_throttles(ROUND),
            "stats": {s.host: s for s in budget.host_stats(ROUND)}}


def test_the_limited_portal_is_audited_fully(waf_round: dict) -> None:
    got = {key: v.verdict.value for key, v in waf_round["verdicts"].items() if key in waf_round["gold"]}
    assert got == waf_round["gold"], {k: waf_round["verdicts"][k].reason for k in got if got[k] != waf_round["gold"][k]}
    print(f"waf round: {waf_round['seconds']:.0f} s; throttles: {len(waf_round['throttles'])}")


def test_the_firewall_refused_us_and_we_waited_as_told(waf_round: dict) -> None:
    limited = [h for h, r in waf_round["rates"]["hosts"].items() if r.get("hotline_id") == LIMITED and r["throttled"]]
    assert limited, "the firewall never refused us: nothing was tested"
    refusals = sorted(e["t"] for e in waf_round["log"] if e.get("waf"))
    for host in limited:
        entries = [e for e in waf_round["log"] if e["host"] == host and e["page_level"]]
        refused = [e["t"] for e in entries if e.get("waf")]
        firsts = [t for i, t in enumerate(refused) if i == 0 or t - refused[i - 1] > RETRY_AFTER]
        # After a refusal nothing more was asked of the host until Retry-After had passed,
        # except requests already under way when it came (at most in_flight of them).
        for t in firsts:
            early = [e for e in entries if t < e["t"] < t + RETRY_AFTER - 0.5]
            assert len(early) <= PolitenessSettings().in_flight, (host, t, early[:3])
    assert waf_round["throttles"] and all(t.kind == "rate_limited" for t in waf_round["throttles"])
    assert refusals


def test_no_host_got_more_than_the_budget_in_any_minute(waf_round: dict) -> None:
    per_minute = PolitenessSettings().per_minute
    peaks = {host: r["peak_per_minute"] for host, r in waf_round["rates"]["hosts"].items() if r["page_level"]}
    assert peaks and max(peaks.values()) <= per_minute, (peaks, busiest_minute(waf_round["log"], max(peaks, key=peaks.get)))
    ours = {host: s.peak_per_minute for host, s in waf_round["stats"].items()}
    assert max(ours.values()) <= per_minute, ours


def busiest_minute(log: list[dict], host: str) -> list[str]:
    """The page-level requests simweb logged for ``host`` in its busiest minute (to say which)."""
    times = sorted((e["t"], f"{e['method']} {e['path'][:60]} [{e['dest'] or '-'}] {e['status']}")
                   for e in log if e["host"] == host and e["page_level"])
    best, lo, span = 0, 0, (0, 0)
    for hi, (t, _) in enumerate(times):
        while t - times[lo][0] >= 60:
            lo += 1
        if hi - lo + 1 > best:
            best, span = hi - lo + 1, (lo, hi + 1)
    return [f"{t - times[span[0]][0]:6.2f} {what}" for t, what in times[span[0]:span[1]]]
