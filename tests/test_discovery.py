"""Discovery against simweb's 344 portals: recall and precision per channel kind vs gold."""

from collections import Counter, defaultdict

import pytest

from crawler.extract import canonical_url
from fixtures.simweb import build_population
from fixtures.simweb.gold import CHANNEL_KINDS, channel_values
from hotline_audit.config import load_settings
from hotline_audit.discovery import run_discovery
from hotline_audit.model import Hotline

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("discovery")]


@pytest.fixture(scope="module")
def discovered(simweb_full, tmp_path_factory):
    portals = build_population()
    hotlines = [Hotline(hotline_id=p.hotline_id, name=p.name, province=p.province, city=p.city,
                        website=p.website or p.h5 or None) for p in portals]
    tmp = tmp_path_factory.mktemp("discovery")
    settings = load_settings(None, proxy=simweb_full, out=tmp, db=f"sqlite:///{tmp / 's.db'}")
    return portals, run_discovery(hotlines, settings, tmp)


def test_recall_and_precision_per_kind(discovered):
    portals, found = discovered
    tp, fp, fn = Counter(), Counter(), Counter()
    misses = defaultdict(list)
    for p in portals:
        gold = channel_values(p)
        if not p.website and p.h5:  # an H5-only hotline: its H5 site is where the audit starts
            gold.setdefault("website", canonical_url(p.h5))
        got = defaultdict(set)
        for c in found.channels.get(p.hotline_id, []):
            got[c.kind].add(c.value)
        for kind in set(gold) | set(got):
            want = {gold[kind]} if kind in gold else set()
            tp[kind] += len(want & got[kind])
            fp[kind] += len(got[kind] - want)
            fn[kind] += len(want - got[kind])
            if want != got[kind]:
                misses[kind].append((p.hotline_id, p.template, sorted(want ^ got[kind])[:2]))
    print(f"\n{'kind':15} {'recall':>7} {'precision':>9} {'tp':>4} {'fp':>4} {'fn':>4}")
    for kind in CHANNEL_KINDS:
        recall = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0
        precision = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
        print(f"{kind:15} {recall:7.3f} {precision:9.3f} {tp[kind]:4} {fp[kind]:4} {fn[kind]:4}")
    for kind in CHANNEL_KINDS:
        assert tp[kind] / max(1, tp[kind] + fn[kind]) >= 0.98, (kind, misses[kind][:5])
        assert tp[kind] / max(1, tp[kind] + fp[kind]) >= 0.98, (kind, misses[kind][:5])


def test_no_page_url_qr_is_taken_for_a_wechat_account(discovered):
    portals, found = discovered
    hosts = {p.host for p in portals if p.host}
    wechat = [c.value for cs in found.channels.values() for c in cs if c.kind == "wechat"]
    assert wechat and not any(any(h in v for h in hosts) for v in wechat)
    assert sum(len(v) for v in found.page_qrs.values()) > 0  # the trap was seen and set aside


def test_failures_are_classified_not_tracebacks(discovered):
    portals, found = discovered
    dead = {p.hotline_id: p.trait for p in portals if p.trait in ("always_5xx", "hang", "redirect_loop", "tls_error")}
    kinds = {hid: {f["kind"] for f in found.failures.get(hid, [])} for hid in dead}
    assert all(kinds.values()), kinds
    assert all(not any("Traceback" in str(f) for f in fs) for fs in found.failures.values())


def test_discover_command_writes_channels_csv(simweb, tmp_path):
    import csv
    import subprocess
    import sys

    from fixtures.simweb import registry_rows
    from hotline_audit.files import csv_bytes

    from .conftest import COUNT, SEED

    (tmp_path / "reg.csv").write_bytes(csv_bytes(registry_rows(build_population(SEED, COUNT))))
    done = subprocess.run([sys.executable, "-m", "hotline_audit", "discover", "--registry", "reg.csv",
                           "--round", "d1", "--proxy", simweb], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "runs" / "d1" / "channels.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    sites = [p for p in build_population(SEED, COUNT) if p.website]
    assert {r["hotline_id"] for r in rows if r["kind"] == "website"} == {p.hotline_id for p in sites}
    submit = [r for r in rows if r["kind"] == "submit"]
    assert submit and all(r["found_on"].startswith("http") and r["element"] and r["text"] for r in submit)
