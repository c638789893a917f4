"""Run simweb as a child process on a free loopback port (demo, tests, benchmarks)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


@contextmanager
def simweb_process(seed: int = 1, count: int = 24, timeout_s: float = 30.0, hostile: Sequence[str] = (),
                   local_port: int | None = None, waf: int = 0) -> Iterator[str]:
    """Yield simweb's proxy URL (``http://127.0.0.1:PORT``); stop it on exit. ``hostile``
    appends hostile portals (fixtures.simweb.population.HOSTILE_TRAITS, one per entry) and
    ``local_port`` names the loopback service their private redirects point at; ``waf`` puts a
    firewall or rate limit in front of that many portals (fixtures.simweb.population.WAF_KINDS;
    ``GET /_rates`` then shows the rate a round kept). simweb's own command line
    (``python -m fixtures.simweb serve``) serves those, the product's the rest."""
    if hostile or local_port is not None or waf:
        command = [sys.executable, "-m", "fixtures.simweb", "serve", "--port", "0",
                   "--seed", str(seed), "--count", str(count), "--hostile", ",".join(hostile)]
        command += ["--local-port", str(local_port)] if local_port is not None else []
        command += ["--waf", str(waf)] if waf else []
    else:
        command = [sys.executable, "-m", "hotline_audit", "simweb", "serve", "--port", "0",
                   "--seed", str(seed), "--count", str(count)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    try:
        if not line or "listening on " not in line[0]:
            proc.kill()
            _, stderr = proc.communicate(timeout=5)
            raise RuntimeError(f"simweb did not start: {stderr.strip()[-500:] or 'no output'}")
        yield line[0].split("listening on ", 1)[1].split()[0]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
