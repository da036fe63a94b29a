"""Live previews through a real ComfyUI server on loopback (`main.py`, the tiny models): with
`--preview-method latent2rgb` the websocket receives pictures of the whole canvas during a multi-tile
GenerativeUpscale pass; with previews off (the session server: ComfyUI's default) none; the saved image is the
same to the byte either way; Cancel still lands within 2 s while previews are on."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from PIL import Image

from hires_studio.core.sizing import plan_size
from hires_studio.core.tiling import diffusion_grid
from hires_studio.devtools.comfy_host import ComfyServer
from hires_studio.devtools.node_inputs import upscale_prompt

pytestmark = pytest.mark.e2e

PREVIEW_IMAGE = 1
"""ComfyUI's binary websocket event for a preview picture (then 4 bytes of image type, then the image)."""
IMAGE = (118, 75)
INPUTS = dict(scale_by=2.0, steps=6, tile_size=128)
CANCEL_WITHIN_S = 2.0


@dataclass
class Watched:
    """What one client saw of one prompt."""

    prompt_id: str = ""
    previews: list[tuple[int, int]] = field(default_factory=list)
    """The size of every preview picture, in order."""
    progress: list[tuple[int, int]] = field(default_factory=list)
    """GenerativeUpscale's (value, max) progress messages."""
    outcome: str = ""
    cancel_seconds: float = 0.0


async def watch(server: ComfyServer, prompt: dict[str, Any], cancel_after_preview: bool = False) -> Watched:
    seen = Watched()
    client_id = str(uuid.uuid4())
    ws_url = server.url.replace("http://", "ws://") + f"/ws?clientId={client_id}"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        status, body = server.request("/prompt", {"prompt": prompt, "client_id": client_id}, raw=True)
        assert status == 200, body
        seen.prompt_id = json.loads(body)["prompt_id"]
        cancelled_at = None
        deadline = time.monotonic() + 300
        while not seen.outcome:
            message = await ws.receive(timeout=max(1.0, deadline - time.monotonic()))
            if message.type == aiohttp.WSMsgType.BINARY:
                event, image_type = struct.unpack(">II", message.data[:8])
                if event == PREVIEW_IMAGE:
                    with Image.open(io.BytesIO(message.data[8:])) as image:
                        seen.previews.append(image.size)
                    if cancel_after_preview and cancelled_at is None:
                        cancelled_at = time.monotonic()
                        server.request("/interrupt", {"prompt_id": seen.prompt_id}, raw=True)
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            data = event.get("data", {})
            if data.get("prompt_id") != seen.prompt_id:
                continue
            if event["type"] == "progress" and data.get("node") == "4":
                seen.progress.append((data["value"], data["max"]))
            elif event["type"] in ("execution_success", "execution_error", "execution_interrupted"):
                seen.outcome = event["type"]
                if cancelled_at is not None:
                    seen.cancel_seconds = time.monotonic() - cancelled_at
    return seen


def saved_pixels(server: ComfyServer, prompt_id: str) -> bytes:
    entry = server.get(f"/history/{prompt_id}")[prompt_id]
    (image,) = entry["outputs"]["5"]["images"]
    query = f"/view?filename={image['filename']}&subfolder={image['subfolder']}&type={image['type']}"
    status, payload = server.request(query, raw=True)
    assert status == 200
    with Image.open(io.BytesIO(payload)) as picture:
        return picture.convert("RGB").tobytes()


def latent_canvas() -> tuple[int, int]:
    """The pass's latent canvas (width, height), worked out from the resize rules."""
    plan = plan_size(IMAGE[0], IMAGE[1], 0, 0, scale_by=INPUTS["scale_by"])
    return -(-plan.canvas[0] // 8), -(-plan.canvas[1] // 8)


@pytest.fixture(scope="module")
def preview_server(comfy_base):
    server = ComfyServer(comfy_base, log_name="preview-server.log", extra_args=("--preview-method", "latent2rgb"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def on_and_off(preview_server: ComfyServer, comfy_server: ComfyServer) -> tuple[Watched, Watched, bytes, bytes]:
    prompt = upscale_prompt(IMAGE, **INPUTS)
    on = asyncio.run(watch(preview_server, prompt))
    off = asyncio.run(watch(comfy_server, prompt))
    assert on.outcome == off.outcome == "execution_success", (on, off)
    return on, off, saved_pixels(preview_server, on.prompt_id), saved_pixels(comfy_server, off.prompt_id)


def test_the_websocket_receives_previews_of_the_whole_canvas(on_and_off) -> None:
    on, _, _, _ = on_and_off
    width, height = latent_canvas()
    assert len(diffusion_grid(height, width, INPUTS["tile_size"] // 8).tiles) > 1, "the pass must tile"
    assert on.previews, "no preview reached the websocket"
    for w, h in on.previews:
        assert max(w, h) == 512  # ComfyUI's default --preview-size
        assert abs(h - w * height / width) <= 1, ((w, h), (width, height))


def test_no_previews_with_previews_off(on_and_off) -> None:
    _, off, _, _ = on_and_off
    assert off.previews == []


def test_the_same_bytes_and_the_same_progress_with_previews_on_and_off(on_and_off) -> None:
    on, off, on_pixels, off_pixels = on_and_off
    assert on_pixels == off_pixels
    assert on.progress[-1] == off.progress[-1]
    assert off.progress[-1][0] == off.progress[-1][1] > INPUTS["steps"], "counted in model calls over tiles"
    assert sorted(set(on.progress)) == sorted(set(off.progress))


def test_cancel_lands_within_2_s_with_previews_on(preview_server: ComfyServer) -> None:
    prompt = upscale_prompt((192, 128), scale_by=2.0, steps=200, tile_size=128)
    seen = asyncio.run(watch(preview_server, prompt, cancel_after_preview=True))
    assert seen.previews, "the long job showed no preview"
    assert seen.outcome == "execution_interrupted", seen.outcome
    assert seen.cancel_seconds < CANCEL_WITHIN_S, seen.cancel_seconds
