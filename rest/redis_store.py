"""The shared job store and work queue on a Redis-compatible server (Redis 6.2+, Valkey), for many ComfyUI
workers behind one API (config.json: "queue_url": "redis://…" or "rediss://…" for TLS, password in the URL).

- A job is a hash `hs:job:{id}` (the same fields as the SQLite row, plus the graph to run, the attempts and the
  current claim); its images are a hash `hs:blob:{id}` (inputs `in/<name>`, results `out/<name>`), so any worker
  can run the job and any worker can serve its result without a shared disk.
- The work queue is the stream `hs:queue` with the consumer group `workers`: a worker reads one entry only when
  its own ComfyUI queue is empty (pull, not push), renews its claim while the job runs, and acknowledges the
  entry when the job is final. An entry whose worker stopped renewing for the lease is taken over with
  XAUTOCLAIM; after `max_attempts` starts the job ends failed (jobs.ATTEMPTS_MESSAGE).
- Every write that ends a job is a Lua script (`redis_scripts`) that checks the claim token first, so a worker
  whose lease was taken over can neither finish the job again nor overwrite its result: a job ends once, one
  callback.
- A job that is not queued within INGEST_S of its request expires with its images (a request cut off half-way
  leaves nothing behind); a finished job expires after the result TTL.

Redis errors that mean "cannot reach the server" become store.StoreUnavailable. Pure: no ComfyUI import.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis import exceptions as redis_errors

from . import redis_scripts
from .jobs import ACTIVE, ATTEMPTS_MESSAGE, FINAL, RECEIVED, Job, new_job_id
from .store import Claim, QueueSettings, StoreUnavailable

PREFIX = "hs:"
GROUP = "workers"
INGEST_S = 600
"""A job must reach the queue within this many seconds of its request, or it expires with its input images."""
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 10.0
FORGET_WORKER_S = 600
"""A worker not seen for this long leaves the status route's list (a restarted process is a new worker)."""
_UNREACHABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError)
T = TypeVar("T")

