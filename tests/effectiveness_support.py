"""Shared by the submission-journey tests and their crash helper (kept out of conftest so the
helper process imports nothing it does not need)."""

from __future__ import annotations

from pathlib import Path

from fixtures.simweb import build_population, registry_hotlines
from hotline_audit.config import Settings, load_settings
from hotline_audit.model import Hotline

SEED, COUNT = 1, 24


def population(seed: int = SEED, count: int = COUNT) -> list[Hotline]:
    return registry_hotlines(build_population(seed, count), all_websites=True)


def journey_settings(proxy: str, out: Path, db: str | None = None, **effectiveness: object) -> Settings:
    """simweb's SMS inbox through the proxy, OCR for captchas (no terminal in tests), and an
    SMS wait longer than simweb's late codes (8 s) but short enough for "never"."""
    eff = {"sms_inbox_url": "{proxy}/_sms?phone={phone}", "captcha_mode": "ocr", "sms_wait_s": 12.0}
    eff.update(effectiveness)
    return load_settings(None, proxy=proxy, out=out, db=db or f"sqlite:///{out / 'store.db'}",
                         effectiveness=eff)
