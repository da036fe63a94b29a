"""The shared job runner of the REST APIs on ComfyUI's PromptServer: deep-image (/rest_api/*), Stability v1
(/v1/generation/{engine_id}/image-to-image/upscale) and deepmode (/api/images/*), each one object in
API_FAMILIES (deepimage_api, stability_api, deepmode_api) that brings its routes, refusals and result writer.

Every API route needs a configured key (none configured = every such route refuses, saying how to add one). A
request is checked, its images fetched safely and decoded under a pixel cap, turned into the shipped
workflow's graph, validated and queued exactly as POST /prompt does; a watcher follows each job on ComfyUI's
queue, writes the encoded result and keeps the job store up to date. ComfyUI-bound (aiohttp handlers on the
server's loop).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
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
from .family import ApiFamily, Handler
from .images import decode_base64, open_image
from .jobs import COMPLETE, FAILED, IN_PROGRESS, NOT_STARTED, Job, JobStore
from .keys import ApiKey, identify
from .model_files import resolve_models
from .safe_fetch import FetchRefused, fetch
from .stability_api import StabilityApi
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
        self.store = JobStore(self.home / "jobs.sqlite3")
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
        self.server.app.on_startup.append(self._start)
        self.server.app.on_cleanup.append(self._stop)

    async def _start(self, app: web.Application) -> None:
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
        self.finished[job.id] = asyncio.Event()
        prompt_id = await comfy_queue.submit(self.server, graph, job.id)
        self.store.update(job.id, status=NOT_STARTED, prompt_id=prompt_id)
        self.watched[job.id] = (prompt_id, graph)

    def discard(self, job: Job) -> None:
        """A job refused before it was queued leaves nothing behind."""
        current = self.store.get(job.id)
        self._delete_files(current or job)
        self.store.delete(job.id)
        self.finished.pop(job.id, None)

    async def wait(self, job_id: str, timeout: float) -> Job:
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

    def _watch_tick(self) -> None:
        """One look at ComfyUI's queue: jobs that started are in_progress, finished ones are written out."""
        watched = list(self.watched.items())
        states = comfy_queue.prompt_states(self.server, [prompt_id for _, (prompt_id, _) in watched])
        for job_id, (prompt_id, graph) in watched:
            state = states[prompt_id]
            if state.state == comfy_queue.RUNNING:
                if job_id not in self.running:
                    self.running.add(job_id)
                    self.store.update(job_id, status=IN_PROGRESS)
            elif state.state in (comfy_queue.DONE, comfy_queue.GONE):
                del self.watched[job_id]
                self.running.discard(job_id)
                task = asyncio.get_running_loop().create_task(self._finish(job_id, graph, state))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _finish(self, job_id: str, graph: ApiPrompt, state: comfy_queue.PromptState) -> None:
        try:
            if state.state == comfy_queue.GONE:
                raise RuntimeError("The job was removed from ComfyUI's queue (cancelled).")
            ok, message = comfy_queue.outcome(state.history)
            if not ok:
                raise RuntimeError(message)
            paths = comfy_queue.saved_images(state.history, graph)
            if not paths:
                raise RuntimeError("The job saved no image.")
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

    async def result_file(self, request: web.Request) -> web.StreamResponse:
        """A finished job's result file. The URL is the capability: its token is 192 random bits."""
        job = self.store.by_token(request.match_info["token"])
        name = request.match_info["name"]
        entry = next((f for f in (job.result or {}).get("files", []) if f["name"] == name), None) if job else None
        path = self.results / job.id / name if entry else None
        if path is None or not path.is_file():
            return web.json_response({"message": "Job not found"}, status=404)
        return web.FileResponse(path, headers={"Content-Type": entry["mime"], "Cache-Control": "private"})


def register_routes(server: Any) -> RestApi:
    """Add the API routes to a PromptServer (called from the pack's entry point, before ComfyUI adds its
    routes to the app)."""
    api = RestApi(server)
    api.install()
    return api