def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Redis out of reach (refused, timed out, loading its data) is StoreUnavailable, naming the server."""
    @functools.wraps(method)
    def wrapper(self: RedisJobStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except _UNREACHABLE as error:
            raise StoreUnavailable(f"The job queue at {self.where} cannot be reached ({type(error).__name__}). "
                                   "Please try again shortly.") from None
    return wrapper


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _findable(result: dict[str, Any]) -> list[str]:
    """(name, value) pairs, flat, of each string a result lists (deepmode's image ids): `find` looks its job up by
    them for the result's TTL. Written by the same script that ends the job."""
    return [item for name, values in result.items() if isinstance(values, list)
            for value in values if isinstance(value, str) for item in (name, value)]


def server_address(url: str) -> str:
    """scheme://host:port of a queue URL, without its password (for messages and the status route)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"


class RedisJobStore:
    """Jobs, their images and the work queue on one Redis-compatible server (not Redis Cluster: the scripts
    touch keys they name themselves)."""

    shared = True
    name = "redis"

    def __init__(self, settings: QueueSettings, result_ttl_s: float) -> None:
        self.settings = settings
        self.where = server_address(settings.url)
        self.ttl = max(1, int(result_ttl_s))
        self.redis = redis.Redis.from_url(settings.url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                                          socket_timeout=SOCKET_TIMEOUT_S, health_check_interval=5)
        self.queue_key = PREFIX + "queue"
        self._transition = self.redis.register_script(redis_scripts.TRANSITION)
        self._enqueue = self.redis.register_script(redis_scripts.ENQUEUE)
        self._claim = self.redis.register_script(redis_scripts.CLAIM)
        self._renew = self.redis.register_script(redis_scripts.RENEW)
        self._put_blobs = self.redis.register_script(redis_scripts.PUT_BLOBS)
        self._group_ready = False

    # -- jobs ---------------------------------------------------------------------------------------------

    @staticmethod
    def _job(fields: dict[bytes, bytes]) -> Job:
        get = {_text(k): _text(v) for k, v in fields.items() if not k.startswith(b"graph")}
        return Job(get["id"], get["token"], get["owner"], get["api"], get["status"], get.get("prompt_id") or None,
                   json.loads(get["meta"]), json.loads(get["result"]) if get.get("result") else None,
                   get.get("error") or None, json.loads(get.get("files") or "[]"), float(get["created"]),
                   float(get["updated"]))

    @_guarded
    def create(self, owner: str, api: str, meta: dict[str, Any], job_id: str | None = None) -> Job:
        now = time.time()
        job = Job(job_id or new_job_id(), new_job_id(), owner, api, RECEIVED, None, meta, None, None, [], now, now)
        key = PREFIX + "job:" + job.id
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"id": job.id, "token": job.token, "owner": owner, "api": api,
                                    "status": RECEIVED, "meta": json.dumps(meta), "files": "[]",
                                    "created": repr(now), "updated": repr(now), "attempts": 0})
            pipe.expire(key, INGEST_S)
            pipe.set(PREFIX + "token:" + job.token, job.id, ex=INGEST_S)
            pipe.zadd(PREFIX + "active:" + owner, {job.id: now + INGEST_S})
            pipe.hset(PREFIX + "states", job.id, RECEIVED)
            pipe.execute()
        return job

    @_guarded
    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        fields = self.redis.hgetall(PREFIX + "job:" + job_id)
        if not fields or (owner is not None and _text(fields[b"owner"]) != owner):
            return None
        return self._job(fields)

    @_guarded
    def by_token(self, token: str) -> Job | None:
        job_id = self.redis.get(PREFIX + "token:" + token)
        return None if job_id is None else self.get(_text(job_id))

    def _write(self, job_id: str, claim: str | None, fields: dict[str, Any]) -> bool:
        allowed = {"status", "prompt_id", "meta", "result", "error", "files"}
        if set(fields) - allowed:
            raise KeyError(f"unknown job fields {sorted(set(fields) - allowed)}")
        pairs: list[Any] = []
        for name, value in {**fields, "updated": repr(time.time())}.items():
            pairs += [name, json.dumps(value) if name in ("meta", "result", "files") else ("" if value is None
                                                                                          else value)]
        found = _findable(fields.get("result") or {})
        return bool(self._transition(keys=[PREFIX + "job:" + job_id],
                                     args=[PREFIX, "1" if claim else "0", claim or "", self.ttl, len(found) // 2,
                                           *found, *pairs]))

    @_guarded
    def update(self, job_id: str, **fields: Any) -> None:
        """Set fields of a job that is not final (a final job is never changed again)."""
        self._write(job_id, None, fields)

    @_guarded
    def finish(self, job_id: str, claim: str | None, **fields: Any) -> bool:
        """`update` only while `claim` is the job's current claim and the job is not final: whether it was."""
        return self._write(job_id, claim, fields)

    @_guarded
    def ended_with(self, job_id: str, claim: str) -> Job | None:
        """The job, if it is final and `claim` ended it: a worker that lost the store's answer to its last write
        asks this when the store is back (whether its end was written, so that its callback is sent)."""
        fields = self.redis.hgetall(PREFIX + "job:" + job_id)
        if not fields or _text(fields.get(b"claim")) != claim:
            return None
        job = self._job(fields)
        return job if job.status in FINAL else None

    @_guarded
    def add_files(self, job_id: str, paths: list[str]) -> None:
        job = self.get(job_id)
        if job is not None:
            self._write(job_id, None, {"files": job.files + [p for p in paths if p not in job.files]})

    @_guarded
    def active_count(self, owner: str) -> int:
        key = PREFIX + "active:" + owner
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zcard(key)
            return pipe.execute()[1]

    def recover(self) -> list[Job]:
        """Nothing to do on start: other workers' jobs are live, and a stopped worker's are taken over."""
        return []

    def expired(self, ttl_s: float, now: float | None = None) -> list[Job]:
        """None: Redis expires finished jobs itself."""
        return []

    @_guarded
    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job is None:
            return
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(PREFIX + "job:" + job_id, PREFIX + "token:" + job.token, PREFIX + "blob:" + job_id)
            pipe.zrem(PREFIX + "active:" + job.owner, job_id)
            pipe.hdel(PREFIX + "states", job_id)
            pipe.execute()

    @_guarded
    def find(self, owner: str, api: str, result_key: str, value: str) -> Job | None:
        job_id = self.redis.get(f"{PREFIX}find:{api}:{result_key}:{value}")
        job = None if job_id is None else self.get(_text(job_id), owner)
        return job if job is not None and job.api == api and job.result else None

    @_guarded
    def counts(self) -> dict[str, int]:
        """Jobs per status: the active ones now, complete and failed since the store began."""
        states = {_text(k): _text(v) for k, v in self.redis.hgetall(PREFIX + "states").items()}
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in states:
                pipe.exists(PREFIX + "job:" + job_id)
            alive = pipe.execute()
        gone = [job_id for job_id, exists in zip(states, alive, strict=True) if not exists]
        if gone:  # jobs that expired before they were queued
            self.redis.hdel(PREFIX + "states", *gone)
        counts = {status: 0 for status in (*ACTIVE, *FINAL)}
        for job_id, status in states.items():
            if job_id not in gone:
                counts[status] = counts.get(status, 0) + 1
        for status, total in self.redis.hgetall(PREFIX + "totals").items():
            counts[_text(status)] = int(total)
        return counts

    # -- images -------------------------------------------------------------------------------------------

    @_guarded
    def put_blobs(self, job_id: str, files: dict[str, bytes], claim: str | None = None) -> bool:
        """Store images of a job (while it exists; with a claim, only while that claim holds)."""
        pairs: list[Any] = [item for name, data in files.items() for item in (name, data)]
        return bool(self._put_blobs(keys=[PREFIX + "job:" + job_id, PREFIX + "blob:" + job_id],
                                    args=["1" if claim else "0", claim or "", *pairs]))

    @_guarded
    def get_blob(self, job_id: str, name: str) -> bytes | None:
        return self.redis.hget(PREFIX + "blob:" + job_id, name)

    @_guarded
    def blobs(self, job_id: str, prefix: str) -> dict[str, bytes]:
        return {_text(k): v for k, v in self.redis.hgetall(PREFIX + "blob:" + job_id).items()
                if _text(k).startswith(prefix)}

    @_guarded
    def has_blob(self, job_id: str, name: str) -> bool:
        return bool(self.redis.hexists(PREFIX + "blob:" + job_id, name))

    # -- the work queue -----------------------------------------------------------------------------------

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.redis.xgroup_create(self.queue_key, GROUP, id="0", mkstream=True)
        except redis_errors.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    @_guarded
    def enqueue(self, job_id: str, graph: dict[str, Any]) -> None:
        """Put a received job on the work queue with the graph any worker will run."""
        self._ensure_group()
        if not self._enqueue(keys=[PREFIX + "job:" + job_id], args=[PREFIX, json.dumps(graph), repr(time.time())]):
            raise RuntimeError(f"job {job_id} expired before it was queued")

    @_guarded
    def claim(self, consumer: str, block_ms: int = 0) -> Claim | None:
        """The next job for this worker: one whose worker stopped renewing for the lease first, else a new one,
        waiting up to `block_ms` for one to arrive (an idle worker picks a new job up at once)."""
        self._ensure_group()
        lease_ms = int(self.settings.lease_s * 1000)
        try:
            reply = self.redis.xautoclaim(self.queue_key, GROUP, consumer, lease_ms, "0-0", count=1)
        except redis_errors.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            self._group_ready = False  # the server lost the group (restarted without persistence)
            return None
        entries = reply[1]
        if not entries:
            read = self.redis.xreadgroup(GROUP, consumer, {self.queue_key: ">"}, count=1, block=block_ms or None)
            entries = read[0][1] if read else []
        for entry_id, fields in entries:
            if not fields:  # an entry deleted while pending
                self.redis.xack(self.queue_key, GROUP, entry_id)
                continue
            job_id = _text(fields[b"job"])
            token = f"{consumer}/{_text(entry_id)}/{uuid.uuid4().hex[:8]}"
            message = ATTEMPTS_MESSAGE.format(attempts=self.settings.max_attempts)
            result = self._claim(keys=[PREFIX + "job:" + job_id, self.queue_key],
                                 args=[PREFIX, GROUP, entry_id, token, consumer, self.settings.max_attempts,
                                       repr(time.time()), self.ttl, message])
            if result[0] == 0:
                continue
            graph = json.loads(result[2]) if result[0] == 1 else None
            return Claim(job_id, _text(entry_id), token, int(result[1]), graph)
        return None

    @_guarded
    def renew(self, consumer: str, entry_id: str) -> bool:
        """Reset the lease of an entry this worker holds: False when another worker has taken it over."""
        return bool(self._renew(keys=[self.queue_key], args=[GROUP, entry_id, consumer]))

    @_guarded
    def ack(self, entry_id: str) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.queue_key, GROUP, entry_id)
            pipe.xdel(self.queue_key, entry_id)
            pipe.execute()

    @_guarded
    def seen(self, consumer: str) -> None:
        self.redis.hset(PREFIX + "workers", consumer, repr(time.time()))

    @_guarded
    def queue_state(self) -> dict[str, Any]:
        """Queue depth (entries waiting for a worker, entries a worker holds) and when each worker was seen."""
        self._ensure_group()
        length = self.redis.xlen(self.queue_key)
        pending = self.redis.xpending(self.queue_key, GROUP)["pending"]
        now = time.time()
        workers = {_text(k): round(now - float(v), 1) for k, v in self.redis.hgetall(PREFIX + "workers").items()}
        gone = [name for name, ago in workers.items() if ago > FORGET_WORKER_S]
        if gone:
            self.redis.hdel(PREFIX + "workers", *gone)
        workers = {name: ago for name, ago in workers.items() if name not in gone}
        return {"waiting": max(0, length - pending), "claimed": pending, "workers_seen_s_ago": workers}
