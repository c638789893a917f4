"""The ``hotline-audit`` command: a thin layer of options, messages and progress bars over
the library. Bad input exits with code 2 before anything is written."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .config import Settings, load_settings
from .registry import RegistryError, load_registry

if TYPE_CHECKING:  # the browser stack loads only for commands that use it (fast --help)
    from crawler.results import Discovery

    from .audit import RoundPlan
    from .store import HotlineResult, Store

app = typer.Typer(help="Audit the internet side of China's 12345 hotlines (12345热线互联网端监测).",
                  no_args_is_help=True, add_completion=False)
simweb_app = typer.Typer(help="The simulated hotline internet (for tests, demos and benchmarks).",
                         no_args_is_help=True)
app.add_typer(simweb_app, name="simweb")

out = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the store [default: sqlite:///hotline-audit.db]")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Folder for round outputs [default: runs]")]
ProxyOpt = Annotated[str | None, typer.Option("--proxy", help="HTTP proxy for every request, e.g. http://127.0.0.1:8080")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML file of settings", exists=True, dir_okay=False)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Population seed")]
CountOpt = Annotated[int, typer.Option("--count", min=1, help="Number of simulated hotlines")]
SIMWEB_COUNT = 344  # = fixtures.simweb.DEFAULT_COUNT, the 2021 audit; not imported, to keep --help fast


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def settings_from(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except Exception as exc:  # pydantic or YAML: the user's file
        raise fail(f"bad settings: {exc}") from None


# -- audit ------------------------------------------------------------------------------------


RegistryOpt = Annotated[Path, typer.Option("--registry", help="Registry of hotlines (.csv or .yaml)")]
RoundOpt = Annotated[str, typer.Option("--round", help="Name of the round, e.g. 2026-Q4")]
ResumeOpt = Annotated[bool, typer.Option(
    "--resume", help="Continue a stopped round: keep the hotlines it finished, do only the rest")]
HotlinesOpt = Annotated[str | None, typer.Option("--hotlines", help="Comma-separated hotline ids (default: all)")]


def plan_round(registry: Path, round_name: str, settings: Settings, hotlines: str | None,
               only: str | None, with_checks: bool = True) -> RoundPlan:
    """Check every input before anything is written; bad input exits with code 2."""
    from . import audit as rounds

    try:
        rounds.check_round_name(round_name)
        entries = rounds.select_hotlines(load_registry(registry), hotlines)
        checks = rounds.select_checks(only) if with_checks else ()
        rounds.check_proxy(settings.proxy)
        plan = rounds.RoundPlan(round_name=round_name, hotlines=entries, settings=settings,
                                registry=str(registry), checks=checks)
        rounds.check_output_dir(plan.round_dir)
    except RegistryError as exc:
        err.print(f"[bold red]error:[/] registry {exc.path} is not usable:", highlight=False)
        for problem in exc.problems[:50]:
            err.print(f"  - {problem}", highlight=False)
        if len(exc.problems) > 50:
            err.print(f"  … and {len(exc.problems) - 50} more", highlight=False)
        err.print("Nothing was imported or audited.")
        raise typer.Exit(2) from None
    except rounds.AuditInputError as exc:
        raise fail(str(exc)) from None
    return plan


@app.command()
def audit(
    registry: RegistryOpt,
    round_name: RoundOpt,
    proxy: ProxyOpt = None,
    only: Annotated[str | None, typer.Option("--only", help="Comma-separated check ids (default: all)")] = None,
    hotlines: HotlinesOpt = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """Run an audit round: discover every hotline's channels, then every check."""
    settings = settings_from(config, proxy=proxy, out=out_dir, db=db)
    plan = plan_round(registry, round_name, settings, hotlines, only)
    raise typer.Exit(run_audit(plan, resume=resume))


def discover_with_progress(plan: RoundPlan, progress: Progress, resume: bool = False) -> Discovery:
    from .discovery import crawl_entries, run_discovery

    sites = len(crawl_entries(plan.hotlines))
    task = progress.add_task("discover", total=sites, tally="")
    found = run_discovery(plan.hotlines, plan.settings, plan.round_dir / "discovery", resume=resume,
                          on_progress=lambda n: progress.update(task, completed=min(n, sites)))
    kinds = Counter(c.kind for cs in found.channels.values() for c in cs)
    progress.update(task, tally=" ".join(f"{k}:{n}" for k, n in kinds.most_common()))
    return found


