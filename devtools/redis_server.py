"""A real Redis server on loopback for the tests, the cluster and the benchmark: Debian's `redis-server` (the
bootstrap installs it), on a free port, append-only persistence on, in its own directory; stopped at the end.

Never a fake: the shared-queue code is tested against the server it runs on in production.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from .processes import free_port, stop_process


def redis_binary() -> str:
    """The redis-server on PATH (Debian's package); an error that says how to get one."""
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file()
                                            else None)
    if path is None:
        raise RuntimeError("redis-server is not installed: run `make setup` (scripts/bootstrap.sh installs "
                           "Debian's redis-server package) or `apt-get install redis-server`")
    return path


class RedisServer:
    """One redis-server process bound to 127.0.0.1, with a password; `restart` keeps its data (append-only)."""

    def __init__(self, folder: Path, port: int | None = None, password: str = "test-password") -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        self.url = f"redis://:{password}@127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        cmd = [redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
               "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--requirepass", self.password,
               "--protected-mode", "yes", "--logfile", str(self.folder / "redis.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.folder / 'redis.log').read_text()[-2000:]}")
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer in 30 s")

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.proc is not None:
            stop_process(self.proc)

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)
