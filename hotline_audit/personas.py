"""Who the audit is, as a citizen: name, phone, e-mail and ID number for registration forms.

A real persona comes only from a YAML file the user keeps outside the repository
(``effectiveness.persona_file``). Without one the audit uses a fake persona that is obviously a
test: a 170 (virtual-operator) number, the name 测试用户, an ``example.com`` address and an ID
number with a valid check digit but province code 99, which no province has. Either way
``redact`` takes the persona's values out of anything we publish (DESIGN §5).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from pathlib import Path
from urllib.parse import quote

import yaml
from pydantic import BaseModel, ValidationError, field_validator

from .config import EffectivenessSettings, Settings

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"  # GB 11643: ISO 7064 MOD 11-2
FAKE_REGION = "990000"  # province code 99 is assigned to no province
MARKERS = {"phone": "[手机号]", "name": "[姓名]", "email": "[邮箱]", "id_number": "[身份证号]"}
MASKS = "*＊●•xX"  # what sites print in place of hidden digits
_MASK_SET = set(MASKS.upper())
FIELDS = ("name", "phone", "email", "id_number")


class PersonaError(ValueError):
    """The persona file is missing, unreadable or holds invalid values."""


def id_check_digit(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


class Persona(BaseModel):
    name: str
    phone: str
    email: str
    id_number: str
    is_test: bool = False  # the built-in fake persona: never submit to a real hotline with it

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not 2 <= len(v) <= 30:
            raise ValueError("name must be 2-30 characters")
        return v

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, v: object) -> str:
        digits = re.sub(r"[\s-]", "", str(v)).removeprefix("+86")
        if not PHONE_RE.match(digits):
            raise ValueError(f"not a mainland mobile number (11 digits starting 13-19): {v!r}")
        return digits

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        v = v.strip()
        if not EMAIL_RE.match(v):
            raise ValueError(f"not an e-mail address: {v!r}")
        return v

    @field_validator("id_number", mode="before")
    @classmethod
    def _id_number(cls, v: object) -> str:
        s = str(v).strip().upper()
        if not re.fullmatch(r"\d{17}[\dX]", s):
            raise ValueError("ID number must be 17 digits and a digit or X")
        try:
            date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
        except ValueError:
            raise ValueError(f"ID number has no valid birth date ({s[6:14]})") from None
        if id_check_digit(s[:17]) != s[17]:
            raise ValueError("ID number check digit is wrong (GB 11643)")
        return s


def fake_persona(seed: str = "hotline-audit") -> Persona:
    """The built-in test persona: deterministic, valid in form, and nobody's."""
    h = hashlib.sha256(seed.encode()).hexdigest()
    first17 = f"{FAKE_REGION}19900101{int(h[8:12], 16) % 1000:03d}"
    return Persona(name="测试用户", phone=f"170{int(h[:8], 16) % 10**8:08d}",
                   email=f"test.{h[12:20]}@example.com",
                   id_number=first17 + id_check_digit(first17), is_test=True)


def load_persona(settings: Settings | EffectivenessSettings) -> Persona:
    """The user's persona from ``persona_file``, or the fake test persona without one."""
    eff = settings.effectiveness if isinstance(settings, Settings) else settings
    if eff.persona_file is None:
        return fake_persona()
    path = Path(eff.persona_file).expanduser()
    if not path.is_file():
        raise PersonaError(f"persona file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise PersonaError(f"{path}: cannot read persona YAML: {e}") from None
    if not isinstance(data, dict):
        raise PersonaError(f"{path}: expected a mapping with name, phone, email, id_number")
    unknown = sorted(set(data) - set(FIELDS))
    missing = [k for k in FIELDS if data.get(k) in (None, "")]
    if unknown or missing:
        raise PersonaError(f"{path}: missing fields {missing or '-'}; unknown fields {unknown or '-'}")
    try:
        return Persona(**{k: str(data[k]) for k in FIELDS})
    except ValidationError as e:
        problems = "; ".join(f"{err['loc'][0]}: {err['msg'].removeprefix('Value error, ')}"
                             for err in e.errors())
        raise PersonaError(f"{path}: {problems}") from None


# -- redaction -----------------------------------------------------------------------------------

# A run of digits and mask characters, with single spaces/dashes between them (170 1234 5678,
# 170-****-5678); fullwidth digits are folded when compared.
_RUN = re.compile(rf"[0-9０-９{MASKS}](?:[ \-\u00a0]?[0-9０-９{MASKS}])+")


def _masked_spans(text: str, value: str, min_shown: int) -> list[tuple[int, int]]:
    """Spans of ``text`` spelling ``value`` with separators and/or masked positions."""
    spans = []
    for run in _RUN.finditer(text):
        chars = [(unicodedata.normalize("NFKC", c).upper(), run.start() + i)
                 for i, c in enumerate(run.group()) if c not in " -\u00a0"]
        i = 0
        while i + len(value) <= len(chars):
            window = chars[i:i + len(value)]
            shown = 0
            for (c, _), v in zip(window, value, strict=True):
                if c == v:
                    shown += 1
                elif c not in _MASK_SET:
                    break
            else:
                if shown >= min_shown:
                    spans.append((window[0][1], window[-1][1] + 1))
                    i += len(value)
                    continue
            i += 1
    return spans


def _replace_spans(text: str, spans: list[tuple[int, int]], marker: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + marker + text[end:]
    return text


def _spaced(value: str) -> re.Pattern[str]:
    """The value with optional whitespace between its characters (张 三), case-insensitive."""
    return re.compile(r"\s*".join(re.escape(c) for c in value), re.IGNORECASE)


def _encoded(value: str) -> list[str]:
    """URL-encoded spellings, as they appear in logged URLs and form posts."""
    enc = quote(value, safe="")
    return [v for v in {enc, enc.lower(), quote(value, safe="@")} if v != value]


def redact(text: str, persona: Persona) -> str:
    """``text`` with the persona's ID number, phone, e-mail and name replaced by markers.

    Catches the plain values, URL-encoded ones, values broken by spaces or dashes, and the
    middle-masked forms sites print (170****5678, 990000********123X, te***@example.com).
    """
    # The ID first: the phone's digits could sit inside it.
    for field, min_shown in (("id_number", 8), ("phone", 6)):
        value = getattr(persona, field)
        for enc in _encoded(value):
            text = text.replace(enc, MARKERS[field])
        text = _spaced(value).sub(MARKERS[field], text)
        text = _replace_spans(text, _masked_spans(text, value, min_shown), MARKERS[field])
    local, _, domain = persona.email.partition("@")
    for enc in _encoded(persona.email):
        text = text.replace(enc, MARKERS["email"])
    text = _spaced(persona.email).sub(MARKERS["email"], text)
    # x is a letter in addresses, so only symbols count as masks here.
    masked_email = re.compile(rf"([\w.+-]*)[*＊●•]+([\w.+-]*)@{re.escape(domain)}", re.IGNORECASE)
    text = masked_email.sub(
        lambda m: MARKERS["email"] if local.lower().startswith(m[1].lower())
        and local.lower().endswith(m[2].lower()) else m[0], text)
    for enc in _encoded(persona.name):
        text = text.replace(enc, MARKERS["name"])
    return _spaced(persona.name).sub(MARKERS["name"], text)
