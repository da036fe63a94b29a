"""The seeds' own REST requests against a real ComfyUI server on loopback, real HTTP, tiny models.

- the seeds' examples verbatim with the host changed (and sizes made small): deep-image's generative upscale and
  hi-res generation, Stability's esrgan upscale on the real Real-ESRGAN weights in both Accept modes, deepmode's
  upscale (sync, and async with a callback receiver on loopback) and generation;
- each seed request builds the same graph as its shipped workflow;
- deep-image's resize fields reach the node;
- jobs show in ComfyUI's queue and can be taken off it; 100 jobs queued at once all complete.

The refusals are in test_rest_refusals.py, keys and SSRF in test_rest_auth.py, deep-image's generated client in
test_rest_generated_client.py (their client and fixtures: devtools/rest_api_client.py, conftest.py). Every
address used is 127.0.0.1; the HTTP client ignores proxy settings (trust_env off).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from PIL import Image

from hires_studio.api_prompt import complete_prompt, is_link
from hires_studio.catalog import shipped_workflows
from hires_studio.devtools.request_images import base64_url, png_bytes
from hires_studio.devtools.rest_api_client import (
    COTTAGE,
    DEEPMODE_KEYS,
    DEEPMODE_NATIVE,
    JOB_TIMEOUT_S,
    SMALL_WIDTH,
    STABILITY_UPSCALE,
    Api,
    check_deepmode_image,
    generated_client,
    photo_size,
    upload,
)
from hires_studio.rest import deepimage, deepimage_graph

pytestmark = pytest.mark.e2e


def sized_down(request: dict[str, Any], width: int, height: int | None = None) -> dict[str, Any]:
    small = copy.deepcopy(request)
    small["width"] = width
    if height is not None:
        small["height"] = height
    return small


def test_deepimage_generative_upscale_seed(api: Api) -> None:
    # 001: "Upscale any image", url on the loopback site, width 3000 -> 128.
    seed = {"url": "https://deep-image.ai/api-example.png", "width": 3000, "generative_upscale": True,
            "upscale_strength": 5}
    request = sized_down(seed, SMALL_WIDTH) | {"url": f"{api.site.url}/api-example.png"}
    response = api.deepimage("/rest_api/process_result", request)
    assert response.status_code == 200, response.text
    body = response.json()
    if body["status"] != "complete":  # not done within 25 s: poll, as the docs say
        body = api.wait_result(body["job"])
    assert body["status"] == "complete" and set(body) == {"status", "job", "result_url"}, body
    assert body["job"] not in body["result_url"], "the result URL's capability is not the job id ComfyUI lists"
    w, h = photo_size(api)
    image = api.result_image(body["result_url"])
    assert (image.format, image.size) == ("PNG", (SMALL_WIDTH, round(h * SMALL_WIDTH / w)))


def test_deepimage_hires_generation_seed(api: Api) -> None:
    # 000: "Generate image in high resolution", 2048 x 1024 -> 128 x 64, with jpeg output.
    seed = {"width": 2048, "height": 1024, "generative_upscale": True,
            "background": {"generate": {"description": COTTAGE}}}
    request = sized_down(seed, SMALL_WIDTH, SMALL_WIDTH // 2) | {"output_format": "jpeg", "quality": 80}
    response = api.deepimage("/rest_api/process", request)
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("not_started", "in_progress", "complete")
    body = api.wait_result(response.json()["job"])
    assert body["status"] == "complete", body
    image = api.result_image(body["result_url"])
    assert (image.format, image.size) == ("JPEG", (SMALL_WIDTH, SMALL_WIDTH // 2))
    assert body["result_url"].endswith("/result.jpg")


def test_deepimage_form_data_and_base64(api: Api) -> None:
    photo = api.site.files["/api-example.png"]
    fields = {"url": base64_url(photo), "width": "50%", "upscale_strength": "8"}
    response = api.deepimage("/rest_api/process_result", data=fields)
    assert response.status_code == 200, response.text
    body = response.json()
    body = body if body["status"] == "complete" else api.wait_result(body["job"])
    w, h = photo_size(api)
    assert api.result_image(body["result_url"]).size == (round(w / 2), round(h / 2))


def stability_upscale(api: Api, accept: str, **fields: str) -> requests.Response:
    photo = api.site.files["/api-example.png"]
    return api.bearer(STABILITY_UPSCALE, headers={"Accept": accept},
                      files={"image": ("api-example.png", photo, "image/png")}, data=fields)


def test_stability_esrgan_json(api: Api) -> None:
    response = stability_upscale(api, "application/json")
    assert response.status_code == 200, response.text
    (artifact,) = response.json()["artifacts"]
    assert artifact["finishReason"] == "SUCCESS" and isinstance(artifact["seed"], int)
    image = Image.open(io.BytesIO(base64.b64decode(artifact["base64"])))
    w, h = photo_size(api)
    assert (image.format, image.size) == ("PNG", (2 * w, 2 * h))


def test_stability_esrgan_png_with_width(api: Api) -> None:
    response = stability_upscale(api, "image/png", width="512")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png" and response.headers["Finish-Reason"] == "SUCCESS"
    assert response.headers["Seed"].isdigit()
    w, h = photo_size(api)
    assert Image.open(io.BytesIO(response.content)).size == (512, round(h * 512 / w))


def test_deepmode_upscale_sync(api: Api) -> None:
    image_id = upload(api, "deepmode_source.png", png_bytes(40, 30))
    response = api.bearer("/api/images/upscale", json={"image_id": image_id})
    assert response.status_code == 200, response.text
    payload = response.json()
    check_deepmode_image(api, payload, (160, 120))
    assert api.get(f"/api/images/{payload['id']}", bearer=True).json() == payload


def test_deepmode_upscale_async_callback(api: Api) -> None:
    image_id = upload(api, "deepmode_async.png", png_bytes(32, 32))
    callback = f"{api.site.url}/callback"
    response = api.bearer("/api/images/upscale", json={"image_id": image_id, "callback": callback})
    assert (response.status_code, response.json()) == (200, {"message": "Upscaling images..."})
    path, content_type, payload = api.site.callbacks.get(timeout=JOB_TIMEOUT_S)
    assert (path, content_type) == ("/callback", "application/json")
    check_deepmode_image(api, payload, (128, 128))
    assert payload["ratio"] == "square"
    assert api.get(f"/api/images/{payload['id']}", bearer=True).json() == payload


def _text_only(model_type: str) -> dict[str, Any]:
    return {"width": 2048, "height": 1024,
            "background": {"generate": {"description": shipped_workflows.CYBERPUNK_PROMPT, "model_type": model_type}}}


SEED_WORKFLOWS = [
    ({"url": "u", "width": 2048}, ("upscale_realesrgan_to_width",)),
    ({"url": "u", "width": 3000, "generative_upscale": True, "upscale_strength": 5},
     ("generative_upscale_to_width", "deepimage_upscale_any_image")),
    ({"url": "u", "width": 2048, "height": 1024, "generative_upscale": True, "upscale_strength": 4,
      "background": {"generate": {"adapter_type": "upscale", "description": COTTAGE}}},
     ("generative_upscale_prompt_guided", "deepimage_prompt_guided_upscale")),
    ({"url": "u", "width": 3000, "generative_upscale": True},
     ("generative_upscale_default_strength", "deepimage_generative_upscaling")),
    ({"width": 2048, "height": 1024, "generative_upscale": True, "background": {"generate": {"description": COTTAGE}}},
     ("hires_generate_from_prompt", "deepimage_hires_generation")),
    *[(_text_only(t), (f"text_to_image_{t}", f"deepimage_text_only_{t}")) for t in ("realistic", "fantasy", "premium")],
    ({"url": "u", "width": 1024, "height": 1024,
      "background": {"generate": {"description": "item on the beach", "adapter_type": "generate_background"}}},
     ("background_around_object", "deepimage_item_on_the_beach")),
    ({"url": "u", "width": 1024, "height": 1024,
      "background": {"generate": {"description": "model on the beach", "adapter_type": "face"}}},
     ("avatar_around_face", "deepimage_model_on_the_beach")),
    ({"url": "u", "background": {"generate": {"description": "model in the room", "adapter_type": "control"}}},
     ("edges_guided_image_to_image", "deepimage_model_in_the_room")),
    (_text_only("z-image-turbo"), ("text_to_image_zimage_turbo", "zimage_turbo_text_to_image")),
]
"""A seed request and its shipped workflow (named as today or before the workflows were renamed)."""


def canonical(prompt: dict[str, Any]) -> list[str]:
    """The graph without node ids, titles, the image file names and the save prefix: every node as its type
    and inputs, links replaced by the linked node's own canonical form."""
    def form(node_id: str) -> Any:
        node = prompt[node_id]
        inputs = {}
        for name, value in node["inputs"].items():
            if (node["class_type"], name) in (("LoadImage", "image"), ("LoadImage", "upload"),
                                              ("SaveImage", "filename_prefix")):
                continue
            inputs[name] = [form(value[0]), value[1]] if is_link(value) else value
        return [node["class_type"], inputs]

    return sorted(json.dumps(form(node_id), sort_keys=True) for node_id in prompt)


