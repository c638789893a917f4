"""Another captcha image when OCR cannot read one, got the way a person gets it: the 换一张
link, a click on the image, or failing those the image's address loaded again. Every case
runs in one browser (one module fixture); the tests read what happened."""

from __future__ import annotations

import asyncio
import base64
import io
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from hotline_audit.config import BrowserSettings
from journeys import citizen_js as js
from journeys.browser import BrowserPool
from journeys.effectiveness import _captcha_pixels, _fresh_captcha, _read_captcha
from journeys.verification import FirstOf, OperatorCaptchaSolver

from . import local_site

# One module fixture drives every case: one worker runs them all, so it is set up once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("captcha_refresh")]

FORM = ("<!doctype html><title>{name}</title><form><label>姓名 <input name=name></label>"
        "<label>验证码 <input name=captcha></label>{img}<button type=submit>提交</button></form>")
IMAGES = {
    # the site's own "换一张" link; the image itself does nothing when clicked
    "link": "<img id=c src='{src}'><a href='javascript:void(0)' onclick=\"c.src='{src}?t='+Date.now()\">看不清？换一张</a>",
    # the image reloads itself when clicked
    "click": "<img id=c src='{src}' onclick=\"this.src='{src}?t='+Date.now()\">",
    # no handler at all: only loading the address again gives a new image
    "plain": "<img id=c src='{src}'>",
    # the image is a link to another page: clicking it would leave the form
    "leaves": "<a href='/elsewhere'><img id=c src='{src}'></a>",
    # a link that goes nowhere around an image that reloads itself: click it
    "hash": "<a href='#'><img id=c src='{src}' onclick=\"this.src='{src}?t='+Date.now()\"></a>",
    # drawn once into a data: URL, nothing refreshes it
    "stuck": "<img id=c src='{data}'>",
    # shown cut by its layout (a narrow phone column, another element over it): the image's
    # own pixels are read, not the part of the screen where it sits
    "cut": "<span style='display:inline-block;width:30px;overflow:hidden'><img id=c src='{src}'></span>"
           "<b style='position:relative;left:-20px'>码</b>",
}


def colour(n: int) -> tuple[int, int, int]:
    return (n * 70) % 256, 120, 200


def png(n: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80, 30), colour(n)).save(buf, format="PNG")
    return buf.getvalue()


