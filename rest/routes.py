"""The shared job runner of the REST APIs on ComfyUI's PromptServer: deep-image (/rest_api/*), Stability v1
(/v1/generation/{engine_id}/image-to-image/upscale) and deepmode (/api/images/*), each one object in
API_FAMILIES (deepimage_api, stability_api, deepmode_api) that brings its routes, refusals and result writer.

Every API route needs a configured key (none configured = every such route refuses, saying how to add one). A
request is checked, its images fetched safely and decoded under a pixel cap, turned into the shipped
workflow's graph, validated and queued exactly as POST /prompt does; a watcher follows each job on ComfyUI's
queue, writes the encoded result and keeps the job store up to date. ComfyUI-bound (aiohttp handlers on the
server's loop).

With a shared store (config.json's queue_url, docs/cluster.md) a request is checked and validated here, then put
on the shared work queue with its input images, which `shared_worker` runs on whichever worker is idle. A job's
local files: `job_files`; its end sent to a callback: `callbacks`; the status and queue routes: `monitor_routes`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import folder_paths
from aiohttp import web

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from . import comfy_queue
from .bodies import MAX_JSON_DEPTH, json_depth, read_body
from .callbacks import send_callback
from .config import CONFIG_DIR, CONFIG_PLACE, KEYS_ENV, ApiConfig, ConfigCache, ConfigError
from .deepimage_api import DeepImageApi
from .deepmode_api import DeepmodeApi
from .errors import ApiError
from .family import ApiFamily, Handler
from .images import decode_base64, open_image
from .job_files import (
    SUBFOLDER,
    delete_files,
    delete_inputs,
    delete_local,
    delete_outputs,
    save_prefix,
    saved_paths,
    with_save_prefix,
)
from .jobs import COMPLETE, FAILED, IN_PROGRESS, NOT_STARTED, Job
from .keys import ApiKey, identify
from .model_files import resolve_models
from .monitor_routes import MonitorRoutes
from .safe_fetch import FetchRefused, fetch
from .shared_worker import SharedWorker
from .stability_api import StabilityApi
from .store import INPUT_BLOB, RESULT_BLOB, StoreUnavailable, open_store
from .ticks import TickHealth, run_ticks

log = logging.getLogger(__name__)

API_FAMILIES: tuple[type[ApiFamily], ...] = (DeepImageApi, StabilityApi, DeepmodeApi)
"""The hosted APIs served: each brings its routes, refusals, result writer and job record."""
POLL_S = 0.02
"""How often the watcher looks at ComfyUI's queue for the jobs it follows."""
SYNC_WAIT_S = 3600.0
"""Stability and deepmode's sync calls wait for their job this long at most."""
FILES_ROUTE = "/hires_studio_api/files"
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
        start_config = self.config_or_defaults()
        self.queue_settings = start_config.queue
        self.store = open_store(self.queue_settings, self.home / "jobs.sqlite3", start_config.result_ttl_s)
        self.worker = SharedWorker(self)
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
        MonitorRoutes(self).install(routes)
        self.server.app.on_startup.append(self._start)
        self.server.app.on_cleanup.append(self._stop)

    async def _start(self, app: web.Application) -> None:
        log.info("HiRes Studio API: jobs in %s%s", self.store.name,
                 f" at {self.store.where} as worker {self.worker.consumer}" if self.store.shared else "")
        stale = await asyncio.to_thread(self.store.recover)
        for job in stale:
            await asyncio.to_thread(delete_outputs, job, self.results)
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
                await send_callback(job, self.families, self.config)

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

    def with_prefix(self, graph: ApiPrompt, job: Job) -> ApiPrompt:
        """The graph with its SaveImage nodes writing under the job's prefix."""
        return with_save_prefix(graph, save_prefix(job.id))

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
            delete_inputs(job.id)
            await asyncio.to_thread(self.store.enqueue, job.id, graph)
            return
        self.finished[job.id] = asyncio.Event()
        prompt_id = await comfy_queue.submit(self.server, graph, job.id)
        self.store.update(job.id, status=NOT_STARTED, prompt_id=prompt_id)
        self.watched[job.id] = (prompt_id, graph)

    def discard(self, job: Job) -> None:
        """A job refused before it was queued leaves nothing behind (with the shared store out of reach, its
        record expires there on its own: redis_store.INGEST_S)."""
        delete_local(job.id, self.results)
        try:
            current = self.store.get(job.id)
            delete_files(current or job, self.results)
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
        config = self.config_or_defaults()
        now = time.monotonic()
        if now - self.last_cleanup > config.cleanup_interval_s:
            self.last_cleanup = now
            await asyncio.to_thread(self._cleanup, config)
        await self._watch_tick()
        if self.store.shared:
            await self.worker.tick()

    async def _watch_tick(self) -> None:
        """One look at ComfyUI's queue: jobs that started are in_progress, finished ones are written out."""
        watched = list(self.watched.items())
        states = comfy_queue.prompt_states(self.server, [prompt_id for _, (prompt_id, _) in watched])
        for job_id, (prompt_id, graph) in watched:
            state = states[prompt_id]
            if state.state == comfy_queue.RUNNING:
                if job_id not in self.running:
                    claim = self.worker.claims.get(job_id)
                    try:
                        await asyncio.to_thread(self.store.finish, job_id, claim.token if claim else None,
                                                status=IN_PROGRESS)
                    except StoreUnavailable:
                        continue  # noted on a later turn; the other jobs are looked at now
                    self.running.add(job_id)
            elif state.state in (comfy_queue.DONE, comfy_queue.GONE):
                del self.watched[job_id]
                self.running.discard(job_id)
                task = asyncio.get_running_loop().create_task(self._finish(job_id, graph, state))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _finish(self, job_id: str, graph: ApiPrompt, state: comfy_queue.PromptState) -> None:
        if job_id in self.worker.claims:
            await self.worker.finish(job_id, graph, state)
            return
        try:
            paths = saved_paths(state, graph)
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
            await send_callback(job, self.families, self.config)

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

    def config_or_defaults(self) -> ApiConfig:
        """The configuration in force, or the defaults while none has loaded (the watcher still runs then)."""
        try:
            return self.config.get()
        except ConfigError:
            return ApiConfig()

    def _cleanup(self, config: ApiConfig) -> None:
        for job in self.store.expired(config.result_ttl_s):
            delete_outputs(job, self.results)
            self.store.delete(job.id)
            self.finished.pop(job.id, None)

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

