"""The ``hotline-audit`` command: a thin layer of options, messages and progress bars over
the library. Bad input exits with code 2 before anything is written."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import warnings
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .config import Settings, load_settings
from .registry import RegistryError, load_registry

if TYPE_CHECKING:  # the browser stack loads only for commands that use it (fast --help)
    from crawler.results import Discovery

    from .audit import RoundPlan
    from .model import Hotline
    from .store import HotlineResult, Store

app = typer.Typer(help="Audit the internet side of China's 12345 hotlines (12345热线互联网端监测).",
                  no_args_is_help=True, add_completion=False)
simweb_app = typer.Typer(help="The simulated hotline internet (for tests, demos and benchmarks).",
                         no_args_is_help=True)
app.add_typer(simweb_app, name="simweb")

# Paths must stay whole to be copied: lines are never wrapped (tables still fit the width).
out = Console(soft_wrap=True)
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the store [default: sqlite:///hotline-audit.db]")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Folder for round outputs [default: runs]")]
ProxyOpt = Annotated[str | None, typer.Option("--proxy", help="HTTP proxy for every request, e.g. http://127.0.0.1:8080")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML file of settings", exists=True, dir_okay=False)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Population seed")]
CountOpt = Annotated[int, typer.Option("--count", min=1, help="Number of simulated hotlines")]
WafOpt = Annotated[int, typer.Option("--waf", min=0, help="Put a firewall or rate limit in front of this many "
                                     "simulated portals (429/503 with or without Retry-After, 访问过于频繁 and "
                                     "block pages, a provincial firewall, robots.txt Crawl-delay)")]
SIMWEB_COUNT = 344  # = fixtures.simweb.DEFAULT_COUNT, the 2021 audit; not imported, to keep --help fast


@app.callback()
def _every_command() -> None:
    # Before any command: our own warnings (a year past the holiday calendar, say) are for
    # auditors, so they read as one plain line above the progress bar, not a source location.
    python_show = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if category.__module__.split(".")[0] in ("hotline_audit", "journeys", "checks", "reports", "crawler"):
            err.print(f"[yellow]warning:[/] {message}", highlight=False)
        else:
            python_show(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def run_interruptibly(coro: Coroutine[Any, Any, object]) -> None:
    """``asyncio.run`` where Ctrl-C always ends in KeyboardInterrupt. asyncio's own handler
    loses a Ctrl-C that lands as the round is finishing (the last hotline, its browser killed by
    the same signal, was saved as a tool error and the round passed for finished). Like
    asyncio's, the first Ctrl-C cancels the round; a second one interrupts at once."""
    pressed = False

    async def main() -> None:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None

        def on_sigint(signum: int, frame: object) -> None:
            nonlocal pressed
            if pressed:
                raise KeyboardInterrupt
            pressed = True  # at once, in the signal handler: no race with the round's end
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            await coro
        except asyncio.CancelledError:
            if not pressed:
                raise
        finally:
            signal.signal(signal.SIGINT, previous)

    try:
        asyncio.run(main())
    except asyncio.CancelledError:  # the cancel landed as main() returned
        if not pressed:
            raise
    if pressed:
        raise KeyboardInterrupt


def fail(message: str, code: int = 2) -> typer.Exit:
    # Messages quote the user's input (a registry's URL, a hotline id): "[/b]" in it is text,
    # not rich markup that would end the command in a MarkupError.
    # One line however long, so that a path in it can be copied whole.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
        if "effectiveness" in checks:
            from journeys.effectiveness import submissions_allowed

            allowed, message = submissions_allowed(settings, entries)
            if not allowed:
                raise rounds.AuditInputError(message)
            err.print(message, highlight=False)
        warn_local_sites(entries, settings)
        rounds.check_output_dir(plan.round_dir)  # the last check: it creates the folder
    except RegistryError as exc:
        err.print(f"[bold red]error:[/] registry {escape(str(exc.path))} is not usable:", highlight=False)
        for problem in exc.problems[:50]:
            err.print(f"  - {problem}", markup=False, highlight=False)  # they quote the sheet's values
        if len(exc.problems) > 50:
            err.print(f"  … and {len(exc.problems) - 50} more", highlight=False)
        err.print("Nothing was imported or audited.")
        raise typer.Exit(2) from None
    except rounds.AuditInputError as exc:
        raise fail(str(exc)) from None
    return plan