def clear_png() -> bytes:
    """A transparent image with one dark mark: what a transparent captcha's letters are."""
    img = Image.new("RGBA", (80, 30), (0, 0, 0, 0))
    img.putpixel((40, 15), (20, 20, 20, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class Squinting:
    """OCR that cannot read the first ``blind`` images it is shown."""

    def __init__(self, blind: int) -> None:
        self.blind, self.shown = blind, []

    async def solve(self, image: bytes) -> str | None:
        self.shown.append(image)
        return None if len(self.shown) <= self.blind else "AB12"


@dataclass
class Outcome:
    value: Any
    first: bytes
    fetches: Counter[str]  # image requests: "all", and "busted" ones with a query
    src: str  # the image's address at the end
    url: str  # the page's address at the end


Body = Callable[[Any, bytes], Awaitable[Any]]


async def fresh(tab, first):
    return await _fresh_captcha(tab, first)


async def pixels(tab, first):
    return await _captcha_pixels(tab.page.locator('[data-ha-img="captcha"]').first, 5000)


def reading(ocr, seen_first: bool = False) -> Body:
    async def body(tab, first):
        run = SimpleNamespace(page=tab.page, tab=tab, captcha_seen=first if seen_first else None)
        answer = await _read_captcha(run, ocr, first)
        machine = ocr.solvers[0] if isinstance(ocr, FirstOf) else ocr
        return answer, machine, run.captcha_seen
    return body


def cases(tmp: Path) -> dict[str, tuple[str, Body]]:
    return {
        **{f"fresh-{name}": (name, fresh) for name in IMAGES},
        "pixels-cut": ("cut", pixels),
        "pixels-clear": ("clear", pixels),
        "read-swaps": ("plain", reading(Squinting(blind=2))),
        "read-gives-up": ("click", reading(Squinting(blind=99))),
        "read-spent": ("link", reading(Squinting(blind=0), seen_first=True)),
        # the operator had their chance (no terminal here, so no answer): no more images
        "read-operator": ("plain", reading(OperatorCaptchaSolver(tmp, 1))),
        # OCR then a person (no terminal: no answer): OCR swaps its images before anyone is asked
        "read-ocr-first": ("click", reading(FirstOf(Squinting(blind=1), OperatorCaptchaSolver(tmp, 1)))),
        "read-person-last": ("click", reading(FirstOf(Squinting(blind=99), OperatorCaptchaSolver(tmp, 1)))),
    }


async def run_cases(tmp: Path) -> dict[str, Outcome]:
    fetches: dict[str, Counter[str]] = {}

    async def image(request: web.Request) -> web.Response:
        seen = fetches.setdefault(request.match_info["case"], Counter())
        seen["all"] += 1
        seen["busted"] += bool(request.query)
        body = clear_png() if request.match_info["case"].endswith("clear") else png(seen["all"])
        return web.Response(body=body, content_type="image/png",
                            headers={"Cache-Control": "max-age=3600"})  # a cache must not hide the new one

    async def page(request: web.Request) -> web.Response:
        case = request.match_info["case"]
        data = "data:image/png;base64," + base64.b64encode(png(0)).decode()
        img = IMAGES.get(todo[case][0], IMAGES["plain"]).replace("{src}", f"/img/{case}").replace("{data}", data)
        return web.Response(text=FORM.format(name=case, img=img), content_type="text/html")

    todo = cases(tmp)
    runner, base = await local_site.serve({"/img/{case}": image, "/form/{case}": page})
    out: dict[str, Outcome] = {}
    try:
        async with BrowserPool(BrowserSettings(contexts=1), network=local_site.LOOPBACK) as pool:
            for case, (_, body) in todo.items():
                async with pool.tab() as tab:
                    p = tab.page
                    await p.goto(f"{base}/form/{case}")
                    assert (await p.evaluate(js.SCAN_FORM))["captchaImg"]
                    first = await _captcha_pixels(p.locator('[data-ha-img="captcha"]').first, 5000)
                    value = await body(tab, first)
                    out[case] = Outcome(value, first, fetches.get(case, Counter()),
                                        await p.eval_on_selector("#c", "e => e.src"), p.url)
    finally:
        await runner.cleanup()
    return out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    return asyncio.run(run_cases(tmp_path_factory.mktemp("captcha")))


@pytest.mark.parametrize("name,how", [("link", "?t="), ("click", "?t="), ("hash", "?t="), ("plain", "?_ha="),
                                      ("leaves", "?_ha=")])
def test_another_image_the_way_the_page_offers_it(outcomes, name, how):
    o = outcomes[f"fresh-{name}"]
    assert o.value is not None and o.value != o.first
    assert o.fetches == Counter(all=2, busted=1)
    assert how in o.src  # the site's own control where it has one, else the address again
    assert o.url.split("#")[0].endswith(f"/form/fresh-{name}")  # still on the form


def test_an_image_nothing_refreshes_gives_none(outcomes):
    o = outcomes["fresh-stuck"]
    assert o.value is None and o.url.endswith("/form/fresh-stuck")


def test_unreadable_images_are_swapped_until_one_reads(outcomes):
    o = outcomes["read-swaps"]
    answer, ocr, seen = o.value
    assert answer == ("AB12", "ocr", False)
    assert len(set(ocr.shown)) == 3 and o.fetches["all"] == 3
    assert seen == ocr.shown[-1]  # remembered: if the site refuses it, that image is spent


def test_ocr_gives_up_after_three_images(outcomes):
    o = outcomes["read-gives-up"]
    answer, ocr, _ = o.value
    assert answer == (None, "", False) and len(ocr.shown) == 3 and o.fetches["all"] == 3


def test_an_image_already_answered_is_swapped_before_reading(outcomes):
    """A site that refused an answer but kept its image: that image's answer is spent."""
    o = outcomes["read-spent"]
    answer, ocr, _ = o.value
    assert answer[0] == "AB12" and ocr.shown[0] != o.first and o.fetches["all"] == 2


def test_a_person_is_not_shown_another_image(outcomes):
    o = outcomes["read-operator"]
    answer, _, _ = o.value
    assert answer == (None, "", True) and o.fetches["all"] == 1


def test_ocr_tries_another_image_before_a_person_is_asked(outcomes):
    """In a batch round nobody answers: a person asked after OCR's first unreadable image
    ended the journey where OCR would have read the next one."""
    answer, ocr, _ = outcomes["read-ocr-first"].value
    assert answer == ("AB12", "ocr", False) and len(ocr.shown) == 2


def test_a_person_is_asked_once_after_ocr_gave_up(outcomes):
    o = outcomes["read-person-last"]
    answer, ocr, seen = o.value
    assert answer == (None, "", True) and len(ocr.shown) == 3 and o.fetches["all"] == 3
    assert seen == ocr.shown[-1]


def test_the_captcha_read_is_the_images_own_pixels_not_the_screen_around_it(outcomes):
    """Shown 30 px wide under a label drawn over it, the image is still read whole (80x30, its
    own colour) - a screenshot would hold a third of it and the label's character."""
    image = Image.open(io.BytesIO(outcomes["pixels-cut"].value))
    assert image.size == (80, 30)
    assert {image.getpixel((x, y))[:3] for x in range(0, 80, 7) for y in range(0, 30, 7)} == {colour(1)}


def test_a_transparent_captcha_is_read_on_white(outcomes):
    """OCR reads transparency as black: the letters would vanish into their background."""
    image = Image.open(io.BytesIO(outcomes["pixels-clear"].value)).convert("RGB")
    assert image.getpixel((0, 0)) == (255, 255, 255) and image.getpixel((40, 15)) == (20, 20, 20)
