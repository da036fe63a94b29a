"""The REST routes on ComfyUI's PromptServer: deep-image (/rest_api/*), Stability v1
(/v1/generation/{engine_id}/image-to-image/upscale) and deepmode (/api/images/*).

Every route needs a configured key (none configured = every route refuses, saying how to add one). A request
is checked, its images fetched safely and decoded under a pixel cap, turned into the shipped workflow's graph,
validated and queued exactly as POST /prompt does; a watcher follows each job on ComfyUI's queue, writes the
encoded result and keeps the job store up to date. ComfyUI-bound (aiohttp handlers on the server's loop).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import secrets
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import folder_paths
from aiohttp import web
from PIL import Image

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from ..core.sizing import STABILITY_SEED_MAX
from ..graphs.deepmode import deepmode_generate_graph, deepmode_upscale_graph
from ..graphs.stability import stability_upscale_graph
from . import comfy_queue, deepimage, deepmode, stability
from .config import CONFIG_DIR, CONFIG_PLACE, KEYS_ENV, ApiConfig, ConfigCache, ConfigError
from .errors import ApiError, DeepImageError, DeepmodeError, StabilityError, bad_request
from .forms import split_form
from .images import decode_base64, encode, open_image
from .jobs import COMPLETE, FAILED, FAILED_MESSAGE, IN_PROGRESS, NOT_STARTED, Job, JobStore
from .keys import ApiKey, bearer_token, identify
from .models import resolve_models
from .safe_fetch import FetchRefused, decide, fetch, system_resolver
from .ticks import TickHealth, run_ticks

log = logging.getLogger(__name__)

DEEPIMAGE, STABILITY, DEEPMODE = "deep-image", "stability", "deepmode"
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
MAX_JSON_DEPTH = 32
"""The deepest nesting a JSON body may have (the deepest real request nests 3 levels)."""
JOB_KEY = "hires_studio_job"
"""Where a handler notes the id of the job it created on the aiohttp request, for the 500 body."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusals(api: str) -> dict[str, Callable[[str], ApiError]]:
    """Each API's answers for: no key configured, no key sent, an unknown key, and a broken config."""
    if api == DEEPIMAGE:
        return {"none": lambda m: DeepImageError(403, m, "NO_API_KEYS"),
                "missing": lambda m: DeepImageError(403, "No x-api-key header is provided"),
                "wrong": lambda m: DeepImageError(404, "No user found for provided token"),
                "config": lambda m: DeepImageError(503, m, "SERVER_CONFIG")}
    if api == STABILITY:
        return {"none": lambda m: StabilityError(401, "unauthorized", m),
                "missing": lambda m: StabilityError(401, "unauthorized", "missing authorization header"),
                "wrong": lambda m: StabilityError(401, "unauthorized", "the API key is not valid on this server"),
                "config": lambda m: StabilityError(503, "server_error", m)}
    return {"none": lambda m: DeepmodeError(401, m),
            "missing": lambda m: DeepmodeError(401, "missing authorization header (Authorization: Bearer <key>)"),
            "wrong": lambda m: DeepmodeError(401, "the API key is not valid on this server"),
            "config": lambda m: DeepmodeError(503, m)}


def _server_error(api: str, job_id: str) -> ApiError:
    """The API's documented body for an error this server did not expect (deep-image's is ErrorJobFailed)."""
    if api == DEEPIMAGE:
        return DeepImageError(500, FAILED_MESSAGE, "INTERNAL_SERVER_ERROR", status="failed", job=job_id)
    if api == STABILITY:
        return StabilityError(500, "server_error", "An unexpected server error occurred, please try again.")
    return DeepmodeError(500, "An unexpected server error occurred, please try again.")


def _with_prefix(graph: ApiPrompt, prefix: str) -> ApiPrompt:
    for node in graph.values():
        if node["class_type"] == "SaveImage":
            node["inputs"]["filename_prefix"] = prefix
    return graph