def warn_local_sites(entries: list[Hotline], settings: Settings) -> None:
    """Say so before the round when a registry names a site in the auditor's own network: it
    will be refused (and judged by that) unless ``network.allow_hosts`` names it."""
    from urllib.parse import urlsplit

    from .netguard import TargetPolicy

    policy = TargetPolicy(settings.network.allow_hosts)
    for entry in entries:
        for field in ("website", "h5", "gov_portal"):
            url = getattr(entry, field)
            host = urlsplit(url).hostname if url else None
            if host and (problem := policy.name_problem(host)):
                err.print(f"warning: {entry.hotline_id} {field} {url} is in the auditor's own network "
                          f"({problem[0]}): it will be refused, not audited. To audit it on purpose, "
                          f"add it to the settings: network: {{allow_hosts: [{host}]}}",
                          markup=False, highlight=False, soft_wrap=True)


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
    allow_submit: Annotated[bool, typer.Option(
        "--allow-submit", help="Really file complaints on real hotline sites (needs a real persona_file; "
        "the number to be filed is shown first). simweb needs no permission")] = False,
) -> None:
    """Run an audit round: discover every hotline's channels, then every check."""
    settings = settings_from(config, proxy=proxy, out=out_dir, db=db,
                             effectiveness={"allow_submit": True} if allow_submit else None)
    plan = plan_round(registry, round_name, settings, hotlines, only)
    raise typer.Exit(run_audit(plan, resume=resume))


def discover_with_progress(plan: RoundPlan, progress: Progress, resume: bool = False) -> Discovery:
    from .discovery import crawl_entries, run_discovery

    sites = len(crawl_entries(plan.hotlines))
    task = progress.add_task("discover", total=sites, tally="")
    found = run_discovery(plan.hotlines, plan.settings, plan.round_dir / "discovery", resume=resume,
                          on_progress=lambda n: progress.update(task, completed=min(n, sites)),
                          round_name=plan.round_name)
    kinds = Counter(c.kind for cs in found.channels.values() for c in cs)
    progress.update(task, tally=" ".join(f"{k}:{n}" for k, n in kinds.most_common()))
    return found


def run_audit(plan: RoundPlan, discover_first: bool = True, resume: bool = False) -> int:
    """Run a planned round with a progress bar; returns the exit code. With ``resume`` the
    hotlines a stopped run of the round finished are kept, not redone."""
    from journeys.browser import BrowserUnavailable
    from reports.politeness import load_summary, summary_lines, throttled_verdicts

    from .audit import run_round, tool_version
    from .discovery import with_discovered_websites
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
    blocked: list = []  # verdicts a site's throttling left to a person, for the closing lines
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
                blocked.extend(throttled_verdicts(result.verdicts))
                summary = " ".join(f"{k}:{n}" for k, n in sorted(tally.items()))
                progress.update(task, advance=1, tally=summary)

            run_interruptibly(run_round(plan, store, run_id, on_done))
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
    # Which sites throttled us and when, from the request log the outputs just saved (no log:
    # nothing was asked of any site, so nothing to say).
    summary = load_summary(plan.round_dir) if "politeness_json" in paths else None
    closing = summary_lines(summary, blocked, more_hint=str(paths.get("politeness_csv", "politeness.csv")))
    data_done = sum(tally.values())
    if status == "interrupted":
        err.print(f"[yellow]Interrupted.[/] {data_done} verdicts saved for round {plan.round_name}; "
                  "rerun the same command with --resume to finish it (without --resume: redo it).")
        out.print(f"Partial report: {paths['report']}")
        for line in closing:
            out.print(line, highlight=False)
        return 130
    out.print(f"Round [bold]{plan.round_name}[/]: {len(plan.hotlines)} hotlines · "
              + " · ".join(f"{k} {n}" for k, n in sorted(tally.items())))
    out.print(f"Verdicts: {paths['verdicts']}\nChannels: {paths['channels']}")
    out.print(f"Report:   [bold]{paths['report']}[/]")
    for line in closing:
        out.print(line, highlight=False)
    return 0


