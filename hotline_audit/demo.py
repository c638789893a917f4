"""``make demo``: a whole audit round against the simulated hotline internet."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from fixtures.simweb import build_population, gold_rows, registry_rows

from .audit import RoundPlan
from .config import load_settings
from .files import csv_bytes, write_atomically
from .simweb_process import simweb_process

console = Console()


def run_demo(out_dir: Path, seed: int, count: int, run_audit: Callable[[RoundPlan], int],
             recheck: Callable[[str, str], None] | None = None) -> int:
    """Audit simweb's hotlines, then move simweb's clock a month on and re-check the complaints
    the round submitted, as an auditor does weeks later."""
    out_dir.mkdir(parents=True, exist_ok=True)
    portals = build_population(seed, count)
    registry = out_dir / "registry.csv"
    write_atomically(registry, csv_bytes(registry_rows(portals)))
    console.print(f"Starting simweb ({count} simulated hotlines, seed {seed}) …")
    with simweb_process(seed, count) as proxy:
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
    if code == 0:
        for check in plan.checks:
            agree, total = gold_agreement(plan.round_dir / "verdicts.csv", gold_rows(portals), check)
            console.print(f"{check}: verdicts agree with simweb's gold labels for {agree}/{total} hotlines.")
        console.print(f"Open the report in a browser: [bold]{(plan.round_dir / 'report.html').resolve()}[/]")
    return code


def gold_agreement(verdicts_csv: Path, gold: list[dict[str, str]], check: str) -> tuple[int, int]:
    with verdicts_csv.open(encoding="utf-8") as f:
        got = {(r["hotline_id"], r["check"]): r["verdict"] for r in csv.DictReader(f)}
    expected = [(g["hotline_id"], g["verdict"]) for g in gold if g["check"] == check]
    agree = sum(1 for hid, verdict in expected if got.get((hid, check)) == verdict)
    return agree, len(expected)
