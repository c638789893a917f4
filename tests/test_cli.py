"""The command line: bad input gets a clear message and exit code 2, and nothing is written."""

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline_audit.cli import app

runner = CliRunner()

REGISTRY = "hotline_id,name,province,city,website\nnj,南京12345,江苏省,南京,http://www.nj12345.gov.cn.test/\n"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    return tmp_path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def audit(*args):
    return runner.invoke(app, ["audit", *args])


def assert_nothing_written(workdir: Path):
    assert not (workdir / "hotline-audit.db").exists()
    assert not (workdir / "runs").exists()


def test_missing_registry(workdir):
    r = audit("--registry", "nope.csv", "--round", "r1")
    assert r.exit_code == 2 and "file not found" in r.output
    assert_nothing_written(workdir)


def test_malformed_registry_names_line_and_field(workdir):
    (workdir / "bad.csv").write_text(REGISTRY + "x y,苏州,,苏州,\n", encoding="utf-8")
    r = audit("--registry", "bad.csv", "--round", "r1")
    assert r.exit_code == 2
    assert "line 3: field 'hotline_id'" in r.output and "line 3: field 'province'" in r.output
    assert "Nothing was imported" in r.output
    assert_nothing_written(workdir)


def test_a_script_url_or_a_pasted_essay_stops_the_round_before_it_starts(workdir):
    """The reviewer's registry: javascript:alert(1) as the first row's website (it once became
    http://javascript:alert(1)/ and sank the whole round's discovery), a 5,000-character name."""
    rows = ("hotline_id,name,province,city,website\n"
            "js,脚本,江苏省,南京,javascript:alert(1)\n"
            "nj,南京12345,江苏省,南京,http://www.nj12345.gov.cn.test/\n"
            f"long,{'长' * 5000},江苏省,苏州,www.sz12345.gov.cn.test\n"
            "trick,诈骗,江苏省,无锡,http://gov.cn@evil.test/[/bold]\n")
    (workdir / "bad.csv").write_text(rows, encoding="utf-8")
    for command in ("audit", "discover"):
        r = runner.invoke(app, [command, "--registry", "bad.csv", "--round", "r1"])
        said = " ".join(r.output.split())  # rich wraps long lines
        assert r.exit_code == 2, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)  # no traceback
        assert "Traceback" not in r.output
        assert "registry bad.csv is not usable" in said
        assert "line 2: field 'website': not an http(s) URL: 'javascript:alert(1)'" in said
        assert "line 4: field 'name': too long: at most 100 characters, this one has 5,000" in said
        assert "line 5: field 'website': 'http://gov.cn@evil.test/[/bold]' has a user name or password" in said
        assert "Nothing was imported" in said
        assert_nothing_written(workdir)


@pytest.mark.parametrize("command", ["audit", "discover"])
def test_a_crawler_that_fetched_nothing_stops_the_round_in_one_line(workdir, monkeypatch, command):
    """Only a crawl that recorded no page and no failure for any hotline stops the round: our
    side is broken. The auditor reads one line naming the crawler's last words and its log."""
    from hotline_audit import discovery

    def broken_crawl(todo, found, settings, on_progress, log, **_):
        log.write_text('Traceback (most recent call last):\n  File "crawler/run.py", line 1, in <module>\n'
                       "ValueError: the crawler broke\n", encoding="utf-8")

    monkeypatch.setattr(discovery, "_crawl", broken_crawl)
    args = ["--only", "stability"] if command == "audit" else []
    r = runner.invoke(app, [command, "--registry", "registry.csv", "--round", "r1", *args])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and "File " not in r.output
    said = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(said) == 1, r.output
    assert "discovery fetched nothing: the crawler recorded no page and no failure for any of 1 hotlines" in said[0]
    assert "the crawler's last line: ValueError: the crawler broke" in said[0]
    assert str(Path("runs") / "r1" / "discovery" / "crawler.log") in said[0]


def test_unknown_hotline_id(workdir):
    r = audit("--registry", "registry.csv", "--round", "r1", "--hotlines", "nj,shanghai")
    assert r.exit_code == 2 and "shanghai" in r.output
    assert_nothing_written(workdir)


def test_input_quoted_in_a_message_is_text_not_markup(workdir):
    r = audit("--registry", "registry.csv", "--round", "r1", "--hotlines", "nj,[/bold]x")
    assert r.exit_code == 2 and "[/bold]x" in r.output, r.output
    assert_nothing_written(workdir)


def test_unknown_check(workdir):
    r = audit("--registry", "registry.csv", "--round", "r1", "--only", "speed")
    assert r.exit_code == 2 and "unknown check" in r.output
    assert_nothing_written(workdir)


def test_unreachable_proxy(workdir):
    r = audit("--registry", "registry.csv", "--round", "r1", "--proxy", f"http://127.0.0.1:{free_port()}")
    assert r.exit_code == 2 and "unreachable" in r.output
    assert_nothing_written(workdir)


def test_filing_on_real_sites_needs_allow_submit_and_a_real_persona(workdir):
    """Refused before anything is fetched or written, saying how many sites are real."""
    (workdir / "real.csv").write_text(
        "hotline_id,name,province,city,website\nnj,南京12345,江苏省,南京,http://www.nj12345.gov.cn/\n"
        "sim,模拟12345,江苏省,模拟,http://www.sim12345.gov.cn.test/\n", encoding="utf-8")
    r = audit("--registry", "real.csv", "--round", "r1", "--only", "effectiveness")
    assert r.exit_code == 2 and "1 real hotline sites" in r.output and "--allow-submit" in r.output
    r = audit("--registry", "real.csv", "--round", "r1", "--only", "effectiveness", "--allow-submit")
    assert r.exit_code == 2 and "persona" in r.output  # the test persona never files on a real site
    assert_nothing_written(workdir)


