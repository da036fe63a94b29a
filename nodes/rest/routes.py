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
from ..graphs.deepmode import deepmode_generate_graph, deepmode_upscale_graph
from ..graphs.stability import stability_upscale_graph
from . import comfy_queue, deepimage, deepmode, stability
from .config import CONFIG_DIR, KEYS_ENV, ApiConfig, ConfigCache, ConfigError, config_path
from .errors import ApiError, DeepImageError, DeepmodeError, FieldError, StabilityError, bad_request
from .images import decode_base64, encode, open_image
from .jobs import COMPLETE, FAILED, IN_PROGRESS, NOT_STARTED, Job, JobStore
from .keys import ApiKey, bearer_token, identify
from .models import resolve_models
from .safe_fetch import FetchRefused, decide, fetch, system_resolver

log = logging.getLogger(__name__)

DEEPIMAGE, STABILITY, DEEPMODE = "deep-image", "stability", "deepmode"
POLL_S = 0.02
"""How often the watcher looks at ComfyUI's queue for the jobs it follows."""
CLEANUP_EVERY_S = 60.0
SYNC_WAIT_S = 3600.0
"""Stability and deepmode's sync calls wait for their job this long at most."""
SUBFOLDER = "hires_studio_api"
"""Where the jobs' images go inside ComfyUI's input and output folders."""
FILES_ROUTE = "/hires_studio_api/files"
FAILED_MESSAGE = ("We have encountered some technical issues while processing the image. No credits were lost. "
                  "Please try again.")
PACK_DIR = Path(__file__).resolve().parents[2]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusals(api: str) -> dict[str, Callable[[str], ApiError]]:
    """Each API's answers for: no key configured, no key sent, an unknown key, and a broken config."""
    if api == DEEPIMAGE:
        return {"none": lambda m: DeepImageError(403, m, "NO_API_KEYS"),
                "missing": lambda m: DeepImageError(403, "No x-api-key header is provided"),
                "wrong": lambda m: DeepImageError(404, "No user found for provided token"),
                "config": lambda m: DeepImageError(500, m, "SERVER_CONFIG")}
    if api == STABILITY:
        return {"none": lambda m: StabilityError(401, "unauthorized", m),
                "missing": lambda m: StabilityError(401, "unauthorized", "missing authorization header"),
                "wrong": lambda m: StabilityError(401, "unauthorized", "the API key is not valid on this server"),
                "config": lambda m: StabilityError(500, "server_error", m)}
    return {"none": lambda m: DeepmodeError(401, m),
            "missing": lambda m: DeepmodeError(401, "missing authorization header (Authorization: Bearer <key>)"),
            "wrong": lambda m: DeepmodeError(401, "the API key is not valid on this server"),
            "config": lambda m: DeepmodeError(500, m)}


def _server_error(api: str) -> ApiError:
    if api == DEEPIMAGE:
        return DeepImageError(500, FAILED_MESSAGE, status="failed")
    if api == STABILITY:
        return StabilityError(500, "server_error", "An unexpected server error occurred, please try again.")
    return DeepmodeError(500, "An unexpected server error occurred, please try again.")