def run_audit(plan: RoundPlan, discover_first: bool = True, resume: bool = False) -> int:
    """Run a planned round with a progress bar; returns the exit code. With ``resume`` the
    hotlines a stopped run of the round finished are kept, not redone."""
    from journeys.browser import BrowserUnavailable

    from .audit import run_round, tool_version
    from .discovery import with_discovered_websites
    from .model import Hotline
    from .store import Store

    settings = plan.settings
    try:
        store = Store(settings.db)
    except Exception as exc:
        raise fail(f"cannot open the store {settings.db}: {exc}") from None
    run_id = store.begin_round(
        plan.round_name, plan.hotlines, tool_version=tool_version(), config_hash=settings.fingerprint(),
        settings=settings.model_dump(mode="json"), registry=plan.registry, proxy=settings.proxy,
        resume=resume,
    )
    finished = store.done_hotlines(run_id) if resume else set()
    tally: Counter[str] = Counter()
    status = "failed"
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[tally]}"), console=err, transient=False,
    )
    try:
        with progress:
            if discover_first:
                found = discover_with_progress(plan, progress, resume=resume)
                plan.channels = dict(found.channels)
                plan.discovery_notes = {h.hotline_id: found.notes_for(h.hotline_id) for h in plan.hotlines}
                plan.hotlines = with_discovered_websites(plan.hotlines, found)
            if finished:
                err.print(f"Resuming round {plan.round_name}: {len(finished)} hotlines already audited.")
                plan.hotlines = [h for h in plan.hotlines if h.hotline_id not in finished]
            task = progress.add_task("audit", total=len(plan.hotlines), tally="")

            def on_done(hotline: Hotline, result: HotlineResult) -> None:
                for v in result.verdicts:
                    tally[v.verdict.value] += 1
                summary = " ".join(f"{k}:{n}" for k, n in sorted(tally.items()))
                progress.update(task, advance=1, tally=summary)

            asyncio.run(run_round(plan, store, run_id, on_done))
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
    except BrowserUnavailable as exc:  # status stays "failed"
        raise fail(str(exc)) from None
    except RuntimeError as exc:  # our own tooling broke (e.g. the crawler): say so, no traceback
        raise fail(f"the round stopped on our side: {exc}", code=1) from None
    finally:
        store.finish_round(run_id, status)
    paths = write_round_outputs(store, plan.round_name, plan.round_dir)
    data_done = sum(tally.values())
    if status == "interrupted":
        err.print(f"[yellow]Interrupted.[/] {data_done} verdicts saved for round {plan.round_name}; "
                  "rerun the same command with --resume to finish it (without --resume: redo it).")
        out.print(f"Partial report: {paths['report']}")
        return 130
    out.print(f"Round [bold]{plan.round_name}[/]: {len(plan.hotlines)} hotlines · "
              + " · ".join(f"{k} {n}" for k, n in sorted(tally.items())))
    out.print(f"Verdicts: {paths['verdicts']}\nChannels: {paths['channels']}")
    out.print(f"Report:   [bold]{paths['report']}[/]")
    return 0


def write_round_outputs(store: Store, round_name: str, round_dir: Path) -> dict[str, Path]:
    from reports.html import write_report
    from reports.tables import write_channels_csv, write_verdicts_csv

    data = store.load_round(round_name)
    assert data is not None
    return {
        "verdicts": write_verdicts_csv(data, round_dir / "verdicts.csv"),
        "channels": write_channels_csv(data, round_dir / "channels.csv"),
        "report": write_report(data, round_dir / "report.html"),
    }


@app.command()
def discover(
    registry: RegistryOpt,
    round_name: RoundOpt,
    proxy: ProxyOpt = None,
    hotlines: HotlinesOpt = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    resume: ResumeOpt = False,
) -> None:
    """Find every hotline's channels (no checks): writes channels.csv for the round."""
    from . import audit as rounds
    from .store import HotlineResult, Store

    settings = settings_from(config, proxy=proxy, out=out_dir, db=db)
    plan = plan_round(registry, round_name, settings, hotlines, only=None, with_checks=False)
    entries = plan.hotlines
    store = Store(settings.db)
    run_id = store.begin_round(round_name, entries, tool_version=rounds.tool_version(),
                               config_hash=settings.fingerprint(), settings=settings.model_dump(mode="json"),
                               registry=str(registry), proxy=settings.proxy, resume=resume)
    status = "failed"
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("{task.fields[tally]}"), console=err) as progress:
            found = discover_with_progress(plan, progress, resume=resume)
        for h in entries:
            store.save_hotline(run_id, HotlineResult(
                hotline_id=h.hotline_id, channels=found.channels.get(h.hotline_id, []),
                observations={"discovery": found.notes_for(h.hotline_id)}))
        status = "discovered"
    except KeyboardInterrupt:
        status = "interrupted"
        raise typer.Exit(130) from None
    finally:
        store.finish_round(run_id, status)
    paths = write_round_outputs(store, round_name, plan.round_dir)
    out.print(f"Channels: [bold]{paths['channels']}[/]")


