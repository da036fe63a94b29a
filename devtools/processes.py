"""The child processes the tooling starts (ComfyUI servers, redis-server): a free loopback port for one, and
stopping it."""

from __future__ import annotations

import socket
import subprocess

GRACE_S = 20.0
"""How long a child gets to exit after SIGTERM (Redis flushes its append-only file) before it is killed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