def _with_prefix(graph: ApiPrompt, prefix: str) -> ApiPrompt:
    for node in graph.values():
        if node["class_type"] == "SaveImage":
            node["inputs"]["filename_prefix"] = prefix
    return graph


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

    # -- set-up -----------------------------------------------------------------------------------------------

    def install(self) -> None:
        routes = self.server.routes
        routes.post("/rest_api/process_result")(self._api(DEEPIMAGE, self.deepimage_process_result))
        routes.post("/rest_api/process")(self._api(DEEPIMAGE, self.deepimage_process))
        routes.get("/rest_api/result/{job}")(self._api(DEEPIMAGE, self.deepimage_result))
        routes.post("/v1/generation/{engine_id}/image-to-image/upscale")(self._api(STABILITY, self.stability_upscale))
        routes.post("/api/images/upscale")(self._api(DEEPMODE, self.deepmode_upscale))
        routes.post("/api/images/generate")(self._api(DEEPMODE, self.deepmode_generate))
        routes.get("/api/images/{image_id}")(self._api(DEEPMODE, self.deepmode_image))
        routes.get(FILES_ROUTE + "/{token}/{name}")(self.result_file)
        self.server.app.on_startup.append(self._start)
        self.server.app.on_cleanup.append(self._stop)

    async def _start(self, app: web.Application) -> None:
        stale = await asyncio.to_thread(self.store.recover)
        for job in stale:
            await asyncio.to_thread(self._delete_outputs, job)
        if stale:
            log.warning("HiRes Studio API: %d job(s) left unfinished by the last run are marked failed", len(stale))
        self.tasks.add(asyncio.get_running_loop().create_task(self._watch()))

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
                log.exception("HiRes Studio API: %s %s failed", request.method, request.path)
                error = _server_error(api)
                return web.json_response(error.body, status=error.status)

        return wrapped

    # -- shared steps -----------------------------------------------------------------------------------------

    def _how_to_add_key(self) -> str:
        return (f"No API key is configured on this server, so its API routes refuse every request. Add one: run "
                f"`python {PACK_DIR / 'scripts' / 'api_key.py'} add NAME --user-dir {self.user_dir}` (it prints "
                f"the new key and stores only its SHA-256 in {config_path(self.user_dir)}), or start ComfyUI with "
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
        key = identify(presented, config.keys)
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
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            fields, files = {}, {}
            for name, value in (await request.post()).items():
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
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise refuse(400, "The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise refuse(400, "The body must be a JSON object.")
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
                raise FieldError(field, url, str(error), "send a public http(s) URL or \"base64,<data>\"") from None
            if result.status != 200:
                raise FieldError(field, url, f"answered HTTP {result.status}", "send a URL that serves the image")
            data = result.body
        return await self._save_input(job_id, data, field, config)

    async def _queue(self, job: Job, graph: ApiPrompt, config: ApiConfig) -> None:
        """Resolve the model files, complete and validate the graph, and put it on ComfyUI's queue."""
        graph = resolve_models(graph, await asyncio.to_thread(comfy_queue.installed_models), config.models,
                               str(config_path(self.user_dir)))
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

    async def _watch(self) -> None:
        last_cleanup = 0.0
        while True:
            await asyncio.sleep(POLL_S)
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
            if time.monotonic() - last_cleanup > CLEANUP_EVERY_S:
                last_cleanup = time.monotonic()
                await asyncio.to_thread(self._cleanup)

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
                encoded = encode(image, job.meta["output_format"], job.meta["quality"], job.meta["max_file_size"])
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
        config = self.config.get()
        try:
            response = await asyncio.to_thread(
                fetch, job.meta["callback"], method="POST", body=json.dumps(payload).encode(),
                content_type="application/json", allowlist=config.allowlist, max_bytes=1024 * 1024,
                connect_timeout=config.connect_timeout_s, read_timeout=config.read_timeout_s, max_redirects=0)
            log.info("HiRes Studio API: callback for job %s answered %d", job.id, response.status)
        except FetchRefused as error:
            log.warning("HiRes Studio API: callback for job %s not delivered: %s", job.id, error)

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

    def _cleanup(self) -> None:
        config = self.config.get()
        for job in self.store.expired(config.result_ttl_s):
            self._delete_outputs(job)
            self.store.delete(job.id)
            self.finished.pop(job.id, None)

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
        body = fields if was_json else deepimage.normalize_form(fields)
        upload = files.get("image") or files.get("file")
        if upload is not None and "url" not in body:
            body["url"] = "base64," + base64.b64encode(upload).decode()
        try:
            parsed = deepimage.parse_request(body)
        except FieldError as error:
            raise bad_request(str(error)) from None
        self._check_rate(DEEPIMAGE, key)
        job = self.store.create(key.name, DEEPIMAGE, {
            "output_format": parsed.output_format, "quality": parsed.quality,
            "max_file_size": parsed.max_file_size, "base_url": self._base_url(request, config)})
        try:
            image, source = await self._ingest(job.id, parsed.url, "url", config) if parsed.url else (None, None)
            mask = (await self._ingest(job.id, parsed.mask_url, "ip_image2", config))[0] if parsed.mask_url else None
            graph = deepimage.build_graph(parsed, image=image, source=source, mask=mask,
                                          prefix=f"{SUBFOLDER}/{job.id}")
            await self._queue(job, graph, config)
        except (FieldError, comfy_queue.GraphRefused) as error:
            self._discard(job)
            raise bad_request(str(error)) from None
        except BaseException:
            self._discard(job)
            raise
        return self.store.get(job.id)

    def _process_result(self, job: Job, base_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {"status": job.status, "job": job.id}
        if job.status == COMPLETE:
            body["result_url"] = self._file_url(job, job.result["files"][0]["name"], base_url)
        if job.status == FAILED:
            body["message"] = job.error
        return body

    async def deepimage_process(self, request: web.Request) -> web.Response:
        job = await self._deepimage_submit(request)
        return web.json_response(self._process_result(job, self._base_url(request, self.config.get())))

    async def deepimage_process_result(self, request: web.Request) -> web.Response:
        job = await self._deepimage_submit(request)
        job = await self._wait(job.id, self.config.get().process_result_wait_s)
        if job.status == FAILED:
            return web.json_response({"message": FAILED_MESSAGE, "status": "failed", "job": job.id,
                                      "error": job.error}, status=500)
        return web.json_response(self._process_result(job, self._base_url(request, self.config.get())))

    async def deepimage_result(self, request: web.Request) -> web.Response:
        key, config = self._authenticate(DEEPIMAGE, request.headers.get("x-api-key"))
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
        seed = parsed.seed or (random.randint(1, stability.MAX_SEED) if engine == stability.LATENT else 0)
        job = self.store.create(key.name, STABILITY, {"seed": seed, "base_url": self._base_url(request, config)})
        try:
            try:
                image, source = await self._save_input(job.id, files["image"], "image", config)
            except FieldError as error:
                raise stability.bad(f"image: {str(error).split(': ', 1)[1]}", "invalid_mime_type") from None
            stability.output_size(parsed, source)
            try:
                graph = stability_upscale_graph(
                    engine, width=parsed.width, height=parsed.height, prompts=parsed.prompts, seed=seed,
                    steps=parsed.steps, cfg_scale=parsed.cfg_scale, image=image)
                await self._queue(job, _with_prefix(graph, f"{SUBFOLDER}/{job.id}"), config)
            except (FieldError, HiResInputError, comfy_queue.GraphRefused) as error:
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
        except (FieldError, comfy_queue.GraphRefused) as error:
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
        except FieldError as error:
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
