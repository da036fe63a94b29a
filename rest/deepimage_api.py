"""deep-image on the shared runner: POST /rest_api/process_result and /rest_api/process, GET
/rest_api/result/{job}, with the bodies of deep-image's published schema. ComfyUI-bound through the runner."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from ..core.errors import HiResInputError
from . import comfy_queue, deepimage, deepimage_graph, forms
from .atomic_files import write_atomic
from .errors import ApiError, DeepImageError, bad_request
from .family import ApiFamily, Handler, Refusal, job_record
from .images import encode
from .job_files import save_prefix
from .jobs import COMPLETE, FAILED, FAILED_MESSAGE, Job


@dataclass(frozen=True)
class DeepImageJob:
    """What a deep-image job's result needs from its request."""

    base_url: str
    output_format: str = "png"
    quality: int = 85
    max_file_size: int | None = None
    dpi: int | None = None


class DeepImageApi(ApiFamily):
    name = "deep-image"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/rest_api/process_result", self.process_result),
                ("POST", "/rest_api/process", self.process),
                ("GET", "/rest_api/result/{job:[^/]+}", self.result)]

    def presented_key(self, request: web.Request) -> str | None:
        return request.headers.get("x-api-key")

    def refuse(self, kind: Refusal, message: str) -> ApiError:
        return {"no_keys": lambda: DeepImageError(403, message, "NO_API_KEYS"),
                "no_key_sent": lambda: DeepImageError(403, "No x-api-key header is provided"),
                "unknown_key": lambda: DeepImageError(404, "No user found for provided token"),
                "config": lambda: DeepImageError(503, message, "SERVER_CONFIG"),
                "rate_limited": lambda: DeepImageError(429, message, "TOO_MANY_REQUESTS"),
                "unavailable": lambda: DeepImageError(503, message, "SERVICE_UNAVAILABLE")}[kind]()

    def bad_body(self, status: int, message: str) -> ApiError:
        return DeepImageError(status, message, "BAD_REQUEST")

    def server_error(self, job_id: str) -> ApiError:
        return DeepImageError(500, FAILED_MESSAGE, "INTERNAL_SERVER_ERROR", status=FAILED, job=job_id)

    def write_result(self, job: Job, paths: list[str], folder: Path) -> dict[str, Any]:
        record = job_record(DeepImageJob, job.meta)
        with Image.open(paths[0]) as image:
            encoded = encode(image, record.output_format, record.quality, record.max_file_size, record.dpi)
        name = f"result.{encoded.extension}"
        write_atomic(folder / name, encoded.data)
        return {"files": [{"name": name, "mime": encoded.mime}]}

    async def _submit(self, request: web.Request) -> Job:
        runner = self.runner
        key, config = runner.authenticate(self, request)
        fields, files, was_json = await runner.read_body(request, config, self)
        try:
            body = fields if was_json else forms.normalize_form(fields)
            runner.check_depth(body, self)
            upload = next((files[name] for name in deepimage.FILE_PARTS if name in files), None)
            if upload is not None and "url" not in body:
                body["url"] = "base64," + base64.b64encode(upload).decode()
            parsed = deepimage.parse_request(body)
        except HiResInputError as error:
            raise bad_request(error) from None
        runner.check_rate(self, key)
        record = DeepImageJob(base_url=runner.base_url(request, config), output_format=parsed.output_format,
                              quality=parsed.quality, max_file_size=parsed.max_file_size, dpi=parsed.dpi)
        job = runner.create_job(request, self, key, asdict(record))
        try:
            image, source = await runner.ingest(job.id, parsed.url, "url", config) if parsed.url else (None, None)
            mask = (await runner.ingest(job.id, parsed.mask_url, "ip_image2", config))[0] if parsed.mask_url \
                else None
            graph = deepimage_graph.build_graph(parsed, image=image, source=source, mask=mask,
                                                prefix=save_prefix(job.id))
            await runner.queue(job, graph, config)
        except (HiResInputError, comfy_queue.GraphRefused) as error:
            runner.discard(job)
            raise bad_request(error) from None
        except BaseException:
            runner.discard(job)
            raise
        return runner.store.get(job.id)

    def _process_result(self, job: Job, base_url: str) -> dict[str, Any]:
        """deep-image's ProcessResult; a failed job is its ErrorJobFailed (HTTP 500, status "failed"), whose
        `error` says what went wrong."""
        if job.status == FAILED:
            raise DeepImageError(500, FAILED_MESSAGE, status=FAILED, job=job.id, error=job.error or "")
        body: dict[str, Any] = {"status": job.status, "job": job.id}
        if job.status == COMPLETE:
            body["result_url"] = self.runner.file_url(job, job.result["files"][0]["name"], base_url)
        return body

    async def process(self, request: web.Request) -> web.Response:
        job = await self._submit(request)
        return web.json_response(self._process_result(job, self.runner.base_url(request)))

    async def process_result(self, request: web.Request) -> web.Response:
        job = await self._submit(request)
        job = await self.runner.wait(job.id, self.runner.config.get().process_result_wait_s)
        return web.json_response(self._process_result(job, self.runner.base_url(request)))

    async def result(self, request: web.Request) -> web.Response:
        try:
            key, config = self.runner.authenticate(self, request)
        except DeepImageError as error:
            if error.status != 403:
                raise
            # The schema gives this route no 403: its refusals keep their body under the 404 it documents.
            raise ApiError(404, error.body) from None
        job = self.runner.store.get(request.match_info["job"], owner=key.name)
        if job is None:
            raise DeepImageError(404, "Job not found")
        if job.status == COMPLETE and not self.runner.has_result(job):
            raise DeepImageError(404, "Image deleted", status=COMPLETE)
        return web.json_response(self._process_result(job, self.runner.base_url(request, config)))
