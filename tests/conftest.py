"""Shared fixtures. Only loopback is ever contacted: simweb runs as a child process on
127.0.0.1 and every audit reaches it through the proxy setting."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.results import Discovery
from fixtures.simweb import build_population, gold_rows, registry_hotlines
from hotline_audit.audit import RoundPlan, run_round
from hotline_audit.config import Settings, load_settings
from hotline_audit.discovery import run_discovery
from hotline_audit.model import Hotline
from hotline_audit.simweb_process import simweb_process
from hotline_audit.store import RoundData, Store

SEED, COUNT = 1, 24

# The politeness budget at a quicker pace for the suite (every slot, hold and back-off still
# runs; only the interval is shorter and more may be in flight), so that `make test` stays
# within its 10 minutes: at the defaults the 344-portal crawl and the stability round alone
# take ~2 minutes more. The tests about politeness set their own pace (explicit settings
# override these), and tests/test_waf_round.py, `make acceptance`'s WAF round and
# bench/seeds.py run at the defaults.
QUICK_POLITENESS = {"HOTLINE_AUDIT_POLITENESS__MIN_INTERVAL_S": "0.1", "HOTLINE_AUDIT_POLITENESS__IN_FLIGHT": "4"}
for _name, _value in QUICK_POLITENESS.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def simweb() -> Iterator[str]:
    """simweb's proxy URL for the default test population."""
    with simweb_process(SEED, COUNT) as proxy:
        yield proxy


def population_hotlines(seed: int = SEED, count: int = COUNT) -> list[Hotline]:
    return registry_hotlines(build_population(seed, count), all_websites=True)


@dataclass
class AuditedRound:
    data: RoundData
    round_dir: Path
    gold: dict[tuple[str, str], str]
    settings: Settings


def audit_round(hotlines: list[Hotline], settings: Settings, name: str = "t",
                checks: tuple[str, ...] = ("stability",)) -> RoundData:
    store = Store(settings.db)
    run_id = store.begin_round(name, hotlines, tool_version="test", config_hash=settings.fingerprint(),
                               settings={}, registry="test", proxy=settings.proxy)
    asyncio.run(run_round(RoundPlan(name, hotlines, settings, "test", checks=checks), store, run_id))
    store.finish_round(run_id, "finished")
    data = store.load_round(name)
    assert data is not None
    return data


@pytest.fixture(scope="session")
def stability_round(simweb: str, tmp_path_factory: pytest.TempPathFactory) -> AuditedRound:
    """One full stability round over the default population, with default settings (the
    census's 20 probes and 15 s timeout), shared by every test that judges its results."""
    tmp = tmp_path_factory.mktemp("round")
    settings = load_settings(None, proxy=simweb, out=tmp, db=f"sqlite:///{tmp / 'store.db'}")
    data = audit_round(population_hotlines(), settings)
    gold = {(g["hotline_id"], g["check"]): g["verdict"] for g in gold_rows(build_population(SEED, COUNT))}
    return AuditedRound(data=data, round_dir=tmp / "t", gold=gold, settings=settings)


@pytest.fixture(scope="session")
def simweb_full() -> Iterator[str]:
    """simweb's proxy URL for the default population (344 hotlines)."""
    with simweb_process(SEED, 344) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def discovered(simweb_full: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[list, Discovery]:
    """Discovery over all 344 portals, from the registry as an auditor gets it (some rows name
    only the city government portal, the WeChat-only hotlines their H5 site)."""
    portals = build_population()
    hotlines = registry_hotlines(portals)
    tmp = tmp_path_factory.mktemp("discovery")
    settings = load_settings(None, proxy=simweb_full, out=tmp, db=f"sqlite:///{tmp / 's.db'}")
    return portals, run_discovery(hotlines, settings, tmp)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail loudly when ``--dist loadgroup`` ignores our ``xdist_group`` marks: each worker
    would then build the 344-portal worlds itself and ``make test`` doubles in time."""
    if not config.getoption("loadgroup", default=False):
        return
    lost = [i.nodeid for i in items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        raise pytest.UsageError(f"xdist_group ignored for {len(lost)} tests (e.g. {lost[0]}): this pytest and "
                                "pytest-xdist do not group (pytest-xdist#1386); reinstall with `make test`")
