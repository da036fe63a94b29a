"""Stability v1 on the shared runner: POST /v1/generation/{engine_id}/image-to-image/upscale, answered with
the artifacts JSON or the PNG itself, errors as `{id, name, message}`. ComfyUI-bound through the runner."""

from __future__ import annotations

import base64
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from ..core.errors import HiResInputError
from ..core.sizing import STABILITY_SEED_MAX
from ..graphs.stability import stability_upscale_graph
from . import comfy_queue, stability
from .atomic_files import write_atomic
from .errors import ApiError, StabilityError
from .family import ApiFamily, Handler, Refusal
from .images import encode
from .jobs import COMPLETE, Job
from .keys import bearer_token

RESULT = "result.png"
UNEXPECTED = "An unexpected server error occurred, please try again."


@dataclass(frozen=True)
class StabilityJob:
    """What a Stability job's answer needs: the seed it ran with (drawn when the request said 0)."""

    base_url: str
    seed: int = 0


class StabilityApi(ApiFamily):
    name = "stability"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/v1/generation/{engine_id:[^/]+}/image-to-image/upscale", self.upscale)]

    def presented_key(self, request: web.Request) -> str | None:
        return bearer_token(request.headers.get("Authorization"))

    def refuse(self, kind: Refusal, message: str) -> ApiError:
        return {"no_keys": lambda: StabilityError(401, "unauthorized", message),
                "no_key_sent": lambda: StabilityError(401, "unauthorized", "missing authorization header"),
                "unknown_key": lambda: StabilityError(401, "unauthorized", "the API key is not valid on this server"),
                "config": lambda: StabilityError(503, "server_error", message),
                "rate_limited": lambda: StabilityError(429, "too_many_requests", message),
                "unavailable": lambda: StabilityError(503, "service_unavailable", message)}[kind]()

    def bad_body(self, status: int, message: str) -> ApiError:
        return StabilityError(status, "bad_request", message)

    def server_error(self, job_id: str) -> ApiError:
        return StabilityError(500, "server_error", UNEXPECTED)

    def write_result(self, job: Job, paths: list[str], folder: Path) -> dict[str, Any]:
        with Image.open(paths[0]) as image:
            encoded = encode(image, "png")
        write_atomic(folder / RESULT, encoded.data)
        return {"files": [{"name": RESULT, "mime": encoded.mime}]}

    async def upscale(self, request: web.Request) -> web.StreamResponse:
        runner = self.runner
        key, config = runner.authenticate(self, request)
        engine = request.match_info["engine_id"]
        stability.check_engine(engine)
        accept = stability.check_accept(request.headers.get("Accept"))
        if request.content_type != "multipart/form-data":
            raise stability.bad("the body must be multipart/form-data")
        fields, files, _ = await runner.read_body(request, config, self)
        parsed = stability.parse_fields(engine, fields, "image" in files, accept)
        runner.check_rate(self, key)
        seed = parsed.seed or (random.randint(1, STABILITY_SEED_MAX) if engine == stability.LATENT else 0)
        job = runner.create_job(request, self, key, asdict(StabilityJob(runner.base_url(request, config), seed)))
        try:
            try:
                image, source = await runner.save_input(job.id, files["image"], "image", config)
            except HiResInputError as error:
                raise stability.bad(f"image: {error.problem}. Fix: {error.fix}.", "invalid_mime_type") from None
            stability.output_size(parsed, source)
            try:
                graph = stability_upscale_graph(
                    engine, width=parsed.width, height=parsed.height, prompts=parsed.prompts, seed=seed,
                    steps=parsed.steps, cfg_scale=parsed.cfg_scale, image=image)
                await runner.queue(job, runner.with_prefix(graph, job), config)
            except (HiResInputError, comfy_queue.GraphRefused) as error:
                raise stability.bad(str(error)) from None
        except BaseException:
            runner.discard(job)
            raise
        job = await runner.wait(job.id, runner.sync_wait_s)
        if job.status != COMPLETE:
            raise StabilityError(500, "server_error", f"{UNEXPECTED} ({job.error})")
        data = runner.result_bytes(job, RESULT)
        if data is None:
            raise StabilityError(500, "server_error", f"{UNEXPECTED} (the result expired)")
        if accept == "image/png":
            return web.Response(body=data, content_type="image/png",
                                headers={"Finish-Reason": "SUCCESS", "Seed": str(seed)})
        return web.json_response({"artifacts": [{"base64": base64.b64encode(data).decode(), "finishReason": "SUCCESS",
                                                 "seed": seed}]})
