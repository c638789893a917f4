"""The case ledger: every complaint the audit files, so that nothing is ever filed twice.

One row per (hotline, round, scenario), in the store's database. The row is written before
anything is pressed, and its state says how far the submission got:

``planned``   the journey started; nothing was sent yet
``intent``    written just BEFORE pressing submit; a crash leaves the case here
``submitted`` the hotline's receipt is stored (the only state rechecks visit)
``failed``    the site refused (cannot_submit, with stage and reason): nothing was filed
``unknown``   submit may have been pressed but no receipt is known and the site could not be
              searched for it; a person must look, the audit never presses again

Every change is a compare-and-set on ``version``, so two processes working on one case cannot
both move it to ``intent``: the loser gets ``LedgerConflict`` instead of a second submission.
Rows are keyed by round name, not run id, so restarting a round from scratch keeps them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .model import SubmissionObservation, Verdict, utcnow
from .personas import Persona
from .scenarios import Scenario
from .store import Base, Store
from .workdays import china_date

PLANNED, INTENT, SUBMITTED, FAILED, UNKNOWN = "planned", "intent", "submitted", "failed", "unknown"
STATES = (PLANNED, INTENT, SUBMITTED, FAILED, UNKNOWN)
# Which state may follow which. A submitted case never goes back: it only gets checks.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PLANNED: (INTENT, FAILED, PLANNED),
    INTENT: (INTENT, SUBMITTED, FAILED, UNKNOWN),
    UNKNOWN: (SUBMITTED, INTENT, UNKNOWN),  # INTENT only after the site shows no such case
    FAILED: (INTENT, FAILED, PLANNED),  # a refused case may be tried again in a re-run
    SUBMITTED: (SUBMITTED,),
}
# Verdicts that settle a case once seen after its reply deadline.
FINAL_VERDICTS = ("solved", "not_solved", "no_reply", "no_progress")


class LedgerError(RuntimeError):
    """A transition the state machine forbids (a bug: it would risk a second submission)."""


class LedgerConflict(LedgerError):
    """Another process changed the case first; this one must not act on it."""


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes also on SQLite, which drops the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Case(Base):
    """One submission (or attempt) of the audit. Read its fields; change it through Ledger."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("hotline_id", "round", "scenario_id", name="uq_case_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotline_id: Mapped[str] = mapped_column(String(64), index=True)
    round: Mapped[str] = mapped_column(String(100), index=True)
    scenario_id: Mapped[str] = mapped_column(String(64))
    case_type: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(Text)  # as submitted: how the case is found again
    persona_key: Mapped[str] = mapped_column(String(32))  # a hash, never the phone itself
    state: Mapped[str] = mapped_column(String(12), default=PLANNED)
    version: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(10))  # website, h5
    url: Mapped[str | None] = mapped_column(Text)  # the submission page
    track_url: Mapped[str | None] = mapped_column(Text)
    presses: Mapped[int] = mapped_column(Integer, default=0)  # times submit was pressed
    pressed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the last press (audit clock)
    resubmits: Mapped[int] = mapped_column(Integer, default=0)  # after a crash, none found
    failure_stage: Mapped[str | None] = mapped_column(String(12))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[dict] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[date | None] = mapped_column(Date)  # last day of the reply window (China)
    observation: Mapped[dict] = mapped_column(JSON, default=dict)  # SubmissionObservation, redacted
    last_check: Mapped[dict] = mapped_column(JSON, default=dict)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    verdict: Mapped[str | None] = mapped_column(String(30))
    verdict_reason: Mapped[str | None] = mapped_column(Text)
    closed: Mapped[bool] = mapped_column(default=False)  # final verdict seen after the deadline
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def observed(self) -> SubmissionObservation | None:
        return SubmissionObservation.model_validate(self.observation) if self.observation else None

    def __repr__(self) -> str:
        return f"Case({self.hotline_id}/{self.round}/{self.scenario_id}: {self.state})"


