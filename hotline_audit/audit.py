"""A round: for every hotline, gather observations (journeys), judge them (checks), store.

This is the library behind ``hotline-audit audit``; the command only adds options and a
progress bar.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from checks.findability import answers, judge_findability
from checks.stability import judge_stability
from crawler.known import known_channels
from journeys.browser import BrowserPool
from journeys.effectiveness import EffectivenessTools, effectiveness_tools, run_effectiveness
from journeys.findability import observe_findability
from journeys.stability import JourneyContext, observe_stability

from . import __version__
from .config import Settings
from .ledger import Ledger
from .model import Channel, Hotline, Verdict, VerdictStatus
from .politeness import open_budget
from .questions import Question, load_questions, pick_questions
from .store import HotlineResult, Store
from .workdays import china_today

CHECKS = ("stability", "findability", "effectiveness")


class AuditInputError(ValueError):
    """Bad input from the user (exit code 2): nothing has been written."""


@dataclass
class RoundPlan:
    round_name: str
    hotlines: list[Hotline]
    settings: Settings
    registry: str
    checks: tuple[str, ...] = CHECKS
    channels: dict[str, list[Channel]] | None = None  # from discovery; None: the registry's only
    discovery_notes: dict[str, dict] | None = None  # per hotline: failures, page QRs, off-site links

    @property
    def round_dir(self) -> Path:
        return self.settings.out / self.round_name


def select_checks(only: str | None) -> tuple[str, ...]:
    if not only:
        return CHECKS
    wanted = tuple(c.strip() for c in only.split(",") if c.strip())
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        raise AuditInputError(f"unknown check(s) {', '.join(unknown)}; available: {', '.join(CHECKS)}")
    return wanted


def select_hotlines(hotlines: list[Hotline], ids: str | None) -> list[Hotline]:
    if not ids:
        return hotlines
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    known = {h.hotline_id for h in hotlines}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise AuditInputError(f"unknown hotline id(s) {', '.join(unknown)}: not in the registry")
    return [h for h in hotlines if h.hotline_id in wanted]


def check_round_name(name: str) -> str:
    if not name or name in (".", "..") or any(c in name for c in '/\\:*?"<>|') or len(name) > 100:
        raise AuditInputError(f"round name {name!r} must be a plain name such as 2026-Q4 (no slashes)")
    return name


def check_proxy(proxy: str | None, timeout_s: float = 3.0) -> None:
    """Fail before the round when the proxy does not even accept a connection."""
    if not proxy:
        return
    parts = urlsplit(proxy)
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise AuditInputError(f"proxy {proxy!r} must look like http://HOST:PORT")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise AuditInputError(f"proxy {proxy} is unreachable ({exc.strerror or exc}); start it or fix --proxy") from None


def check_output_dir(round_dir: Path) -> None:
    """Fail before the round when the output directory cannot be written."""
    try:
        round_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=round_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise AuditInputError(f"cannot write to {round_dir}: {exc.strerror or exc}") from None


@dataclass
class Submitting:
    """What the effectiveness check needs for a round: the case ledger and who submits."""

    ledger: Ledger
    tools: EffectivenessTools


async def audit_hotline(ctx: JourneyContext, hotline: Hotline, checks: tuple[str, ...],
                        channels: list[Channel] | None = None, round_name: str = "",
                        bank: list[Question] | None = None, submitting: Submitting | None = None) -> HotlineResult:
    """Gather and judge one hotline. Never raises for a hotline's sake: our own failures become
    ``tool_error`` verdicts so the round goes on."""
    result = HotlineResult(hotline_id=hotline.hotline_id,
                           channels=channels if channels is not None else known_channels(hotline))
    # One wall budget for all of the hotline's checks: no page can hold a round up.
    deadline = asyncio.get_running_loop().time() + ctx.settings.hotline_budget_s
    if "stability" in checks:
        budget = asyncio.timeout_at(deadline)
        try:
            async with budget:
                obs, evidence = await observe_stability(ctx, hotline)
                result.observations["stability"] = obs.model_dump(mode="json")
                result.evidence.extend(evidence)
                result.verdicts.append(judge_stability(obs, ctx.settings.stability))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or crash on our side, never the hotline's fault
            result.verdicts.append(budget_verdict(hotline.hotline_id, "stability", ctx.settings.hotline_budget_s)
                                   if budget.expired() else tool_error_verdict(hotline.hotline_id, "stability", exc))
    if "findability" in checks:
        rules = ctx.settings.findability
        budget = asyncio.timeout_at(deadline)
        try:
            async with budget:
                # The same questions for a hotline every time the round is run (and re-run).
                questions = pick_questions(bank if bank is not None else load_questions(), hotline.hotline_id,
                                           round_name, rules.questions_per_hotline)
                today = china_today()
                found, evidence = await observe_findability(
                    ctx, hotline, result.channels, questions,
                    answered=lambda question, attempt: answers(attempt, question, rules, today))
                result.observations["findability"] = found.model_dump(mode="json")
                result.evidence.extend(evidence)
                result.verdicts.append(judge_findability(found, questions, rules, today))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result.verdicts.append(budget_verdict(hotline.hotline_id, "findability", ctx.settings.hotline_budget_s)
                                   if budget.expired() else tool_error_verdict(hotline.hotline_id, "findability", exc))
    if "effectiveness" in checks and submitting is not None:
        budget = asyncio.timeout_at(deadline)
        try:
            async with budget:
                obs, verdict, evidence = await run_effectiveness(ctx, hotline, result.channels, submitting.ledger,
                                                                 round_name, tools=submitting.tools)
                result.observations["effectiveness"] = obs.model_dump(mode="json")
                result.evidence.extend(evidence)
                result.verdicts.append(verdict)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result.verdicts.append(budget_verdict(hotline.hotline_id, "effectiveness", ctx.settings.hotline_budget_s)
                                   if budget.expired() else tool_error_verdict(hotline.hotline_id, "effectiveness", exc))
    return result


def budget_verdict(hotline_id: str, check: str, budget_s: float) -> Verdict:
    """A check stopped by the hotline's wall budget: neither the site's failure nor ours is
    shown by that alone, so a person looks (the evidence gathered so far is kept)."""
    return Verdict(hotline_id=hotline_id, check=check, verdict=VerdictStatus.needs_review,
                   reason=f"单条热线检测时限({budget_s:g}秒)已用尽, 本项未完成, 需人工复核",
                   reason_en=f"the hotline's time budget ({budget_s:g} s) ran out before this check finished",
                   confidence=0.0)


def tool_error_verdict(hotline_id: str, check: str, exc: BaseException) -> Verdict:
    detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return Verdict(hotline_id=hotline_id, check=check, verdict=VerdictStatus.tool_error,
                   reason=f"检测工具故障: {detail}", reason_en=f"our tooling failed: {detail}",
                   confidence=1.0)


async def run_round(
    plan: RoundPlan,
    store: Store,
    run_id: int,
    on_done: Callable[[Hotline, HotlineResult], None] = lambda h, r: None,
) -> None:
    """Audit every hotline of the plan, saving each one as soon as it is judged."""
    settings = plan.settings
    # One politeness budget per host for every component, shared with discovery and rechecks.
    budget = open_budget(settings.politeness, settings.out, plan.round_name)
    async with BrowserPool(settings.browser, settings.proxy, settings.network, budget,
                           settings.politeness.contact) as browser:
        ctx = JourneyContext(settings=settings, browser=browser, round_dir=plan.round_dir,
                             probe_limiter=asyncio.Semaphore(settings.probe.concurrency), budget=budget)
        slots = asyncio.Semaphore(settings.hotlines_in_flight)
        bank = load_questions() if "findability" in plan.checks else []
        submitting = (Submitting(Ledger(store), effectiveness_tools(settings, plan.round_dir))
                      if "effectiveness" in plan.checks else None)

        async def one(hotline: Hotline) -> None:
            async with slots:
                found = plan.channels.get(hotline.hotline_id, []) if plan.channels is not None else None
                result = await audit_hotline(ctx, hotline, plan.checks, found, plan.round_name, bank, submitting)
                if plan.discovery_notes is not None:
                    result.observations["discovery"] = plan.discovery_notes.get(hotline.hotline_id, {})
                store.save_hotline(run_id, result)
                on_done(hotline, result)

        async with asyncio.TaskGroup() as group:
            for hotline in plan.hotlines:
                group.create_task(one(hotline))


def tool_version() -> str:
    return __version__
