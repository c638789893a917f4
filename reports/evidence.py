"""Evidence packs: one zip per disputed hotline (optionally one check) that a third party can
check without our tools. ``manifest.json`` lists every other file with its SHA-256; ``verify``
fails on any changed, missing or added file. Persona data is redacted from every text file,
and the pack is scanned for it before it is written.

What the pack holds depends on what the round captured: screenshots, DOM snapshots, and the
WACZ archives, HAR files and Playwright traces journeys save per borrowed tab
(journeys/capture.py; switchable under ``evidence`` in the settings). These are redacted inside
(a WACZ record by record, re-indexed so it still replays), and the index says plainly which
kinds the round did not capture.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hotline_audit import __version__
from hotline_audit.files import write_atomically
from hotline_audit.store import RoundData

from .redaction import Redactor, redact_file, round_persona
from .rubric import Rubric
from .scoring import Scores

MANIFEST = "manifest.json"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # times live in the manifest (UTC); the zip's own are local and vague
FORMAT = "hotline-audit evidence pack"
# Kinds of evidence the issue asks for, by how a file of that kind is recognised.
KINDS = {
    "wacz": ("WACZ 网页存档 web archive", (".wacz",)),
    "har": ("HAR 网络记录 network log", (".har",)),
    "trace": ("Playwright 操作轨迹 trace", ("trace.zip",)),
    "screenshot": ("整页截图 full-page screenshots", (".png", ".jpg", ".jpeg", ".webp")),
    "dom": ("DOM 快照 page snapshots", (".html", ".htm", ".mhtml")),
}


class EvidenceError(RuntimeError):
    """The pack cannot be made honestly (a file changed since capture, a persona leak)."""


@dataclass
class Verification:
    ok: bool
    problems: list[str] = field(default_factory=list)
    files: int = 0
    manifest_sha256: str = ""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_proxy(proxy: str | None) -> str | None:
    """The proxy without credentials: a manifest is published."""
    if not proxy:
        return None
    parts = urlsplit(proxy)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _in_round(path: str) -> str | None:
    norm = posixpath.normpath(path.replace("\\", "/"))
    if norm.startswith(("..", "/")) or urlsplit(norm).scheme:
        return None
    return norm


def _wanted(check: str | None, name: str) -> bool:
    return check is None or name == check or name.startswith(check + ".")


def _kind(path: str) -> str:
    low = path.lower()
    for kind, (_, suffixes) in KINDS.items():
        if low.endswith(suffixes):
            return kind
    return "other"


def build_pack(data: RoundData, round_dir: Path, hotline_id: str, scores: Scores, *,
               check: str | None = None, redactor: Redactor | None = None) -> bytes:
    """The pack's zip bytes. Raises EvidenceError when honesty is at stake."""
    from .evidence_index import render_index

    hotline = next((h for h in data.hotlines if h.hotline_id == hotline_id), None)
    if hotline is None:
        raise EvidenceError(f"hotline {hotline_id!r} is not in round {data.round}")
    redactor = redactor or Redactor(round_persona(data.settings))
    verdicts = [v for v in scores.verdicts.to_dict("records")
                if v["hotline_id"] == hotline_id and _wanted(check, v["check"])]
    if check is not None and not verdicts:
        raise EvidenceError(f"round {data.round} has no verdict {check!r} for {hotline_id}")
    files: dict[str, tuple[bytes, dict[str, Any]]] = {}
    missing: list[str] = []
    packed: dict[str, str] = {}  # round-relative path -> name in the pack
    recorded = {e.path: e for e in data.evidence if e.hotline_id == hotline_id and _wanted(check, e.check)}
    wanted = list(dict.fromkeys([*recorded, *(p for v in verdicts for p in v["evidence"])]))
    for rel in wanted:
        norm = _in_round(rel)
        source = round_dir / norm if norm else None
        if source is None or not source.is_file():
            missing.append(rel)
            continue
        raw = source.read_bytes()
        record = recorded.get(rel)
        if record is not None and sha256(raw) != record.sha256:
            raise EvidenceError(f"{rel} changed since it was captured (SHA-256 {sha256(raw)[:12]}…, "
                                f"recorded {record.sha256[:12]}…): not packing altered evidence")
        media = record.media_type if record else ""
        out, changed = redact_file(rel, raw, redactor, media)
        packed[rel] = name = norm if norm.startswith("evidence/") else f"evidence/{norm}"
        files[name] = (out, {
            "role": "evidence", "kind": _kind(norm), "media_type": media, "source": rel,
            "captured_sha256": record.sha256 if record else sha256(raw),
            "captured_at": record.created_at.astimezone(UTC).isoformat() if record else None,
            "redacted": changed,
        })
    observations = {j: d for (h, j), d in data.observations.items() if h == hotline_id and _wanted(check, j)}
    h_scores = scores.hotlines.loc[hotline_id] if hotline_id in scores.hotlines.index else None
    facts = _facts(data, scores.rubric, hotline.model_dump(), check, h_scores, files, missing)
    files["observations.json"] = (_json(redactor.deep(observations)), {"role": "observations"})
    files["verdicts.json"] = (_json(redactor.deep({**facts, "verdicts": [_plain(v) for v in verdicts]})),
                              {"role": "verdicts"})
    index = render_index(facts, [_plain(v) for v in verdicts], files, packed, redactor)
    files["index.html"] = (index.encode("utf-8"), {"role": "index"})
    _refuse_leaks(files, redactor)
    manifest = {
        **facts, "format": FORMAT, "format_version": 1,
        "files": [{"path": p, "sha256": sha256(b), "bytes": len(b), **meta} for p, (b, meta) in sorted(files.items())],
    }
    _refuse_leaks({MANIFEST: (_json(manifest), {})}, redactor)
    return canonical_zip({MANIFEST: _json(manifest), **{p: b for p, (b, _) in files.items()}})


