"""Service effectiveness over simweb's 344 portals, through the command line as an auditor runs
it: ``audit --only effectiveness`` (discovery, then one complaint per hotline), simweb's clock
30 days on, ``recheck --due``, ``report``. Agreement with gold, the confusion matrix (pytest -s),
and the problem rates the recheck prints against the report's scores.json and gold's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import yaml

from fixtures.simweb import build_population, gold_rows
from hotline_audit.model import Verdict, VerdictStatus
from hotline_audit.simweb_process import simweb_process
from hotline_audit.store import Store
from reports.rubric import load_rubric
from reports.scoring import score_round

pytestmark = [pytest.mark.browser, pytest.mark.acceptance, pytest.mark.xdist_group("effectiveness_round"),
              pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[1]
SEED, COUNT, ROUND = 1, 344, "eff-r"
PROBLEMS = ("cannot_submit", "no_progress", "no_reply", "not_solved")
VERDICTS = ("solved", "not_solved", "no_reply", "no_progress", "cannot_submit", "no_channel", "needs_review",
            "tool_error")
RATE_LINE = re.compile(r"\b(?P<problem>" + "|".join(PROBLEMS) + r"): (?P<count>\d+)/(?P<of>\d+)")


@dataclass
class Round:
    gold: dict[str, str]
    verdicts: dict[str, str]
    reasons: dict[str, str]
    printed: dict[str, tuple[int, int]]  # the recheck's output
    report: dict[str, tuple[int, int]]  # scores.json of `report`
    gold_rates: dict[str, tuple[int, int]]
    timings: dict[str, float]


def cli(*args: str, timeout: float = 1800) -> str:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    done = subprocess.run([sys.executable, "-m", "hotline_audit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
    return done.stdout


def simweb_clock(proxy: str, advance_days: int | None = None) -> str:
    with httpx.Client(proxy=proxy, trust_env=False, timeout=10) as c:
        if advance_days:
            c.post("http://simweb.test/_clock", json={"advance_days": advance_days}).raise_for_status()
        return c.get("http://simweb.test/_clock").json()["now"]


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Round]:
    tmp = tmp_path_factory.mktemp("effround")
    config = tmp / "audit.yaml"
    # simweb's SMS inbox, OCR for captchas (no terminal), and an SMS wait longer than simweb's
    # late codes (8 s): what an auditor would configure for this simulated internet.
    config.write_text(yaml.safe_dump({"effectiveness": {
        "sms_inbox_url": "{proxy}/_sms?phone={phone}", "captcha_mode": "ocr", "sms_wait_s": 12.0}}))
    common = ["--out", str(tmp / "runs"), "--db", f"sqlite:///{tmp / 'audit.db'}", "--config", str(config)]
    timings = {}
    with simweb_process(SEED, COUNT) as proxy:
        cli("simweb", "registry", "--seed", str(SEED), "--count", str(COUNT), "-o", str(tmp / "registry.csv"))
        t0 = time.perf_counter()
        cli("audit", "--registry", str(tmp / "registry.csv"), "--round", ROUND, "--only", "effectiveness",
            "--proxy", proxy, *common)
        timings["audit (discovery + submission)"] = time.perf_counter() - t0
        now = simweb_clock(proxy, advance_days=30)
        t0 = time.perf_counter()
        printed = cli("recheck", "--due", "--round", ROUND, "--now", now, "--proxy", proxy, *common)
        timings["recheck"] = time.perf_counter() - t0
    print(printed)
    cli("report", "--round", ROUND, *common)
    scores = json.loads((tmp / "runs" / ROUND / "scores.json").read_text(encoding="utf-8"))
    report = {r["problem"]: (r["count"], r["of"]) for r in scores["problem_rates"] if r["problem"] in PROBLEMS}
    got = {v["hotline_id"]: v for v in scores["verdicts"] if v["check"] == "effectiveness"}
    portals = build_population(SEED, COUNT)
    gold = {g["hotline_id"]: g["verdict"] for g in gold_rows(portals) if g["check"] == "effectiveness"}
    # Gold's rates scored exactly as the report scores ours.
    data = Store(f"sqlite:///{tmp / 'audit.db'}").load_round(ROUND)
    assert data is not None
    gold_verdicts = [Verdict(hotline_id=h, check="effectiveness", verdict=VerdictStatus(v), reason="gold",
                             reason_en="gold", confidence=1.0) for h, v in gold.items()]
    rates = score_round(replace(data, verdicts=gold_verdicts), load_rubric()).rates
    gold_rates = {r["problem"]: (int(r["count"]), int(r["of"])) for r in rates.to_dict("records")
                  if r["problem"] in PROBLEMS}
    yield Round(gold=gold, verdicts={h: v["verdict"] for h, v in got.items()},
                reasons={h: v["reason"] for h, v in got.items()},
                printed={m["problem"]: (int(m["count"]), int(m["of"])) for m in RATE_LINE.finditer(printed)},
                report=report, gold_rates=gold_rates, timings=timings)


def test_effectiveness_agrees_with_gold(judged):
    got, gold = judged.verdicts, judged.gold
    for what, secs in judged.timings.items():
        print(f"{what}: {secs:.0f} s")
    matrix = Counter((gold[h], got.get(h, "-")) for h in gold)
    print("\ngold \\ got     " + " ".join(f"{v[:11]:>11}" for v in VERDICTS))
    for g in VERDICTS[:6]:
        print(f"{g:14} " + " ".join(f"{matrix[(g, v)]:11}" for v in VERDICTS))
    wrong = [(h, gold[h], got.get(h), judged.reasons.get(h, "")[:160]) for h in sorted(gold) if got.get(h) != gold[h]]
    for w in wrong[:20]:
        print(*w)
    agreement = 1 - len(wrong) / len(gold)
    print(f"effectiveness agreement {agreement:.2%} ({len(gold) - len(wrong)}/{len(gold)})")
    assert agreement >= 0.99, wrong[:10]
    # A false accusation is worse than a miss: no hotline gold calls fine is said to fail.
    assert not [w for w in wrong if w[1] == "solved" and w[2] in PROBLEMS], wrong


def test_printed_problem_rates_match_the_report_and_gold(judged):
    print("\nproblem        printed    report     gold")
    for p in PROBLEMS:
        cells = [f"{c}/{of}" for c, of in (judged.printed[p], judged.report[p], judged.gold_rates[p])]
        print(f"{p:14} {cells[0]:10} {cells[1]:10} {cells[2]}")
    assert set(judged.printed) == set(PROBLEMS)
    for p in PROBLEMS:
        for other in (judged.report[p], judged.gold_rates[p]):  # within one hotline
            assert abs(judged.printed[p][0] - other[0]) <= 1 and abs(judged.printed[p][1] - other[1]) <= 1, \
                (p, judged.printed[p], judged.report[p], judged.gold_rates[p])