def write_round_outputs(store: Store, round_name: str, round_dir: Path, rubric: Path | None = None,
                        compare: str | None = None) -> dict[str, Path]:
    """verdicts.csv, channels.csv, politeness.csv/json (when the round has a request log), then
    the scored report.html, report.xlsx and scores.csv/json."""
    from hotline_audit.personas import PersonaError
    from reports.politeness import read_summary, round_budget, state_file_of, write_summary
    from reports.redaction import Redactor, round_persona
    from reports.tables import write_channels_csv, write_verdicts_csv

    data = store.load_round(round_name)
    assert data is not None
    paths = {
        "verdicts": write_verdicts_csv(data, round_dir / "verdicts.csv"),
        "channels": write_channels_csv(data, round_dir / "channels.csv"),
    }
    # The request log goes into the round folder first: the report and workbook written next
    # read it from there, whichever command rewrites them. Without a state file (a round from
    # before the budget, or a folder moved without it) an existing politeness.json is kept.
    state_file = state_file_of(data, round_dir)
    if state_file.is_file():
        try:
            redactor = Redactor(round_persona(data.settings))
        except PersonaError as exc:  # no file that could leak the persona
            raise fail(f"cannot redact the round's persona: {exc}") from None
        summary = read_summary(state_file, round_name, round_budget(data.settings), redactor)
        if summary is not None:
            paths.update(write_summary(summary, round_dir))
    paths.update(write_scored_outputs(store, round_name, round_dir, rubric, compare))
    return paths


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
    except RuntimeError as exc:  # our own tooling broke (e.g. the crawler): say so, no traceback
        raise fail(f"discovery stopped on our side: {exc}", code=1) from None
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
    rubric: Annotated[Path | None, typer.Option(
        "--rubric", help="Scoring rubric YAML [default: the shipped rubric]", exists=True, dir_okay=False)] = None,
    compare: Annotated[str | None, typer.Option("--compare", help="An earlier round: add round-to-round changes")] = None,
    manual: Annotated[Path | None, typer.Option(
        "--manual", help="A filled manual checklist (.xlsx) to import as manual verdicts", exists=True,
        dir_okay=False)] = None,
) -> None:
    """Rewrite a stored round's verdicts.csv, channels.csv, report.html, report.xlsx and
    scores.csv/json from the store (no re-crawling; another --rubric re-scores)."""
    from .store import Store

    settings = settings_from(config, out=out_dir, db=db)
    store = Store(settings.db)
    if store.load_round(round_name) is None:
        known = ", ".join(r for r, _, _ in store.rounds()) or "none"
        raise fail(f"no round {round_name!r} in {settings.db} (rounds: {known})")
    if manual is not None:
        import_manual(store, round_name, manual)
    paths = write_round_outputs(store, round_name, settings.out / round_name, rubric, compare)
    out.print(f"Scores:   {paths['scores_csv']} · {paths['scores_json']}\nWorkbook: {paths['workbook']}")
    out.print(f"Report: [bold]{paths['report']}[/]")


