"""Verdicts people give: reviewer overrides (复核改判) and manual checklist answers (人工检查).

Each is a row that is never edited: a new decision for the same (round, hotline, check, kind)
is a new row, and the newest one is in force, so the store keeps who changed what, when (UTC)
and why. A row without a verdict withdraws the earlier decision. Scores and reports apply
overrides before manual answers before automatic verdicts (reports/scoring.py).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from .ledger import UtcDateTime
from .model import Verdict, VerdictStatus, utcnow
from .store import Base, HotlineRow, RunRow, Store, VerdictRow

OVERRIDE, MANUAL = "override", "manual"
KIND_ZH = {OVERRIDE: "复核改判", MANUAL: "人工检查"}


class ReviewError(ValueError):
    """Bad input for a review (unknown verdict, hotline or round, no reason)."""


class ReviewRow(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[str] = mapped_column(String(100), index=True)
    hotline_id: Mapped[str] = mapped_column(String(64))
    check: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))  # override, manual
    verdict: Mapped[str | None] = mapped_column(String(30))  # None: the earlier decision is withdrawn
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str | None] = mapped_column(Text)  # manual answers: the channel that was used


@dataclass(frozen=True)
class Decision:
    round: str
    hotline_id: str
    check: str
    kind: str
    verdict: str | None
    reason: str
    by: str
    at: datetime
    channel: str | None = None


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return os.environ.get("USER") or "unknown"


def round_hotlines(store: Store, round_name: str) -> set[str]:
    with store.session() as s:
        run = s.scalar(select(RunRow).where(RunRow.round == round_name))
        if run is None:
            raise ReviewError(f"no round {round_name!r}")
        return set(s.scalars(select(HotlineRow.hotline_id).where(HotlineRow.run_id == run.id)))


def round_checks(store: Store, round_name: str) -> set[str]:
    """Check ids that have a verdict in the round."""
    with store.session() as s:
        run = s.scalar(select(RunRow).where(RunRow.round == round_name))
        if run is None:
            raise ReviewError(f"no round {round_name!r}")
        return set(s.scalars(select(VerdictRow.check).where(VerdictRow.run_id == run.id).distinct()))


def _ready(store: Store) -> None:
    Base.metadata.create_all(store.engine, tables=[ReviewRow.__table__])


def record(store: Store, round_name: str, hotline_id: str, check: str, verdict: str | None, *,
           reason: str, kind: str = OVERRIDE, by: str | None = None, channel: str | None = None,
           at: datetime | None = None, known: set[str] | None = None,
           checks: set[str] | None = None) -> Decision:
    """Store a decision (verdict None: withdraw the one in force). Checks its input first;
    ``known`` (the round's hotline ids) saves loading them for each of many decisions;
    ``checks``, when given, are the check ids a decision may name (catches typos)."""
    if known is None:
        known = round_hotlines(store, round_name)
    if checks is not None and check not in checks:
        raise ReviewError(f"unknown check {check!r}; checks of this round: {', '.join(sorted(checks))}")
    if hotline_id not in known:
        raise ReviewError(f"hotline {hotline_id!r} is not in round {round_name}")
    if verdict is not None and verdict not in VerdictStatus.__members__:
        raise ReviewError(f"unknown verdict {verdict!r}; one of: {', '.join(VerdictStatus.__members__)}")
    if not reason or not reason.strip():
        raise ReviewError("say why (--reason): a changed verdict without a reason cannot be defended")
    if kind not in KIND_ZH:
        raise ReviewError(f"unknown kind {kind!r}")
    _ready(store)
    row = ReviewRow(round=round_name, hotline_id=hotline_id, check=check, kind=kind, verdict=verdict,
                    reason=reason.strip(), by=(by or current_user())[:100], at=at or utcnow(), channel=channel)
    with store.session.begin() as s:
        s.add(row)
    return _decision(row)


def decisions(store: Store, round_name: str, *, history: bool = False, kind: str | None = None) -> list[Decision]:
    """The decisions in force (newest per key, withdrawn ones left out), or every row."""
    _ready(store)
    query = select(ReviewRow).where(ReviewRow.round == round_name).order_by(ReviewRow.id)
    if kind is not None:
        query = query.where(ReviewRow.kind == kind)
    with store.session() as s:
        rows = [_decision(r) for r in s.scalars(query)]
    if history:
        return rows
    latest: dict[tuple[str, str, str], Decision] = {}
    for d in rows:
        latest[(d.hotline_id, d.check, d.kind)] = d
    return [d for d in latest.values() if d.verdict is not None]


def _decision(r: ReviewRow) -> Decision:
    return Decision(round=r.round, hotline_id=r.hotline_id, check=r.check, kind=r.kind, verdict=r.verdict,
                    reason=r.reason, by=r.by, at=r.at, channel=r.channel)


def as_verdict(d: Decision) -> Verdict:
    label = KIND_ZH[d.kind]
    via = f"（{d.channel}）" if d.channel else ""
    return Verdict(hotline_id=d.hotline_id, check=d.check, verdict=d.verdict, reason=f"{label}{via}：{d.reason}",
                   reason_en=f"{d.kind} by {d.by}: {d.reason}", confidence=1.0,
                   rule=f"{d.kind} by a person ({d.by}, {d.at.isoformat()})",
                   metrics={"by": d.by, "at": d.at.isoformat(), "channel": d.channel})


def override_verdicts(store: Store, round_name: str) -> list[Verdict]:
    return [as_verdict(d) for d in decisions(store, round_name, kind=OVERRIDE)]


def manual_verdicts(store: Store, round_name: str) -> list[Verdict]:
    return [as_verdict(d) for d in decisions(store, round_name, kind=MANUAL)]
