"""The shared job runner of the REST APIs on ComfyUI's PromptServer: deep-image (/rest_api/*), Stability v1
(/v1/generation/{engine_id}/image-to-image/upscale) and deepmode (/api/images/*), each one object in
API_FAMILIES (deepimage_api, stability_api, deepmode_api) that brings its routes, refusals and result writer.

Every API route needs a configured key (none configured = every such route refuses, saying how to add one). A
request is checked, its images fetched safely and decoded under a pixel cap, turned into the shipped
workflow's graph, validated and queued exactly as POST /prompt does; a watcher follows each job on ComfyUI's
queue, writes the encoded result and keeps the job store up to date. ComfyUI-bound (aiohttp handlers on the
server's loop).

With a shared store (config.json's queue_url, docs/cluster.md) a request is checked and validated here, then put
on the shared work queue with its input images; every worker's watcher takes the next job from that queue only
when its own ComfyUI queue is empty, runs it, and stores the result where every worker can serve it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import folder_paths
from aiohttp import web

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from . import comfy_queue
from .bodies import MAX_JSON_DEPTH, json_depth, read_body
from .config import CONFIG_DIR, CONFIG_PLACE, KEYS_ENV, ApiConfig, ConfigCache, ConfigError
from .deepimage_api import DeepImageApi
from .deepmode_api import DeepmodeApi
from .errors import ApiError
from .family import ApiFamily, Handler, write_atomic
from .images import decode_base64, open_image
from .jobs import COMPLETE, FAILED, IN_PROGRESS, NOT_STARTED, Job
from .keys import ApiKey, bearer_token, identify
from .model_files import resolve_models
from .safe_fetch import FetchRefused, fetch
from .stability_api import StabilityApi
from .store import INPUT_BLOB, RESULT_BLOB, Claim, StoreUnavailable, open_store
from .ticks import TickHealth, run_ticks

log = logging.getLogger(__name__)

API_FAMILIES: tuple[type[ApiFamily], ...] = (DeepImageApi, StabilityApi, DeepmodeApi)
"""The hosted APIs served: each brings its routes, refusals, result writer and job record."""
POLL_S = 0.02
"""How often the watcher looks at ComfyUI's queue for the jobs it follows."""
SYNC_WAIT_S = 3600.0
"""Stability and deepmode's sync calls wait for their job this long at most."""
SUBFOLDER = "hires_studio_api"
"""Where the jobs' images go inside ComfyUI's input and output folders."""
FILES_ROUTE = "/hires_studio_api/files"
STATUS_ROUTE = "/hires_studio_api/status"
QUEUE_ROUTE = "/hires_studio_api/queue"
"""Queue depth, workers seen and jobs per state (any configured key)."""
PULL_S = 0.05
"""How often an idle worker asks the shared queue for its next job ..."""
PULL_BLOCK_MS = 500
"""... and how long each ask waits for one to arrive (a blocking read: a new job starts at once on an idle worker)."""
SEEN_S = 2.0
"""How often a worker notes in the shared store that it is alive (the queue route lists workers seen)."""
WAIT_POLL_S = 0.05
"""How often a sync call looks at the shared store for its job, which any worker may finish."""
WATCH_RETRY_S = 1.0
"""After an error in one of its ticks the watcher logs it and goes on after this pause."""
JOB_KEY = "hires_studio_job"
"""Where a handler notes the id of the job it created on the aiohttp request, for the 500 body."""