def _json_depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iterative: a hostile body cannot exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _write_atomic(path: Path, data: bytes) -> None:
    """Written to a .part file, then renamed: a result file is either whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


class RestApi:
    """The routes and the job watcher of one PromptServer."""

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

    # -- set-up -----------------------------------------------------------------------------------------------

    def install(self) -> None:
        """The routes; a path part is anything up to the next slash (aiohttp's default pattern refuses braces,
        whose 404 would not be the API's own body)."""
        routes = self.server.routes
        routes.post("/rest_api/process_result")(self._api(DEEPIMAGE, self.deepimage_process_result))
        routes.post("/rest_api/process")(self._api(DEEPIMAGE, self.deepimage_process))
        routes.get("/rest_api/result/{job:[^/]+}")(self._api(DEEPIMAGE, self.deepimage_result))
        routes.post("/v1/generation/{engine_id:[^/]+}/image-to-image/upscale")(
            self._api(STABILITY, self.stability_upscale))
        routes.post("/api/images/upscale")(self._api(DEEPMODE, self.deepmode_upscale))
        routes.post("/api/images/generate")(self._api(DEEPMODE, self.deepmode_generate))
        routes.get("/api/images/{image_id:[^/]+}")(self._api(DEEPMODE, self.deepmode_image))
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
        cut = [job for job in stale if job.meta.get("callback")]
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

    def _api(self, api: str, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ApiError as error:
                return web.json_response(error.body, status=error.status)
            except Exception:
                log.exception("HiRes Studio API: %s %s failed", request.method, request.rel_url.path)
                error = _server_error(api, request.get(JOB_KEY, ""))
                return web.json_response(error.body, status=error.status)

        return wrapped

    # -- shared steps -----------------------------------------------------------------------------------------

    def _how_to_add_key(self) -> str:
        return ("No API key is configured on this server, so its API routes refuse every request. Add one: run "
                "`python custom_nodes/<this pack>/scripts/api_key.py add NAME --user-dir <ComfyUI's user directory>` "
                f"(it prints the new key and stores only its SHA-256 in {CONFIG_PLACE}), or start ComfyUI with "
                f"{KEYS_ENV}=NAME=KEY in its environment.")

    def _settings(self, api: str) -> ApiConfig:
        try:
            return self.config.get()
        except ConfigError as error:
            raise _refusals(api)["config"](f"The server's API configuration cannot be used: {error}") from None

    def _authenticate(self, api: str, presented: str | None) -> tuple[ApiKey, ApiConfig]:
        refuse = _refusals(api)
        config = self._settings(api)
        if not config.keys:
            raise refuse["none"](self._how_to_add_key())
        if not presented:
            raise refuse["missing"]("")
        key = identify(presented, config.keys)  # a header that is not UTF-8 matches no key
        if key is None:
            raise refuse["wrong"]("")
        return key, config

    def _check_rate(self, api: str, key: ApiKey) -> None:
        active = self.store.active_count(key.name)
        if active >= key.rate_limit:
            message = (f"Image cannot be processed right now. Your rate limit is {key.rate_limit} and you are "
                       f"currently processing {active} images.")
            if api == DEEPIMAGE:
                raise DeepImageError(429, message, "TOO_MANY_REQUESTS")
            if api == STABILITY:
                raise StabilityError(429, "too_many_requests", message)
            raise DeepmodeError(429, message)

    async def _read_body(self, request: web.Request, config: ApiConfig,
                         refuse: Callable[[int, str], ApiError]) -> tuple[dict[str, Any], dict[str, bytes], bool]:
        """(fields, files, was_json) of a JSON, urlencoded or multipart body, under the body size cap."""
        if request.content_length is None and request.body_exists:
            raise refuse(411, "Send the body with a Content-Length header.")
        if (request.content_length or 0) > config.max_body_bytes:
            raise refuse(413, f"The body is {request.content_length} bytes; this server accepts at most "
                         f"{config.max_body_bytes}.")
        if request.content_type == "multipart/form-data" and "boundary" not in request.headers.get("Content-Type", ""):
            try:  # a generated client's form body: the boundary is only in the body
                fields, files = split_form(await request.read())
            except (ValueError, LookupError) as error:  # FormError, a bad UTF-8 or an unknown charset
                raise refuse(400, f"The body is not valid multipart/form-data data: {error}.") from None
            return fields, files, False
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            fields, files = {}, {}
            try:
                form = await request.post()
            except Exception as error:  # aiohttp's parsers raise many types for malformed bodies
                log.info("HiRes Studio API: unreadable form body: %r", error)
                raise refuse(400, f"The body is not valid {request.content_type} data.") from None
            for name, value in form.items():
                if name in fields or name in files:
                    raise refuse(400, f"The field {name!r} is given twice: send it once.")
                if isinstance(value, web.FileField):
                    files[name] = value.file.read()
                else:
                    fields[name] = value
            return fields, files, False
        raw = await request.read()
        if not raw:
            return {}, {}, True
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # bad JSON or UTF-8, a too-long integer, nesting past the stack
            raise refuse(400, "The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise refuse(400, "The body must be a JSON object.")
        if _json_depth(data) > MAX_JSON_DEPTH:
            raise refuse(400, f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
        return data, {}, True

    async def _save_input(self, job_id: str, data: bytes, field: str, config: ApiConfig) -> tuple[str, tuple]:
        """Decode the image under the pixel cap and save it as PNG in ComfyUI's input folder: (name, size)."""
        image = await asyncio.to_thread(open_image, data, config.max_input_pixels, field)
        name = f"{SUBFOLDER}/{job_id}_{field}.png"
        path = Path(folder_paths.get_input_directory()) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(image.save, path, "PNG")
        self.store.add_files(job_id, [str(path)])
        return name, image.size

    async def _ingest(self, job_id: str, url: str, field: str, config: ApiConfig) -> tuple[str, tuple]:
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
        return await self._save_input(job_id, data, field, config)

    async def _queue(self, job: Job, graph: ApiPrompt, config: ApiConfig) -> None:
        """Resolve the model files, complete and validate the graph, and put it on ComfyUI's queue."""
        graph = resolve_models(graph, await asyncio.to_thread(comfy_queue.installed_models), config.models,
                               CONFIG_PLACE)
        graph = comfy_queue.complete(graph)
        self.finished[job.id] = asyncio.Event()
        prompt_id = await comfy_queue.submit(self.server, graph, job.id)
        self.store.update(job.id, status=NOT_STARTED, prompt_id=prompt_id)
        self.watched[job.id] = (prompt_id, graph)

    def _discard(self, job: Job) -> None:
        """A job refused before it was queued leaves nothing behind."""
        current = self.store.get(job.id)
        self._delete_files(current or job)
        self.store.delete(job.id)
        self.finished.pop(job.id, None)

    async def _wait(self, job_id: str, timeout: float) -> Job:
        event = self.finished.get(job_id)
        if event is not None:
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        return self.store.get(job_id)

    @staticmethod
    def _base_url(request: web.Request, config: ApiConfig) -> str:
        return (config.public_url or f"{request.scheme}://{request.host}").rstrip("/")

    def _file_url(self, job: Job, name: str, base_url: str | None = None) -> str:
        """A result file's URL: on the host the client called (the one the job was made on for callbacks)."""
        return f"{base_url or job.meta['base_url']}{FILES_ROUTE}/{job.token}/{name}"

    def _image_object(self, job: Job, image_id: str, base_url: str) -> dict[str, Any]:
        image = dict(job.result["images"][job.result["image_ids"].index(image_id)])
        image["image_url"] = self._file_url(job, image["file_name"], base_url)
        return image

    # -- the watcher ------------------------------------------------------------------------------------------

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
            result = await asyncio.to_thread(self._write_results, self.store.get(job_id), paths)
            self.store.update(job_id, status=COMPLETE, result=result)
        except Exception as error:
            log.info("HiRes Studio API: job %s failed: %s", job_id, error)
            self.store.update(job_id, status=FAILED, error=str(error))
        finally:
            self.finished.setdefault(job_id, asyncio.Event()).set()
        job = self.store.get(job_id)
        if job is not None and job.meta.get("callback"):
            await self._send_callback(job)

    def _write_results(self, job: Job, paths: list[str]) -> dict[str, Any]:
        """The encoded result file(s) of a finished job, and what its responses need."""
        folder = self.results / job.id
        files = []
        if job.api == DEEPIMAGE:
            with Image.open(paths[0]) as image:
                encoded = encode(image, job.meta["output_format"], job.meta["quality"], job.meta["max_file_size"],
                                 job.meta.get("dpi"))
            name = f"result.{encoded.extension}"
            _write_atomic(folder / name, encoded.data)
            files.append({"name": name, "mime": encoded.mime})
            return {"files": files}
        if job.api == STABILITY:
            with Image.open(paths[0]) as image:
                encoded = encode(image, "png")
            _write_atomic(folder / "result.png", encoded.data)
            return {"files": [{"name": "result.png", "mime": encoded.mime}]}
        images, ids = [], []
        for path in paths:
            with Image.open(path) as image:
                encoded = encode(image, "jpeg", 95)
                size = image.size
            image_id = secrets.token_hex(16)
            name = f"{uuid.uuid4()}.jpeg"
            _write_atomic(folder / name, encoded.data)
            files.append({"name": name, "mime": encoded.mime})
            source = job.meta.get("source", {})
            images.append(deepmode.image_object(
                image_id, name, self._file_url(job, name), model_id=source.get("model_id", ""),
                prompt=source.get("prompt", ""), negative_prompt=source.get("negative_prompt", ""),
                upscaled=job.meta["upscaled"], ratio=source.get("ratio") or deepmode.ratio_of(size)))
            ids.append(image_id)
        return {"files": files, "images": images, "image_ids": ids}

    async def _send_callback(self, job: Job) -> None:
        if job.status == COMPLETE:
            images = job.result["images"]
            payload: Any = images[0] if job.meta.get("kind") == "upscale" else images
        else:
            payload = {"id": job.id, "status": "failed", "message": job.error}
        try:
            config = self.config.get()
            response = await asyncio.to_thread(
                fetch, job.meta["callback"], method="POST", body=json.dumps(payload).encode(),
                content_type="application/json", allowlist=config.allowlist, max_bytes=1024 * 1024,
                connect_timeout=config.connect_timeout_s, read_timeout=config.read_timeout_s, max_redirects=0)
            log.info("HiRes Studio API: callback for job %s answered %d", job.id, response.status)
        except (FetchRefused, ConfigError) as error:
            log.warning("HiRes Studio API: callback for job %s not delivered: %s", job.id, error)
        except Exception:
            log.exception("HiRes Studio API: callback for job %s not delivered", job.id)

    # -- files and expiry -------------------------------------------------------------------------------------

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

    # -- deep-image -------------------------------------------------------------------------------------------

    async def _deepimage_submit(self, request: web.Request) -> Job:
        key, config = self._authenticate(DEEPIMAGE, request.headers.get("x-api-key"))
        fields, files, was_json = await self._read_body(
            request, config, lambda status, message: DeepImageError(status, message, "BAD_REQUEST"))
        try:
            body = fields if was_json else deepimage.normalize_form(fields)
            if not was_json and _json_depth(body) > MAX_JSON_DEPTH:
                raise HiResInputError("parameters", "...", f"nests deeper than {MAX_JSON_DEPTH} levels",
                                 "send the request's fields as a flat object")
            upload = next((files[name] for name in deepimage.FILE_PARTS if name in files), None)
            if upload is not None and "url" not in body:
                body["url"] = "base64," + base64.b64encode(upload).decode()
            parsed = deepimage.parse_request(body)
        except HiResInputError as error:
            raise bad_request(error) from None
        self._check_rate(DEEPIMAGE, key)
        job = self.store.create(key.name, DEEPIMAGE, {
            "output_format": parsed.output_format, "quality": parsed.quality, "dpi": parsed.dpi,
            "max_file_size": parsed.max_file_size, "base_url": self._base_url(request, config)})
        request[JOB_KEY] = job.id
        try:
            image, source = await self._ingest(job.id, parsed.url, "url", config) \
                if parsed.url else (None, None)
            mask = (await self._ingest(job.id, parsed.mask_url, "ip_image2", config))[0] if parsed.mask_url else None
            graph = deepimage.build_graph(parsed, image=image, source=source, mask=mask,
                                          prefix=f"{SUBFOLDER}/{job.id}")
            await self._queue(job, graph, config)
        except (HiResInputError, comfy_queue.GraphRefused) as error:
            self._discard(job)
            raise bad_request(error) from None
        except BaseException:
            self._discard(job)
            raise
        return self.store.get(job.id)

    def _process_result(self, job: Job, base_url: str) -> dict[str, Any]:
        """deep-image's ProcessResult; a failed job is its ErrorJobFailed (HTTP 500, status "failed"), whose
        `error` says what went wrong."""
        if job.status == FAILED:
            raise DeepImageError(500, FAILED_MESSAGE, status=FAILED, job=job.id, error=job.error or "")
        body: dict[str, Any] = {"status": job.status, "job": job.id}
        if job.status == COMPLETE:
            body["result_url"] = self._file_url(job, job.result["files"][0]["name"], base_url)
        return body

    async def deepimage_process(self, request: web.Request) -> web.Response:
        job = await self._deepimage_submit(request)
        return web.json_response(self._process_result(job, self._base_url(request, self.config.get())))

    async def deepimage_process_result(self, request: web.Request) -> web.Response:
        job = await self._deepimage_submit(request)
        job = await self._wait(job.id, self.config.get().process_result_wait_s)
        return web.json_response(self._process_result(job, self._base_url(request, self.config.get())))

    async def deepimage_result(self, request: web.Request) -> web.Response:
        try:
            key, config = self._authenticate(DEEPIMAGE, request.headers.get("x-api-key"))
        except DeepImageError as error:
            if error.status != 403:
                raise
            # The schema gives this route no 403: its refusals keep their body under the 404 it documents.
            raise ApiError(404, error.body) from None
        job = self.store.get(request.match_info["job"], owner=key.name)
        if job is None:
            raise DeepImageError(404, "Job not found")
        if job.status == COMPLETE and not (self.results / job.id).is_dir():
            raise DeepImageError(404, "Image deleted", status="complete")
        return web.json_response(self._process_result(job, self._base_url(request, config)))

    # -- Stability v1 -----------------------------------------------------------------------------------------

    async def stability_upscale(self, request: web.Request) -> web.StreamResponse:
        key, config = self._authenticate(STABILITY, bearer_token(request.headers.get("Authorization")))
        engine = request.match_info["engine_id"]
        stability.check_engine(engine)
        accept = stability.check_accept(request.headers.get("Accept"))
        if request.content_type != "multipart/form-data":
            raise stability.bad("the body must be multipart/form-data")
        fields, files, _ = await self._read_body(request, config, lambda s, m: StabilityError(s, "bad_request", m))
        parsed = stability.parse_fields(engine, fields, "image" in files, accept)
        self._check_rate(STABILITY, key)
        seed = parsed.seed or (random.randint(1, STABILITY_SEED_MAX) if engine == stability.LATENT else 0)
        job = self.store.create(key.name, STABILITY, {"seed": seed, "base_url": self._base_url(request, config)})
        try:
            try:
                image, source = await self._save_input(job.id, files["image"], "image", config)
            except HiResInputError as error:
                raise stability.bad(f"image: {error.problem}. Fix: {error.fix}.", "invalid_mime_type") from None
            stability.output_size(parsed, source)
            try:
                graph = stability_upscale_graph(
                    engine, width=parsed.width, height=parsed.height, prompts=parsed.prompts, seed=seed,
                    steps=parsed.steps, cfg_scale=parsed.cfg_scale, image=image)
                await self._queue(job, _with_prefix(graph, f"{SUBFOLDER}/{job.id}"), config)
            except (HiResInputError, comfy_queue.GraphRefused) as error:
                raise stability.bad(str(error)) from None
        except BaseException:
            self._discard(job)
            raise
        job = await self._wait(job.id, SYNC_WAIT_S)
        if job.status != COMPLETE:
            raise StabilityError(500, "server_error", f"An unexpected server error occurred, please try again. "
                                 f"({job.error})")
        data = (self.results / job.id / "result.png").read_bytes()
        if accept == "image/png":
            return web.Response(body=data, content_type="image/png",
                                headers={"Finish-Reason": "SUCCESS", "Seed": str(seed)})
        return web.json_response({"artifacts": [{"base64": base64.b64encode(data).decode(), "finishReason": "SUCCESS",
                                                 "seed": seed}]})

    # -- deepmode ---------------------------------------------------------------------------------------------

    async def _deepmode_body(self, request: web.Request) -> tuple[ApiKey, ApiConfig, dict[str, Any]]:
        key, config = self._authenticate(DEEPMODE, bearer_token(request.headers.get("Authorization")))
        fields, _, _ = await self._read_body(request, config, DeepmodeError)
        return key, config, fields

    async def _check_callback(self, callback: str | None, config: ApiConfig) -> None:
        if callback:
            try:
                await asyncio.to_thread(decide, callback, system_resolver, config.allowlist)
            except FetchRefused as error:
                raise DeepmodeError(400, f"callback: {error}") from None

    def _held_image(self, owner: str, image_id: str) -> tuple[bytes, dict[str, Any]]:
        """The bytes and the known fields of an image this server holds: one this key made, or one uploaded
        through ComfyUI's /upload/image (a name inside the input folder)."""
        job = self.store.find(owner, DEEPMODE, "image_ids", image_id)
        if job is not None:
            image = job.result["images"][job.result["image_ids"].index(image_id)]
            path = self.results / job.id / image["file_name"]
            if path.is_file():
                return path.read_bytes(), image
        input_dir = Path(folder_paths.get_input_directory()).resolve()
        candidate = (input_dir / image_id).resolve()
        if candidate.is_relative_to(input_dir) and candidate.is_file() and \
                not candidate.is_relative_to(input_dir / SUBFOLDER):
            return candidate.read_bytes(), {}
        raise DeepmodeError(404, f"image_id: no image {image_id!r} on this server (upload one through "
                            "/upload/image, or use an id that /api/images/generate returned)")

    async def _deepmode_run(self, request: web.Request, job: Job, graph: ApiPrompt, config: ApiConfig,
                            callback: str | None, ack: dict[str, str]) -> web.Response:
        try:
            await self._queue(job, _with_prefix(graph, f"{SUBFOLDER}/{job.id}"), config)
        except (HiResInputError, comfy_queue.GraphRefused) as error:
            self._discard(job)
            raise DeepmodeError(400, str(error)) from None
        except BaseException:
            self._discard(job)
            raise
        if callback:
            return web.json_response(ack)
        job = await self._wait(job.id, SYNC_WAIT_S)
        if job.status != COMPLETE:
            raise DeepmodeError(500, f"The job failed: {job.error}")
        base_url = self._base_url(request, config)
        images = [self._image_object(job, image_id, base_url) for image_id in job.result["image_ids"]]
        return web.json_response(images[0] if job.meta["kind"] == "upscale" else images)

    async def deepmode_upscale(self, request: web.Request) -> web.Response:
        key, config, body = await self._deepmode_body(request)
        parsed = deepmode.parse_upscale(body)
        await self._check_callback(parsed.callback, config)
        data, known = await asyncio.to_thread(self._held_image, key.name, parsed.image_id)
        self._check_rate(DEEPMODE, key)
        job = self.store.create(key.name, DEEPMODE, {
            "kind": "upscale", "callback": parsed.callback, "upscaled": True,
            "base_url": self._base_url(request, config),
            "source": {k: known.get(k, "") for k in ("model_id", "prompt", "negative_prompt", "ratio")}})
        try:
            image, _ = await self._save_input(job.id, data, "image", config)
        except HiResInputError as error:
            self._discard(job)
            raise DeepmodeError(400, str(error)) from None
        try:
            graph = deepmode_upscale_graph(image=image)
        except HiResInputError as error:
            self._discard(job)
            raise DeepmodeError(400, str(error)) from None
        return await self._deepmode_run(request, job, graph, config, parsed.callback, deepmode.UPSCALE_ACK)

    async def deepmode_generate(self, request: web.Request) -> web.Response:
        key, config, body = await self._deepmode_body(request)
        parsed = deepmode.parse_generate(body)
        await self._check_callback(parsed.callback, config)
        self._check_rate(DEEPMODE, key)
        job = self.store.create(key.name, DEEPMODE, {
            "kind": "generate", "callback": parsed.callback, "upscaled": parsed.upscale,
            "base_url": self._base_url(request, config),
            "source": {"model_id": parsed.model_id, "prompt": parsed.prompt,
                       "negative_prompt": parsed.negative_prompt, "ratio": parsed.ratio}})
        try:
            native = {"native": config.deepmode_native_side} if config.deepmode_native_side else {}
            graph = deepmode_generate_graph(
                parsed.prompt, parsed.negative_prompt, parsed.num_images, parsed.ratio, parsed.upscale,
                random.randint(0, 2**32 - 1), **native)
        except HiResInputError as error:
            self._discard(job)
            raise DeepmodeError(400, str(error)) from None
        return await self._deepmode_run(request, job, graph, config, parsed.callback, deepmode.GENERATE_ACK)

    async def deepmode_image(self, request: web.Request) -> web.Response:
        key, config = self._authenticate(DEEPMODE, bearer_token(request.headers.get("Authorization")))
        image_id = request.match_info["image_id"]
        job = self.store.find(key.name, DEEPMODE, "image_ids", image_id)
        if job is None:
            raise DeepmodeError(404, "Image not found")
        return web.json_response(self._image_object(job, image_id, self._base_url(request, config)))


def register_routes(server: Any) -> RestApi:
    """Add the API routes to a PromptServer (called from the pack's entry point, before ComfyUI adds its
    routes to the app)."""
    api = RestApi(server)
    api.install()
    return api
