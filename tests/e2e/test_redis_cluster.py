"""Three ComfyUI workers behind one API on a shared Redis queue, all real processes on loopback: a real
redis-server (append-only) and three `main.py` servers, each with its own base directory (no shared disk), the
same keys and the same queue_url.

- 24 small jobs (deep-image, strengths 7-9, a 64 x 48 image) sent round-robin to the workers by two keys: every
  job ends complete, every result is readable from every worker, each job ran on exactly one worker (their
  ComfyUI histories), the jobs are spread over the workers, each key sees only its own jobs, a key's rate limit
  holds across workers, and the status route counts them;
- a deepmode callback fires once, from whichever worker finished the job;
- Redis restarted mid-queue: nothing queued is lost;
- Redis down: each API's documented 503 body, nothing written, and ComfyUI still serves the editor;
- a worker killed with SIGKILL while it runs a job: the job completes on another worker, the others' are unaffected;
- a selected subset of the SQLite REST suites (tests/e2e/test_rest_*.py, SUBSET) runs unchanged on the cluster.

24 jobs rather than 60: this machine's two cores are shared with other work; 24 over 3 workers already shows
the spread and the once-only run. The lease is LEASE_S here so the takeover fits the test's time.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from hires_studio.devtools.comfy_host import ComfyServer, make_comfy_base
from hires_studio.devtools.loopback_site import LoopbackSite, loopback_session
from hires_studio.devtools.redis_server import RedisServer
from hires_studio.devtools.request_images import png_base64_url, png_bytes
from hires_studio.devtools.rest_api_client import JOB_TIMEOUT_S, Api, site_files
from hires_studio.devtools.staging import stage_base, tiny_stand_ins
from hires_studio.rest.config import key_entry
from hires_studio.rest.keys import new_key
from hires_studio.rest.store import CLAIM_BLOCK_MS

pytestmark = pytest.mark.e2e

REAL_MODELS = Path(__file__).resolve().parents[2] / ".hires" / "base" / "models"
WORKERS = 3
JOBS = 24
LEASE_S = 6
SLOW_WIDTH = 256
"""A generative job this wide runs long enough to stop Redis while it runs."""
SPREAD_KEYS = {"carol": new_key(), "dave": new_key()}
"""The two keys of the spread test (rate limit 200); the suite's alice, bob (4) and zero (0) keep theirs."""
SUBSET = {
    "test_rest_api.py": ("test_deepimage_generative_upscale_seed", "test_deepimage_hires_generation_seed",
                         "test_deepimage_form_data_and_base64", "test_stability_esrgan_json",
                         "test_stability_esrgan_png_with_width", "test_deepmode_upscale_sync",
                         "test_deepmode_upscale_async_callback", "test_deepimage_resize_fields",
                         "test_deepmode_generate"),
    "test_rest_refusals.py": ("test_bad_input_is_refused_with_the_documented_body", "test_rate_limit"),
    "test_rest_auth.py": ("test_no_key_and_wrong_key", "test_another_keys_job_is_not_found",
                          "test_ssrf_targets_are_refused"),
}
"""The REST suites' tests that also run on the cluster: the seeds of the three APIs, a callback, the bad-input
bodies, SSRF refusals, resize fields, auth and isolation. Left out: the tests that rewrite the configuration
(the cluster's keys and queue live there), the ones about one ComfyUI's own queue, and the property, load and
generated-client tests, which check request parsing and the schema (the same code on either store) and take
minutes."""