def shipped_prompt(names: tuple[str, ...]) -> dict[str, Any]:
    """The shipped workflow's graph under its name (the first of `names` this pack ships: workflows were renamed)."""
    return next(w.prompt for name in names for w in shipped_workflows.WORKFLOWS if w.name == name)


@pytest.mark.parametrize(("request_body", "names"), SEED_WORKFLOWS, ids=[names[0] for _, names in SEED_WORKFLOWS])
def test_seed_request_builds_the_shipped_graph(api: Api, request_body: dict[str, Any], names: tuple[str, ...]) -> None:
    shipped = shipped_prompt(names)
    request = deepimage.parse_request(request_body)
    built = deepimage_graph.build_graph(request, image="x.png" if request.url else None, source=(640, 427))
    info = api.server.object_info
    assert canonical(complete_prompt(built, info)) == canonical(complete_prompt(shipped, info))


def test_jobs_are_on_comfyuis_queue_and_can_be_taken_off(api: Api, generated: Any) -> None:
    blocker = copy.deepcopy(shipped_prompt(("generative_upscale_to_width", "deepimage_upscale_any_image")))
    for node in blocker.values():
        if node["class_type"] == "GenerativeUpscale":
            node["inputs"].update(width=384, steps=200)
        if node["class_type"] == "SaveImage":
            node["inputs"]["filename_prefix"] = "hires_rest_e2e/blocker"
    status, body = api.server.post_prompt(complete_prompt(blocker, api.server.object_info))
    assert status == 200, body
    blocker_id = body["prompt_id"]
    try:
        response = api.deepimage("/rest_api/process", {"url": f"{api.site.url}/api-example.png", "width": 48,
                                                       "upscale_strength": 8})
        job = response.json()["job"]
        assert response.json()["status"] == "not_started"
        pending = api.server.get("/queue")["queue_pending"]
        (item,) = [item for item in pending if item[3].get("hires_studio_job") == job]
        api.server.request("/queue", {"delete": [item[1]]})
        body = api.wait_result(job)
        assert body["status"] == "failed" and "removed from ComfyUI's queue" in body["error"]
        assert "result_url" not in body
        failed = generated.get_rest_api_result_hash.sync_detailed(job, client=generated_client(api, generated))
        assert failed.status_code == 500, failed.content
        assert (type(failed.parsed).__name__, failed.parsed.status, failed.parsed.job) == (
            "GetRestApiResultHashResponse500", "failed", job)
    finally:
        api.server.request("/queue", {"delete": [blocker_id]})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            queue_now = api.server.get("/queue")
            if blocker_id not in {item[1] for item in queue_now["queue_running"] + queue_now["queue_pending"]}:
                break
            api.server.request("/interrupt", {"prompt_id": blocker_id})
            time.sleep(0.2)


