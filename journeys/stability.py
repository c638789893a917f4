"""The stability journey: one browser load, then the repeated probes, for one hotline.

The browser goes first so that its cookies (e.g. a passed JS challenge) ride along with the
probes, as they would for a citizen who opened the site once.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from checks.stability import CONTROLLED_FAULTS
from hotline_audit.config import Settings
from hotline_audit.model import EvidenceFile, Hotline, StabilityObservation, ThrottleSeen, TlsFacts
from hotline_audit.netguard import TargetPolicy
from hotline_audit.politeness import Politeness, host_of

from .browser import BrowserPool, shot_format
from .capture import Capture
from .pageload import load_page
from .probes import observe_tls, probe_series, tls_target

MAX_THROTTLES = 50  # kept per observation: the first ones tell the story


@dataclass
class JourneyContext:
    """What every journey of a round shares."""

    settings: Settings
    browser: BrowserPool
    round_dir: Path
    probe_limiter: asyncio.Semaphore
    # The round's politeness budget (hotline_audit/politeness.py); None: nothing is paced.
    budget: Politeness | None = None

    def throttles_since(self, hotline_id: str, hosts: set[str], since: float) -> list[ThrottleSeen]:
        """Throttling answers since ``since`` (time.time()) for the hotline's requests or hosts."""
        if self.budget is None:
            return []
        return [ThrottleSeen(host=t.host, at=datetime.fromtimestamp(t.at, UTC), kind=t.kind, status=t.status,
                             url=t.url, component=t.component, retry_after_s=t.retry_after_s, waited_s=t.waited_s)
                for t in self.budget.throttles(hosts, since, hotline_id)][:MAX_THROTTLES]

    def evidence_path(self, hotline_id: str, check: str, name: str) -> Path:
        return self.round_dir / "evidence" / hotline_id / check / name


def evidence_record(ctx: JourneyContext, hotline_id: str, check: str, path: Path, media_type: str) -> EvidenceFile:
    data = path.read_bytes()
    return EvidenceFile(
        hotline_id=hotline_id, check=check, path=path.relative_to(ctx.round_dir).as_posix(),
        sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), media_type=media_type,
    )


async def observe_stability(ctx: JourneyContext, hotline: Hotline) -> tuple[StabilityObservation, list[EvidenceFile]]:
    obs = StabilityObservation(hotline_id=hotline.hotline_id, website=hotline.website, proxy=ctx.settings.proxy)
    if not hotline.website:
        return obs, []
    evidence: list[EvidenceFile] = []
    cookies: dict[str, str] = {}
    fmt = shot_format(ctx.settings.browser)
    shot = ctx.evidence_path(hotline.hotline_id, "stability", "homepage" + fmt.suffix)
    capture = Capture(ctx.evidence_path(hotline.hotline_id, "stability", "homepage"),
                      options=ctx.settings.evidence, check="stability")
    since = time.time()
    async with ctx.browser.tab(capture=capture, hotline_id=hotline.hotline_id) as tab:
        obs.page_load = await load_page(tab, hotline.website, ctx.settings.browser, shot)
        for _ in range(ctx.settings.politeness.retries):
            if obs.page_load.throttle is None or (ctx.budget and ctx.budget.refusing(hotline.website)):
                break
            # Come back once the host's back-off is over (the next slot waits for it).
            obs.page_load = await load_page(tab, hotline.website, ctx.settings.browser, shot)
        if obs.page_load.fault in CONTROLLED_FAULTS:
            # Only a browser that works on a control page can call the page's hang its own.
            obs.page_load.control_ok = await ctx.browser.browser_works()
        if obs.page_load.ok:
            cookies = {c["name"]: c["value"] for c in await tab.context.cookies()}
    if obs.page_load.screenshot:
        evidence.append(evidence_record(ctx, hotline.hotline_id, "stability", shot, fmt.media_type))
        obs.page_load.screenshot = evidence[-1].path
    evidence += capture.records(ctx.round_dir, hotline.hotline_id, "stability")
    # The TLS look runs beside the probes (one handshake or two): it adds no time to a round.
    obs.probes, obs.tls = await asyncio.gather(
        probe_series(hotline.website, ctx.settings.probe, ctx.settings.proxy, ctx.probe_limiter, cookies,
                     TargetPolicy(ctx.settings.network.allow_hosts), budget=ctx.budget,
                     hotline_id=hotline.hotline_id, retries=ctx.settings.politeness.retries,
                     enough_failures=enough_failures(ctx.settings)),
        _observe_tls(ctx, tls_target(hotline.website, obs.page_load.final_url if obs.page_load else None)),
    )
    hosts = {host_of(u) for u in (hotline.website, obs.page_load.final_url if obs.page_load else None) if u}
    obs.throttles = ctx.throttles_since(hotline.hotline_id, hosts, since)
    return obs, evidence


def enough_failures(settings: Settings) -> int:
    """Site failures after which the census rule says unreachable whatever the rest of the
    probes and the browser load would show (checks/stability.py's first rule)."""
    attempts = settings.probe.count + 1  # the probes and the browser's load
    return max(1, math.ceil(settings.stability.down_failure_share * attempts - 1e-9))


async def _observe_tls(ctx: JourneyContext, url: str) -> TlsFacts:
    """TLS facts never cost the stability verdict: a bug here is recorded, not raised."""
    try:
        return await observe_tls(url, ctx.settings.proxy, ctx.settings.probe.timeout_s, ctx.probe_limiter,
                                 policy=TargetPolicy(ctx.settings.network.allow_hosts))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return TlsFacts(url=url, tls=url.startswith("https:"), error_kind="client", side="tool",
                        error=f"{type(exc).__name__}: {exc}"[:200])
