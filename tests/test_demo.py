"""`hotline-audit demo`: the whole round over simweb's 344 hotlines, as `make demo` runs it, and
the report's problem rates against the rates simweb was seeded with."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from fixtures.simweb import build_population, population_rates
from hotline_audit.demo import rates_table

RED = "\x1b[31m"


def render(table: object, color: bool = False) -> str:
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=color, color_system="standard" if color else None).print(table)
    return out.getvalue()


def test_rates_table_shows_both_rates_and_marks_a_difference() -> None:
    gold = population_rates(build_population())
    same = [{"problem": g["problem"], "label_zh": "", "count": g["count"], "of": g["of"]} for g in gold]
    text = render(rates_table(same, gold))
    nowhere = next(g for g in gold if g["problem"] == "nowhere_to_search")
    assert f"{nowhere['count']}/{nowhere['of']}" in text and "15.15%" in text
    off = [dict(r, count=r["count"] + 1) if r["problem"] == "no_reply" else r for r in same]
    assert RED in render(rates_table(off, gold), color=True)  # the gold rate that differs
    assert RED not in render(rates_table(same, gold), color=True)


def test_paths_printed_for_the_auditor_stay_whole_in_a_narrow_terminal(monkeypatch) -> None:
    from hotline_audit import cli, demo

    path = "/home/auditor/审计/2026-Q4/demo/" + "x" * 60 + "/report.html"
    monkeypatch.setenv("COLUMNS", "40")  # read at each print; the consoles themselves untouched
    for console in (cli.out, demo.console):
        with console.capture() as printed:
            console.print(f"Open the report in a browser: [bold]{path}[/]")
        assert path in printed.get()


@pytest.mark.acceptance
@pytest.mark.browser
@pytest.mark.timeout(3600)
def test_demo_round_reports_simwebs_rates_for_344_hotlines(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "hotline_audit", "demo", "--out", str(out)],
                         capture_output=True, text=True, timeout=3500)
    print(run.stdout[-6000:])
    assert run.returncode == 0, run.stderr[-3000:]
    scores = json.loads((out / "demo" / "scores.json").read_text(encoding="utf-8"))
    assert len(scores["hotlines"]) == 344
    gold = {g["problem"]: (g["count"], g["of"]) for g in population_rates(build_population())}
    ours = {r["problem"]: (r["count"], r["of"]) for r in scores["problem_rates"]}
    assert ours == gold
    # The province and tier tables add up to the whole population.
    assert sum(r["hotlines"] for r in scores["by_province"]) == 344
    assert sum(r["hotlines"] for r in scores["by_tier"]) == 344
    assert "report.html" in run.stdout and (out / "demo" / "report.html").exists()
