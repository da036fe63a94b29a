"""deepmode on the shared runner: POST /api/images/upscale and /api/images/generate (sync, or async with a
callback), GET /api/images/{id}, answered with deepmode's image object. ComfyUI-bound through the runner."""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import folder_paths
from aiohttp import web
from PIL import Image

from ..api_prompt import ApiPrompt
from ..core.errors import HiResInputError
from ..graphs.deepmode import deepmode_generate_graph, deepmode_upscale_graph
from . import comfy_queue, deepmode
from .atomic_files import write_atomic
from .config import ApiConfig
from .errors import ApiError, DeepmodeError
from .family import ApiFamily, Handler, Refusal, job_record
from .images import encode
from .jobs import COMPLETE, FAILED, Job
from .keys import ApiKey, bearer_token
from .safe_fetch import FetchRefused, decide, system_resolver

UPSCALE, GENERATE = "upscale", "generate"
SOURCE_FIELDS = ("model_id", "prompt", "negative_prompt", "ratio")
"""The image object's fields a job carries over from its request (or from the image it upscales)."""
JPEG_QUALITY = 95
SEED_RANGE = (0, 2**32 - 1)
UNEXPECTED = "An unexpected server error occurred, please try again."


@dataclass(frozen=True)
class DeepmodeJob:
    """What a deepmode job's image objects and callback need."""

    base_url: str
    kind: str = UPSCALE
    callback: str | None = None
    upscaled: bool = True
    source: dict[str, str] = field(default_factory=dict)


