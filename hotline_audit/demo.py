"""``make demo``: a whole audit round against the simulated hotline internet."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fixtures.simweb import build_population, gold_rows, population_rates, registry_rows

from .audit import RoundPlan
from .config import load_settings
from .files import csv_bytes, read_csv, write_atomically
from .simweb_process import simweb_process

console = Console(soft_wrap=True)  # a wrapped path cannot be copied


def run_demo(out_dir: Path, seed: int, count: int, run_audit: Callable[[RoundPlan], int],
             recheck: Callable[[str, str], None] | None = None, waf: int = 0) -> int:
    """Audit simweb's hotlines, then move simweb's clock a month on and re-check the complaints
    the round submitted, as an auditor does weeks later. ``waf`` puts firewalls and rate limits
    in front of that many portals; what simweb saw of the round's pace is then written to
    ``demo/simweb-rates.json`` (the most page-level requests any host got in a minute)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    portals = build_population(seed, count, waf=waf)
    registry = out_dir / "registry.csv"
    write_atomically(registry, csv_bytes(registry_rows(portals)))
    console.print(f"Starting simweb ({count} simulated hotlines, seed {seed}) …")
    with simweb_process(seed, count, waf=waf) as proxy:
        console.print(f"simweb is the proxy at {proxy}; auditing …")
        # simweb's SMS inbox stands in for the persona's phone.
        settings = load_settings(None, proxy=proxy, out=out_dir, db=f"sqlite:///{out_dir / 'hotline-audit.db'}",
                                 effectiveness={"sms_inbox_url": "{proxy}/_sms?phone={phone}"})
        from .registry import load_registry

        plan = RoundPlan(round_name="demo", hotlines=load_registry(registry), settings=settings,
                         registry=str(registry))
        code = run_audit(plan)
        if code == 0 and recheck is not None and "effectiveness" in plan.checks:
            import httpx

            moved = httpx.post(f"{proxy}/_clock", json={"advance_days": 30}, timeout=10, trust_env=False).json()
            console.print(f"simweb's clock moved 30 days on ({moved.get('now', '')}); re-checking replies …")
            recheck(proxy, str(moved.get("now") or httpx.get(f"{proxy}/_clock", timeout=10, trust_env=False).json()["now"]))
        if waf:
            import httpx

            rates = httpx.get(f"{proxy}/_rates", timeout=30, trust_env=False).json()
            write_atomically(plan.round_dir / "simweb-rates.json",
                             json.dumps(rates, ensure_ascii=False, indent=1).encode("utf-8"))
            worst = max((h["peak_per_minute"] for h in rates["hosts"].values()), default=0)
            console.print(f"simweb saw at most {worst} page-level requests to one host in a minute "
                          f"(the budget allows {settings.politeness.per_minute}).")
    if code == 0:
        for check in plan.checks:
            agree, total = gold_agreement(plan.round_dir / "verdicts.csv", gold_rows(portals), check)
            console.print(f"{check}: verdicts agree with simweb's gold labels for {agree}/{total} hotlines.")
        scores = plan.round_dir / "scores.json"
        if scores.exists():
            console.print(rates_table(json.loads(scores.read_text(encoding="utf-8"))["problem_rates"],
                                      population_rates(portals)))
        console.print(f"Open the report in a browser: [bold]{(plan.round_dir / 'report.html').resolve()}[/]")
    return code


def rates_table(report_rates: list[dict], gold_rates: list[dict]) -> Table:
    """The report's problem rates beside the rates simweb was seeded with: equal when every
    verdict agrees with gold (a hotline left undetermined is out of the report's count)."""
    gold = {g["problem"]: g for g in gold_rates}
    table = Table(title="问题占比 problem rates: this round's report vs simweb's gold")
    for column in ("问题 problem", "report", "gold", "2021"):
        table.add_column(column, justify="left" if column.startswith("问题") else "right")
    for r in report_rates:
        g = gold.get(r["problem"])
        if g is None:
            continue
        same = (r["count"], r["of"]) == (g["count"], g["of"])
        table.add_row(f"{r.get('label_zh', '')} {r['problem']}", _rate(r["count"], r["of"]),
                      ("" if same else "[red]") + _rate(g["count"], g["of"]), f"{g['report_rate']:.2%}")
    return table


def _rate(count: int, of: int) -> str:
    return f"{count}/{of} = {count / of:.2%}" if of else f"{count}/0"


def gold_agreement(verdicts_csv: Path, gold: list[dict[str, str]], check: str) -> tuple[int, int]:
    got = {(r["hotline_id"], r["check"]): r["verdict"] for r in read_csv(verdicts_csv)}
    expected = [(g["hotline_id"], g["verdict"]) for g in gold if g["check"] == check]
    agree = sum(1 for hid, verdict in expected if got.get((hid, check)) == verdict)
    return agree, len(expected)
