"""Personas: the fake one is obviously fake, real ones come only from the user's file, and
redaction leaves no persona value behind in any of the spellings sites print."""

import random
import re

import pytest

from hotline_audit.config import EffectivenessSettings, load_settings
from hotline_audit.personas import (
    MARKERS,
    Persona,
    PersonaError,
    fake_persona,
    id_check_digit,
    load_persona,
    redact,
)


def test_check_digit_matches_the_standards_examples():
    # The two worked examples of GB 11643-1999.
    assert id_check_digit("11010519491231002") == "X"
    assert id_check_digit("44052418800101001") == "4"


def test_fake_persona_is_deterministic_valid_and_obviously_fake():
    p = fake_persona()
    assert p == fake_persona() and p.is_test
    assert p.name == "测试用户"
    assert re.fullmatch(r"170\d{8}", p.phone)  # virtual-operator range
    assert p.email.endswith("@example.com")  # reserved for documentation (RFC 2606)
    assert p.id_number.startswith("99")  # no province has code 99
    assert id_check_digit(p.id_number[:17]) == p.id_number[17]
    assert Persona(**p.model_dump()) == p  # passes the same validation as a real one
    assert fake_persona("other").phone != p.phone


def test_no_persona_file_gives_the_fake_persona():
    assert load_persona(load_settings(None)) == fake_persona()
    assert load_persona(EffectivenessSettings()).is_test


def write(tmp_path, text):
    path = tmp_path / "persona.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "name: 王测试\nphone: 199 0000 0001\nemail: someone@example.org\nid_number: 11010519491231002x\n"


def test_persona_from_the_users_file(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    p = load_persona(EffectivenessSettings(persona_file=path))
    assert (p.name, p.phone, p.id_number, p.is_test) == ("王测试", "19900000001", "11010519491231002X", False)
    # Unquoted digits arrive from YAML as an int; they still load.
    path = write(tmp_path, GOOD.replace("199 0000 0001", "19900000001"))
    assert load_persona(EffectivenessSettings(persona_file=path)).phone == "19900000001"
    monkeypatch.setenv("HOTLINE_AUDIT_EFFECTIVENESS__PERSONA_FILE", str(path))
    assert load_persona(load_settings(None)).name == "王测试"


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("199 0000 0001", "12345"), "phone"),
    (GOOD.replace("11010519491231002x", "110105194912310021"), "check digit"),
    (GOOD.replace("11010519491231002x", "110105194913310021"), "birth date"),
    (GOOD.replace("someone@example.org", "someone"), "email"),
    (GOOD.replace("name: 王测试\n", ""), "missing fields ['name']"),
    (GOOD + "wechat: abc\n", "unknown fields ['wechat']"),
    ("- just a list\n", "expected a mapping"),
    ("name: [unclosed\n", "cannot read"),
])
def test_bad_persona_files_fail_clearly(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(PersonaError, match=re.escape(message)) as err:
        load_persona(EffectivenessSettings(persona_file=path))
    assert str(path) in str(err.value)


def test_missing_persona_file(tmp_path):
    with pytest.raises(PersonaError, match="not found"):
        load_persona(EffectivenessSettings(persona_file=tmp_path / "nope.yaml"))


def spellings(p: Persona) -> list[str]:
    """Every way a page, URL or log might show the persona."""
    ph, idn, local, domain = p.phone, p.id_number, *p.email.split("@")
    return [
        f"姓名：{p.name}", f"联系人 {' '.join(p.name)}", f"name={'%'.join([''] + [f'{b:02X}' for b in p.name.encode()])}",
        f"手机号：{ph}", f"电话 {ph[:3]} {ph[3:7]} {ph[7:]}", f"{ph[:3]}-{ph[3:7]}-{ph[7:]}", f"+86{ph}",
        f"尊敬的用户{ph[:3]}****{ph[7:]}", f"{ph[:3]}*****{ph[8:]}", f"{ph[:3]}xxxx{ph[7:]}",
        f"{ph[:3]}＊＊＊＊{ph[7:]}", f"phone={ph}&", f"{ph[:7]}****",
        f"身份证号：{idn}", f"{idn[:6]} {idn[6:14]} {idn[14:]}", f"{idn[:6]}********{idn[14:]}",
        f"{idn[:4]}**********{idn[14:]}", idn.lower(), f"证件号{idn[:10]}****{idn[14:]}",
        f"邮箱：{p.email}", p.email.upper(), f"{local[:2]}***@{domain}", f"{local[0]}***{local[-1]}@{domain}",
        f"email={local}%40{domain}",
    ]


def leaks(text: str, p: Persona) -> list[str]:
    squeezed = re.sub(r"[\s\-]", "", text)
    found = [v for v in (p.name, p.email.lower(), p.phone, p.id_number.lower(), p.phone[-4:] + p.phone[:3])
             if v in squeezed.lower()]
    # Middle-masked leftovers: the phone's first three and last four digits around masks.
    if re.search(rf"{p.phone[:3]}[*＊xX]{{3,5}}\d{{0,1}}{p.phone[-3:]}", squeezed):
        found.append("masked phone")
    if re.search(rf"{p.id_number[:4]}\d*\*+\d*{p.id_number[-3:]}", squeezed, re.IGNORECASE):
        found.append("masked id")
    return found


@pytest.mark.parametrize("persona", [
    fake_persona(),
    Persona(name="王测试", phone="19900000001", email="wang.ceshi@example.org", id_number="11010519491231002X"),
    Persona(name="欧阳测试", phone="13900001234", email="Ouyang_T@mail.example.net", id_number="440524188001010014"),
])
def test_redaction_leaves_no_persona_value(persona):
    text = "\n".join(f"第{n}条：{s}。" for n, s in enumerate(spellings(persona)))
    assert leaks(text, persona)  # the detector itself sees them before redaction
    out = redact(text, persona)
    assert leaks(out, persona) == []
    for marker in MARKERS.values():
        assert marker in out


def test_redaction_spares_other_numbers_and_text():
    p = fake_persona()
    text = f"受理编号：SQ202603011234，热线12345，{p.phone}，2026-10-08 提交，诉求内容：路灯不亮。"
    out = redact(text, p)
    assert out == "受理编号：SQ202603011234，热线12345，[手机号]，2026-10-08 提交，诉求内容：路灯不亮。"


def test_redaction_random_embeddings():
    rng = random.Random(5)
    for seed in range(30):
        p = fake_persona(str(seed))
        parts = spellings(p)
        rng.shuffle(parts)
        text = "".join(parts[:8]) + "".join(rng.choice("的了。，") for _ in range(5))
        assert leaks(redact(text, p), p) == [], text