def _load_rest_suite(file_name: str) -> Any:
    """A REST suite's module, loaded again under its own name here: its tests then take this module's `api`."""
    path = Path(__file__).with_name(file_name)
    spec = importlib.util.spec_from_file_location(f"{path.stem}_on_redis", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


for _file, _names in SUBSET.items():
    _suite = _load_rest_suite(_file)
    for _name in _names:
        globals()[_name] = getattr(_suite, _name)


class Cluster:
    def __init__(self, redis: RedisServer, workers: list[ComfyServer], api: Any, keys: dict[str, str]) -> None:
        self.redis = redis
        self.workers = workers
        self.api = api
        self.http = api.http
        self.keys = keys

    def live(self) -> list[ComfyServer]:
        return [w for w in self.workers if w.proc.poll() is None]

    def post(self, worker: ComfyServer, path: str, key: str, body: dict[str, Any]) -> requests.Response:
        return self.http.post(worker.url + path, json=body, headers={"x-api-key": self.keys[key]}, timeout=120)

    def result(self, worker: ComfyServer, job: str, key: str) -> requests.Response:
        return self.http.get(f"{worker.url}/rest_api/result/{job}", headers={"x-api-key": self.keys[key]},
                             timeout=60)

    def wait_all(self, jobs: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """Poll every job's result, each poll on the next live worker, until all are final (a 503 while Redis
        restarts is retried, as a client does)."""
        final: dict[str, dict[str, Any]] = {}
        workers = itertools.cycle(range(WORKERS))
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while len(final) < len(jobs) and time.monotonic() < deadline:
            for job, key in jobs:
                if job in final:
                    continue
                worker = self.workers[next(workers)]
                if worker.proc.poll() is not None:
                    continue
                response = self.result(worker, job, key)
                if response.status_code == 503:
                    continue
                body = response.json()
                if body.get("status") in ("complete", "failed"):
                    final[job] = body
            time.sleep(0.3)
        assert len(final) == len(jobs), f"not final after {JOB_TIMEOUT_S} s: {len(jobs) - len(final)} jobs"
        return final

    def runs(self) -> dict[str, list[int]]:
        """Which workers ran each job: the job ids in each live worker's ComfyUI history."""
        ran: dict[str, list[int]] = {}
        for index, worker in enumerate(self.workers):
            if worker.proc.poll() is not None:
                continue
            for entry in worker.get("/history").values():
                job = entry["prompt"][3].get("hires_studio_job")
                if job:
                    ran.setdefault(job, []).append(index)
        return ran


@pytest.fixture(scope="module")
def cluster(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    redis = RedisServer(tmp_path_factory.mktemp("cluster-redis"))
    site = LoopbackSite({})
    http = loopback_session()
    keys = {"alice": new_key(), "bob": new_key(), "zero": new_key()}
    bases = []
    for index in range(WORKERS):
        base = make_comfy_base(tmp_path_factory.mktemp(f"worker{index}"), [tiny_models, REAL_MODELS])
        stage_base(base, tiny_stand_ins(tiny_models))
        bases.append(base)
    queue = {"queue_url": redis.url, "queue_lease_s": LEASE_S, "queue_max_attempts": 3}
    for base in bases:  # the same configuration on every worker, written before it starts
        suite_api = Api(_Based(base), site, keys, http)
        suite_api.write_config(**queue)
        config = json.loads(suite_api.config_path.read_text())
        config["keys"] += [key_entry(name, key, 200) for name, key in SPREAD_KEYS.items()]
        suite_api.config_path.write_text(json.dumps(config))
    with ThreadPoolExecutor(WORKERS) as pool:
        workers = list(pool.map(lambda base: ComfyServer(base, log_name="worker.log"), bases))
    site.files.update(site_files(bases[0]))
    api = Api(workers[0], site, keys, http)
    cluster = Cluster(redis, workers, api, {**keys, **SPREAD_KEYS})
    yield cluster
    for worker in workers:
        if worker.proc.poll() is None:
            worker.stop()
    redis.stop()
    site.close()


class _Based:
    """Just a base directory, for writing a worker's config before its server starts."""

    def __init__(self, base: Path) -> None:
        self.base = base


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Any:
    """The REST suite's `api`, on the first worker of the cluster."""
    return cluster.api


def test_jobs_spread_over_workers_each_runs_once(cluster: Cluster) -> None:
    workers = cluster.workers
    jobs: list[tuple[str, str]] = []
    for i in range(JOBS):
        key = ("carol", "dave")[i % 2]
        body = {"url": png_base64_url(64, 48), "width": 96, "upscale_strength": 7 + i % 3}
        response = cluster.post(workers[i % WORKERS], "/rest_api/process", key, body)
        assert response.status_code == 200, response.text
        jobs.append((response.json()["job"], key))
    # A key's rate limit counts its jobs on every worker: bob's 4 (generative, so they take a while) wait behind
    # the others or run, so a 5th is refused.
    bobs = []
    for i in range(4):
        slow = {"url": png_base64_url(64, 48), "width": 128, "generative_upscale": True, "upscale_strength": 5}
        response = cluster.post(workers[i % WORKERS], "/rest_api/process", "bob", slow)
        assert response.status_code == 200, response.text
        bobs.append((response.json()["job"], "bob"))
    busy = cluster.post(workers[1], "/rest_api/process", "bob", {"url": png_base64_url(64, 48), "width": 96})
    assert busy.status_code == 429 and busy.json()["code"] == "TOO_MANY_REQUESTS", busy.text
    assert "Your rate limit is 4 and you are currently processing 4 images" in busy.json()["message"]
    final = cluster.wait_all(jobs + bobs)
    assert {body["status"] for body in final.values()} == {"complete"}, final
    for job, key in jobs:  # every result from every worker; another key's job is not found anywhere
        other = "dave" if key == "carol" else "carol"
        for worker in workers:
            assert cluster.result(worker, job, other).status_code == 404
            body = cluster.result(worker, job, key).json()
            path = body["result_url"].split("/", 3)[3]
            image = cluster.http.get(f"{worker.url}/{path}", timeout=60)
            assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (96, 72)
    ran = cluster.runs()
    assert {job: len(ran.get(job, [])) for job, _ in jobs} == {job: 1 for job, _ in jobs}, "each job ran once"
    per_worker = [sum(1 for job, _ in jobs if ran[job] == [w]) for w in range(WORKERS)]
    assert all(count > 0 for count in per_worker), f"jobs per worker: {per_worker}"
    status = cluster.http.get(workers[1].url + "/hires_studio_api/queue",
                              headers={"Authorization": f"Bearer {cluster.keys['bob']}"}, timeout=30).json()
    assert status["store"] == "redis" and len(status["queue"]["workers_seen_s_ago"]) == WORKERS
    assert status["jobs"]["complete"] >= JOBS + len(bobs) and status["queue"]["waiting"] == 0
    assert cluster.http.get(workers[1].url + "/hires_studio_api/queue", timeout=30).status_code == 401


def test_a_deepmode_callback_fires_once_from_the_worker_that_finished(cluster: Cluster) -> None:
    site = cluster.api.site
    callback = f"{site.url}/once"
    response = cluster.http.post(cluster.workers[2].url + "/api/images/generate",
                                 json={"model_id": "m1", "prompt": "a cow", "num_images": 1, "callback": callback},
                                 headers={"Authorization": f"Bearer {cluster.keys['alice']}"}, timeout=60)
    assert (response.status_code, response.json()) == (200, {"message": "Generating images..."})
    path, _, images = site.callbacks.get(timeout=JOB_TIMEOUT_S)
    assert path == "/once" and len(images) == 1
    for worker in cluster.workers:  # the image it names is found from every worker
        found = cluster.http.get(f"{worker.url}/api/images/{images[0]['id']}",
                                 headers={"Authorization": f"Bearer {cluster.keys['alice']}"}, timeout=30)
        assert found.status_code == 200 and found.json()["id"] == images[0]["id"]
    time.sleep(2 * LEASE_S / 3)
    assert site.callbacks.empty(), "one callback per job"


def test_redis_restarted_mid_queue_loses_nothing(cluster: Cluster) -> None:
    jobs = []
    for i in range(9):
        response = cluster.post(cluster.workers[i % WORKERS], "/rest_api/process", "alice",
                                {"url": png_base64_url(64, 48), "width": 80, "upscale_strength": 8})
        assert response.status_code == 200, response.text
        jobs.append((response.json()["job"], "alice"))
    cluster.redis.restart()
    final = cluster.wait_all(jobs)
    assert {body["status"] for body in final.values()} == {"complete"}, final


def test_a_job_run_again_on_the_same_worker_saves_its_image(cluster: Cluster) -> None:
    """Redis stops while a job runs, so its first result cannot be stored and the job runs again after the lease;
    with the other workers paused it runs on the same worker, whose ComfyUI holds the unchanged graph in its
    cache (the attempt's own SaveImage prefix makes it save again)."""
    client = cluster.redis.client()
    worker, paused = cluster.workers[0], cluster.workers[1:]
    for other in paused:
        os.kill(other.proc.pid, signal.SIGSTOP)
    try:
        time.sleep(2 * CLAIM_BLOCK_MS / 1000)  # a paused worker's blocking read has ended: it takes no new job
        body = {"url": png_base64_url(64, 48), "width": SLOW_WIDTH, "generative_upscale": True,
                "upscale_strength": 5}
        response = cluster.post(worker, "/rest_api/process", "alice", body)
        assert response.status_code == 200, response.text
        job = response.json()["job"]
        assert _wait_for(lambda: client.hget(f"hs:job:{job}", "status") == b"in_progress"), "never ran"
        cluster.redis.stop()
        assert _wait_for(lambda: f"job {job} ran here but" in worker.log_path.read_text()), \
            "the job ended before Redis stopped"
        cluster.redis.start()
        assert _wait_for(lambda: f"job {job} started here (attempt 2)" in worker.log_path.read_text())
    finally:
        for other in paused:
            os.kill(other.proc.pid, signal.SIGCONT)
    final = cluster.wait_all([(job, "alice")])[job]
    assert final["status"] == "complete", final
    image = cluster.http.get(final["result_url"], timeout=60)
    assert Image.open(io.BytesIO(image.content)).size == (SLOW_WIDTH, SLOW_WIDTH * 3 // 4)
    assert cluster.runs()[job] == [0, 0], "both attempts ran on the first worker"


def _wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_redis_down_is_each_apis_503_and_the_editor_still_works(cluster: Cluster) -> None:
    worker = cluster.workers[1]
    keys = cluster.keys
    inputs = worker.base / "input" / "hires_studio_api"
    before = sorted(inputs.glob("*")) if inputs.is_dir() else []
    cluster.redis.stop()
    try:
        deep = cluster.post(worker, "/rest_api/process", "alice", {"url": png_base64_url(64, 48), "width": 96})
        assert deep.status_code == 503 and deep.json()["code"] == "SERVICE_UNAVAILABLE", deep.text
        assert deep.json()["message"].startswith("The job queue at redis://127.0.0.1:")
        stability = cluster.http.post(
            worker.url + "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale",
            headers={"Authorization": f"Bearer {keys['alice']}", "Accept": "application/json"},
            files={"image": ("a.png", png_bytes(64, 48), "image/png")}, timeout=60)
        assert stability.status_code == 503 and set(stability.json()) == {"id", "name", "message"}
        assert stability.json()["name"] == "service_unavailable"
        deepmode = cluster.http.post(worker.url + "/api/images/generate", json={"model_id": "m", "prompt": "a cow"},
                                     headers={"Authorization": f"Bearer {keys['alice']}"}, timeout=60)
        assert deepmode.status_code == 503 and list(deepmode.json()) == ["message"]
        assert cluster.result(worker, "some-job", "alice").status_code == 503
        assert "test-password" not in deep.text + stability.text + deepmode.text
        started = time.monotonic()
        assert worker.get("/object_info/LoadImage")["LoadImage"]["name"] == "LoadImage"
        assert time.monotonic() - started < 5, "the editor's routes answer while the queue is out of reach"
        assert (sorted(inputs.glob("*")) if inputs.is_dir() else []) == before, "nothing written"
    finally:
        cluster.redis.start()
    response = cluster.post(worker, "/rest_api/process", "alice", {"url": png_base64_url(64, 48), "width": 96})
    assert response.status_code == 200, response.text
    assert cluster.wait_all([(response.json()["job"], "alice")])[response.json()["job"]]["status"] == "complete"


def test_a_worker_killed_mid_job_its_job_completes_elsewhere(cluster: Cluster) -> None:
    client = cluster.redis.client()
    jobs = []
    for i in range(6):  # generative jobs (a diffusion pass): long enough to be caught running
        response = cluster.post(cluster.workers[i % WORKERS], "/rest_api/process", "alice",
                                {"url": png_base64_url(64, 48), "width": 128, "generative_upscale": True,
                                 "upscale_strength": 5})
        assert response.status_code == 200, response.text
        jobs.append((response.json()["job"], "alice"))
    pids = {worker.proc.pid: worker for worker in cluster.workers[1:]}  # the first keeps serving the suite
    victim, victim_job = None, None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        for job, _ in jobs:
            fields = client.hgetall(f"hs:job:{job}")
            worker_name = fields.get(b"worker", b"").decode()
            pid = int(worker_name.split("-")[-2]) if worker_name.count("-") >= 2 else None
            if fields.get(b"status") == b"in_progress" and pid in pids:
                victim, victim_job = pids[pid], job
                break
        time.sleep(0.02)
    assert victim is not None, "no job was caught running on workers 1 or 2"
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(30)
    final = cluster.wait_all(jobs)
    assert {body["status"] for body in final.values()} == {"complete"}, final
    assert int(client.hget(f"hs:job:{victim_job}", "attempts")) == 2
    ran = cluster.runs()
    assert len(ran[victim_job]) == 1, "taken over once, by one surviving worker"
    assert all(int(client.hget(f"hs:job:{job}", "attempts")) == 1 for job, _ in jobs if job != victim_job)
