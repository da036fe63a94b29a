"""`make serve` as the README runs it, on a free loopback port, for the tests of the README's commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .comfy_host import ROOT
from .processes import free_port

START_TIMEOUT_S = 240
MAKE_ENV_VARS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
"""Left out of the child's environment: under `make test` they would pass the outer make's variables on."""


def object_info(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/object_info", timeout=30) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError):
        return None


@contextmanager
def make_serve(log_path: Path) -> Iterator[tuple[int, dict]]:
    """Runs `make serve PORT=<free port>` in the project root until the block ends; yields (port, /object_info).

    ComfyUI's API nodes load (as `make serve` has them) with their API base on a closed loopback port, so
    nothing they could send leaves this machine."""
    port = free_port()
    guard = f"--comfy-api-base http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV_VARS}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["make", "-s", "serve", f"PORT={port}", f"SERVE_ARGS={guard}"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        info = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while info is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"make serve did not answer on port {port}:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
            info = object_info(port)
        yield port, info
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
