"""The job stores on their own: the Redis store against a real redis-server on loopback (the session's
`redis_server` fixture), the SQLite store's matching rules, and the queue settings in config.json."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hires_studio.devtools.processes import free_port
from hires_studio.devtools.redis_server import RedisServer
from hires_studio.rest.config import ConfigError, parse_config
from hires_studio.rest.jobs import ATTEMPTS_MESSAGE, COMPLETE, FAILED, IN_PROGRESS, NOT_STARTED, JobStore
from hires_studio.rest.redis_store import FORGET_WORKER_S, INGEST_S, PREFIX, RedisJobStore
from hires_studio.rest.store import QueueSettings, StoreUnavailable, open_store

GRAPH = {"1": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x"}}}


@pytest.fixture
def store_for(redis_server: RedisServer):
    """A Redis store on an empty database, with the settings a test asks for."""
    redis_server.client().flushdb()

    def make(lease_s: float = 60.0, max_attempts: int = 3, ttl_s: float = 3600) -> RedisJobStore:
        return RedisJobStore(QueueSettings(url=redis_server.url, lease_s=lease_s, max_attempts=max_attempts), ttl_s)
    return make


def queued(store: RedisJobStore, owner: str = "alice") -> str:
    job = store.create(owner, "deep-image", {"base_url": "http://x"})
    store.put_blobs(job.id, {"in/hires_studio_api/a.png": b"png"})
    store.enqueue(job.id, GRAPH)
    return job.id


def test_open_store_chooses_by_queue_url(tmp_path: Path, redis_server: RedisServer) -> None:
    assert isinstance(open_store(QueueSettings(), tmp_path / "jobs.sqlite3", 60), JobStore)
    assert isinstance(open_store(QueueSettings(url=redis_server.url), tmp_path / "x", 60), RedisJobStore)


def test_jobs_are_owned_and_found_by_token(store_for) -> None:
    store = store_for()
    job = store.create("alice", "deep-image", {"base_url": "http://x", "quality": 80})
    assert store.get(job.id).meta == {"base_url": "http://x", "quality": 80}
    assert store.get(job.id, owner="bob") is None
    assert store.by_token(job.token).id == job.id
    assert store.active_count("alice") == 1 and store.active_count("bob") == 0


def test_a_job_never_queued_expires_with_its_images(store_for, redis_server: RedisServer) -> None:
    store = store_for()
    job = store.create("alice", "deep-image", {"base_url": "http://x"})
    store.put_blobs(job.id, {"in/x.png": b"data"})
    client = redis_server.client()
    assert 0 < client.ttl(PREFIX + "job:" + job.id) <= INGEST_S
    assert 0 < client.ttl(PREFIX + "blob:" + job.id) <= INGEST_S
    store.enqueue(job.id, GRAPH)
    assert client.ttl(PREFIX + "job:" + job.id) == -1 and client.ttl(PREFIX + "blob:" + job.id) == -1


def test_claim_run_finish_once(store_for, redis_server: RedisServer) -> None:
    store = store_for(ttl_s=120)
    job_id = queued(store)
    claim = store.claim("w1")
    assert (claim.job_id, claim.attempts, claim.graph) == (job_id, 1, GRAPH)
    assert store.claim("w2") is None, "one entry, one worker"
    assert store.blobs(job_id, "in/") == {"in/hires_studio_api/a.png": b"png"}
    assert store.finish(job_id, claim.token, status=IN_PROGRESS)
    assert store.put_blobs(job_id, {"out/result.png": b"result"}, claim.token)
    assert store.finish(job_id, claim.token, status=COMPLETE, result={"files": [{"name": "result.png"}]})
    assert not store.finish(job_id, claim.token, status=FAILED, error="again"), "a final job never changes"
    store.ack(claim.entry_id)
    job = store.get(job_id)
    assert job.status == COMPLETE and store.get_blob(job_id, "out/result.png") == b"result"
    assert store.blobs(job_id, "in/") == {}, "inputs go when the job ends"
    client = redis_server.client()
    assert 0 < client.ttl(PREFIX + "job:" + job_id) <= 120 and 0 < client.ttl(PREFIX + "blob:" + job_id) <= 120
    assert store.active_count("alice") == 0
    assert store.queue_state()["waiting"] == 0 and store.queue_state()["claimed"] == 0
    assert store.counts()[COMPLETE] == 1


def test_ended_with_names_the_claim_that_ended_the_job(store_for) -> None:
    store = store_for(lease_s=1)
    job_id = queued(store)
    first = store.claim("w1")
    assert store.finish(job_id, first.token, status=IN_PROGRESS)
    assert store.ended_with(job_id, first.token) is None, "not final yet"
    time.sleep(1.2)
    second = store.claim("w2")
    assert store.finish(job_id, second.token, status=COMPLETE, result={"files": []})
    assert store.ended_with(job_id, first.token) is None, "ended, but by the second claim"
    ended = store.ended_with(job_id, second.token)
    assert (ended.id, ended.status, ended.result) == (job_id, COMPLETE, {"files": []})
    assert store.ended_with("no-such-job", second.token) is None


def test_a_lapsed_lease_is_taken_over_and_the_old_claim_is_fenced(store_for) -> None:
    store = store_for(lease_s=1)
    job_id = queued(store)
    first = store.claim("w1")
    assert store.claim("w2") is None, "within the lease nobody takes it"
    time.sleep(1.2)
    second = store.claim("w2")
    assert (second.job_id, second.attempts) == (job_id, 2)
    assert not store.renew("w1", first.entry_id), "w1 learns that it lost the job"
    assert not store.put_blobs(job_id, {"out/result.png": b"stale"}, first.token)
    assert not store.finish(job_id, first.token, status=COMPLETE, result={"files": []})
    assert store.put_blobs(job_id, {"out/result.png": b"fresh"}, second.token)
    assert store.finish(job_id, second.token, status=COMPLETE, result={"files": [{"name": "result.png"}]})
    assert store.get_blob(job_id, "out/result.png") == b"fresh"


def test_renewing_keeps_the_job(store_for) -> None:
    store = store_for(lease_s=1)
    queued(store)
    claim = store.claim("w1")
    for _ in range(4):
        time.sleep(0.4)
        assert store.renew("w1", claim.entry_id)
        assert store.claim("w2") is None


def test_attempts_used_up_end_failed_with_the_documented_message(store_for) -> None:
    store = store_for(lease_s=1, max_attempts=2)
    job_id = queued(store)
    assert store.claim("w1").attempts == 1
    time.sleep(1.1)
    assert store.claim("w2").attempts == 2
    time.sleep(1.1)
    last = store.claim("w3")
    assert (last.job_id, last.graph) == (job_id, None)
    job = store.get(job_id)
    assert (job.status, job.error) == (FAILED, ATTEMPTS_MESSAGE.format(attempts=2))
    assert store.queue_state()["claimed"] == 0 and store.active_count("alice") == 0


def test_workers_seen_and_forgotten(store_for, redis_server: RedisServer) -> None:
    store = store_for()
    store.seen("w1")
    redis_server.client().hset(PREFIX + "workers", "old", repr(time.time() - FORGET_WORKER_S - 1))
    assert set(store.queue_state()["workers_seen_s_ago"]) == {"w1"}
    assert redis_server.client().hkeys(PREFIX + "workers") == [b"w1"]


def test_deepmode_image_ids_are_found_by_their_owner_only(store_for, redis_server: RedisServer) -> None:
    store = store_for()
    job_id = queued(store)
    claim = store.claim("w1")
    assert not store.finish(job_id, "a stale claim", status=COMPLETE, result={"files": [], "image_ids": ["old"]})
    store.finish(job_id, claim.token, status=COMPLETE, result={"files": [], "image_ids": ["abc", "d:e"]})
    assert store.find("alice", "deep-image", "image_ids", "old") is None, "a refused end indexes nothing"
    assert store.find("alice", "deep-image", "image_ids", "abc").id == job_id
    assert store.find("alice", "deep-image", "image_ids", "d:e").id == job_id
    assert 0 < redis_server.client().ttl(PREFIX + "find:deep-image:image_ids:abc") <= 3600
    assert store.find("bob", "deep-image", "image_ids", "abc") is None
    assert store.find("alice", "deepmode", "image_ids", "abc") is None


def test_unreachable_server_is_store_unavailable_without_the_password() -> None:
    store = RedisJobStore(QueueSettings(url=f"redis://:s3cret@127.0.0.1:{free_port()}/0"), 60)
    with pytest.raises(StoreUnavailable) as caught:
        store.create("alice", "deep-image", {})
    assert str(caught.value).startswith("The job queue at redis://127.0.0.1:")
    assert "s3cret" not in str(caught.value)


def test_sqlite_finish_is_once_too(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.create("alice", "deep-image", {})
    assert store.finish(job.id, None, status=NOT_STARTED)
    assert store.finish(job.id, None, status=COMPLETE, result={"files": []})
    assert not store.finish(job.id, None, status=FAILED, error="late")
    assert store.counts()[COMPLETE] == 1 and store.get(job.id).status == COMPLETE


def test_queue_settings_in_config() -> None:
    config = parse_config({"queue_url": "rediss://:pw@redis.internal:6380/0", "queue_lease_s": 30,
                           "queue_max_attempts": 2, "max_result_bytes": 1000}, {})
    assert config.queue == QueueSettings("rediss://:pw@redis.internal:6380/0", 30, 2, 1000)
    assert parse_config({}, {}).queue.url is None
    with pytest.raises(ConfigError, match="queue_url must be a redis:// or rediss:// URL") as caught:
        parse_config({"queue_url": "http://:pw@redis"}, {})
    assert "pw" not in str(caught.value)
    with pytest.raises(ConfigError, match="queue_max_attempts must be an integer >= 1"):
        parse_config({"queue_max_attempts": 0}, {})
