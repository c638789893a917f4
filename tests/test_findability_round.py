"""Findability over simweb's 344 portals, from discovery's channels: agreement with gold and
never a false 无处查. The confusion matrix is printed (pytest -s)."""

from collections import Counter

import pytest

from fixtures.simweb import gold_rows, registry_hotlines
from hotline_audit.audit import RoundPlan, run_round
from hotline_audit.config import load_settings
from hotline_audit.discovery import with_discovered_websites
from hotline_audit.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.acceptance, pytest.mark.xdist_group("discovery")]

VERDICTS = ("ok", "inaccurate_search", "nowhere_to_search", "no_channel", "needs_review", "tool_error")


@pytest.fixture(scope="module")
def judged(discovered, simweb_full, tmp_path_factory):
    portals, found = discovered
    hotlines = registry_hotlines(portals)
    hotlines = with_discovered_websites(hotlines, found)
    tmp = tmp_path_factory.mktemp("findability")
    settings = load_settings(None, proxy=simweb_full, out=tmp, db=f"sqlite:///{tmp / 's.db'}")
    store = Store(settings.db)
    run_id = store.begin_round("f", hotlines, tool_version="test", config_hash="", settings={},
                               registry="test", proxy=simweb_full)
    plan = RoundPlan("f", hotlines, settings, "test", checks=("findability",), channels=dict(found.channels))
    import asyncio

    asyncio.run(run_round(plan, store, run_id))
    data = store.load_round("f")
    got = {v.hotline_id: v for v in data.verdicts if v.check == "findability"}
    gold = {g["hotline_id"]: (g["verdict"], g["detail"]) for g in gold_rows(portals) if g["check"] == "findability"}
    return got, gold


def test_findability_agrees_with_gold_and_never_falsely_says_nowhere(judged):
    got, gold = judged
    matrix = Counter((gold[h][0], got[h].verdict.value) for h in gold)
    print("\ngold \\ got        " + " ".join(f"{v[:10]:>10}" for v in VERDICTS))
    for g in VERDICTS[:4]:
        print(f"{g:17} " + " ".join(f"{matrix[(g, v)]:10}" for v in VERDICTS))
    wrong = [(h, gold[h], got[h].verdict.value, got[h].reason[:160]) for h in gold if got[h].verdict != gold[h][0]]
    for w in wrong[:15]:
        print(*w)
    agreement = 1 - len(wrong) / len(gold)
    print(f"agreement {agreement:.3%} ({len(gold) - len(wrong)}/{len(gold)})")
    false_nowhere = [w for w in wrong if w[2] == "nowhere_to_search"]
    assert not false_nowhere, false_nowhere
    assert agreement >= 0.99, wrong[:10]
