"""The outsiders' gold is honest: a person, clicking through each portal's own pages
(``fixtures/outsiders/person.py``), files exactly where gold says a person can, under the type
chosen, once, and the portal's tracking page then shows the case with a status; where gold says
a person cannot (a server that answers 500, a button that throws), nothing is filed. Without
this, a failure of ``test_outsiders.py`` could be the gate's fault rather than the product's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import async_playwright

from fixtures.outsiders import GOLD
from fixtures.outsiders.person import PEOPLE, Letter, Outcome, letter_for
from fixtures.outsiders.process import outsiders_process
from hotline_audit.config import BrowserSettings
from journeys.browser import launch_args

# One module fixture drives every case: one worker runs them all, so it is set up once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("outsiders_honest")]

# Each portal gets another case type, so every type's label is exercised somewhere.
CASE_TYPES = ("投诉", "咨询", "求助", "建议")


@dataclass
class Visit:
    letter: Letter
    outcome: Outcome | None
    error: str | None
    cases: list[dict]
    attempts: list[dict]


@pytest.fixture(scope="module")
def visits() -> dict[str, Visit]:
    async def run(proxy: str) -> dict[str, Visit]:
        out: dict[str, Visit] = {}
        settings = BrowserSettings()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=settings.executable, args=launch_args(settings),
                                               headless=True, proxy={"server": proxy})
            try:
                for n, gold in enumerate(GOLD):
                    letter = letter_for(gold, CASE_TYPES[n % len(CASE_TYPES)])
                    context = await browser.new_context(locale="zh-CN")
                    page = await context.new_page()
                    page.set_default_timeout(15000)
                    page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
                    outcome, error = None, None
                    try:
                        outcome = await PEOPLE[gold.hotline_id](page, gold.website, letter, f"{proxy}/_sms")
                    except Exception as exc:  # noqa: BLE001 (reported per portal by the tests)
                        error = f"{type(exc).__name__}: {exc}"[:600]
                    await context.close()
                    async with httpx.AsyncClient(trust_env=False) as c:
                        cases = (await c.get(f"{proxy}/_cases", params={"hotline_id": gold.hotline_id})).json()
                        attempts = (await c.get(f"{proxy}/_attempts", params={"hotline_id": gold.hotline_id})).json()
                    out[gold.hotline_id] = Visit(letter, outcome, error, cases, attempts)
            finally:
                await browser.close()
        return out

    with outsiders_process() as proxy:
        return asyncio.run(run(proxy))


@pytest.mark.parametrize("gold", GOLD, ids=[g.hotline_id for g in GOLD])
def test_a_person_files_exactly_where_gold_says(visits, gold):
    visit = visits[gold.hotline_id]
    if gold.person_files:
        assert visit.error is None, visit.error
        assert len(visit.cases) == 1, visit.cases
        case = visit.cases[0]
        assert (case["title"], case["category"]) == (visit.letter.title, visit.letter.category)
        assert visit.outcome and visit.outcome.number == case["number"] and visit.outcome.code == case["code"], \
            visit.outcome
        # "pending" gold: the tracking page shows the case, with a status.
        assert case["number"] in visit.outcome.tracked and case["status"] in visit.outcome.tracked, visit.outcome.tracked
    else:
        assert visit.cases == [], visit.cases
        assert visit.error is None, visit.error


def test_a_failing_server_refuses_on_record(visits):
    """jj-busy: the post reached the server, which answered 系统繁忙 (the refusal the
    cannot_submit verdict must cite); dy-broken-wizard: the press threw and nothing arrived."""
    busy, broken = visits["jj-busy"], visits["dy-broken-wizard"]
    assert [a["outcome"] for a in busy.attempts] == ["refused: 500"]
    assert busy.outcome and "系统繁忙" in busy.outcome.receipt
    assert broken.attempts == [] and broken.outcome and "layer is not defined" in broken.outcome.note
    assert "提交成功" in broken.outcome.receipt  # the step bar's label, there all along


def test_gold_is_complete():
    """Every portal's gold names its website, a submit entry and the category of every case type."""
    for g in GOLD:
        assert g.channels["website"] == (g.website,), g.hotline_id
        assert g.channels.get("submit"), g.hotline_id
        assert set(g.categories) == set(CASE_TYPES), g.hotline_id
        assert g.filed <= g.person_files, g.hotline_id
        assert (g.detail == "pending") == g.filed, g.hotline_id