class DeepmodeApi(ApiFamily):
    name = "deepmode"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/api/images/upscale", self.upscale), ("POST", "/api/images/generate", self.generate),
                ("GET", "/api/images/{image_id:[^/]+}", self.image)]

    def presented_key(self, request: web.Request) -> str | None:
        return bearer_token(request.headers.get("Authorization"))

    def refuse(self, kind: Refusal, message: str) -> ApiError:
        return {"no_keys": lambda: DeepmodeError(401, message),
                "no_key_sent": lambda: DeepmodeError(401, "missing authorization header (Authorization: Bearer <key>)"),
                "unknown_key": lambda: DeepmodeError(401, "the API key is not valid on this server"),
                "config": lambda: DeepmodeError(503, message),
                "rate_limited": lambda: DeepmodeError(429, message),
                "unavailable": lambda: DeepmodeError(503, message)}[kind]()

    def bad_body(self, status: int, message: str) -> ApiError:
        return DeepmodeError(status, message)

    def server_error(self, job_id: str) -> ApiError:
        return DeepmodeError(500, UNEXPECTED)

    def write_result(self, job: Job, paths: list[str], folder: Path) -> dict[str, Any]:
        record = job_record(DeepmodeJob, job.meta)
        files, images, ids = [], [], []
        for path in paths:
            with Image.open(path) as image:
                encoded = encode(image, "jpeg", JPEG_QUALITY)
                size = image.size
            image_id = secrets.token_hex(16)
            name = f"{uuid.uuid4()}.jpeg"
            write_atomic(folder / name, encoded.data)
            files.append({"name": name, "mime": encoded.mime})
            source = record.source
            images.append(deepmode.image_object(
                image_id, name, self.runner.file_url(job, name), model_id=source.get("model_id", ""),
                prompt=source.get("prompt", ""), negative_prompt=source.get("negative_prompt", ""),
                upscaled=record.upscaled, ratio=source.get("ratio") or deepmode.ratio_of(size)))
            ids.append(image_id)
        return {"files": files, "images": images, "image_ids": ids}

    def callback(self, job: Job) -> tuple[str, Any] | None:
        record = job_record(DeepmodeJob, job.meta)
        if not record.callback:
            return None
        if job.status == COMPLETE:
            images = job.result["images"]
            return record.callback, images[0] if record.kind == UPSCALE else images
        return record.callback, {"id": job.id, "status": FAILED, "message": job.error}

    def _image_object(self, job: Job, image_id: str, base_url: str) -> dict[str, Any]:
        image = dict(job.result["images"][job.result["image_ids"].index(image_id)])
        image["image_url"] = self.runner.file_url(job, image["file_name"], base_url)
        return image

    async def _body(self, request: web.Request) -> tuple[ApiKey, ApiConfig, dict[str, Any]]:
        key, config = self.runner.authenticate(self, request)
        fields, _, _ = await self.runner.read_body(request, config, self)
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
        job = self.runner.store.find(owner, self.name, "image_ids", image_id)
        if job is not None:
            image = job.result["images"][job.result["image_ids"].index(image_id)]
            data = self.runner.result_bytes(job, image["file_name"])
            if data is not None:
                return data, image
        input_dir = Path(folder_paths.get_input_directory()).resolve()
        candidate = (input_dir / image_id).resolve()
        if candidate.is_relative_to(input_dir) and candidate.is_file() and \
                not candidate.is_relative_to(input_dir / self.runner.subfolder):
            return candidate.read_bytes(), {}
        raise DeepmodeError(404, f"image_id: no image {image_id!r} on this server (upload one through "
                            "/upload/image, or use an id that /api/images/generate returned)")

    async def _run(self, request: web.Request, key: ApiKey, config: ApiConfig, record: DeepmodeJob,
                   build: Callable[[Job], Awaitable[ApiPrompt]], ack: dict[str, str]) -> web.Response:
        """Make the job, build its graph (`build`) and queue it: a refusal on the way leaves nothing behind.
        With a callback the answer is `ack`; otherwise the image object(s) when the job is done."""
        job = self.runner.create_job(request, self, key, asdict(record))
        try:
            await self.runner.queue(job, self.runner.with_prefix(await build(job), job), config)
        except (HiResInputError, comfy_queue.GraphRefused) as error:
            self.runner.discard(job)
            raise DeepmodeError(400, str(error)) from None
        except BaseException:
            self.runner.discard(job)
            raise
        if record.callback:
            return web.json_response(ack)
        job = await self.runner.wait(job.id, self.runner.sync_wait_s)
        if job.status != COMPLETE:
            raise DeepmodeError(500, f"The job failed: {job.error}")
        base_url = self.runner.base_url(request, config)
        images = [self._image_object(job, image_id, base_url) for image_id in job.result["image_ids"]]
        return web.json_response(images[0] if record.kind == UPSCALE else images)

    async def upscale(self, request: web.Request) -> web.Response:
        key, config, body = await self._body(request)
        parsed = deepmode.parse_upscale(body)
        await self._check_callback(parsed.callback, config)
        data, known = await asyncio.to_thread(self._held_image, key.name, parsed.image_id)
        self.runner.check_rate(self, key)
        record = DeepmodeJob(base_url=self.runner.base_url(request, config), kind=UPSCALE, callback=parsed.callback,
                             upscaled=True, source={name: known.get(name, "") for name in SOURCE_FIELDS})

        async def build(job: Job) -> ApiPrompt:
            image, _ = await self.runner.save_input(job.id, data, "image", config)
            return deepmode_upscale_graph(image=image)

        return await self._run(request, key, config, record, build, deepmode.UPSCALE_ACK)

    async def generate(self, request: web.Request) -> web.Response:
        key, config, body = await self._body(request)
        parsed = deepmode.parse_generate(body)
        await self._check_callback(parsed.callback, config)
        self.runner.check_rate(self, key)
        record = DeepmodeJob(base_url=self.runner.base_url(request, config), kind=GENERATE, callback=parsed.callback,
                             upscaled=parsed.upscale,
                             source={"model_id": parsed.model_id, "prompt": parsed.prompt,
                                     "negative_prompt": parsed.negative_prompt, "ratio": parsed.ratio})

        async def build(job: Job) -> ApiPrompt:
            native = {"native": config.deepmode_native_side} if config.deepmode_native_side else {}
            return deepmode_generate_graph(parsed.prompt, parsed.negative_prompt, parsed.num_images, parsed.ratio,
                                           parsed.upscale, random.randint(*SEED_RANGE), **native)

        return await self._run(request, key, config, record, build, deepmode.GENERATE_ACK)

    async def image(self, request: web.Request) -> web.Response:
        key, config = self.runner.authenticate(self, request)
        image_id = request.match_info["image_id"]
        job = self.runner.store.find(key.name, self.name, "image_ids", image_id)
        if job is None:
            raise DeepmodeError(404, "Image not found")
        return web.json_response(self._image_object(job, image_id, self.runner.base_url(request, config)))
