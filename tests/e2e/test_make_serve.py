"""`make serve PORT=N`, the README's editor command: it listens on the port asked for, loads ComfyUI's API nodes
(the hosted workflows need them) and the pack, and starts without a traceback or an import failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from comfy_host import _free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PACK_NODES = {"GenerativeUpscale", "BicubicClean", "AdapterSelect", "HiResGenerate"}


def object_info(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/object_info", timeout=30) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError):
        return None


def test_make_serve_takes_port_and_starts_clean_with_the_api_nodes(tmp_path: Path) -> None:
    port = _free_port()
    # The API nodes' base is a closed port on loopback, so nothing they could send leaves this machine.
    guard = f"--comfy-api-base http://127.0.0.1:{_free_port()}"
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["make", "-s", "serve", f"PORT={port}", f"SERVE_ARGS={guard}"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        info = None
        deadline = time.monotonic() + 240
        while info is None and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()[-4000:]
            time.sleep(1)
            info = object_info(port)
        assert info is not None, f"nothing answered on port {port}:\n{log_path.read_text()[-4000:]}"
        assert PACK_NODES <= set(info)
        assert {"GeminiImageNode", "ByteDanceSeedreamNode"} <= set(info), "ComfyUI's API nodes did not load"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log_path.read_text()
    assert f"To see the GUI go to: http://127.0.0.1:{port}" in output
    assert "Traceback" not in output, output
    assert "IMPORT FAILED" not in output, output