def test_load_100_jobs_queued_at_once(api: Api) -> None:
    tiny = base64_url(png_bytes(32, 24, (200, 30, 60)))
    request = {"url": tiny, "width": 48, "upscale_strength": 8}
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda _: api.deepimage("/rest_api/process", request), range(100)))
    assert [r.status_code for r in responses] == [200] * 100, [r.text for r in responses if r.status_code != 200]
    jobs = [r.json()["job"] for r in responses]
    assert len(set(jobs)) == 100
    results = [api.wait_result(job) for job in jobs]
    assert [r["status"] for r in results] == ["complete"] * 100
    for body in results:
        image = api.result_image(body["result_url"])
        assert image.size == (48, 36) and image.getpixel((24, 18)) == (200, 30, 60)


def test_deepimage_resize_fields(api: Api) -> None:
    """padding, min_length, fit's crop object and background.color reach GenerativeUpscale (96 x 64 photo)."""
    def result(**body: Any) -> Image.Image:
        request = {"url": f"{api.site.url}/api-example.png", "upscale_strength": 8, **body}
        response = api.deepimage("/rest_api/process", request)
        assert response.status_code == 200, response.text
        done = api.wait_result(response.json()["job"])
        assert done["status"] == "complete", done
        return api.result_image(done["result_url"]).convert("RGB")

    assert photo_size(api) == (96, 64)
    canvas = result(width=120, height=120, background={"color": "#ff0000"})
    assert canvas.size == (120, 120) and canvas.getpixel((60, 5)) == (255, 0, 0)
    assert canvas.getpixel((60, 60)) != (255, 0, 0)
    padded = result(width=120, height=120, padding=10, background={"color": "#00ff00"})
    assert padded.size == (120, 120) and padded.getpixel((5, 60)) == (0, 255, 0)
    assert padded.getpixel((15, 60)) != (0, 255, 0)
    assert result(width=48, min_length=60).size == (90, 60)
    assert result(width=64, height=64, fit={"crop": "center"}).size == (64, 64)


def test_deepmode_generate(api: Api) -> None:
    response = api.bearer("/api/images/generate", json={"model_id": "m1", "prompt": COTTAGE,
                                                        "negative_prompt": "rainy", "num_images": 2,
                                                        "ratio": "square"})
    assert response.status_code == 200, response.text
    images = response.json()
    assert len(images) == 2 and images[0]["id"] != images[1]["id"]
    for image in images:
        assert list(image) == DEEPMODE_KEYS and image["upscaled"] is False
        assert (image["model_id"], image["prompt"], image["negative_prompt"], image["ratio"]) == (
            "m1", COTTAGE, "rainy", "square")
        assert api.result_image(image["image_url"]).size == (DEEPMODE_NATIVE, DEEPMODE_NATIVE)
    assert api.get(f"/api/images/{images[1]['id']}", bearer=True).json() == images[1]