def canonical_zip(members: dict[str, bytes]) -> bytes:
    """The one byte layout a pack may have: stored (not deflated, so no zlib version changes
    it), manifest first then sorted names, fixed time and attributes. ``verify`` rebuilds it
    from the members and compares every byte, so no byte of the zip can change unnoticed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in [MANIFEST, *sorted(n for n in members if n != MANIFEST)]:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.create_system, info.external_attr = 3, 0o644 << 16
            z.writestr(info, members[name], compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def _facts(data: RoundData, rubric: Rubric, hotline: dict, check: str | None, h_scores: Any,
           files: dict, missing: list[str]) -> dict[str, Any]:
    captured = {meta["kind"] for _, meta in files.values() if meta.get("role") == "evidence"}
    settings = data.settings or {}
    return {
        "hotline": hotline, "round": data.round, "check": check,
        "created_at": datetime.now(UTC).isoformat(),
        "round_started_at": data.started_at.astimezone(UTC).isoformat() if data.started_at else None,
        "round_finished_at": data.finished_at.astimezone(UTC).isoformat() if data.finished_at else None,
        "round_status": data.status, "tool_version": data.tool_version, "packer_version": __version__,
        "config_hash": data.config_hash,
        "rubric": {"name": rubric.name, "version": rubric.version, "sha256": rubric.fingerprint()},
        "scores": None if h_scores is None else {
            k: _plain(h_scores.get(k)) for k in [*rubric.dimensions, "total", "rank"]},
        "proxy": safe_proxy(data.proxy),
        "probe_location": settings.get("probe_location") or (
            f"经代理 via proxy {safe_proxy(data.proxy)}" if data.proxy else "本机直连 direct from the audit host"),
        "tls_certificate": _tls_certificate(data, hotline["hotline_id"]),
        "not_captured": [label for kind, (label, _) in KINDS.items() if kind not in captured],
        "missing_files": missing,
    }


def _tls_certificate(data: RoundData, hotline_id: str) -> dict[str, Any]:
    """The site's TLS facts from the round's stability observation (whatever check the pack is
    for: they describe the site), or why there are none."""
    obs = data.observations.get((hotline_id, "stability"))
    if obs is None:
        return {"observed": False, "note": "本轮未采集稳定性观测 no stability observation in this round"}
    if not obs.get("website"):
        return {"observed": False, "note": "未发现网站 no website is known for this hotline"}
    if not obs.get("tls"):
        return {"observed": False, "note": "本轮探测未记录证书信息 the round's probes did not record TLS facts"}
    return {"observed": True, **obs["tls"]}


def _plain(v: Any) -> Any:
    from .outputs import plain

    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return plain(v)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _refuse_leaks(files: dict[str, tuple[bytes, dict]], redactor: Redactor) -> None:
    """A last look at every byte we publish: no persona value verbatim, in UTF-8 or GB18030."""
    p = redactor.persona
    needles = [v.encode(enc) for v in (p.phone, p.id_number, p.email, p.name) for enc in ("utf-8", "gb18030")]
    for name, (body, _) in files.items():
        for blob in _unpacked(name, body):
            if any(n in blob for n in needles):
                raise EvidenceError(f"{name} still holds persona data after redaction; pack not written")


def _unpacked(name: str, body: bytes) -> list[bytes]:
    """The bytes a reader of ``name`` gets: a zip's members, a gzip's (a WACZ's WARC) content."""
    low = name.lower()
    if low.endswith((".zip", ".wacz")):
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return [b for i in z.infolist() if not i.is_dir() for b in _unpacked(i.filename, z.read(i))]
    if low.endswith(".gz"):
        try:
            return [gzip.decompress(body)]
        except (OSError, EOFError):  # not gzip after all: look at the bytes as they are
            return [body]
    return [body]


def write_pack(data: RoundData, round_dir: Path, hotline_id: str, scores: Scores, output: Path, *,
               check: str | None = None, redactor: Redactor | None = None) -> Path:
    write_atomically(output, build_pack(data, round_dir, hotline_id, scores, check=check, redactor=redactor))
    return output


def verify_pack(path: Path) -> Verification:
    """Every file the manifest lists is present with its SHA-256, and nothing else is."""
    try:
        z = zipfile.ZipFile(path)
    except Exception as exc:
        return Verification(False, [f"not a readable zip: {exc}"])
    with z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        problems = [f"duplicate entry: {n}" for n in sorted({n for n in names if names.count(n) > 1})]
        if MANIFEST not in names:
            return Verification(False, [*problems, f"no {MANIFEST}"])
        try:
            raw = z.read(MANIFEST)
            manifest = json.loads(raw)
            listed = {f["path"]: f for f in manifest["files"]}
        except Exception as exc:  # any damage at all is a failed check, never a crash
            return Verification(False, [*problems, f"{MANIFEST} is unreadable or not a manifest: {exc}"])
        for name in sorted(set(listed) - set(names)):
            problems.append(f"missing: {name}")
        for name in sorted(set(names) - set(listed) - {MANIFEST}):
            problems.append(f"added: {name}")
        for name in sorted(set(listed) & set(names)):
            try:
                body = z.read(name)
            except Exception as exc:  # a flipped byte breaks the CRC, a flag, the header
                problems.append(f"changed: {name} ({exc})")
                continue
            if sha256(body) != listed[name].get("sha256") or len(body) != listed[name].get("bytes"):
                problems.append(f"changed: {name} (SHA-256 {sha256(body)[:12]}…, manifest {str(listed[name].get('sha256'))[:12]}…)")
        if not problems:
            members = {n: z.read(n) for n in names}  # all read cleanly above
            problems += _layout_problems(path.read_bytes(), canonical_zip(members))
    return Verification(not problems, problems, len(listed), sha256(raw))


def _layout_problems(actual: bytes, expected: bytes) -> list[str]:
    if actual == expected:
        return []
    at = next((i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
              min(len(actual), len(expected)))
    return [f"changed: the zip's own bytes differ from the canonical layout at byte {at} "
            f"({len(actual)} bytes, expected {len(expected)})"]