@app.command()
def report(
    round_name: Annotated[str, typer.Option("--round", help="Round to report")],
    out_dir: OutOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Rewrite a stored round's verdicts.csv, channels.csv and report.html (no re-crawling)."""
    from .store import Store

    settings = settings_from(config, out=out_dir, db=db)
    store = Store(settings.db)
    if store.load_round(round_name) is None:
        known = ", ".join(r for r, _, _ in store.rounds()) or "none"
        raise fail(f"no round {round_name!r} in {settings.db} (rounds: {known})")
    paths = write_round_outputs(store, round_name, settings.out / round_name)
    out.print(f"Report: [bold]{paths['report']}[/]")


# -- simweb -----------------------------------------------------------------------------------


@simweb_app.command("serve")
def simweb_serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 = any free port)")] = 8080,
    seed: SeedOpt = 1,
    count: CountOpt = SIMWEB_COUNT,
) -> None:
    """Serve the simulated hotline internet in the foreground (HTTP proxy + virtual hosts)."""
    from fixtures.simweb.serve import serve

    try:
        serve(port=port, seed=seed, count=count)
    except OSError as exc:
        raise fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None


def _write_rows(rows: list[dict[str, str]], output: Path | None) -> None:
    from .files import csv_bytes, write_atomically

    data = csv_bytes(rows)
    if output is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    try:
        write_atomically(output, data)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror or exc}") from None
    err.print(f"wrote {len(rows)} rows to {output}")


@simweb_app.command("registry")
def simweb_registry(
    seed: SeedOpt = 1,
    count: CountOpt = SIMWEB_COUNT,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="CSV file (default: stdout)")] = None,
) -> None:
    """Print the simulated population as a registry CSV."""
    from fixtures.simweb import build_population, registry_rows

    _write_rows(registry_rows(build_population(seed, count)), output)


@simweb_app.command("gold")
def simweb_gold(
    seed: SeedOpt = 1,
    count: CountOpt = SIMWEB_COUNT,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="CSV file (default: stdout)")] = None,
) -> None:
    """Print the verdict every simulated hotline should get (hotline_id,check,verdict)."""
    from fixtures.simweb import build_population, gold_rows

    _write_rows(gold_rows(build_population(seed, count)), output)


@simweb_app.command("stats")
def simweb_stats(seed: SeedOpt = 1, count: CountOpt = SIMWEB_COUNT) -> None:
    """Print the population's problem rates beside the 2021 report's (and its channel mix)."""
    from rich.table import Table

    from fixtures.simweb import build_population, population_rates

    portals = build_population(seed, count)
    table = Table(title=f"simweb seed {seed}: {count} hotlines vs the 2021 report (12345热线监测研究报告)")
    for col in ("problem", "2021 report", "simweb", "of", "simweb rate", "gap (hotlines)"):
        table.add_column(col, justify="left" if col == "problem" else "right", no_wrap=col == "problem")
    labels = {"nowhere_to_search": "无处查", "inaccurate_search": "查不准", "cannot_submit": "无法提交",
              "no_progress": "无法显示受理进度", "no_reply": "无回应", "not_solved": "不能解决"}
    for row in population_rates(portals):
        table.add_row(f"{labels[row['problem']]} {row['problem']}", f"{row['report_rate']:.2%}",
                      str(row["count"]), str(row["of"]), f"{row['rate']:.2%}", f"{row['gap_hotlines']:+.2f}")
    out.print(table)
    kinds = Counter(p.site_kind for p in portals)
    out.print("channel mix (2019 census at 344: standalone 107, gov_column 71, h5_only 7, none 159): "
              + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))


# -- demo -------------------------------------------------------------------------------------


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo's round and store")] = Path("demo-runs"),
    seed: SeedOpt = 1,
    count: CountOpt = 24,
) -> None:
    """Start simweb, audit its hotlines through it, stop it, and print where the report is."""
    from .demo import run_demo

    raise typer.Exit(run_demo(out_dir, seed, count, run_audit))
