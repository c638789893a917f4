"""Evidence packs: they verify, any changed/missing/added byte or file fails, and no persona
data is inside."""

import gzip
import hashlib
import io
import json
import time
import zipfile

import pytest
from typer.testing import CliRunner

from fixtures.simweb import build_population
from hotline_audit.cli import app
from reports.evidence import EvidenceError, build_pack, canonical_zip, verify_pack
from reports.outputs import score_stored
from reports.redaction import COOKIE_MARK

from .report_fixtures import PERSONA, evidence_file, stored_round

NEEDLES = [v.encode(enc) for v in (PERSONA.phone, PERSONA.name, PERSONA.id_number, PERSONA.email)
           for enc in ("utf-8", "gb18030")]


def pack_bytes(tmp_path, hotline="nj", check=None):
    store, data, round_dir = stored_round(tmp_path)
    return build_pack(data, round_dir, hotline, score_stored(data, store=store), check=check)


def members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return {n: z.read(n) for n in z.namelist()}


def write(tmp_path, blob, name="pack.zip"):
    path = tmp_path / name
    path.write_bytes(blob)
    return path


def test_a_pack_verifies_and_holds_what_it_should(tmp_path):
    blob = pack_bytes(tmp_path)
    result = verify_pack(write(tmp_path, blob))
    assert result.ok, result.problems
    files = members(blob)
    assert set(files) == {"manifest.json", "index.html", "observations.json", "verdicts.json",
                          "evidence/nj/stability/homepage.png", "evidence/nj/effectiveness/receipt.html",
                          "evidence/nj/effectiveness/form.json"}
    manifest = json.loads(files["manifest.json"])
    assert manifest["round"] == "r1" and manifest["tool_version"] == "0.1.0" and manifest["config_hash"] == "c" * 64
    assert manifest["created_at"].endswith("+00:00") and manifest["proxy"] == "http://127.0.0.1:9"
    assert "经代理" in manifest["probe_location"]
    assert any("HAR" in x for x in manifest["not_captured"]) and any("WACZ" in x for x in manifest["not_captured"])
    shot = next(f for f in manifest["files"] if f["path"].endswith("homepage.png"))
    assert shot["sha256"] == shot["captured_sha256"] and not shot["redacted"]
    index = files["index.html"].decode()
    assert "无回应：超过答复时限" in index and "本次原因" in index and "<img src=\"evidence/nj/stability/homepage.png\"" in index
    assert "&lt;script&gt;window.pwned" in index and "<script>window.pwned" not in index
    assert "本轮检测未采集此类证据" in index  # says what is not there instead of faking it
    verdicts = json.loads(files["verdicts.json"])
    assert {v["check"] for v in verdicts["verdicts"]} == {"stability", "findability", "effectiveness"}
    assert round(verdicts["scores"]["total"], 2) == 66.67


def test_no_persona_data_anywhere_in_the_pack(tmp_path):
    files = members(pack_bytes(tmp_path))
    for name, body in files.items():
        for needle in NEEDLES:
            assert needle not in body, f"{name} holds {needle!r}"
    assert b"[\xe6\x89\x8b\xe6\x9c\xba\xe5\x8f\xb7]" in files["evidence/nj/effectiveness/form.json"]  # [手机号]