def persona_key(persona: Persona) -> str:
    """Who filed a case, without the phone: the ID number makes the hash unguessable."""
    data = f"hotline-audit-persona\x00{persona.phone}\x00{persona.id_number}".encode()
    return hashlib.sha256(data).hexdigest()[:32]


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store
        # Store() only creates the tables it knows of; this one lives here.
        Base.metadata.create_all(store.engine, tables=[Case.__table__])

    # -- reading -----------------------------------------------------------------------------

    def get(self, hotline_id: str, round_name: str, scenario_id: str) -> Case | None:
        with self.store.session() as s:
            return s.scalar(select(Case).where(Case.hotline_id == hotline_id, Case.round == round_name,
                                               Case.scenario_id == scenario_id))

    def refresh(self, case: Case) -> Case:
        with self.store.session() as s:
            fresh = s.get(Case, case.id)
            if fresh is None:
                raise LedgerError(f"{case!r} is gone from the ledger")
            return fresh

    def cases(self, round_name: str | None = None, states: Iterable[str] | None = None) -> list[Case]:
        query = select(Case).order_by(Case.id)
        if round_name is not None:
            query = query.where(Case.round == round_name)
        if states is not None:
            query = query.where(Case.state.in_(list(states)))
        with self.store.session() as s:
            return list(s.scalars(query))

    def receipt_numbers(self, hotline_id: str) -> set[str]:
        """Case numbers already on record for a hotline (any round)."""
        with self.store.session() as s:
            receipts = s.scalars(select(Case.receipt).where(Case.hotline_id == hotline_id))
            return {r["number"] for r in receipts if r and r.get("number")}

    def due(self, now: datetime) -> list[Case]:
        """Submitted cases whose reply deadline has passed (China date) and that have no final
        verdict from a look after it."""
        today = china_date(now)
        with self.store.session() as s:
            return list(s.scalars(select(Case).where(
                Case.state == SUBMITTED, Case.closed.is_(False), Case.due_at.is_not(None),
                Case.due_at < today).order_by(Case.due_at, Case.id)))

    # -- writing -----------------------------------------------------------------------------

    def begin(self, hotline_id: str, round_name: str, scenario: Scenario, *, title: str,
              persona: str, channel: str | None = None, url: str | None = None) -> Case:
        """The case for this key: the existing one (whatever its state), else a new
        ``planned`` one. ``persona`` is ``persona_key(...)``."""
        existing = self.get(hotline_id, round_name, scenario.id)
        if existing is not None:
            return existing
        now = utcnow()
        row = Case(hotline_id=hotline_id, round=round_name, scenario_id=scenario.id,
                   case_type=scenario.case_type, title=title, persona_key=persona, state=PLANNED,
                   version=0, channel=channel, url=url, presses=0, resubmits=0, receipt={},
                   observation={}, last_check={}, checks=0, closed=False, created_at=now, updated_at=now)
        try:
            with self.store.session.begin() as s:
                s.add(row)
        except IntegrityError:  # another process created it first: use theirs
            found = self.get(hotline_id, round_name, scenario.id)
            if found is None:
                raise
            return found
        return row

    def mark_submitting(self, case: Case, *, channel: str | None, url: str | None,
                        observation: SubmissionObservation | None = None, resubmit: bool = False,
                        at: datetime | None = None) -> Case:
        """Write the intent: call this BEFORE pressing submit, press only if it returned.
        ``resubmit``: pressing again for a case a crash left behind, after the site showed it
        was never filed (counted in ``resubmits``)."""
        if case.state == UNKNOWN and not resubmit:
            raise LedgerError(f"{case!r}: a case of unknown outcome is pressed again only as a resubmit")
        fields: dict[str, Any] = {"channel": channel, "url": url, "presses": case.presses + 1,
                                  "resubmits": case.resubmits + int(resubmit), "pressed_at": at or utcnow()}
        return self._move(case, INTENT, observation, **fields)

    def record_receipt(self, case: Case, receipt: dict[str, str], *, submitted_at: datetime,
                       due_at: date, observation: SubmissionObservation | None = None,
                       track_url: str | None = None) -> Case:
        fields: dict[str, Any] = {"receipt": dict(receipt), "submitted_at": submitted_at,
                                  "due_at": due_at, "failure_stage": None, "failure_reason": None}
        if track_url:
            fields["track_url"] = track_url
        return self._move(case, SUBMITTED, observation, **fields)

    def record_failure(self, case: Case, stage: str, reason: str,
                       observation: SubmissionObservation | None = None) -> Case:
        """The site refused before anything was filed (cannot_submit at ``stage``)."""
        return self._move(case, FAILED, observation, failure_stage=stage, failure_reason=reason)

    def mark_unknown(self, case: Case, reason: str,
                     observation: SubmissionObservation | None = None) -> Case:
        return self._move(case, UNKNOWN, observation, failure_stage="submit", failure_reason=reason)

    def save(self, case: Case, observation: SubmissionObservation | None = None, **fields: Any) -> Case:
        """Keep the state, update other fields (e.g. the observation, the tracking URL)."""
        return self._move(case, case.state, observation, **fields)

    def record_check(self, case: Case, observation: SubmissionObservation,
                     verdict: Verdict | None = None, *, now: datetime | None = None) -> Case:
        """A look at the case's progress (a recheck, or the one right after submitting). With a
        verdict seen after the deadline the case is closed and leaves ``due()``."""
        now = now or utcnow()
        last = observation.progress[-1].model_dump(mode="json") if observation.progress else {}
        fields: dict[str, Any] = {
            "checks": case.checks + 1,
            "last_check": {"checked_at": now.isoformat(), "progress": last,
                           "replies": [r.model_dump(mode="json") for r in observation.replies]},
        }
        if verdict is not None:
            fields["verdict"], fields["verdict_reason"] = verdict.verdict.value, verdict.reason
            fields["closed"] = bool(verdict.verdict.value in FINAL_VERDICTS and case.due_at is not None
                                    and china_date(now) > case.due_at)
        return self._move(case, case.state, observation, **fields)

    def _move(self, case: Case, state: str, observation: SubmissionObservation | None,
              **fields: Any) -> Case:
        if state not in TRANSITIONS.get(case.state, ()):
            raise LedgerError(f"{case!r}: {case.state} -> {state} is not allowed")
        values = dict(fields, state=state, version=case.version + 1, updated_at=utcnow())
        if observation is not None:
            values["observation"] = observation.model_dump(mode="json")
        with self.store.session.begin() as s:
            done = s.execute(update(Case).where(Case.id == case.id, Case.version == case.version)
                             .values(**values).execution_options(synchronize_session=False))
            if done.rowcount != 1:
                raise LedgerConflict(f"{case!r} was changed by someone else (version {case.version})")
        for key, value in values.items():
            setattr(case, key, value)
        return case
