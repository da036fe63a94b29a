"""What the job runner asks of a job store, and which store a configuration chooses.

Two stores implement it: `jobs.JobStore` (SQLite in ComfyUI's user directory, the embedded default for one
machine) and `redis_store.RedisJobStore` (a shared store and work queue on a Redis-compatible server, for many
workers behind one API). Only the shared one has a work queue (`shared` is true): with SQLite a job goes straight
onto the local ComfyUI queue, as it always has. Pure: no ComfyUI import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .jobs import Job, JobStore

REDIS_SCHEMES = ("redis://", "rediss://")
DEFAULT_LEASE_S = 60.0
"""How long a worker may go without renewing its claim on a job before another worker takes the job over. Each
worker renews every lease/4 while the job runs, so only a worker that stopped (killed, frozen, cut off) loses it."""
DEFAULT_MAX_ATTEMPTS = 3
"""How many times a job is started on a worker before it ends failed (jobs.ATTEMPTS_MESSAGE)."""
DEFAULT_MAX_RESULT_BYTES = 128 * 1024 * 1024
"""The largest result (all of a job's encoded files) the shared store keeps: Redis holds it in memory."""
CLAIM_BLOCK_MS = 500
"""How long an idle worker's ask for its next job waits for one to arrive (a blocking read: a new job starts at once
on an idle worker)."""
INPUT_BLOB, RESULT_BLOB = "in/", "out/"
"""How a shared store names a job's input images and its result files (inputs go when the job ends)."""


class StoreUnavailable(Exception):
    """The shared store cannot be reached (or answers that it is loading): requests get their API's 503."""


@dataclass(frozen=True)
class Claim:
    """A job a worker took from the shared queue: `token` fences every later write, so a worker whose lease
    was taken over cannot finish the job a second time."""

    job_id: str
    entry_id: str
    token: str
    attempts: int
    graph: dict[str, Any] | None
    """The graph to run; None when the job is over (attempts used up: it has just been marked failed)."""


class Store(Protocol):
    """The job store the runner uses (both stores)."""

    shared: bool
    name: str

    def create(self, owner: str, api: str, meta: dict[str, Any], job_id: str | None = None) -> Job: ...
    def get(self, job_id: str, owner: str | None = None) -> Job | None: ...
    def by_token(self, token: str) -> Job | None: ...
    def update(self, job_id: str, **fields: Any) -> None: ...
    def finish(self, job_id: str, claim: str | None, **fields: Any) -> bool: ...
    def add_files(self, job_id: str, paths: list[str]) -> None: ...
    def active_count(self, owner: str) -> int: ...
    def recover(self) -> list[Job]: ...
    def expired(self, ttl_s: float, now: float | None = None) -> list[Job]: ...
    def delete(self, job_id: str) -> None: ...
    def find(self, owner: str, api: str, result_key: str, value: str) -> Job | None: ...
    def counts(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class QueueSettings:
    """The shared queue's settings, read once when the server starts (config.json: queue_url, queue_lease_s,
    queue_max_attempts, max_result_bytes)."""

    url: str | None = None
    lease_s: float = DEFAULT_LEASE_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES


def open_store(settings: QueueSettings, sqlite_path: Path, result_ttl_s: float) -> Store:
    """SQLite unless a queue_url names a Redis server; the redis client is imported only then."""
    if not settings.url:
        return JobStore(sqlite_path)
    from .redis_store import RedisJobStore

    return RedisJobStore(settings, result_ttl_s)
