"""`makemore-pl serve` as a child process on a free port of 127.0.0.1: for tests, benchmarks and scripts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def free_port() -> int:
    """A port that nothing listens on now (LitServe refuses port 0, so the caller picks one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def serving(ckpt_path: str | Path, *options: str, startup_s: float = 180) -> Iterator[str]:
    """Run ``makemore-pl serve --ckpt_path ckpt_path *options`` until the block ends; yields its base URL.

    The server counts as started when ``/health`` answers 200 (its workers have loaded the model).
    It runs in a session of its own, which is stopped at the end as Ctrl-C stops a terminal's.
    """
    port = free_port()
    command = [sys.executable, "-m", "makemore_pl", "serve", "--ckpt_path", str(ckpt_path), "--port", str(port)]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([*command, *options], stdout=log, stderr=log, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_s
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{' '.join(command)} did not start:\n{log.read()[-3000:]}")
                time.sleep(0.25)
            yield url
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    # Ctrl-C to the whole session (the server, its HTTP process, its inference workers), as a
    # terminal sends it; then whatever is left of the session is killed.
    _signal_session(process, signal.SIGINT)
    with suppress(subprocess.TimeoutExpired):
        process.wait(30)
    _signal_session(process, signal.SIGKILL)
    process.wait()


def _signal_session(process: subprocess.Popen, sig: int) -> None:
    with suppress(ProcessLookupError):  # nothing of it is left
        os.killpg(process.pid, sig)
