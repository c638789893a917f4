"""The findability question bank: typical citizen questions, and which ones a hotline gets.

The bank lives in ``questions.yaml`` (package data). Each round asks every hotline K questions
picked reproducibly from the hotline id and the round name, so a rerun or a dispute asks the
same questions, while different hotlines get different ones.
"""

from __future__ import annotations

import hashlib
import random
import re
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CITY = "{city}"
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


class QuestionBankError(ValueError):
    """A malformed bank file; the message names the file and line."""


class Question(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    area: str = Field(min_length=1)
    text: str = Field(min_length=2, description='what a citizen types; "{city}" is the city')
    answer_words: tuple[str, ...] = Field(min_length=1, description="subject and synonyms")
    must_words: tuple[str, ...] = Field(min_length=1, description="action/aspect and synonyms")
    topic: str | None = Field(None, description="the matching simweb corpus topic key")

    @field_validator("text")
    @classmethod
    def _only_city_placeholder(cls, v: str) -> str:
        bad = [p for p in _PLACEHOLDER.findall(v) if p != CITY]
        if bad:
            raise ValueError(f"unknown placeholder {bad[0]} (only {CITY} is filled in)")
        return v

    @field_validator("answer_words", "must_words")
    @classmethod
    def _clean_words(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        words = tuple(str(w).strip() for w in v)
        if any(not w for w in words):
            raise ValueError("empty word")
        return words

    def query_for(self, city: str) -> str:
        """The question as typed for ``city`` (the placeholder filled, spaces tidied)."""
        return self.text.replace(CITY, city.strip()).strip()

    @property
    def core(self) -> str:
        """The question without its city placeholder, to spot results that echo it."""
        return self.text.replace(CITY, "").strip()


def default_path() -> Path:
    return Path(str(resources.files("hotline_audit").joinpath("questions.yaml")))


def load_questions(path: Path | str | None = None) -> list[Question]:
    """Read and validate a bank; errors name the file and the entry's line."""
    path = Path(path) if path is not None else default_path()
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        context = getattr(e, "context_mark", None)
        opened = f" ({e.context} at line {context.line + 1})" if context and context != mark else ""
        raise QuestionBankError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}{opened}") from e
    entries = _entry_nodes(root, path)
    loader_data = yaml.safe_load(text)
    items = loader_data["questions"] if isinstance(loader_data, dict) else loader_data
    out: list[Question] = []
    seen: dict[str, int] = {}
    for node, item in zip(entries, items, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(item, dict):
            raise QuestionBankError(f"{path}:{line}: a question must be a mapping, got {item!r}")
        try:
            q = Question.model_validate(item)
        except ValidationError as e:
            errors = e.errors()
            # Point at the offending key's line when there is one (a typo, a bad value).
            keys = {k.value: k.start_mark.line + 1 for k, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
            at = next((keys[str(err["loc"][0])] for err in errors
                       if err["loc"] and str(err["loc"][0]) in keys), line)
            detail = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg']}" for err in errors)
            raise QuestionBankError(f"{path}:{at}: question {item.get('id', '?')}: {detail}") from e
        if q.id in seen:
            raise QuestionBankError(f"{path}:{line}: duplicate id {q.id} (first at line {seen[q.id]})")
        seen[q.id] = line
        out.append(q)
    if not out:
        raise QuestionBankError(f"{path}: no questions")
    return out


def _entry_nodes(root: yaml.Node | None, path: Path) -> list[yaml.Node]:
    """The YAML nodes of the entries (a top-level list, or the list under ``questions:``)."""
    node = root
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if k.value == "questions"), None)
    if not isinstance(node, yaml.SequenceNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise QuestionBankError(f"{path}:{line}: expected a list of questions under 'questions:'")
    return list(node.value)


def pick_questions(bank: list[Question], hotline_id: str, round_name: str, k: int) -> list[Question]:
    """``k`` questions for one hotline in one round: the same every time for the same inputs
    (seeded by SHA-256, not Python's salted ``hash()``), one per area before any area repeats."""
    if k <= 0 or not bank:
        return []
    digest = hashlib.sha256(f"{hotline_id}\x1f{round_name}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    by_area: dict[str, list[Question]] = {}
    for q in sorted(bank, key=lambda q: q.id):  # independent of the file's order
        by_area.setdefault(q.area, []).append(q)
    areas = sorted(by_area)
    rng.shuffle(areas)
    for qs in by_area.values():
        rng.shuffle(qs)
    picked: list[Question] = []
    while len(picked) < k and any(by_area.values()):
        for area in areas:
            if by_area[area] and len(picked) < k:
                picked.append(by_area[area].pop())
    return picked
