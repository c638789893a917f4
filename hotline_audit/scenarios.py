"""The scenario library: what the audit submits to each hotline, chosen reproducibly.

A hotline gets the same scenario (and the same made-up location) every time a round is re-run,
so a crashed round resumes with the same text, yet different rounds spread over the library.
"""

from __future__ import annotations

import hashlib
import re
import string
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, field_validator

CaseType = Literal["咨询", "投诉", "求助", "建议"]
PLACEHOLDERS = {"city", "district", "street"}

# Generic names found in many Chinese cities; with no house number they point at no real address.
DISTRICTS = ("城南片区", "城北片区", "新城片区", "开发区", "高新片区", "老城片区", "滨河片区", "东部新区")
STREETS = ("建设路", "幸福路", "文化路", "和平街", "育才路", "新华路", "人民路", "解放路",
           "光明街", "朝阳路", "团结路", "长青路")


class Scenario(BaseModel):
    id: str
    case_type: CaseType
    category: str
    title: str
    body: str
    keywords: list[str]

    @field_validator("title", "body")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        v = re.sub(r"\s+", "", v)  # YAML folding puts spaces between lines of Chinese
        names = {name for _, name, _, _ in string.Formatter().parse(v) if name is not None}
        if names - PLACEHOLDERS:
            raise ValueError(f"unknown placeholders {sorted(names - PLACEHOLDERS)}")
        return v

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a scenario needs keywords a solving reply would use")
        return v

    def render(self, city: str, district: str | None = None, street: str | None = None) -> tuple[str, str]:
        """Title and body with the location filled in; district and street default to generic
        names chosen from the scenario id and the city."""
        h = int(hashlib.sha256(f"{self.id}:{city}".encode()).hexdigest()[:8], 16)
        place = {"city": city, "district": district or DISTRICTS[h % len(DISTRICTS)],
                 "street": street or STREETS[(h // len(DISTRICTS)) % len(STREETS)]}
        return self.title.format(**place), self.body.format(**place)


@cache
def load_scenarios() -> tuple[Scenario, ...]:
    data = yaml.safe_load(resources.files("hotline_audit").joinpath("scenarios.yaml").read_text("utf-8"))
    scenarios = tuple(Scenario(**row) for row in data["scenarios"])
    ids = [s.id for s in scenarios]
    if len(set(ids)) != len(ids):
        raise ValueError("scenarios.yaml: duplicate scenario ids")
    return scenarios


def get_scenario(scenario_id: str) -> Scenario:
    for s in load_scenarios():
        if s.id == scenario_id:
            return s
    raise KeyError(f"no scenario {scenario_id!r}")


def pick_scenario(hotline_id: str, round_name: str) -> Scenario:
    """The scenario a hotline gets in a round: a SHA-256 of both, so it never depends on
    Python's per-process string hashing."""
    scenarios = load_scenarios()
    h = int(hashlib.sha256(f"{round_name}\x00{hotline_id}".encode()).hexdigest(), 16)
    return scenarios[h % len(scenarios)]