def test_bad_round_name(workdir):
    r = audit("--registry", "registry.csv", "--round", "../etc")
    assert r.exit_code == 2 and "plain name" in r.output


@pytest.mark.skipif(os.geteuid() == 0 and sys.platform == "linux", reason="root can write anywhere")
def test_unwritable_output_dir_as_user(workdir):
    locked = workdir / "locked"
    locked.mkdir(mode=0o500)
    r = audit("--registry", "registry.csv", "--round", "r1", "--out", str(locked))
    assert r.exit_code == 2 and "cannot write" in r.output


def test_unwritable_output_dir(workdir):
    # A path under a regular file can never be created, even by root.
    (workdir / "file").write_text("x")
    r = audit("--registry", "registry.csv", "--round", "r1", "--out", str(workdir / "file" / "out"))
    assert r.exit_code == 2 and "cannot write" in r.output
    assert not (workdir / "hotline-audit.db").exists()


def test_report_for_unknown_round(workdir):
    r = runner.invoke(app, ["report", "--round", "nope", "--db", f"sqlite:///{workdir / 's.db'}"])
    assert r.exit_code == 2 and "no round 'nope'" in r.output


def test_simweb_registry_and_gold_files(workdir):
    r = runner.invoke(app, ["simweb", "registry", "--seed", "3", "--count", "24", "-o", "reg.csv"])
    assert r.exit_code == 0
    g = runner.invoke(app, ["simweb", "gold", "--seed", "3", "--count", "24", "-o", "gold.csv"])
    assert g.exit_code == 0
    with open("reg.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open("gold.csv", encoding="utf-8") as f:
        gold = list(csv.DictReader(f))
    assert len(rows) == 24 and {"hotline_id", "name", "province", "city", "website"} <= set(rows[0])
    assert sum(1 for g in gold if g["check"] == "stability") == 24
    assert {g["verdict"] for g in gold if g["check"] == "stability"} == {"ok", "degraded", "down", "no_channel"}


def test_simweb_serve_reports_a_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "hotline_audit", "simweb", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "cannot listen" in proc.stderr


def test_simweb_stats_prints_each_2021_rate_beside_the_population():
    r = runner.invoke(app, ["simweb", "stats"], env={"COLUMNS": "160"})
    assert r.exit_code == 0
    for label, report in (("无处查", "15.15%"), ("查不准", "16.96%"), ("无法提交", "12.71%"),
                          ("无回应", "21.51%"), ("不能解决", "16.46%")):
        line = next(line for line in r.output.splitlines() if label in line)
        assert report in line
        gap = float(line.split("│")[-2].strip())
        assert abs(gap) <= 1


def test_simweb_commands_default_to_the_full_population():
    from fixtures.simweb import DEFAULT_COUNT
    from hotline_audit.cli import SIMWEB_COUNT

    assert SIMWEB_COUNT == DEFAULT_COUNT


def test_our_warnings_read_as_one_line_for_the_auditor(monkeypatch, capsys):
    """A year past the holiday calendar is said plainly (no source path); others' warnings keep
    Python's form."""
    import warnings

    from hotline_audit import cli
    from hotline_audit.workdays import CalendarFallbackWarning

    python_shown: list[str] = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, category, *rest: python_shown.append(
        f"{category.__name__}: {message}"))  # Python's own display, restored after the test
    cli._every_command()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("chinese-calendar has no holiday data for 2099", CalendarFallbackWarning, stacklevel=1)
        warnings.warn("something else", DeprecationWarning, stacklevel=1)
    assert capsys.readouterr().err.splitlines() == ["warning: chinese-calendar has no holiday data for 2099"]
    assert python_shown == ["DeprecationWarning: something else"]


def test_sms_relay_command_takes_a_forwarders_post_and_serves_it_to_the_inbox(tmp_path):
    """What an auditor runs beside a round: the printed settings line is the inbox to use."""
    import asyncio
    import re
    import signal
    from datetime import UTC, datetime, timedelta

    import httpx

    from journeys.verification import HttpSmsInbox

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hotline_audit", "sms-relay", "--host", "127.0.0.1",
                             "--port", str(port), "--token", "s3cret"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or "Waiting" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        forwarder = re.search(r"(http://\S+/sms\?token=s3cret)", "".join(lines)).group(1)
        inbox_url = re.search(r"sms_inbox_url: '([^']+)'", "".join(lines)).group(1)
        before = datetime.now(UTC) - timedelta(seconds=1)
        with httpx.Client(trust_env=False) as c:
            assert c.post(forwarder, json={"content": "【淄博12345】您的验证码为 482913"}).json() == {"ok": True}
        code = asyncio.run(HttpSmsInbox(inbox_url, poll_s=0.1).wait_for_code("13800000000", before, 3))
        assert code == "482913"
        assert "收到验证码 【淄博12345】" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "1 messages received" in rest


def test_a_registry_site_in_the_auditors_own_network_is_named_before_the_round(tmp_path):
    """A website on loopback or a LAN address would be refused (hotline_audit/netguard.py):
    the auditor learns it before the round, with the setting that allows it."""
    from typer.testing import CliRunner

    from hotline_audit.cli import app

    registry = tmp_path / "reg.csv"
    registry.write_text("hotline_id,name,province,city,website\n"
                        "lan,内网热线,江苏,南京,http://192.168.1.20/\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["discover", "--registry", str(registry), "--round", "r",
                                      "--out", str(tmp_path / "runs"), "--db", f"sqlite:///{tmp_path / 'db'}"])
    assert "lan website http://192.168.1.20/ is in the auditor's own network (private)" in result.output
    assert "allow_hosts: [192.168.1.20]" in result.output
