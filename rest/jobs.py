"""The job store: one SQLite file in ComfyUI's user directory, so jobs outlive the process.

A job is owned by the key name that made it. Its status follows deep-image's words: received (checked,
being prepared), not_started (in ComfyUI's queue), in_progress (running), complete, failed. ComfyUI's own
queue lives in memory, so on start every job that had not finished is marked failed with a message that says
so (`recover`): none stays in_progress for ever. Results expire after the TTL and are deleted with their files.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECEIVED, NOT_STARTED, IN_PROGRESS, COMPLETE, FAILED = "received", "not_started", "in_progress", "complete", "failed"
ACTIVE = (RECEIVED, NOT_STARTED, IN_PROGRESS)
_ACTIVE_SQL = ",".join("?" * len(ACTIVE))
RESTART_MESSAGE = "The server restarted before this job finished. No credits were lost. Please try again."
FAILED_MESSAGE = ("We have encountered some technical issues while processing the image. No credits were lost. "
                  "Please try again.")
"""deep-image's ErrorJobFailed message; what went wrong is in the body's `error`."""
ATTEMPTS_MESSAGE = ("The job was started {attempts} times on this cluster's workers and none of them finished it "
                    "(each stopped during the job). No credits were lost. Please try again.")
"""A shared-queue job whose every attempt ended with its worker gone (store.DEFAULT_MAX_ATTEMPTS)."""
FINAL = (COMPLETE, FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    api TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt_id TEXT,
    meta TEXT NOT NULL,
    result TEXT,
    error TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner_status ON jobs (owner, status);
"""


def new_job_id() -> str:
    """An unguessable id (192 random bits), used in job hashes and result URLs."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Job:
    id: str
    token: str
    """The capability in the job's result URLs: random like the id, but never shown to ComfyUI (whose own
    unauthenticated /queue and /history routes list the job id), so the result files cannot be found from there."""
    owner: str
    api: str
    status: str
    prompt_id: str | None
    meta: dict[str, Any]
    """What the request asked for that the result needs (output format, the payload's fields, a callback)."""
    result: dict[str, Any] | None
    error: str | None
    files: list[str]
    """Every file the job made (inputs, ComfyUI outputs, results): deleted with the job."""
    created: float
    updated: float

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class JobStore:
    """Jobs in SQLite. Every call opens its own connection, so any thread may use the store."""

    shared = False
    """No work queue: a job goes onto this ComfyUI's own queue."""
    name = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt, one fsync per checkpoint, not per write
        try:
            with db:
                yield db
        finally:
            db.close()

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return Job(row["id"], row["token"], row["owner"], row["api"], row["status"], row["prompt_id"],
                   json.loads(row["meta"]),
                   json.loads(row["result"]) if row["result"] else None, row["error"], json.loads(row["files"]),
                   row["created"], row["updated"])

    def create(self, owner: str, api: str, meta: dict[str, Any], job_id: str | None = None) -> Job:
        now = time.time()
        job_id = job_id or new_job_id()
        with self._db() as db:
            db.execute("INSERT INTO jobs (id, token, owner, api, status, meta, created, updated) "
                       "VALUES (?,?,?,?,?,?,?,?)",
                       (job_id, new_job_id(), owner, api, RECEIVED, json.dumps(meta), now, now))
        return self.get(job_id)

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None when there is none with this id owned by `owner` (when given)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return self._job(row)

    def by_token(self, token: str) -> Job | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE token = ?", (token,)).fetchone()
        return None if row is None else self._job(row)

    def update(self, job_id: str, **fields: Any) -> None:
        """Set status, prompt_id, meta, result, error or files (dicts and lists are stored as JSON)."""
        allowed = {"status", "prompt_id", "meta", "result", "error", "files"}
        if set(fields) - allowed:
            raise KeyError(f"unknown job fields {sorted(set(fields) - allowed)}")
        values = {k: json.dumps(v) if k in ("meta", "result", "files") else v for k, v in fields.items()}
        values["updated"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id))

    def finish(self, job_id: str, claim: str | None, **fields: Any) -> bool:
        """`update`, only while the job is not final: whether it was (`claim` fences shared stores only)."""
        allowed = {"status", "prompt_id", "result", "error", "files"}
        if set(fields) - allowed:
            raise KeyError(f"unknown job fields {sorted(set(fields) - allowed)}")
        values = {k: json.dumps(v) if k in ("result", "files") else v for k, v in fields.items()}
        values["updated"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._db() as db:
            cursor = db.execute(f"UPDATE jobs SET {assignments} WHERE id = ? AND status IN ({_ACTIVE_SQL})",
                                (*values.values(), job_id, *ACTIVE))
            return cursor.rowcount == 1

    def counts(self) -> dict[str, int]:
        """Jobs per status, for the queue status route."""
        with self._db() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {status: 0 for status in (*ACTIVE, *FINAL)} | {row[0]: row[1] for row in rows}

    def add_files(self, job_id: str, paths: list[str]) -> None:
        with self._db() as db:
            row = db.execute("SELECT files FROM jobs WHERE id = ?", (job_id,)).fetchone()
            files = json.loads(row["files"]) + [p for p in paths if p not in json.loads(row["files"])]
            db.execute("UPDATE jobs SET files = ?, updated = ? WHERE id = ?", (json.dumps(files), time.time(), job_id))

    def active_count(self, owner: str) -> int:
        with self._db() as db:
            return db.execute(f"SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN ({_ACTIVE_SQL})",
                              (owner, *ACTIVE)).fetchone()[0]

    def active(self) -> list[Job]:
        with self._db() as db:
            rows = db.execute(f"SELECT * FROM jobs WHERE status IN ({_ACTIVE_SQL})", ACTIVE).fetchall()
        return [self._job(row) for row in rows]

    def recover(self) -> list[Job]:
        """On start: every job that had not finished ends failed (ComfyUI's queue did not survive)."""
        stale = self.active()
        for job in stale:
            self.update(job.id, status=FAILED, error=RESTART_MESSAGE)
        return stale

    def expired(self, ttl_s: float, now: float | None = None) -> list[Job]:
        """Finished jobs older than the TTL."""
        cutoff = (time.time() if now is None else now) - ttl_s
        with self._db() as db:
            rows = db.execute(f"SELECT * FROM jobs WHERE updated < ? AND status NOT IN ({_ACTIVE_SQL})",
                              (cutoff, *ACTIVE)).fetchall()
        return [self._job(row) for row in rows]

    def delete(self, job_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def find(self, owner: str, api: str, result_key: str, value: str) -> Job | None:
        """The owner's job of this API whose result holds `value` under `result_key` (deepmode image ids)."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM jobs WHERE owner = ? AND api = ? AND status = ?",
                              (owner, api, COMPLETE)).fetchall()
        for row in rows:
            job = self._job(row)
            if job.result and value in job.result.get(result_key, []):
                return job
        return None
