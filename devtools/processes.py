"""Stopping the child processes the tooling starts (ComfyUI servers, redis-server)."""

from __future__ import annotations

import subprocess

GRACE_S = 20.0
"""How long a child gets to exit after SIGTERM (Redis flushes its append-only file) before it is killed."""


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after GRACE_S; returns once the process is gone."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