@app.command()
def recheck(
    due: Annotated[bool, typer.Option("--due", help="Every submitted case whose reply window has passed")] = False,
    round_name: Annotated[str | None, typer.Option("--round", help="Only this round's cases")] = None,
    now: Annotated[str | None, typer.Option("--now", help="The time to judge at (ISO), e.g. for simulations")] = None,
    proxy: ProxyOpt = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Come back to submitted complaints: capture progress and replies, judge, update the round."""
    import asyncio
    import json
    import time
    from datetime import UTC, datetime

    from journeys.browser import BrowserPool
    from journeys.effectiveness import RecheckResult, effectiveness_tools, recheck_due
    from journeys.stability import JourneyContext
    from reports.politeness import read_throttles, throttle_lines, throttled_verdicts, verdict_line

    from . import audit as rounds
    from .ledger import Ledger
    from .politeness import open_budget, state_file_for
    from .store import Store

    if not due:
        raise fail("say which cases: --due (every case whose reply window has passed)")
    settings = settings_from(config, proxy=proxy, out=out_dir, db=db)
    try:
        when = datetime.fromisoformat(now) if now else datetime.now(UTC)
        rounds.check_proxy(settings.proxy)
    except ValueError as exc:
        raise fail(f"--now {now!r} is not an ISO date-time: {exc}") from None
    except rounds.AuditInputError as exc:
        raise fail(str(exc)) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    store = Store(settings.db)
    ledger = Ledger(store)

    due_count = sum(1 for c in ledger.due(when) if round_name is None or c.round == round_name)
    tally: Counter[str] = Counter()
    touched: set[str] = set()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("{task.fields[tally]}"), console=err)
    task = progress.add_task("recheck", total=due_count, tally="")

    def on_done(r: RecheckResult) -> None:
        # Stored as each case is judged: an interrupted recheck keeps what it did.
        store.replace_verdict(r.case.round, r.verdict, r.observation.model_dump(mode="json"), r.evidence,
                              journey="effectiveness")
        touched.add(r.case.round)
        tally[r.verdict.verdict.value] += 1
        blocked.extend(throttled_verdicts([r.verdict]))
        progress.update(task, advance=1, tally=" ".join(f"{k}:{n}" for k, n in sorted(tally.items())))

    async def run() -> list:
        budget = open_budget(settings.politeness, settings.out, round_name or "recheck")
        async with BrowserPool(settings.browser, settings.proxy, settings.network, budget,
                               settings.politeness.contact) as browser:
            ctx = JourneyContext(settings=settings, browser=browser, round_dir=settings.out,
                                 probe_limiter=asyncio.Semaphore(settings.probe.concurrency), budget=budget)
            tools = effectiveness_tools(settings, settings.out / "recheck")
            return await recheck_due(ctx, ledger, tools=tools, now=when, round_name=round_name, on_done=on_done)

    code = 0
    blocked: list = []  # the verdicts a site's throttling left to a person
    started = time.time()  # this recheck's throttling answers, not earlier ones booked alike
    try:
        if due_count:  # no browser for nothing
            with progress:
                run_interruptibly(run())
    except KeyboardInterrupt:
        code = 130
        err.print(f"[yellow]Interrupted.[/] {sum(tally.values())} cases rechecked and saved; "
                  "run the same command again for the rest.")
    out.print(f"Rechecked {sum(tally.values())} cases: "
              + (" · ".join(f"{k} {n}" for k, n in sorted(tally.items())) or "none due"))
    for name in sorted(touched):
        paths = write_round_outputs(store, name, settings.out / name)
        out.print(f"Round {name}: report {paths['report']}")
        # The report's own problem rates (scores.json), so what is printed is what it says.
        rates = json.loads(paths["scores_json"].read_text(encoding="utf-8"))["problem_rates"]
        for r in rates:
            if r["check"] == "effectiveness":
                share = "–" if r["rate"] is None else f"{r['rate']:.2%}"
                out.print(f"  {r['label_zh']} {r['problem']}: {r['count']}/{r['of']} = {share} "
                          f"({r['pool_zh']}; 待定 undetermined {r['undetermined']})", highlight=False)
    if due_count:  # sites were asked: which throttled us, and when
        booked = round_name or "recheck"
        state_file = state_file_for(settings.politeness, settings.out)
        throttles = read_throttles(state_file, booked, since=started)
        if throttles is not None:
            hint = settings.out / round_name / "politeness.csv" if round_name else state_file
            for line in throttle_lines(throttles, more_hint=str(hint)):
                out.print(line, highlight=False)
            if (line := verdict_line(blocked)) is not None:
                out.print(line, highlight=False)
    if code:
        raise typer.Exit(code)


@app.command("sms-relay")
def sms_relay(
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 8099,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: reachable from the phone on the LAN)")] = "0.0.0.0",
    token: Annotated[str | None, typer.Option("--token", help="Secret the forwarder must send [default: a new random one]")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The persona's number, for messages posted without one")] = None,
) -> None:
    """Receive the persona phone's SMS from a forwarder app, so rounds read the codes unattended."""
    import secrets
    import socket

    from journeys.verification import SmsRelay, extract_code

    token = token or secrets.token_urlsafe(12)

    def received(m: dict[str, Any]) -> None:
        sign = re.search(r"【[^】]{1,20}】", m["text"])
        what = "验证码" if extract_code(m["text"]) else "短信"
        out.print(f"{m['received_at'].astimezone():%H:%M:%S} 收到{what} {sign.group(0) if sign else ''} "
                  f"({len(relay.messages)} so far)", highlight=False)

    relay = SmsRelay(token, phone=phone, on_message=received)

    async def serve() -> None:
        bound = await relay.start(host, port)
        everywhere = host in ("0.0.0.0", "")
        lan = host
        if everywhere:  # the machine's own address, as the phone would reach it
            lan = "<this computer's IP>"
            with contextlib.suppress(OSError):
                lan = next((str(a[4][0]) for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
                            if not str(a[4][0]).startswith("127.")), lan)
        out.print(f"Forwarder app (转发地址, POST JSON or form): http://{lan}:{bound}/sms?token={token}",
                  highlight=False)
        local = "127.0.0.1" if everywhere else host
        out.print("Settings for the audit (配置):\n  effectiveness: {sms_inbox_url: "
                  f"'http://{local}:{bound}/sms?phone={{phone}}&token={token}'}}", highlight=False)
        out.print("Waiting for messages; Ctrl-C stops.", highlight=False)
        try:
            await asyncio.Event().wait()
        finally:
            await relay.stop()

    try:
        run_interruptibly(serve())
    except KeyboardInterrupt:
        out.print(f"Stopped; {len(relay.messages)} messages received.")
    except OSError as exc:  # the port is taken, say
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


# -- simweb -----------------------------------------------------------------------------------


@simweb_app.command("serve")
def simweb_serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 = any free port)")] = 8080,
    seed: SeedOpt = 1,
    count: CountOpt = SIMWEB_COUNT,
    waf: WafOpt = 0,
) -> None:
    """Serve the simulated hotline internet in the foreground (HTTP proxy + virtual hosts)."""
    from fixtures.simweb.serve import serve

    try:
        serve(port=port, seed=seed, count=count, waf=waf)
    except ValueError as exc:  # more firewalls than portals that can have one
        raise fail(str(exc)) from None
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
    count: CountOpt = SIMWEB_COUNT,
    waf: WafOpt = 0,
) -> None:
    """Start simweb, audit its hotlines through it, stop it, and print where the report is."""
    from .demo import run_demo

    def recheck_later(proxy: str, now: str) -> None:
        recheck(due=True, round_name="demo", now=now, proxy=proxy, out_dir=out_dir,
                db=f"sqlite:///{out_dir / 'hotline-audit.db'}", config=None)

    try:
        raise typer.Exit(run_demo(out_dir, seed, count, run_audit, recheck_later, waf=waf))
    except ValueError as exc:  # more firewalls than portals that can have one
        raise fail(str(exc)) from None


