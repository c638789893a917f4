"""The scoring rubric: a documented YAML file (``hotline_audit/rubric.yaml`` by default) read
into validated models, so a bad rubric fails before anything is scored."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hotline_audit.model import VerdictStatus

NEVER_SCORED = ("needs_review", "tool_error")  # DESIGN §2: never counted against a hotline


class RubricError(ValueError):
    """The rubric file is unreadable or inconsistent; the message says where."""


class Dimension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label_zh: str
    label_en: str = ""
    weight: float = Field(1.0, ge=0)
    report_2021: float | None = Field(None, ge=0, le=100)  # the 2021 report's score, shown beside ours


class CheckRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dimension: str
    weight: float = Field(1.0, ge=0)
    verdict_scores: dict[VerdictStatus, float | None]

    @model_validator(mode="after")
    def _scores_in_range(self) -> CheckRule:
        for verdict, points in self.verdict_scores.items():
            if points is not None and not 0 <= points <= 100:
                raise ValueError(f"{verdict.value}: points must be 0-100 or null, not {points}")
            if points is not None and verdict.value in NEVER_SCORED:
                raise ValueError(f"{verdict.value} must be null: it never counts for or against a hotline")
        return self


class ProblemRate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    problem: VerdictStatus
    label_zh: str
    check: str
    pool: list[VerdictStatus] = Field(min_length=1)
    pool_zh: str = ""
    report_2021: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _problem_in_pool(self) -> ProblemRate:
        if self.problem not in self.pool:
            raise ValueError(f"{self.problem.value} must be one of its own pool's verdicts")
        return self


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    version: int | str = 1
    dimensions: dict[str, Dimension] = Field(min_length=1)
    total_min_dimensions: int = Field(1, ge=1)
    checks: dict[str, CheckRule] = Field(min_length=1)
    problem_rates: list[ProblemRate] = Field(default_factory=list)
    source: str = Field("", exclude=True)  # where it was read from (not part of the hash)

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        for check, rule in self.checks.items():
            if rule.dimension not in self.dimensions:
                raise ValueError(f"check {check}: unknown dimension {rule.dimension!r} "
                                 f"(dimensions: {', '.join(self.dimensions)})")
        if self.total_min_dimensions > len(self.dimensions):
            raise ValueError("total_min_dimensions exceeds the number of dimensions")
        return self

    def fingerprint(self) -> str:
        """SHA-256 of the rubric's content: printed with every score it produced."""
        payload = self.model_dump(mode="json")
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def default_rubric_path() -> Path:
    return Path(str(resources.files("hotline_audit") / "rubric.yaml"))


def load_rubric(path: Path | None = None) -> Rubric:
    """The rubric at ``path``, or the shipped default."""
    path = path or default_rubric_path()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RubricError(f"{path}: cannot read rubric: {exc}") from None
    if not isinstance(data, dict):
        raise RubricError(f"{path}: expected a mapping (dimensions, checks, problem_rates)")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise RubricError(f"{path}: {problems}") from None
    rubric.source = str(path)
    return rubric