def test_every_flipped_byte_fails_verification(tmp_path):
    blob = pack_bytes(tmp_path)
    for i in list(range(0, len(blob), max(1, len(blob) // 400))) + [len(blob) - 1]:
        broken = bytearray(blob)
        broken[i] ^= 0x01
        result = verify_pack(write(tmp_path, bytes(broken), "flip.zip"))
        assert not result.ok, f"byte {i} changed unnoticed"


def test_added_missing_and_changed_files_are_named(tmp_path):
    files = members(pack_bytes(tmp_path))
    added = canonical_zip({**files, "evidence/nj/extra.png": b"x"})
    assert verify_pack(write(tmp_path, added)).problems == ["added: evidence/nj/extra.png"]
    del files["observations.json"]
    assert verify_pack(write(tmp_path, canonical_zip(files))).problems == ["missing: observations.json"]
    files["observations.json"] = b"{}"
    problems = verify_pack(write(tmp_path, canonical_zip(files))).problems
    assert len(problems) == 1 and problems[0].startswith("changed: observations.json")
    (tmp_path / "again").mkdir()
    with zipfile.ZipFile(tmp_path / "dup.zip", "w") as z:
        for name, body in members(pack_bytes(tmp_path / "again")).items():
            z.writestr(name, body)
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("index.html", b"<p>forged</p>")
    assert "duplicate entry: index.html" in verify_pack(tmp_path / "dup.zip").problems


def test_altered_evidence_is_never_packed(tmp_path):
    store, data, round_dir = stored_round(tmp_path)
    (round_dir / "evidence/nj/stability/homepage.png").write_bytes(b"not what was captured")
    with pytest.raises(EvidenceError, match="changed since it was captured"):
        build_pack(data, round_dir, "nj", score_stored(data, store=store))


def test_one_check_only(tmp_path):
    files = members(pack_bytes(tmp_path, check="stability"))
    assert [n for n in files if n.startswith("evidence/")] == ["evidence/nj/stability/homepage.png"]
    assert [v["check"] for v in json.loads(files["verdicts.json"])["verdicts"]] == ["stability"]


def test_zipped_captures_are_redacted_inside_and_lose_cookies(tmp_path):
    store, data, round_dir = stored_round(tmp_path)
    har = {"log": {"entries": [{"request": {"url": f"http://x.test/?phone={PERSONA.phone}",
                                            "headers": [{"name": "Cookie", "value": "SIMSESSION=abc"}],
                                            "cookies": [{"name": "SIMSESSION", "value": "abc"}]},
                                "response": {"headers": [{"name": "Set-Cookie", "value": "k=v"}]}}]}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("trace.network", json.dumps({"body": f"name={PERSONA.name}"}, ensure_ascii=False))
        z.writestr("network.har", json.dumps(har))
    trace = evidence_file(round_dir, "nj", "effectiveness", "trace.zip", buf.getvalue(), "application/zip")
    plain_har = evidence_file(round_dir, "nj", "effectiveness", "flow.har", json.dumps(har).encode(),
                              "application/har+json")
    data.evidence += [trace, plain_har]
    files = members(build_pack(data, round_dir, "nj", score_stored(data, store=store)))
    inner = members(files["evidence/nj/effectiveness/trace.zip"])
    for body in [*inner.values(), files["evidence/nj/effectiveness/flow.har"]]:
        assert not any(n in body for n in NEEDLES)
    packed_har = json.loads(files["evidence/nj/effectiveness/flow.har"])
    entry = packed_har["log"]["entries"][0]
    assert entry["request"]["headers"][0]["value"] == COOKIE_MARK == entry["request"]["cookies"][0]["value"]
    assert entry["response"]["headers"][0]["value"] == COOKIE_MARK
    manifest = json.loads(files["manifest.json"])
    assert not any("HAR" in x for x in manifest["not_captured"])
    assert not any("trace" in x for x in manifest["not_captured"])


def test_cli_evidence_and_verify(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stored_round(tmp_path)
    runner = CliRunner()
    base = ["--db", f"sqlite:///{tmp_path / 'store.db'}", "--out", str(tmp_path / "runs")]
    started = time.perf_counter()
    made = runner.invoke(app, ["evidence", "nj", "--round", "r1", "-o", "pack.zip", *base])
    assert made.exit_code == 0, made.output
    assert time.perf_counter() - started < 10
    ok = runner.invoke(app, ["evidence", "verify", "pack.zip"])
    assert ok.exit_code == 0 and "OK" in ok.output
    with zipfile.ZipFile(tmp_path / "pack.zip", "a") as z:
        z.writestr("extra.txt", "x")
    bad = runner.invoke(app, ["evidence", "verify", "pack.zip"])
    assert bad.exit_code == 1 and "added: extra.txt" in bad.output
    unknown = runner.invoke(app, ["evidence", "nobody", "-o", "p.zip", *base])
    assert unknown.exit_code == 2 and "not in round" in unknown.output


@pytest.mark.browser
def test_pack_for_an_audited_simulated_hotline(stability_round, tmp_path):
    """A hotline audited through simweb (a real screenshot and observations) packs and verifies."""
    data = stability_round.data
    with_shot = next(e.hotline_id for e in data.evidence if e.path.endswith(".jpg"))
    assert with_shot in {p.hotline_id for p in build_population(1, 24)}
    blob = build_pack(data, stability_round.round_dir, with_shot, score_stored(data))
    assert verify_pack(write(tmp_path, blob)).ok
    files = members(blob)
    assert any(n.endswith(".jpg") and body.startswith(b"\xff\xd8\xff") for n, body in files.items())
    assert json.loads(files["observations.json"])["stability"]["probes"]
    assert not any(n in body for body in files.values() for n in NEEDLES)


def unpacked(name, data):
    if name.endswith((".zip", ".wacz")):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [b for i in z.infolist() if not i.is_dir() for b in unpacked(i.filename, z.read(i))]
    if name.endswith(".gz"):
        return [gzip.decompress(data)]
    return [data]


def test_a_wacz_holding_persona_data_is_redacted_record_by_record(tmp_path):
    """A WACZ captured without the persona's secrets (or with another persona) is rebuilt at
    packing: persona out of its WARC, index and digests made anew, so it still replays."""
    from journeys.capture import Exchange, assemble_wacz, write_warc

    store, data, round_dir = stored_round(tmp_path)
    ex = Exchange(url=f"http://x.test/track?phone={PERSONA.phone}", date="2026-05-06T07:08:09.123Z", method="GET",
                  request_headers=[("Cookie", "SIMSESSION=abc")], post=b"", status=200, reason="OK",
                  response_headers=[("Content-Type", "text/html; charset=gbk")],
                  body=f"<p>{PERSONA.name} {PERSONA.id_number}</p>".encode("gbk"))
    wacz = assemble_wacz({"data.warc.gz": write_warc([ex], title="t")},
                         [{"id": "1", "url": ex.url, "ts": ex.date, "title": PERSONA.name}], title="t")
    data.evidence.append(evidence_file(round_dir, "nj", "effectiveness", "track.wacz", wacz, "application/wacz"))
    blob = build_pack(data, round_dir, "nj", score_stored(data, store=store))
    assert verify_pack(write(tmp_path, blob)).ok
    packed = members(blob)["evidence/nj/effectiveness/track.wacz"]
    assert not any(n in b for b in unpacked("x.wacz", packed) for n in NEEDLES)
    assert not any(b"SIMSESSION=abc" in b for b in unpacked("x.wacz", packed))
    inner = members(packed)
    package = json.loads(inner["datapackage.json"])
    for res in package["resources"]:
        assert res["hash"] == "sha256:" + hashlib.sha256(inner[res["path"]]).hexdigest()
    entry = next(f for f in json.loads(members(blob)["manifest.json"])["files"] if f["path"].endswith("track.wacz"))
    assert entry["redacted"] and entry["kind"] == "wacz"


@pytest.mark.browser
def test_a_pack_from_a_captured_round_holds_its_archive_har_and_trace(stability_round, tmp_path):
    """Journeys capture a WACZ and a HAR per borrowed tab (a trace only where settings ask:
    by default the citizen journey); the pack holds them as captured (already clean: byte for
    byte), verifies, and lists as missing only what the round did not capture."""
    data = stability_round.data
    hotline = next(e.hotline_id for e in data.evidence if e.path.endswith(".wacz"))
    blob = build_pack(data, stability_round.round_dir, hotline, score_stored(data), check="stability")
    assert verify_pack(write(tmp_path, blob)).ok
    files = members(blob)
    manifest = json.loads(files["manifest.json"])
    by_kind = {f["kind"]: f for f in manifest["files"] if f.get("role") == "evidence"}
    assert {"wacz", "har", "screenshot"} <= set(by_kind) and "trace" not in by_kind
    for kind in ("wacz", "har"):
        assert by_kind[kind]["sha256"] == by_kind[kind]["captured_sha256"] and not by_kind[kind]["redacted"]
    assert not any(w in x for x in manifest["not_captured"] for w in ("WACZ", "HAR"))
    assert any("trace" in x for x in manifest["not_captured"])  # stability is not traced by default
    missing = files["index.html"].decode().split("未包含的证据")[1].split("如何核验")[0]
    assert "WACZ" not in missing and "HAR" not in missing and "trace" in missing
    with zipfile.ZipFile(io.BytesIO(files[by_kind["wacz"]["path"]])) as z:
        assert "archive/data.warc.gz" in z.namelist() and "pages/pages.jsonl" in z.namelist()
    har = json.loads(files[by_kind["har"]["path"]])
    assert har["log"]["entries"]
    assert not any(n in b for name, body in files.items() for b in unpacked(name, body) for n in NEEDLES)
