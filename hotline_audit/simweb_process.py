"""Run simweb as a child process on a free loopback port (demo, tests, benchmarks)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def simweb_process(seed: int = 1, count: int = 24, timeout_s: float = 30.0) -> Iterator[str]:
    """Yield simweb's proxy URL (``http://127.0.0.1:PORT``); stop it on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline_audit", "simweb", "serve", "--port", "0",
         "--seed", str(seed), "--count", str(count)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
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
