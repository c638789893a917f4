"""The store: SQLAlchemy over SQLite by default, any SQLAlchemy URL for teams.

A round's results are written one hotline at a time, each in its own transaction, so an
interrupted round leaves whole hotlines or none, never half of one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from .model import Channel, EvidenceFile, Hotline, Verdict, utcnow


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # running, finished, interrupted, failed
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tool_version: Mapped[str] = mapped_column(String(40))
    config_hash: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict] = mapped_column(JSON)
    registry_path: Mapped[str] = mapped_column("registry", Text)
    proxy: Mapped[str | None] = mapped_column(String(300))


class HotlineRow(Base):
    """The registry as it was for this round (registries change between rounds)."""

    __tablename__ = "hotlines"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    hotline_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    done: Mapped[bool] = mapped_column(default=False)


class ChannelRow(Base):
    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    hotline_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(30))
    value: Mapped[str] = mapped_column(Text)
    found_on: Mapped[str] = mapped_column(Text)
    provenance: Mapped[dict] = mapped_column(JSON)


class ObservationRow(Base):
    __tablename__ = "observations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    hotline_id: Mapped[str] = mapped_column(String(64))
    journey: Mapped[str] = mapped_column(String(40))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict] = mapped_column(JSON)


class VerdictRow(Base):
    __tablename__ = "verdicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    hotline_id: Mapped[str] = mapped_column(String(64))
    check: Mapped[str] = mapped_column(String(60))
    verdict: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    rule: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(JSON)
    metrics: Mapped[dict] = mapped_column(JSON)


class EvidenceRow(Base):
    __tablename__ = "evidence_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    hotline_id: Mapped[str] = mapped_column(String(64))
    check: Mapped[str] = mapped_column(String(60))
    path: Mapped[str] = mapped_column(Text)  # relative to the round's output directory
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass
class HotlineResult:
    """Everything one hotline produced in a round; saved atomically."""

    hotline_id: str
    channels: list[Channel] = field(default_factory=list)
    observations: dict[str, dict[str, Any]] = field(default_factory=dict)  # journey -> data
    verdicts: list[Verdict] = field(default_factory=list)
    evidence: list[EvidenceFile] = field(default_factory=list)


@dataclass
class RoundData:
    round: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    tool_version: str
    config_hash: str
    settings: dict
    proxy: str | None
    hotlines: list[Hotline]
    done: set[str]
    channels: list[Channel]
    verdicts: list[Verdict]
    observations: dict[tuple[str, str], dict]  # (hotline_id, journey) -> data
    evidence: list[EvidenceFile]


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def begin_round(
        self,
        round_name: str,
        hotlines: Iterable[Hotline],
        *,
        tool_version: str,
        config_hash: str,
        settings: dict,
        registry: str,
        proxy: str | None,
        resume: bool = False,
    ) -> int:
        """Start (or restart from scratch) a round; returns its run id. With ``resume`` an
        existing round keeps the hotlines it finished (see ``done_hotlines``)."""
        with self.session.begin() as s:
            old = s.scalar(select(RunRow).where(RunRow.round == round_name))
            if old is not None and resume:
                old.status, old.finished_at = "running", None
                have = set(s.scalars(select(HotlineRow.hotline_id).where(HotlineRow.run_id == old.id)))
                for h in hotlines:
                    if h.hotline_id not in have:
                        s.add(HotlineRow(run_id=old.id, hotline_id=h.hotline_id, data=h.model_dump()))
                return old.id
            if old is not None:
                _delete_run(s, old.id)
            run = RunRow(
                round=round_name, status="running", started_at=utcnow(), finished_at=None,
                tool_version=tool_version, config_hash=config_hash, settings=settings,
                registry_path=registry, proxy=proxy,
            )
            s.add(run)
            s.flush()
            for h in hotlines:
                s.add(HotlineRow(run_id=run.id, hotline_id=h.hotline_id, data=h.model_dump()))
            return run.id

    def save_hotline(self, run_id: int, result: HotlineResult) -> None:
        with self.session.begin() as s:
            hid = result.hotline_id
            for model in (ChannelRow, ObservationRow, VerdictRow, EvidenceRow):
                s.execute(delete(model).where(model.run_id == run_id, model.hotline_id == hid))
            for c in result.channels:
                prov = c.model_dump(exclude={"hotline_id", "kind", "value", "found_on"})
                s.add(ChannelRow(run_id=run_id, hotline_id=hid, kind=c.kind, value=c.value,
                                 found_on=c.found_on, provenance=prov))
            for journey, data in result.observations.items():
                s.add(ObservationRow(run_id=run_id, hotline_id=hid, journey=journey,
                                     observed_at=utcnow(), data=data))
            for v in result.verdicts:
                s.add(VerdictRow(run_id=run_id, hotline_id=hid, check=v.check, verdict=v.verdict.value,
                                 reason=v.reason, reason_en=v.reason_en, confidence=v.confidence,
                                 rule=v.rule, evidence=v.evidence, metrics=v.metrics))
            for e in result.evidence:
                s.add(EvidenceRow(run_id=run_id, hotline_id=hid, check=e.check, path=e.path,
                                  sha256=e.sha256, bytes=e.bytes, media_type=e.media_type,
                                  created_at=e.created_at))
            row = s.get(HotlineRow, (run_id, hid))
            if row is not None:
                row.done = True

    def replace_verdict(self, round_name: str, verdict: Verdict, observation: dict[str, Any],
                        evidence: list[EvidenceFile], journey: str) -> None:
        """A later look (``recheck``) replaces one check's verdict and observation of a hotline
        in a stored round and adds its evidence; the rest of the hotline stays as it was."""
        with self.session.begin() as s:
            run = s.scalar(select(RunRow).where(RunRow.round == round_name))
            if run is None:
                return
            hid = verdict.hotline_id
            s.execute(delete(VerdictRow).where(VerdictRow.run_id == run.id, VerdictRow.hotline_id == hid,
                                               VerdictRow.check == verdict.check))
            s.execute(delete(ObservationRow).where(ObservationRow.run_id == run.id, ObservationRow.hotline_id == hid,
                                                   ObservationRow.journey == journey))
            s.add(VerdictRow(run_id=run.id, hotline_id=hid, check=verdict.check, verdict=verdict.verdict.value,
                             reason=verdict.reason, reason_en=verdict.reason_en, confidence=verdict.confidence,
                             rule=verdict.rule, evidence=verdict.evidence, metrics=verdict.metrics))
            s.add(ObservationRow(run_id=run.id, hotline_id=hid, journey=journey, observed_at=utcnow(),
                                 data=observation))
            for e in evidence:
                s.add(EvidenceRow(run_id=run.id, hotline_id=hid, check=e.check, path=e.path, sha256=e.sha256,
                                  bytes=e.bytes, media_type=e.media_type, created_at=e.created_at))

    def done_hotlines(self, run_id: int) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(HotlineRow.hotline_id).where(HotlineRow.run_id == run_id,
                                                                     HotlineRow.done.is_(True))))

    def finish_round(self, run_id: int, status: str) -> None:
        with self.session.begin() as s:
            run = s.get(RunRow, run_id)
            if run is not None:
                run.status = status
                run.finished_at = utcnow()

    def rounds(self) -> list[tuple[str, str, datetime]]:
        with self.session() as s:
            return [(r.round, r.status, r.started_at) for r in s.scalars(select(RunRow).order_by(RunRow.id))]

    def load_round(self, round_name: str) -> RoundData | None:
        with self.session() as s:
            run = s.scalar(select(RunRow).where(RunRow.round == round_name))
            if run is None:
                return None
            hot = list(s.scalars(select(HotlineRow).where(HotlineRow.run_id == run.id)))
            channels = [
                Channel(hotline_id=c.hotline_id, kind=c.kind, value=c.value, found_on=c.found_on,
                        **c.provenance)
                for c in s.scalars(select(ChannelRow).where(ChannelRow.run_id == run.id).order_by(ChannelRow.id))
            ]
            verdicts = [
                Verdict(hotline_id=v.hotline_id, check=v.check, verdict=v.verdict, reason=v.reason,
                        reason_en=v.reason_en, confidence=v.confidence, rule=v.rule,
                        evidence=v.evidence, metrics=v.metrics)
                for v in s.scalars(select(VerdictRow).where(VerdictRow.run_id == run.id).order_by(VerdictRow.id))
            ]
            observations = {
                (o.hotline_id, o.journey): o.data
                for o in s.scalars(select(ObservationRow).where(ObservationRow.run_id == run.id))
            }
            evidence = [
                EvidenceFile(hotline_id=e.hotline_id, check=e.check, path=e.path, sha256=e.sha256,
                             bytes=e.bytes, media_type=e.media_type, created_at=e.created_at)
                for e in s.scalars(select(EvidenceRow).where(EvidenceRow.run_id == run.id).order_by(EvidenceRow.id))
            ]
            return RoundData(
                round=run.round, status=run.status, started_at=run.started_at,
                finished_at=run.finished_at, tool_version=run.tool_version,
                config_hash=run.config_hash, settings=run.settings, proxy=run.proxy,
                hotlines=[Hotline.model_validate(h.data) for h in hot],
                done={h.hotline_id for h in hot if h.done},
                channels=channels, verdicts=verdicts, observations=observations, evidence=evidence,
            )


def _delete_run(s: Session, run_id: int) -> None:
    for model in (ChannelRow, ObservationRow, VerdictRow, EvidenceRow, HotlineRow):
        s.execute(delete(model).where(model.run_id == run_id))
    s.execute(delete(RunRow).where(RunRow.id == run_id))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # readers (report) do not block the round's writer
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
