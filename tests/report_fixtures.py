"""A small stored round for report and evidence tests: hostile page text, the persona's data
where a careless tool would leak it, and real evidence files on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hotline_audit.model import Channel, EvidenceFile, Hotline, Verdict
from hotline_audit.personas import fake_persona
from hotline_audit.store import HotlineResult, RoundData, Store

HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
PERSONA = fake_persona()
LEAKY = f"已发送验证码至{PERSONA.phone}（{PERSONA.name}，身份证{PERSONA.id_number}，{PERSONA.email}）"
PNG = bytes.fromhex(  # a 1x1 red PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cf"
    "c00000030101001825dd560000000049454e44ae426082")


def hotlines() -> list[Hotline]:
    return [
        Hotline(hotline_id="nj", name=f"南京12345{HOSTILE}", province="江苏省", city="南京", tier="新一线",
                merge_mode="整体并入", website="http://www.nj12345.gov.cn.test/"),
        Hotline(hotline_id="sz", name="苏州12345政务服务便民热线", province="江苏省", city="苏州", tier="二线",
                merge_mode="双号并行", website="http://12345.suzhou.gov.cn.test/"),
        Hotline(hotline_id="ls", name="拉萨12345政务服务便民热线", province="西藏自治区", city="拉萨", tier="五线"),
    ]


def evidence_file(round_dir: Path, hotline_id: str, check: str, name: str, data: bytes,
                  media_type: str) -> EvidenceFile:
    rel = f"evidence/{hotline_id}/{check}/{name}"
    path = round_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return EvidenceFile(hotline_id=hotline_id, check=check, path=rel, sha256=hashlib.sha256(data).hexdigest(),
                        bytes=len(data), media_type=media_type)


def results(round_dir: Path) -> list[HotlineResult]:
    shot = evidence_file(round_dir, "nj", "stability", "homepage.png", PNG, "image/png")
    dom = evidence_file(round_dir, "nj", "effectiveness", "receipt.html",
                        f"<html><title>{HOSTILE}</title><body>{LEAKY}</body></html>".encode(), "text/html")
    log = evidence_file(round_dir, "nj", "effectiveness", "form.json",
                        f'{{"phone": "{PERSONA.phone}", "spaced": "{PERSONA.phone[:3]} {PERSONA.phone[3:7]} '
                        f'{PERSONA.phone[7:]}"}}'.encode(), "application/json")
    other = evidence_file(round_dir, "sz", "stability", "homepage.png", PNG, "image/png")
    v = Verdict
    return [
        HotlineResult(
            hotline_id="nj",
            channels=[Channel(hotline_id="nj", kind="website", value="http://www.nj12345.gov.cn.test/",
                              found_on="registry", text=HOSTILE),
                      Channel(hotline_id="nj", kind="mini_program", value="wx0123456789abcdef",
                              found_on="http://www.nj12345.gov.cn.test/", text="南京12345小程序")],
            observations={"stability": {"page_load": {"title": HOSTILE, "status": 200, "navigations": [200],
                                                      "console_errors": [], "failed_requests": []}, "probes": []},
                          "effectiveness": {"body": LEAKY, "receipt": {"受理编号": "NJ2026001"}}},
            verdicts=[
                v(hotline_id="nj", check="stability", verdict="degraded", reason=f"页面乱码 {HOSTILE}",
                  reason_en="garbled", confidence=1.0, rule="garbled_share>=0.01", evidence=[shot.path],
                  metrics={"median_probe_ms": 12.0, "load_ms": 240.0, "failures": 0, "attempts": 21}),
                v(hotline_id="nj", check="findability", verdict="ok", reason="5题中5题查到", reason_en="5/5 found",
                  confidence=0.9, rule="inaccurate_share=0.5"),
                v(hotline_id="nj", check="effectiveness", verdict="no_reply", reason=f"逾期未答复；{LEAKY}",
                  reason_en="no reply after the deadline", confidence=0.9, rule="reply_workdays 咨询=5",
                  evidence=[dom.path, log.path]),
            ],
            evidence=[shot, dom, log],
        ),
        HotlineResult(
            hotline_id="sz",
            channels=[Channel(hotline_id="sz", kind="website", value="http://12345.suzhou.gov.cn.test/",
                              found_on="registry")],
            verdicts=[
                v(hotline_id="sz", check="stability", verdict="ok", reason="正常", reason_en="ok", confidence=1.0,
                  evidence=[other.path]),
                v(hotline_id="sz", check="findability", verdict="nowhere_to_search", reason="首页无搜索入口",
                  reason_en="no search box", confidence=0.95),
                v(hotline_id="sz", check="effectiveness", verdict="needs_review", reason="验证码需人工",
                  reason_en="captcha needs a person", confidence=0.5),
            ],
            evidence=[other],
        ),
        HotlineResult(
            hotline_id="ls",
            verdicts=[v(hotline_id="ls", check=c, verdict="no_channel", reason="无网站", reason_en="no website",
                        confidence=1.0) for c in ("stability", "findability", "effectiveness")],
        ),
    ]


def stored_round(tmp_path: Path, name: str = "r1") -> tuple[Store, RoundData, Path]:
    """The round saved in a SQLite store under ``tmp_path``, its files in ``tmp_path/runs/name``."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    round_dir = tmp_path / "runs" / name
    run_id = store.begin_round(name, hotlines(), tool_version="0.1.0", config_hash="c" * 64,
                               settings={}, registry="registry.csv", proxy="http://127.0.0.1:9")
    for r in results(round_dir):
        store.save_hotline(run_id, r)
    store.finish_round(run_id, "finished")
    data = store.load_round(name)
    assert data is not None
    return store, data, round_dir

