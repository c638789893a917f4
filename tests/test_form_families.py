"""The submission journey in Chromium against simweb's form families (fixtures/simweb/forms.py):
one portal of each family and trait, taken from the 344-portal population by what its form is
like (never by name). Each complaint must reach simweb (``GET /_cases``) once, under the case type
the scenario has; a portal that fails keeps failing for the gold label's reason; a slider
captcha is a person's step (needs_review, nothing filed, nobody accused)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from fixtures.simweb import build_population, registry_hotlines
from fixtures.simweb.forms import FormStyle, form_style
from fixtures.simweb.layouts import channel_urls, hash_routes
from fixtures.simweb.population import Portal
from hotline_audit.ledger import SUBMITTED, Ledger
from hotline_audit.model import Channel, SubmissionObservation, Verdict
from hotline_audit.scenarios import pick_scenario
from hotline_audit.simweb_process import simweb_process
from hotline_audit.store import Store
from journeys.browser import BrowserPool
from journeys.effectiveness import effectiveness_tools, run_effectiveness
from journeys.stability import JourneyContext

from .effectiveness_support import journey_settings

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("form_families"), pytest.mark.timeout(900)]

SEED, COUNT, ROUND = 1, 344, "forms"
# The case type a scenario asks for, then what a portal without it offers instead.
FITS = {"投诉": ("投诉", "举报"), "咨询": ("咨询", "求助"), "求助": ("求助", "投诉"), "建议": ("建议", "意见")}


def style(p: Portal) -> FormStyle:
    return form_style(p, "h5" if p.submit_via == "h5" else p.template)


def case_type(p: Portal) -> str:
    return pick_scenario(p.hotline_id, ROUND).case_type


def expected_category(p: Portal) -> str:
    options = style(p).case_options
    return next(o for word in FITS[case_type(p)] for o in options if word in o)


# What each chosen portal's form is like: a test name -> a predicate over (portal, form style).
WANTED: dict[str, Callable[[Portal, FormStyle], bool]] = {
    "u3000_labels": lambda p, f: f.family == "post" and f.markup == "table" and f.pad == "\u3000\u3000",
    "postback_loses_text": lambda p, f: f.family == "postback" and f.postback_on == "district" and not f.postback_keeps,
    "postback_case_radio": lambda p, f: f.family == "postback" and f.postback_on == "category" and f.case_widget == "radio",
    "csrf": lambda p, f: f.family == "csrf" and f.captcha == "image",
    "kit_hidden_radios": lambda p, f: f.family == "ajax" and f.case_widget == "radio",
    "kit_wheel": lambda p, f: f.family == "ajax" and f.kit == "vant",
    "framed_login": lambda p, f: f.family == "framed" and p.needs_login,
    "radio_prechecked": lambda p, f: f.case_widget == "radio" and f.radio_prechecked
    and f.family in ("post", "csrf") and expected_category(p) != f.case_options[0],
    "gate_countdown": lambda p, f: f.gate is not None and f.gate.kind in ("checkbox", "button") and f.gate.countdown > 0,
    "gate_post": lambda p, f: f.gate is not None and f.gate.kind == "form",
    "base64_captcha": lambda p, f: f.captcha == "base64" and f.family != "wizard",
    "placeholders_only": lambda p, f: f.markup == "placeholder" and f.names in ("opaque", "camel"),
}
FILED = list(WANTED)
REFUSED = {"postback_site_error": ("postback", "表单报错"), "csrf_site_error": ("csrf", "表单报错")}


def choose() -> dict[str, Portal]:
    # Forms, not the way to them: hash-routed apps (their own tests) are left out.
    portals = [p for p in build_population(SEED, COUNT) if p.trait == "healthy" and not hash_routes(p)]
    chosen: dict[str, Portal] = {}
    for name, want in WANTED.items():
        found = [p for p in portals if p.effectiveness == "solved" and want(p, style(p))
                 and p not in chosen.values()]
        assert found, f"simweb has no portal for {name}"
        chosen[name] = found[0]
    for name, (family, reason) in REFUSED.items():
        chosen[name] = next(p for p in portals if p.cannot_reason == reason and style(p).family == family)
    chosen["slider"] = next(p for p in portals if p.captcha == "slider")
    return chosen


@dataclass
class Families:
    proxy: str
    chosen: dict[str, Portal]
    ledger: Ledger
    results: dict[str, tuple[SubmissionObservation, Verdict]] = field(default_factory=dict)

    def cases(self, name: str) -> list[dict]:
        with httpx.Client(proxy=self.proxy, trust_env=False, timeout=10) as c:
            return c.get("http://simweb.test/_cases", params={"hotline_id": self.chosen[name].hotline_id}).json()


async def file_all(fam: Families, out: Path) -> None:
    settings = journey_settings(fam.proxy, out)
    hotlines = {h.hotline_id: h for h in registry_hotlines(list(fam.chosen.values()), all_websites=True)}
    async with BrowserPool(settings.browser, settings.proxy, settings.network) as pool:
        ctx = JourneyContext(settings, pool, settings.out / ROUND, asyncio.Semaphore(4))
        tools = effectiveness_tools(settings, ctx.round_dir)
        with httpx.Client(proxy=fam.proxy, trust_env=False, timeout=10) as c:
            now = c.get("http://simweb.test/_clock").json()["now"]
        from datetime import datetime

        async def one(name: str, p: Portal) -> None:
            # The channels discovery finds (gold's): this is about the form, not finding it.
            urls = channel_urls(p)
            channels = [Channel(hotline_id=p.hotline_id, kind=kind, value=urls[kind], found_on=urls.get("website") or urls["h5"])
                        for kind in ("website", "submit", "track", "h5") if kind in urls]
            obs, verdict, _ = await run_effectiveness(ctx, hotlines[p.hotline_id], channels, fam.ledger, ROUND,
                                                      tools=tools, now=datetime.fromisoformat(now))
            fam.results[name] = (obs, verdict)

        slots = asyncio.Semaphore(settings.browser.contexts)

        async def bounded(name: str, p: Portal) -> None:
            async with slots:
                await one(name, p)

        await asyncio.gather(*(bounded(n, p) for n, p in fam.chosen.items()))


@pytest.fixture(scope="module")
def families(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Families]:
    out = tmp_path_factory.mktemp("families")
    with simweb_process(SEED, COUNT) as proxy:
        fam = Families(proxy, choose(), Ledger(Store(f"sqlite:///{out / 'store.db'}")))
        asyncio.run(file_all(fam, out))
        for name, (_, verdict) in fam.results.items():
            print(f"{name:22} {fam.chosen[name].hotline_id:14} {verdict.verdict.value:14} {verdict.reason[:80]}")
        yield fam


@pytest.mark.parametrize("name", FILED)
def test_each_family_files_the_case_under_the_scenarios_type(families, name):
    p = families.chosen[name]
    obs, verdict = families.results[name]
    filed = families.cases(name)
    assert len(filed) == 1, (name, p.hotline_id, verdict.reason, obs.failures)
    assert filed[0]["category"] == expected_category(p), (name, case_type(p), style(p).case_options)
    assert filed[0]["title"] == obs.title
    case = families.ledger.get(p.hotline_id, ROUND, obs.scenario_id)
    assert case.state == SUBMITTED and case.receipt["number"] == filed[0]["number"]
    assert verdict.verdict.value == "needs_review" and "未到答复期限" in verdict.reason


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_failing_portal_still_fails_for_its_reason_in_every_family(families, name):
    p = families.chosen[name]
    _, verdict = families.results[name]
    assert verdict.verdict.value == "cannot_submit" and verdict.metrics["cannot_reason"] == p.cannot_reason
    assert not families.cases(name)


def test_a_slider_captcha_is_a_persons_step(families):
    """Never pressed past, never held against the hotline: needs_review, and it says why."""
    obs, verdict = families.results["slider"]
    assert families.chosen["slider"].effectiveness == "needs_review"  # gold
    assert verdict.verdict.value == "needs_review" and not families.cases("slider")
    assert any("滑块" in f.message and f.side == "tool" for f in obs.failures)
    assert obs.needs_operator and obs.form_accepted is not True