class RestApi:
    """The shared job runner of one PromptServer: auth, body, ingest, queue, watch and files for every API in
    API_FAMILIES."""

    subfolder = SUBFOLDER
    sync_wait_s = SYNC_WAIT_S

    def __init__(self, server: Any) -> None:
        self.server = server
        self.user_dir = Path(folder_paths.get_user_directory())
        self.home = self.user_dir / CONFIG_DIR
        self.config = ConfigCache(self.user_dir)
        start_config = self._config_or_defaults()
        self.queue_settings = start_config.queue
        self.store = open_store(self.queue_settings, self.home / "jobs.sqlite3", start_config.result_ttl_s)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        """This worker's name on the shared queue: a restarted process is a new worker."""
        self.claims: dict[str, Claim] = {}
        self.last_pull = self.last_renew = self.last_seen = 0.0
        self.queue_down = False
        self.results = self.home / "results"
        self.watched: dict[str, tuple[str, ApiPrompt]] = {}
        self.finished: dict[str, asyncio.Event] = {}
        self.running: set[str] = set()
        self.tasks: set[asyncio.Task] = set()
        self.watcher: asyncio.Task | None = None
        self.health = TickHealth()
        self.last_cleanup = 0.0
        self.families = {family.name: family(self) for family in API_FAMILIES}


    def install(self) -> None:
        """The routes; a path part is anything up to the next slash (aiohttp's default pattern refuses braces,
        whose 404 would not be the API's own body)."""
        routes = self.server.routes
        for family in self.families.values():
            for method, path, handler in family.routes():
                routes.route(method, path)(self._api(family, handler))
        routes.get(FILES_ROUTE + "/{token:[^/]+}/{name:[^/]+}")(self.result_file)
        routes.get(STATUS_ROUTE)(self.status)
        routes.get(QUEUE_ROUTE)(self.queue_status)
        self.server.app.on_startup.append(self._start)
        self.server.app.on_cleanup.append(self._stop)

    async def _start(self, app: web.Application) -> None:
        log.info("HiRes Studio API: jobs in %s%s", self.store.name,
                 f" at {self.store.where} as worker {self.consumer}" if self.store.shared else "")
        stale = await asyncio.to_thread(self.store.recover)
        for job in stale:
            await asyncio.to_thread(self._delete_outputs, job)
        if stale:
            log.warning("HiRes Studio API: %d job(s) left unfinished by the last run are marked failed", len(stale))
        loop = asyncio.get_running_loop()
        self.watcher = loop.create_task(run_ticks(self._tick, POLL_S, WATCH_RETRY_S, self.health, "job watcher"))
        self.tasks.add(self.watcher)
        cut = [job for job in stale if job.api in self.families and self.families[job.api].callback(job)]
        if cut:
            task = loop.create_task(self._send_restart_callbacks([job.id for job in cut]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _send_restart_callbacks(self, job_ids: list[str]) -> None:
        """Each async job the restart cut gets its failure callback, once: `recover` marked it failed, so a
        later start does not list it again."""
        for job_id in job_ids:
            job = self.store.get(job_id)
            if job is not None:
                await self._send_callback(job)

    async def _stop(self, app: web.Application) -> None:
        for task in list(self.tasks):
            task.cancel()

    def _api(self, family: ApiFamily, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError as error:
                return web.json_response(error.body, status=error.status)
            except StoreUnavailable as error:
                log.warning("HiRes Studio API: %s %s refused: %s", request.method, request.rel_url.path, error)
                refusal = family.refuse("unavailable", str(error))
                return web.json_response(refusal.body, status=refusal.status)
            except Exception:
                log.exception("HiRes Studio API: %s %s failed", request.method, request.rel_url.path)
                error = family.server_error(request.get(JOB_KEY, ""))
                return web.json_response(error.body, status=error.status)

        return wrapped


    def _how_to_add_key(self) -> str:
        return ("No API key is configured on this server, so its API routes refuse every request. Add one: run "
                "`python custom_nodes/<this pack>/scripts/api_key.py add NAME --user-dir <ComfyUI's user directory>` "
                f"(it prints the new key and stores only its SHA-256 in {CONFIG_PLACE}), or start ComfyUI with "
                f"{KEYS_ENV}=NAME=KEY in its environment.")

    def _settings(self, family: ApiFamily) -> ApiConfig:
        try:
            return self.config.get()
        except ConfigError as error:
            raise family.refuse("config", f"The server's API configuration cannot be used: {error}") from None

    def authenticate(self, family: ApiFamily, request: web.Request) -> tuple[ApiKey, ApiConfig]:
        """The key the request presents and the configuration in force, or the API's refusal."""
        config = self._settings(family)
        if not config.keys:
            raise family.refuse("no_keys", self._how_to_add_key())
        presented = family.presented_key(request)
        if not presented:
            raise family.refuse("no_key_sent", "")
        key = identify(presented, config.keys)  # a header that is not UTF-8 matches no key
        if key is None:
            raise family.refuse("unknown_key", "")
        return key, config

    def check_rate(self, family: ApiFamily, key: ApiKey) -> None:
        active = self.store.active_count(key.name)
        if active >= key.rate_limit:
            raise family.refuse("rate_limited", f"Image cannot be processed right now. Your rate limit is "
                                f"{key.rate_limit} and you are currently processing {active} images.")

    def check_depth(self, body: Any, family: ApiFamily) -> None:
        """A body built from form fields nests no deeper than a JSON one may."""
        if json_depth(body) > MAX_JSON_DEPTH:
            raise family.bad_body(400, f"The body nests deeper than {MAX_JSON_DEPTH} levels.")

    def create_job(self, request: web.Request, family: ApiFamily, key: ApiKey, record: dict[str, Any]) -> Job:
        """A new job of this key, noted on the request so that an unexpected error's 500 names it."""
        job = self.store.create(key.name, family.name, record)
        request[JOB_KEY] = job.id
        return job

    def prefix(self, job: Job) -> str:
        """The SaveImage prefix of a job's outputs."""
        return f"{SUBFOLDER}/{job.id}"

    def with_prefix(self, graph: ApiPrompt, job: Job) -> ApiPrompt:
        for node in graph.values():
            if node["class_type"] == "SaveImage":
                node["inputs"]["filename_prefix"] = self.prefix(job)
        return graph

    async def read_body(self, request: web.Request, config: ApiConfig,
                        family: ApiFamily) -> tuple[dict[str, Any], dict[str, bytes], bool]:
        """(fields, files, was_json) of the request's body, or the API's refusal of it."""
        return await read_body(request, config.max_body_bytes, family.bad_body)

    async def save_input(self, job_id: str, data: bytes, field: str, config: ApiConfig) -> tuple[str, tuple]:
        """Decode the image under the pixel cap and save it as PNG in ComfyUI's input folder: (name, size)."""
        image = await asyncio.to_thread(open_image, data, config.max_input_pixels, field)
        name = f"{SUBFOLDER}/{job_id}_{field}.png"
        path = Path(folder_paths.get_input_directory()) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(image.save, path, "PNG")
        if self.store.shared:  # whichever worker runs the job writes it into its own input folder
            await asyncio.to_thread(self.store.put_blobs, job_id, {INPUT_BLOB + name: path.read_bytes()})
        else:
            self.store.add_files(job_id, [str(path)])
        return name, image.size

    async def ingest(self, job_id: str, url: str, field: str, config: ApiConfig) -> tuple[str, tuple]:
        """An image from a request's url field: base64 data, or a safe fetch of an http(s) URL."""
        if url.startswith(("base64,", "data:")):
            data = decode_base64(url, field)
        else:
            try:
                result = await asyncio.to_thread(
                    fetch, url, allowlist=config.allowlist, max_bytes=config.max_fetch_bytes,
                    connect_timeout=config.connect_timeout_s, read_timeout=config.read_timeout_s)
            except FetchRefused as error:
                raise HiResInputError(field, url, str(error),
                                      "send a public http(s) URL or \"base64,<data>\"") from None
            if result.status != 200:
                raise HiResInputError(field, url, f"answered HTTP {result.status}", "send a URL that serves the image")
            data = result.body
        return await self.save_input(job_id, data, field, config)

    async def queue(self, job: Job, graph: ApiPrompt, config: ApiConfig) -> None:
        """Resolve the model files, complete and validate the graph, and put it on ComfyUI's queue."""
        graph = resolve_models(graph, await asyncio.to_thread(comfy_queue.installed_models), config.models,
                               CONFIG_PLACE)
        graph = comfy_queue.complete(graph)
        if self.store.shared:
            await comfy_queue.check(graph)  # refused here, with its 400, not later on some worker
            # Its inputs are in the store: the local copies go before the job is queued, since an idle worker (this
            # one too) may take it the moment it is, and writes them again.
            self._delete_inputs(job.id)
            await asyncio.to_thread(self.store.enqueue, job.id, graph)
            return
        self.finished[job.id] = asyncio.Event()
        prompt_id = await comfy_queue.submit(self.server, graph, job.id)
        self.store.update(job.id, status=NOT_STARTED, prompt_id=prompt_id)
        self.watched[job.id] = (prompt_id, graph)

    def discard(self, job: Job) -> None:
        """A job refused before it was queued leaves nothing behind (with the shared store out of reach, its
        record expires there on its own: redis_store.INGEST_S)."""
        self._delete_local(job.id)
        try:
            current = self.store.get(job.id)
            self._delete_files(current or job)
            self.store.delete(job.id)
        except StoreUnavailable:
            log.warning("HiRes Studio API: job %s refused while the job queue is out of reach; it expires there",
                        job.id)
        self.finished.pop(job.id, None)

    async def wait(self, job_id: str, timeout: float) -> Job:
        if self.store.shared:  # any worker may finish it
            deadline = time.monotonic() + timeout
            while True:
                job = await asyncio.to_thread(self.store.get, job_id)
                if job is None or not job.active or time.monotonic() >= deadline:
                    return job
                await asyncio.sleep(WAIT_POLL_S)
        event = self.finished.get(job_id)
        if event is not None:
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return self.store.get(job_id)

    def base_url(self, request: web.Request, config: ApiConfig | None = None) -> str:
        """The host result URLs name: the configured public_url, or the one the client called."""
        config = config or self.config.get()
        return (config.public_url or f"{request.scheme}://{request.host}").rstrip("/")

    def file_url(self, job: Job, name: str, base_url: str | None = None) -> str:
        """A result file's URL: on the host the client called (the one the job was made on for callbacks)."""
        return f"{base_url or job.meta['base_url']}{FILES_ROUTE}/{job.token}/{name}"


    async def _tick(self) -> None:
        """One turn of the job watcher (run by `ticks.run_ticks`, which outlives any error in it): expired
        results go when their interval is due, then the jobs on ComfyUI's queue are looked at."""
        config = self._config_or_defaults()
        now = time.monotonic()
        if now - self.last_cleanup > config.cleanup_interval_s:
            self.last_cleanup = now
            await asyncio.to_thread(self._cleanup, config)
        self._watch_tick()
        if self.store.shared:
            try:
                await self._queue_tick()
            except StoreUnavailable as error:  # one line per outage, not a traceback a second
                if not self.queue_down:
                    log.warning("HiRes Studio API: %s; this worker takes no job until it is back", error)
                self.queue_down = True
                return
            if self.queue_down:
                log.warning("HiRes Studio API: the job queue at %s answers again", self.store.where)
            self.queue_down = False

    # -- the shared queue -------------------------------------------------------------------------------------

    def _comfy_busy(self) -> bool:
        """Whether this ComfyUI has anything queued or running (the editor's prompts too): then it takes no job."""
        return bool(self.watched) or self.server.prompt_queue.get_tasks_remaining() > 0

    async def _queue_tick(self) -> None:
        """Renew the claims of the jobs this worker runs, and take the next job when this ComfyUI is idle."""
        now = time.monotonic()
        if self.claims and now - self.last_renew > self.queue_settings.lease_s / 4:
            self.last_renew = now
            for job_id, claim in list(self.claims.items()):
                if not await asyncio.to_thread(self.store.renew, self.consumer, claim.entry_id):
                    log.warning("HiRes Studio API: job %s was taken over by another worker (this worker's lease "
                                "lapsed); its result here will be dropped", job_id)
        if now - self.last_seen > SEEN_S:
            self.last_seen = now
            await asyncio.to_thread(self.store.seen, self.consumer)
        if now - self.last_pull < PULL_S or self._comfy_busy():
            return
        self.last_pull = now
        claim = await asyncio.to_thread(self.store.claim, self.consumer, PULL_BLOCK_MS)
        if claim is None:
            return
        if claim.graph is None:  # its attempts are used up: it has just ended failed
            log.warning("HiRes Studio API: job %s failed after %d attempts", claim.job_id, claim.attempts - 1)
            job = await asyncio.to_thread(self.store.get, claim.job_id)
            if job is not None:
                await self._send_callback(job)
            return
        await self._run_claimed(claim)

    async def _run_claimed(self, claim: Claim) -> None:
        """Write the job's input images into this ComfyUI's input folder and put its graph on the queue."""
        input_dir = Path(folder_paths.get_input_directory()).resolve()
        self.claims[claim.job_id] = claim
        try:
            for name, data in (await asyncio.to_thread(self.store.blobs, claim.job_id, INPUT_BLOB)).items():
                path = (input_dir / name[len(INPUT_BLOB):]).resolve()
                if not path.is_relative_to(input_dir / SUBFOLDER):
                    raise RuntimeError(f"an input image name outside {SUBFOLDER}: {name!r}")
                await asyncio.to_thread(write_atomic, path, data)
            prompt_id = await comfy_queue.submit(self.server, claim.graph, claim.job_id)
        except (comfy_queue.GraphRefused, RuntimeError) as error:
            log.info("HiRes Studio API: job %s cannot run on this worker: %s", claim.job_id, error)
            await self._end_claimed(claim.job_id, status=FAILED, error=str(error))
            return
        self.watched[claim.job_id] = (prompt_id, claim.graph)
        await asyncio.to_thread(self.store.finish, claim.job_id, claim.token, prompt_id=prompt_id)
        log.info("HiRes Studio API: job %s started here (attempt %d)", claim.job_id, claim.attempts)

    async def _end_claimed(self, job_id: str, **fields: Any) -> bool:
        """End a claimed job (once, fenced by its claim), acknowledge its queue entry, drop its local files."""
        claim = self.claims.pop(job_id)
        won = await asyncio.to_thread(self.store.finish, job_id, claim.token, **fields)
        if won:
            await asyncio.to_thread(self.store.ack, claim.entry_id)
            job = await asyncio.to_thread(self.store.get, job_id)
            if job is not None:
                await self._send_callback(job)
        self._delete_local(job_id)
        return won

    def _watch_tick(self) -> None:
        """One look at ComfyUI's queue: jobs that started are in_progress, finished ones are written out."""
        watched = list(self.watched.items())
        states = comfy_queue.prompt_states(self.server, [prompt_id for _, (prompt_id, _) in watched])
        for job_id, (prompt_id, graph) in watched:
            state = states[prompt_id]
            if state.state == comfy_queue.RUNNING:
                if job_id not in self.running:
                    self.running.add(job_id)
                    claim = self.claims.get(job_id)
                    self.store.finish(job_id, claim.token if claim else None, status=IN_PROGRESS)
            elif state.state in (comfy_queue.DONE, comfy_queue.GONE):
                del self.watched[job_id]
                self.running.discard(job_id)
                task = asyncio.get_running_loop().create_task(self._finish(job_id, graph, state))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _finish(self, job_id: str, graph: ApiPrompt, state: comfy_queue.PromptState) -> None:
        if job_id in self.claims:
            try:
                fields = await self._shared_result(job_id, graph, state)
                if not await self._end_claimed(job_id, **fields):
                    log.warning("HiRes Studio API: job %s had been finished by another worker", job_id)
            except StoreUnavailable as error:
                self.claims.pop(job_id, None)
                self._delete_local(job_id)
                log.warning("HiRes Studio API: job %s ran here but %s; a worker runs it again after the lease",
                            job_id, error)
            return
        try:
            paths = _saved_paths(state, graph)
            self.store.add_files(job_id, paths)
            job = self.store.get(job_id)
            result = await asyncio.to_thread(self.families[job.api].write_result, job, paths, self.results / job.id)
            self.store.update(job_id, status=COMPLETE, result=result)
        except Exception as error:
            log.info("HiRes Studio API: job %s failed: %s", job_id, error)
            self.store.update(job_id, status=FAILED, error=str(error))
        finally:
            self.finished.setdefault(job_id, asyncio.Event()).set()
        job = self.store.get(job_id)
        if job is not None:
            await self._send_callback(job)

    async def _shared_result(self, job_id: str, graph: ApiPrompt, state: comfy_queue.PromptState) -> dict[str, Any]:
        """A shared-queue job's final fields: its result files go into the store (fenced by the claim)."""
        try:
            paths = _saved_paths(state, graph)
            job = await asyncio.to_thread(self.store.get, job_id)
            folder = self.results / job_id
            result = await asyncio.to_thread(self.families[job.api].write_result, job, paths, folder)
            files = {RESULT_BLOB + f["name"]: (folder / f["name"]).read_bytes() for f in result["files"]}
            size, cap = sum(len(data) for data in files.values()), self.queue_settings.max_result_bytes
            if size > cap:
                raise RuntimeError(f"The result is {size} bytes, over this server's max_result_bytes ({cap}).")
            await asyncio.to_thread(self.store.put_blobs, job_id, files, self.claims[job_id].token)
            return {"status": COMPLETE, "result": result}
        except StoreUnavailable:
            raise
        except Exception as error:
            log.info("HiRes Studio API: job %s failed: %s", job_id, error)
            return {"status": FAILED, "error": str(error)}

    async def _send_callback(self, job: Job) -> None:
        """POST the job's end to its callback, for an API with callbacks (once; failures are logged)."""
        family = self.families.get(job.api)
        callback = family.callback(job) if family else None
        if callback is None:
            return
        url, payload = callback
        try:
            config = self.config.get()
            response = await asyncio.to_thread(
                fetch, url, method="POST", body=json.dumps(payload).encode(),
                content_type="application/json", allowlist=config.allowlist, max_bytes=1024 * 1024,
                connect_timeout=config.connect_timeout_s, read_timeout=config.read_timeout_s, max_redirects=0)
            log.info("HiRes Studio API: callback for job %s answered %d", job.id, response.status)
        except (FetchRefused, ConfigError) as error:
            log.warning("HiRes Studio API: callback for job %s not delivered: %s", job.id, error)
        except Exception:
            log.exception("HiRes Studio API: callback for job %s not delivered", job.id)


    def _delete_files(self, job: Job) -> None:
        for path in job.files:
            Path(path).unlink(missing_ok=True)
        shutil.rmtree(self.results / job.id, ignore_errors=True)

    def _delete_inputs(self, job_id: str) -> None:
        for path in (Path(folder_paths.get_input_directory()) / SUBFOLDER).glob(f"{job_id}_*"):
            path.unlink(missing_ok=True)

    def _delete_local(self, job_id: str) -> None:
        """Every file of a job on this machine: its inputs, ComfyUI's outputs and the encoded results."""
        self._delete_inputs(job_id)
        for path in (Path(folder_paths.get_output_directory()) / SUBFOLDER).glob(f"{job_id}_*"):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.results / job_id, ignore_errors=True)

    def has_result(self, job: Job) -> bool:
        """Whether a complete job's result files are still held (here, or in the shared store)."""
        names = [f["name"] for f in (job.result or {}).get("files", [])]
        if self.store.shared:
            return bool(names) and self.store.has_blob(job.id, RESULT_BLOB + names[0])
        return (self.results / job.id).is_dir()

    def result_bytes(self, job: Job, name: str) -> bytes | None:
        """One of a job's result files, or None when it is gone."""
        if self.store.shared:
            return self.store.get_blob(job.id, RESULT_BLOB + name)
        path = self.results / job.id / name
        return path.read_bytes() if path.is_file() else None

    def _delete_outputs(self, job: Job) -> None:
        """A job that did not finish: its partial outputs go (its inputs too)."""
        self._delete_files(job)
        for path in (Path(folder_paths.get_output_directory()) / SUBFOLDER).glob(f"{job.id}_*"):
            path.unlink(missing_ok=True)

    def _config_or_defaults(self) -> ApiConfig:
        """The configuration in force, or the defaults while none has loaded (the watcher still runs then)."""
        try:
            return self.config.get()
        except ConfigError:
            return ApiConfig()

    def _cleanup(self, config: ApiConfig) -> None:
        for job in self.store.expired(config.result_ttl_s):
            self._delete_outputs(job)
            self.store.delete(job.id)
            self.finished.pop(job.id, None)

    async def status(self, request: web.Request) -> web.Response:
        """Whether the API can serve: the configuration's state ("ok", "last_good" while a changed file cannot
        be used, "broken" when none has loaded) and the job watcher's health. No key needed, so it says nothing
        a caller could use: the problem itself is in the server's log."""
        watcher = self.watcher
        return web.json_response({
            "config": self.config.state.state,
            "watcher": {"running": watcher is not None and not watcher.done(),
                        "failed_ticks_in_a_row": self.health.failed_in_a_row}})

    async def queue_status(self, request: web.Request) -> web.Response:
        """Queue depth, the workers seen and jobs per state, for any configured key (x-api-key or Bearer); no
        job ids, so no key learns of another's jobs."""
        config = self._config_or_defaults()
        presented = request.headers.get("x-api-key") or bearer_token(request.headers.get("Authorization"))
        if not config.keys or identify(presented, config.keys) is None:
            return web.json_response({"message": "a configured API key is required (x-api-key or Bearer)"},
                                     status=401)
        try:
            counts = await asyncio.to_thread(self.store.counts)
            queue = await asyncio.to_thread(self.store.queue_state) if self.store.shared else {
                "waiting": counts.get(NOT_STARTED, 0), "claimed": counts.get(IN_PROGRESS, 0),
                "workers_seen_s_ago": {self.consumer: 0.0}}
        except StoreUnavailable as error:
            return web.json_response({"message": str(error)}, status=503)
        return web.json_response({"store": self.store.name, "worker": self.consumer, "queue": queue, "jobs": counts})

    async def result_file(self, request: web.Request) -> web.StreamResponse:
        """A finished job's result file. The URL is the capability: its token is 192 random bits."""
        try:
            job = await asyncio.to_thread(self.store.by_token, request.match_info["token"])
            name = request.match_info["name"]
            entry = next((f for f in (job.result or {}).get("files", []) if f["name"] == name), None) if job \
                else None
            if entry is not None and self.store.shared:
                data = await asyncio.to_thread(self.store.get_blob, job.id, RESULT_BLOB + name)
                if data is not None:
                    return web.Response(body=data, headers={"Content-Type": entry["mime"],
                                                            "Cache-Control": "private"})
        except StoreUnavailable as error:
            return web.json_response({"message": str(error)}, status=503)
        path = self.results / job.id / name if entry and not self.store.shared else None
        if path is None or not path.is_file():
            return web.json_response({"message": "Job not found"}, status=404)
        return web.FileResponse(path, headers={"Content-Type": entry["mime"], "Cache-Control": "private"})


def register_routes(server: Any) -> RestApi:
    """Add the API routes to a PromptServer (called from the pack's entry point, before ComfyUI adds its
    routes to the app)."""
    api = RestApi(server)
    api.install()
    return api


def _saved_paths(state: comfy_queue.PromptState, graph: ApiPrompt) -> list[str]:
    """The images a finished prompt saved; a cancelled, failed or empty run raises its message."""
    if state.state == comfy_queue.GONE:
        raise RuntimeError("The job was removed from ComfyUI's queue (cancelled).")
    ok, message = comfy_queue.outcome(state.history)
    if not ok:
        raise RuntimeError(message)
    paths = comfy_queue.saved_images(state.history, graph)
    if not paths:
        raise RuntimeError("The job saved no image.")
    return paths