# -- scores, evidence packs and reviews ------------------------------------------------------


def write_scored_outputs(store: Store, round_name: str, round_dir: Path, rubric_file: Path | None = None,
                         compare: str | None = None) -> dict[str, Path]:
    """Score the stored round (rubric, reviewer overrides, manual answers) and write the scored
    report, workbook and scores.csv/json. Bad input exits with code 2."""
    from hotline_audit.personas import PersonaError
    from reports.outputs import write_score_outputs
    from reports.rubric import RubricError, load_rubric

    try:
        rubric = load_rubric(rubric_file)
    except RubricError as exc:
        raise fail(str(exc)) from None
    data = store.load_round(round_name)
    assert data is not None
    before = None
    if compare is not None:
        before = store.load_round(compare)
        if before is None:
            raise fail(f"no round {compare!r} to compare with (rounds: {', '.join(r for r, _, _ in store.rounds())})")
    try:
        return write_score_outputs(data, round_dir, rubric, store=store, compare=before)
    except PersonaError as exc:  # no report that could leak the persona
        raise fail(f"cannot redact the round's persona: {exc}") from None



@app.command()
def evidence(
    hotline_id: Annotated[str, typer.Argument(
        metavar="HOTLINE_ID", help="Hotline to pack, or the word 'verify' followed by a pack to check")],
    pack: Annotated[Path | None, typer.Argument(metavar="[PACK]", help="With 'verify': the pack.zip to check")] = None,
    check: Annotated[str | None, typer.Option("--check", help="Only this check (and its sub-checks)")] = None,
    round_name: Annotated[str | None, typer.Option("--round", help="Round (default: the latest)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Zip to write")] = None,
    rubric: Annotated[Path | None, typer.Option("--rubric", help="Scoring rubric YAML", exists=True, dir_okay=False)] = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write a verifiable evidence pack for one hotline (证据包), or check one:
    `evidence HOTLINE_ID -o pack.zip`, `evidence verify pack.zip`."""
    import time

    if hotline_id == "verify" and pack is not None:
        from reports.evidence import verify_pack

        result = verify_pack(pack)
        if not result.ok:
            err.print(f"[bold red]FAILED[/] {pack}:", highlight=False)
            for problem in result.problems:
                err.print(f"  - {problem}", highlight=False)
            raise typer.Exit(1)
        out.print(f"OK {pack}: {result.files} files match manifest.json "
                  f"(manifest SHA-256 {result.manifest_sha256})", highlight=False)
        return
    if pack is not None:
        raise fail("give one hotline id (or: evidence verify PACK.zip)")
    if output is None:
        raise fail("say where to write the pack: -o pack.zip")
    from hotline_audit.personas import PersonaError
    from reports.evidence import EvidenceError, verify_pack, write_pack
    from reports.outputs import score_stored
    from reports.rubric import RubricError, load_rubric

    from .store import Store

    settings = settings_from(config, out=out_dir, db=db)
    store = Store(settings.db)
    rounds = [r for r, _, _ in store.rounds()]
    round_name = round_name or (rounds[-1] if rounds else None)
    data = store.load_round(round_name) if round_name else None
    if data is None:
        raise fail(f"no round {round_name!r} in {settings.db} (rounds: {', '.join(rounds) or 'none'})")
    if hotline_id not in {h.hotline_id for h in data.hotlines}:
        raise fail(f"hotline {hotline_id!r} is not in round {data.round}")
    started = time.perf_counter()
    try:
        scores = score_stored(data, load_rubric(rubric), store)
        write_pack(data, settings.out / data.round, hotline_id, scores, output, check=check)
    except (RubricError, PersonaError) as exc:
        raise fail(str(exc)) from None
    except EvidenceError as exc:
        raise fail(str(exc), code=1) from None
    result = verify_pack(output)
    out.print(f"Evidence pack: [bold]{output}[/] ({result.files} files, {time.perf_counter() - started:.1f} s) · "
              f"manifest SHA-256 {result.manifest_sha256}", highlight=False)


def import_manual(store: Store, round_name: str, path: Path) -> None:
    from reports.checklist import ChecklistError, import_answers

    try:
        new = import_answers(store, round_name, path)
    except ChecklistError as exc:
        raise fail(str(exc)) from None
    err.print(f"manual checklist {path}: {new} new answer(s) stored as manual verdicts")


def _round_or_latest(store: Store, round_name: str | None) -> str:
    rounds = [r for r, _, _ in store.rounds()]
    if round_name is None and rounds:
        return rounds[-1]
    if round_name not in rounds:
        raise fail(f"no round {round_name!r} in the store (rounds: {', '.join(rounds) or 'none'})")
    return round_name


@app.command()
def checklist(
    round_name: Annotated[str | None, typer.Option("--round", help="Round (default: the latest)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Workbook [default: OUT/ROUND/manual-checklist.xlsx]")] = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the manual checklist (人工检查表): mini-programs and apps to check by hand, with
    each hotline's questions; import it filled with `report --manual FILE`."""
    from hotline_audit.personas import PersonaError
    from reports.checklist import build_checklist
    from reports.redaction import Redactor, round_persona

    from .files import write_atomically
    from .questions import load_questions
    from .store import Store

    settings = settings_from(config, out=out_dir, db=db)
    store = Store(settings.db)
    name = _round_or_latest(store, round_name)
    data = store.load_round(name)
    assert data is not None
    try:
        redactor = Redactor(round_persona(data.settings))
    except PersonaError as exc:
        raise fail(f"cannot redact the round's persona: {exc}") from None
    path = output or settings.out / name / "manual-checklist.xlsx"
    write_atomically(path, build_checklist(data, load_questions(), settings.findability.questions_per_hotline,
                                           redactor))
    rows = sum(1 for c in data.channels if c.kind in ("mini_program", "app"))
    out.print(f"Manual checklist: [bold]{path}[/] ({rows} mini-program/app channels × 3 checks)")


review_app = typer.Typer(help="Reviewer overrides (复核改判): change a verdict, with who, when and why.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")


@review_app.command("set")
def review_set(
    hotline_id: Annotated[str, typer.Argument(metavar="HOTLINE")],
    check: Annotated[str, typer.Argument(metavar="CHECK")],
    verdict: Annotated[str, typer.Argument(metavar="VERDICT", help="e.g. ok, needs_review, no_reply")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the override, shown in reports)")],
    round_name: Annotated[str | None, typer.Option("--round", help="Round (default: the latest)")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Reviewer (default: your OS user name)")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Override one verdict; scores and reports use it (run `report` again) and show it."""
    _review(hotline_id, check, verdict, reason, round_name, by, db, config)


@review_app.command("unset")
def review_unset(
    hotline_id: Annotated[str, typer.Argument(metavar="HOTLINE")],
    check: Annotated[str, typer.Argument(metavar="CHECK")],
    reason: Annotated[str, typer.Option("--reason", help="Why the override is withdrawn")],
    round_name: Annotated[str | None, typer.Option("--round", help="Round (default: the latest)")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Reviewer (default: your OS user name)")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Withdraw an override: the automatic (or manual) verdict applies again."""
    _review(hotline_id, check, None, reason, round_name, by, db, config)


def _review(hotline_id: str, check: str, verdict: str | None, reason: str, round_name: str | None,
            by: str | None, db: str | None, config: Path | None) -> None:
    from reports.rubric import load_rubric

    from .review import ReviewError, record, round_checks
    from .store import Store

    settings = settings_from(config, db=db)
    store = Store(settings.db)
    name = _round_or_latest(store, round_name)
    try:
        checks = round_checks(store, name) | set(load_rubric().checks)
        d = record(store, name, hotline_id, check, verdict, reason=reason, by=by, checks=checks)
    except ReviewError as exc:
        raise fail(str(exc)) from None
    what = f"{d.verdict}" if d.verdict else "withdrawn"
    out.print(f"{name} {d.hotline_id} {d.check}: {what} by {d.by} at {d.at.isoformat()} — "
              f"run `hotline-audit report --round {name}` to rescore", highlight=False)


@review_app.command("list")
def review_list(
    round_name: Annotated[str | None, typer.Option("--round", help="Round (default: the latest)")] = None,
    history: Annotated[bool, typer.Option("--all", help="Every decision, including replaced and withdrawn")] = False,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The overrides and manual answers in force for a round."""
    from rich.table import Table

    from .model import VERDICT_LABELS_ZH
    from .review import KIND_ZH, decisions
    from .store import Store

    settings = settings_from(config, db=db)
    store = Store(settings.db)
    name = _round_or_latest(store, round_name)
    rows = decisions(store, name, history=history)
    table = Table(title=f"round {name}: {len(rows)} decision(s) by people")
    for col in ("hotline", "check", "kind", "verdict", "by", "at (UTC)", "reason"):
        table.add_column(col)
    for d in rows:
        verdict = f"{d.verdict} {VERDICT_LABELS_ZH.get(d.verdict, '')}" if d.verdict else "(withdrawn)"
        table.add_row(d.hotline_id, d.check, KIND_ZH[d.kind], verdict, d.by, d.at.strftime("%Y-%m-%d %H:%M:%S"),
                      d.reason)
    out.print(table)

