"""The shared Redis queue: jobs per minute with 1, 2 and 3 workers, and the per-job overhead of the Redis path
against the SQLite path (prints figures; not a test).

usage: .hires/venv/bin/python bench/cluster_throughput.py
       [--jobs 18] [--latency-jobs 12] [--store-ops 300]

All real processes on loopback: Debian's redis-server (append-only, fsync every second as in production) and
ComfyUI `main.py` workers with the tiny models, each with its own base directory. The job is the REST benchmark's
small one (a 64 x 48 image to 96 px wide, upscale_strength 8: no model, no diffusion).
  throughput   `--jobs` jobs sent round-robin to the running workers at once (POST /rest_api/process), timed
               until the last is final; with 1, then 2, then 3 workers.
  overhead     `--latency-jobs` jobs one after another through POST /rest_api/process_result on one idle
               worker with the Redis store, and on one with the SQLite store: p50 / p95 of request-to-answer.
  store        one job's whole life in the store alone (create, input image, enqueue, claim, running, result,
               final, ack), `--store-ops` times from one client: what the store itself costs per job.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import requests

from hires_studio.devtools.comfy_host import HIRES, ComfyServer, ensure_tiny_models, make_comfy_base
from hires_studio.devtools.loopback_site import loopback_session
from hires_studio.devtools.redis_server import RedisServer
from hires_studio.devtools.request_images import base64_url, png_bytes
from hires_studio.devtools.staging import stage_base, tiny_stand_ins
from hires_studio.rest.config import config_path, key_entry, write_config_atomic
from hires_studio.rest.jobs import COMPLETE, IN_PROGRESS, JobStore
from hires_studio.rest.keys import new_key
from hires_studio.rest.redis_store import RedisJobStore
from hires_studio.rest.store import QueueSettings

MACHINE = "this project's 2-core CPU machine, shared with other work"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def tiny_job() -> dict:
    return {"url": base64_url(png_bytes(64, 48, (120, 60, 200))), "width": 96, "upscale_strength": 8}


def worker(root: Path, name: str, key: str, queue_url: str | None, models: Path) -> ComfyServer:
    base = make_comfy_base(root / name, [models, HIRES / "base" / "models"])
    stage_base(base, tiny_stand_ins(models))
    config = {"keys": [key_entry("bench", key, 1000)]}
    write_config_atomic(config_path(base / "user"), config | ({"queue_url": queue_url} if queue_url else {}))
    return ComfyServer(base, log_name="worker.log")


def throughput(http: requests.Session, workers: list[ComfyServer], key: str, jobs: int) -> float:
    headers = {"x-api-key": key}
    started = time.monotonic()
    ids = []
    for i, server in zip(range(jobs), itertools.cycle(workers)):
        response = http.post(server.url + "/rest_api/process", json=tiny_job(), headers=headers, timeout=120)
        response.raise_for_status()
        ids.append((response.json()["job"], workers[(i + 1) % len(workers)]))
    pending = dict(ids)
    while pending:
        for job, server in list(pending.items()):
            body = http.get(f"{server.url}/rest_api/result/{job}", headers=headers, timeout=60).json()
            if body["status"] in ("complete", "failed"):
                assert body["status"] == "complete", body
                del pending[job]
        time.sleep(0.1)
    return jobs / (time.monotonic() - started) * 60


def latencies(http: requests.Session, server: ComfyServer, key: str, jobs: int) -> list[float]:
    times = []
    for _ in range(jobs):
        started = time.monotonic()
        response = http.post(server.url + "/rest_api/process_result", json=tiny_job(), headers={"x-api-key": key},
                             timeout=120)
        assert response.json()["status"] == "complete", response.text
        times.append(time.monotonic() - started)
    return times


def store_lifecycle(store: RedisJobStore | JobStore, ops: int) -> list[float]:
    """One job's whole life in the store, `ops` times: seconds per job."""
    times = []
    png = b"x" * 20_000
    graph = {"1": {"class_type": "SaveImage", "inputs": {"filename_prefix": "x"}}}
    for _ in range(ops):
        started = time.perf_counter()
        job = store.create("bench", "deep-image", {"base_url": "http://127.0.0.1"})
        if isinstance(store, RedisJobStore):
            store.put_blobs(job.id, {"in/a.png": png})
            store.enqueue(job.id, graph)
            claim = store.claim("bench-worker")
            store.finish(job.id, claim.token, prompt_id="p")
            store.finish(job.id, claim.token, status=IN_PROGRESS)
            store.put_blobs(job.id, {"out/result.png": png}, claim.token)
            store.finish(job.id, claim.token, status=COMPLETE, result={"files": [{"name": "result.png"}]})
            store.ack(claim.entry_id)
        else:
            store.add_files(job.id, ["/tmp/a.png"])
            store.update(job.id, status="not_started", prompt_id="p")
            store.update(job.id, status=IN_PROGRESS)
            store.finish(job.id, None, status=COMPLETE, result={"files": [{"name": "result.png"}]})
        store.get(job.id)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=18)
    parser.add_argument("--latency-jobs", type=int, default=12)
    parser.add_argument("--store-ops", type=int, default=300)
    args = parser.parse_args()
    models = ensure_tiny_models()
    http = loopback_session()
    key = new_key()
    with tempfile.TemporaryDirectory(prefix="hires-cluster-bench-") as tmp:
        root = Path(tmp)
        redis = RedisServer(root / "redis")
        redis.client().config_set("appendfsync", "everysec")
        servers: list[ComfyServer] = []
        try:
            print(f"Shared Redis queue, tiny jobs ({MACHINE}):")
            rates = {}
            for count in (1, 2, 3):
                servers.append(worker(root, f"worker{count}", key, redis.url, models))
                throughput(http, servers, key, len(servers))  # warm each worker's first run
                rates[count] = throughput(http, servers, key, args.jobs)
                print(f"  {count} worker(s): {rates[count]:6.1f} jobs/min ({args.jobs} jobs)")
            for server in servers[1:]:
                server.stop()
            redis_times = latencies(http, servers[0], key, args.latency_jobs)
            servers[0].stop()
            sqlite_server = worker(root, "sqlite", key, None, models)
            servers.append(sqlite_server)
            latencies(http, sqlite_server, key, 1)
            sqlite_times = latencies(http, sqlite_server, key, args.latency_jobs)
            sqlite_server.stop()  # the store's own figures below: no worker takes their jobs
            print(f"  request to answer, one idle worker ({args.latency_jobs} jobs each):")
            for name, times in (("redis", redis_times), ("sqlite", sqlite_times)):
                print(f"    {name:6s} p50 {percentile(times, 0.5) * 1000:7.1f} ms   p95 "
                      f"{percentile(times, 0.95) * 1000:7.1f} ms")
            p50 = (percentile(redis_times, .5) - percentile(sqlite_times, .5)) * 1000
            p95 = (percentile(redis_times, .95) - percentile(sqlite_times, .95)) * 1000
            print(f"    Redis path minus SQLite path: p50 {p50:+.1f} ms, p95 {p95:+.1f} ms")
            redis.client().flushdb()
            store = RedisJobStore(QueueSettings(url=redis.url), 3600)
            for name, lifecycle_store in (("redis", store), ("sqlite", JobStore(root / "jobs.sqlite3"))):
                times = store_lifecycle(lifecycle_store, args.store_ops)
                print(f"  store alone, one job's whole life ({name}, {args.store_ops} jobs, one client): p50 "
                      f"{percentile(times, .5) * 1000:.2f} ms, p95 {percentile(times, .95) * 1000:.2f} ms, "
                      f"about {1 / statistics.mean(times):.0f} jobs/s")
            print(json.dumps({"jobs_per_min": rates}))
        finally:
            for server in servers:
                if server.proc.poll() is None:
                    server.stop()
            redis.stop()


if __name__ == "__main__":
    main()
