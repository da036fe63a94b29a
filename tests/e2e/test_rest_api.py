"""The seeds' own REST requests against a real ComfyUI server on loopback, real HTTP, tiny models.

- the seeds' examples verbatim with the host changed (and sizes made small): deep-image's generative upscale and
  hi-res generation, Stability's esrgan upscale on the real Real-ESRGAN weights in both Accept modes, deepmode's
  upscale (sync, and async with a callback receiver on loopback);
- each seed request builds the same graph as its shipped workflow;
- bad input: each case with its documented status and body, and the server still serving;
- auth: no key, a wrong key, another key's job, no keys configured;
- SSRF: every refused target is an address literal, "localhost" or a redirect from the loopback test server, so
  the server decides (and refuses) without ever dialling anything outside loopback;
- jobs show in ComfyUI's queue and can be taken off it; 100 jobs queued at once all complete.

Every address used is 127.0.0.1; the HTTP client ignores proxy settings (trust_env off).
"""

from __future__ import annotations

import base64
import copy
import importlib
import importlib.util
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hires_studio.api_prompt import complete_prompt, is_link
from hires_studio.catalog import shipped_workflows
from hires_studio.devtools.comfy_host import ComfyServer
from hires_studio.devtools.deepimage_schema import SCHEMA_PATH, validate_response
from hires_studio.devtools.loopback_site import LoopbackSite, loopback_session
from hires_studio.devtools.request_images import base64_url, png_bytes
from hires_studio.graphs.models import CHECKPOINT
from hires_studio.rest import deepimage, deepimage_graph
from hires_studio.rest.config import key_entry
from hires_studio.rest.keys import new_key

pytestmark = pytest.mark.e2e

CONFIG = "hires_studio_api/config.json"
MAX_INPUT_PIXELS = 1_500_000
MAX_BODY_BYTES = 3_000_000
JOB_TIMEOUT_S = 300.0
DEEPMODE_NATIVE = 64
"""deepmode's generate sizes follow the model's native side: 64 keeps the tiny model's generation small."""
SMALL_WIDTH = 128
COTTAGE = "small cottage and cows eating grass on the green fields. Sunset."


@dataclass
class Api:
    server: ComfyServer
    site: LoopbackSite
    keys: dict[str, str]
    http: requests.Session

    @property
    def config_path(self):
        return self.server.base / "user" / CONFIG

    def write_config(self, with_keys: bool = True, models: dict[str, str] | None = None, **extra: Any) -> None:
        config = {
            "keys": [key_entry(name, key, limit)
                     for (name, key), limit in zip(self.keys.items(), (200, 4, 0), strict=True)] if with_keys else [],
            "fetch_allowlist": [f"127.0.0.1:{self.site.port}"],
            "max_input_pixels": MAX_INPUT_PIXELS,
            "max_body_bytes": MAX_BODY_BYTES,
            "models": models or {},
            "deepmode_native_side": DEEPMODE_NATIVE,
            **extra,
        }
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config))

    def deepimage(self, path: str, body: Any = None, key: str | None = "alice", **kwargs: Any) -> requests.Response:
        """A deep-image request; its response is validated by deep-image's schema."""
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers["x-api-key"] = self.keys.get(key, key)
        if body is not None:
            kwargs["json"] = body
        response = self.http.post(self.server.url + path, headers=headers, timeout=120, **kwargs)
        validate_response("post", path, response.status_code, response.json())
        return response

    def get(self, path: str, key: str | None = "alice", bearer: bool = False) -> requests.Response:
        headers = {}
        if key is not None:
            token = self.keys.get(key, key)
            headers = {"Authorization": f"Bearer {token}"} if bearer else {"x-api-key": token}
        response = self.http.get(self.server.url + path, headers=headers, timeout=120)
        if path.startswith("/rest_api/"):
            validate_response("get", path, response.status_code, response.json())
        return response

    def bearer(self, path: str, key: str | None = "alice", **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        return self.http.post(self.server.url + path, headers=headers, timeout=JOB_TIMEOUT_S, **kwargs)

    def wait_result(self, job: str, key: str = "alice") -> dict[str, Any]:
        """Poll GET result/{hash} as a deep-image client does, until complete or failed (the schema's
        ErrorJobFailed, a 500)."""
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            response = self.get(f"/rest_api/result/{job}", key)
            body = response.json()
            assert response.status_code == (500 if body.get("status") == "failed" else 200), response.text
            assert body["status"] in ("received", "not_started", "in_progress", "complete", "failed"), body
            if body["status"] in ("complete", "failed"):
                return body
            time.sleep(0.25)
        raise TimeoutError(job)

    def result_image(self, url: str) -> Image.Image:
        assert url.startswith(self.server.url + "/"), url
        response = self.http.get(url, timeout=60)
        assert response.status_code == 200, response.text
        return Image.open(io.BytesIO(response.content))


@pytest.fixture(scope="module")
def api(staged_server: ComfyServer):
    photo = (staged_server.base / "input" / shipped_workflows.EXAMPLE_IMAGE).read_bytes()
    face = (staged_server.base / "input" / shipped_workflows.EXAMPLE_FACE_IMAGE).read_bytes()
    site = LoopbackSite({"/api-example.png": photo, "/api-example3.jpg": face, "/not-an-image.png": b"hello"})
    http = loopback_session()
    api = Api(staged_server, site, {"alice": new_key(), "bob": new_key(), "zero": new_key()}, http)
    api.write_config()
    yield api
    api.config_path.unlink(missing_ok=True)
    site.close()


def photo_size(api: Api) -> tuple[int, int]:
    with Image.open(api.server.base / "input" / shipped_workflows.EXAMPLE_IMAGE) as image:
        return image.size


# --- the seeds' examples, host changed -----------------------------------------------------------------------


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
    return api.bearer("/v1/generation/esrgan-v1-x2plus/image-to-image/upscale", headers={"Accept": accept},
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


def upload(api: Api, name: str, data: bytes) -> str:
    response = api.http.post(api.server.url + "/upload/image", files={"image": (name, data, "image/png")},
                             timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["name"]


DEEPMODE_KEYS = ["id", "file_name", "model_id", "image_url", "prompt", "negative_prompt", "upscaled", "ratio"]


def check_deepmode_image(api: Api, payload: dict[str, Any], size: tuple[int, int]) -> None:
    assert list(payload) == DEEPMODE_KEYS and payload["upscaled"] is True
    assert payload["file_name"].endswith(".jpeg") and payload["image_url"].endswith(payload["file_name"])
    image = api.result_image(payload["image_url"])
    assert (image.format, image.size) == ("JPEG", size)


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


# --- each seed request is its shipped workflow ----------------------------------------------------------------

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


# --- bad input --------------------------------------------------------------------------------------------------

Case = tuple[str, Callable[[], requests.Response], int, dict[str, Any]]
"""(name, a call, status, the body's expected fields: exact values, or "~text" for a part of the text)."""
BAD = {"code": "BAD_REQUEST"}
"""deep-image's 400 body carries this code beside its message."""
STABILITY_UPSCALE = "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale"
LATENT_UPSCALE = "/v1/generation/stable-diffusion-x4-latent-upscaler/image-to-image/upscale"


def deepimage_call(api: Api, body: Any, **kw: Any) -> Callable[[], requests.Response]:
    return lambda: api.deepimage("/rest_api/process", body, **kw)


def stability_call(api: Api, path: str = STABILITY_UPSCALE, image: bytes | None = None,
                   accept: str = "application/json", **fields: str) -> Callable[[], requests.Response]:
    """A Stability upscale with the site's example PNG unless another image (or b"" for none) is given."""
    image = api.site.files["/api-example.png"] if image is None else image
    files = {"image": ("a.png", image, "image/png")} if image else {"x": ("x", b"", "text/plain")}
    return lambda: api.bearer(path, headers={"Accept": accept}, files=files, data=fields)


def deepmode_call(api: Api, path: str, body: Any) -> Callable[[], requests.Response]:
    return lambda: api.bearer(path, json=body)


def deepimage_bad_cases(api: Api) -> list[Case]:
    site = api.site.url
    di = partial(deepimage_call, api)
    return [
        ("no url", di({"width": 100}), 400, BAD | {"message": "~File or image url is required"}),
        ("storage url", di({"url": "storage://bucket/a.png"}), 400, BAD | {"message": "~storage://"}),
        ("negative width", di({"url": f"{site}/api-example.png", "width": -5}), 400, BAD | {"message": "~width=-5"}),
        ("width over the limit", di({"url": f"{site}/api-example.png", "width": 20000}), 400,
         BAD | {"message": "~Image cannot be upscaled above 16384 x 16384 pixels limit"}),
        ("percentage over the limit", di({"url": f"{site}/api-example.png", "width": "50000%"}), 400,
         BAD | {"message": "~Image cannot be upscaled above 16384 x 16384 pixels limit"}),
        ("bad fit", di({"url": f"{site}/api-example.png", "fit": "stretch"}), 400, BAD | {"message": "~fit='stretch'"}),
        ("strength 10", di({"url": f"{site}/api-example.png", "upscale_strength": 10}), 400,
         BAD | {"message": "~upscale_strength=10"}),
        ("gif output", di({"url": f"{site}/api-example.png", "output_format": "gif"}), 400,
         BAD | {"message": "~output_format='gif'"}),
        ("quality 101", di({"url": f"{site}/api-example.png", "quality": 101}), 400, BAD | {"message": "~quality=101"}),
        ("unknown field", di({"url": f"{site}/api-example.png", "colorize": True}), 400,
         BAD | {"message": "~colorize"}),
        ("enhancement not served", di({"url": f"{site}/api-example.png", "enhancements": ["denoise", "light"]}), 400,
         BAD | {"message": "~enhancements[1]='light': is not served"}),
        ("print size with no standard size", di({"url": f"{site}/api-example.png", "print_size": "a4long"}), 400,
         BAD | {"message": "~print_size='a4long'"}),
        ("storage target", di({"url": f"{site}/api-example.png", "target": "storage://s/f/"}), 400,
         BAD | {"message": "~target='storage://s/f/'"}),
        ("ftp url", di({"url": "ftp://127.0.0.1/a.png"}), 400, BAD | {"message": "~only http and https"}),
        ("bad base64", di({"url": "base64,@@@@"}), 400, BAD | {"message": "~not valid base64"}),
        ("not an image", di({"url": base64_url(b"hello, not a picture")}), 400,
         BAD | {"message": "~Unidentified image"}),
        ("url answers 404", di({"url": f"{site}/missing.png"}), 400, BAD | {"message": "~answered HTTP 404"}),
        ("url serves no image", di({"url": f"{site}/not-an-image.png"}), 400, BAD | {"message": "~Unidentified image"}),
        ("too many pixels", di({"url": base64_url(png_bytes(1300, 1200))}), 400,
         BAD | {"message": "~more than this server's 1,500,000-pixel limit"}),
        ("body too large", di(None, data=b"x" * (MAX_BODY_BYTES + 1), headers={"Content-Type": "application/json"}),
         413, BAD | {"message": f"~at most {MAX_BODY_BYTES}"}),
        ("body not JSON", di(None, data=b"{nope", headers={"Content-Type": "application/json"}), 400,
         BAD | {"message": "The body is not valid JSON."}),
        ("body a list", di([1, 2]), 400, BAD | {"message": "The body must be a JSON object."}),
        ("hosted model_type", di({"background": {"generate": {"description": "x", "model_type": "see-dream-4.5"}}}),
         400, BAD | {"message": "~is not served by this server's API"}),
        ("face without image", di({"background": {"generate": {"description": "x", "adapter_type": "face"}}}), 400,
         BAD | {"message": "~File or image url is required"}),
        ("prompt on strength 8", di({"url": f"{site}/api-example.png", "generative_upscale": True,
                                     "upscale_strength": 8, "background": {"generate": {"adapter_type": "upscale",
                                                                                        "description": "x"}}}),
         400, BAD | {"message": "~strengths 7-9 have no diffusion pass"}),
    ]


def hostile_bad_cases(api: Api) -> list[Case]:
    """Hostile bytes: each its API's 4xx body, never a 500."""
    site = api.site.url
    ok_png = api.site.files["/api-example.png"]
    stab = STABILITY_UPSCALE
    di = partial(deepimage_call, api)
    return [
        ("JSON nested 100,000 deep", di(None, data=b"[" * 100_000, headers={"Content-Type": "application/json"}),
         400, BAD | {"message": "The body is not valid JSON."}),
        ("JSON nested 40 deep", di({"url": json.loads("[" * 40 + "]" * 40)}),
         400, BAD | {"message": "The body nests deeper than 32 levels."}),
        ("a 5,000-digit number", di(None, data=b'{"width": ' + b"9" * 5000 + b"}",
                                    headers={"Content-Type": "application/json"}),
         400, BAD | {"message": "The body is not valid JSON."}),
        ("form fit={bad", di(None, data={"url": f"{site}/api-example.png", "fit": "{bad"}), 400,
         BAD | {"message": "~fit='{bad': is not valid JSON"}),
        ("form url and url[a]", di(None, data=[("url", "x"), ("url[a]", "y")]), 400,
         BAD | {"message": "~mixes a value and an object"}),
        ("form field twice", di(None, data=[("url", "x"), ("url", "y")]), 400,
         BAD | {"message": "The field 'url' is given twice: send it once."}),
        ("form parameters not JSON", di(None, files={"parameters": (None, b"{x", "application/json")}), 400,
         BAD | {"message": "~parameters='{x': is not valid JSON"}),
        ("chunked body", di(None, data=iter([b'{"url": "x"}']), headers={"Content-Type": "application/json"}), 411,
         BAD | {"message": "Send the body with a Content-Length header."}),
        ("x-api-key not UTF-8", di({"url": "x"}, key=b"hs_\xff\xfe"), 404,
         {"message": "No user found for provided token"}),
        ("Stability bearer not UTF-8", lambda: api.bearer(stab, key=None, headers={"Authorization": b"Bearer \xff"},
                                                          files={"image": ("a.png", ok_png, "image/png")}), 401,
         {"name": "unauthorized", "message": "the API key is not valid on this server"}),
        ("deepmode bearer not UTF-8", lambda: api.bearer("/api/images/upscale", key=None, json={"image_id": "x"},
                                                         headers={"Authorization": b"Bearer \xc3("}), 401,
         {"message": "the API key is not valid on this server"}),
    ]


def stability_bad_cases(api: Api) -> list[Case]:
    st = partial(stability_call, api)
    stab, latent = STABILITY_UPSCALE, LATENT_UPSCALE
    return [
        ("Stability 100000 x 1", st(image=png_bytes(100_000, 1)), 400,
         {"name": "invalid_pixel_count", "message": "~limit of 16384 pixels"}),
        ("Stability accept image/jpeg", st(accept="image/jpeg"), 406,
         {"name": "not_acceptable", "message": "~use application/json (the default) or image/png"}),
        ("unknown engine", st("/v1/generation/some-fake-engine/image-to-image/upscale"), 404,
         {"name": "not_found", "message": "The specified engine (ID some-fake-engine) was not found."}),
        ("no image", st(image=b""), 400, {"name": "bad_request", "message": "image: is required"}),
        ("width and height", st(width="600", height="600"), 400,
         {"name": "bad_request", "message": "Only one of width or height may be specified"}),
        ("width under 512", st(width="100"), 400, {"name": "bad_request", "message": "~width: must be from 512"}),
        ("steps 5", st(latent, steps="5"), 400, {"name": "bad_request", "message": "~steps: must be from 10 to 150"}),
        ("cfg_scale 40", st(latent, cfg_scale="40"), 400, {"name": "bad_request", "message": "~cfg_scale"}),
        ("image not decodable", st(image=b"GIF89a nonsense"), 400,
         {"name": "invalid_mime_type", "message": "~Unidentified image"}),
        ("input over 1 MP", st(image=png_bytes(1100, 1000)), 400,
         {"name": "invalid_pixel_count", "message": "~at most 1,048,576 pixels"}),
        ("output over 4 MP", st(image=png_bytes(1024, 1024), width="4096"), 400,
         {"name": "invalid_pixel_count", "message": "~would exceed the maximum pixel count of 4,194,304"}),
        ("accept text/html", st(accept="text/html"), 406, {"name": "not_acceptable"}),
        ("not multipart", lambda: api.bearer(stab, json={"image": "x"}), 400,
         {"name": "bad_request", "message": "the body must be multipart/form-data"}),
    ]


def deepmode_bad_cases(api: Api) -> list[Case]:
    dm = partial(deepmode_call, api)
    return [
        ("no image_id", dm("/api/images/upscale", {}), 400, {"message": "image_id: is required"}),
        ("unknown image_id", dm("/api/images/upscale", {"image_id": "c6b8a9f7e5d1c3a2f91e3"}), 404,
         {"message": "~no image 'c6b8a9f7e5d1c3a2f91e3'"}),
        ("image_id outside input", dm("/api/images/upscale", {"image_id": "../user/" + CONFIG}), 404,
         {"message": "~no image"}),
        ("num_images 9", dm("/api/images/generate", {"model_id": "m", "prompt": "p", "num_images": 9}), 400,
         {"message": "~num_images: must be from 1 to 8, got 9"}),
        ("ratio wide", dm("/api/images/generate", {"model_id": "m", "prompt": "p", "ratio": "wide"}), 400,
         {"message": "~ratio: must be one of portrait, square"}),
        ("no prompt", dm("/api/images/generate", {"model_id": "m"}), 400, {"message": "prompt: is required"}),
        ("callback to metadata", dm("/api/images/generate", {"model_id": "m", "prompt": "p",
                                                             "callback": "http://169.254.169.254/cb"}), 400,
         {"message": "~link-local"}),
        ("callback file url", dm("/api/images/upscale", {"image_id": "x", "callback": "file:///tmp/cb"}), 400,
         {"message": "~only http and https"}),
        ("unknown image", lambda: api.get("/api/images/nope", bearer=True), 404, {"message": "Image not found"}),
        ("unknown job", lambda: api.get("/rest_api/result/nope"), 404, {"message": "Job not found"}),
    ]


def bad_cases(api: Api) -> list[Case]:
    return deepimage_bad_cases(api) + hostile_bad_cases(api) + stability_bad_cases(api) + deepmode_bad_cases(api)


def check_body(body: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        if isinstance(value, str) and value.startswith("~"):
            assert value[1:] in body[name], (name, body)
        else:
            assert body[name] == value, (name, body)


def test_bad_input_is_refused_with_the_documented_body(api: Api) -> None:
    cases = bad_cases(api)
    assert len(cases) >= 30
    jobs_before = len(list((api.server.base / "input" / "hires_studio_api").glob("*")))
    for name, call, status, expected in cases:
        response = call()
        assert response.status_code == status, (name, response.status_code, response.text)
        body = response.json()
        check_body(body, expected)
        if "name" in expected:
            assert set(body) == {"id", "name", "message"}, (name, body)
    # Nothing half-written by the refused requests, and the server still serves.
    assert len(list((api.server.base / "input" / "hires_studio_api").glob("*"))) == jobs_before
    response = api.deepimage("/rest_api/process_result", {"url": f"{api.site.url}/api-example.png", "width": 48,
                                                          "upscale_strength": 8})
    body = response.json() if response.json()["status"] == "complete" else api.wait_result(response.json()["job"])
    assert body["status"] == "complete"


def test_rate_limit(api: Api) -> None:
    response = api.deepimage("/rest_api/process", {"url": f"{api.site.url}/api-example.png"}, key="zero")
    assert (response.status_code, response.json()) == (429, {
        "message": "Image cannot be processed right now. Your rate limit is 0 and you are currently processing 0 "
                   "images.", "code": "TOO_MANY_REQUESTS"})


def test_a_missing_model_is_a_400_that_names_the_file(api: Api) -> None:
    api.write_config(models={CHECKPOINT: "my_missing_model.safetensors"})
    try:
        response = api.deepimage("/rest_api/process", {"url": f"{api.site.url}/api-example.png", "width": 128,
                                                       "generative_upscale": True})
    finally:
        api.write_config()
    assert response.status_code == 400 and response.json()["code"] == "BAD_REQUEST"
    message = response.json()["message"]
    assert "my_missing_model.safetensors" in message and "models/checkpoints" in message, message


# --- auth -----------------------------------------------------------------------------------------------------

def test_no_key_and_wrong_key(api: Api) -> None:
    body = {"url": f"{api.site.url}/api-example.png"}
    assert api.deepimage("/rest_api/process", body, key=None).json() == {"message": "No x-api-key header is provided"}
    assert api.deepimage("/rest_api/process", body, key=None).status_code == 403
    wrong = api.deepimage("/rest_api/process", body, key="hs_not_a_key")
    assert (wrong.status_code, wrong.json()) == (404, {"message": "No user found for provided token"})
    for key, message in ((None, "missing authorization header"), ("hs_not_a_key", "the API key is not valid")):
        response = stability_upscale_with_key(api, key)
        assert response.status_code == 401 and response.json()["name"] == "unauthorized"
        assert message in response.json()["message"]
        response = api.bearer("/api/images/upscale", key=key, json={"image_id": "x"})
        assert response.status_code == 401 and message in response.json()["message"]


def stability_upscale_with_key(api: Api, key: str | None) -> requests.Response:
    return api.bearer("/v1/generation/esrgan-v1-x2plus/image-to-image/upscale", key=key,
                      files={"image": ("a.png", png_bytes(8, 8), "image/png")})


def test_another_keys_job_is_not_found(api: Api) -> None:
    response = api.deepimage("/rest_api/process", {"url": f"{api.site.url}/api-example.png", "width": 48,
                                                   "upscale_strength": 8}, key="bob")
    job = response.json()["job"]
    assert len(job) >= 32
    assert api.get(f"/rest_api/result/{job}", key="alice").json() == {"message": "Job not found"}
    assert api.get(f"/rest_api/result/{job}", key="alice").status_code == 404
    assert api.wait_result(job, key="bob")["status"] == "complete"
    image_id = upload(api, "bobs.png", png_bytes(16, 16))
    bobs = api.bearer("/api/images/upscale", key="bob", json={"image_id": image_id}).json()
    assert api.get(f"/api/images/{bobs['id']}", key="alice", bearer=True).status_code == 404
    assert api.bearer("/api/images/upscale", key="alice", json={"image_id": bobs["id"]}).status_code == 404


def test_no_keys_configured_refuses_every_route(api: Api) -> None:
    """Every API route refuses; a result URL made earlier still serves: its 192-bit token is the capability."""
    earlier = api.deepimage("/rest_api/process", {"url": f"{api.site.url}/api-example.png", "width": 40,
                                                  "upscale_strength": 8}).json()
    earlier = api.wait_result(earlier["job"])
    api.write_config(with_keys=False)
    try:
        assert api.result_image(earlier["result_url"]).size[0] == 40
        responses = {
            "deep-image": api.deepimage("/rest_api/process_result", {"url": f"{api.site.url}/api-example.png"}),
            "result": api.get("/rest_api/result/anything"),
            "stability": stability_upscale_with_key(api, "alice"),
            "deepmode": api.bearer("/api/images/upscale", json={"image_id": "x"}),
            "deepmode get": api.get("/api/images/x", bearer=True),
        }
    finally:
        api.write_config()
    for name, response in responses.items():
        assert response.status_code == {"result": 404}.get(name, 403 if name == "deep-image" else 401), (
            name, response.status_code, response.text)
        message = response.json()["message"]
        assert "No API key is configured" in message and "api_key.py add NAME" in message, name
        assert "HIRES_STUDIO_API_KEYS" in message, name
        assert str(api.server.base) not in message and "/tmp" not in message, (name, "no absolute path", message)


# --- SSRF -----------------------------------------------------------------------------------------------------

SSRF_TARGETS = [
    ("http://127.0.0.1/a.png", "loopback"),
    ("http://localhost/a.png", "loopback"),
    ("http://[::1]/a.png", "loopback"),
    ("http://10.0.0.1/a.png", "private"),
    ("http://172.16.0.1/a.png", "private"),
    ("http://192.168.1.1/a.png", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://0.0.0.0/a.png", "unspecified"),
    ("http://2130706433/a.png", "loopback"),
    ("http://[::ffff:10.0.0.1]/a.png", "IPv4-mapped private"),
    ("REDIRECT", "private address 10.1.2.3"),
    ("file:///etc/passwd", "only http and https"),
]


def test_ssrf_targets_are_refused(api: Api) -> None:
    assert len(SSRF_TARGETS) >= 12
    for url, reason in SSRF_TARGETS:
        target = f"{api.site.url}/redirect-private" if url == "REDIRECT" else url
        for field in ("url", "ip_image2"):
            body = {"url": target} if field == "url" else {
                "url": f"{api.site.url}/api-example.png", "ip_image2": target,
                "background": {"generate": {"adapter_type": "inpainting", "description": "x"}}}
            response = api.deepimage("/rest_api/process", body)
            assert response.status_code == 400, (url, response.text)
            assert reason in response.json()["message"] and field in response.json()["message"], (url, response.text)


# --- ComfyUI's own queue ------------------------------------------------------------------------------------------

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
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda _: api.deepimage("/rest_api/process", request), range(100)))
    assert [r.status_code for r in responses] == [200] * 100, [r.text for r in responses if r.status_code != 200]
    jobs = [r.json()["job"] for r in responses]
    assert len(set(jobs)) == 100
    results = [api.wait_result(job) for job in jobs]
    time.monotonic() - started
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


# --- a client generated from deep-image's schema ------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """deep-image's client as openapi-python-client generates it from the published schema, now (never
    committed), imported under its own package name."""
    out = tmp_path_factory.mktemp("generated") / "deep_image_client"
    subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path", str(SCHEMA_PATH),
                    "--meta", "none", "--output-path", str(out)], check=True, capture_output=True, timeout=300)
    spec = importlib.util.spec_from_file_location("deep_image_client", out / "__init__.py",
                                                  submodule_search_locations=[str(out)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["deep_image_client"] = package
    spec.loader.exec_module(package)
    names = ("api.default.post_rest_api_process_result", "api.default.post_rest_api_process",
             "api.default.get_rest_api_result_hash", "models", "types")
    modules = {name: importlib.import_module(f"deep_image_client.{name}") for name in names}
    yield SimpleNamespace(package=package, **{name.rsplit(".", 1)[-1]: module for name, module in modules.items()})
    for name in [name for name in sys.modules if name.startswith("deep_image_client")]:
        del sys.modules[name]


def generated_client(api: Api, generated: Any, key: str = "alice") -> Any:
    """The generated Client with only the host changed (and the key in the schema's X-API-KEY header)."""
    return generated.package.Client(base_url=api.server.url, headers={"X-API-KEY": api.keys[key]},
                                    httpx_args={"trust_env": False}, timeout=httpx.Timeout(120.0))


def test_a_client_generated_from_the_schema_gets_results(api: Api, generated: Any) -> None:
    models = generated.models
    client = generated_client(api, generated)
    w, h = photo_size(api)
    url = f"{api.site.url}/api-example.png"

    # process_result, the model as generated (its defaults unset), then with every schema default a generator
    # may fill in (quality 85, dpi 300, print_reorientation true, fit canvas).
    for payload in (models.ProcessPayload(url=url, width=48),
                    models.ProcessPayload(url=url, width=48, quality=85, dpi=300, print_reorientation=True,
                                          fit=models.FitTypes.CANVAS, output_format=models.OutputFormat.JPEG)):
        response = generated.post_rest_api_process_result.sync_detailed(client=client, body=payload)
        assert response.status_code == 200, response.content
        result = response.parsed
        assert isinstance(result, models.ProcessResult), result
        while result.status != models.ProcessResultStatus.COMPLETE:
            time.sleep(0.25)
            result = generated.get_rest_api_result_hash.sync(result.job, client=client)
        image = api.result_image(result.result_url)
        assert image.size == (48, round(h * 48 / w))
        if payload.dpi == 300:
            assert (image.format, [round(v) for v in image.info["dpi"]]) == ("JPEG", [300, 300])

    # process, then result/{hash} until complete
    queued = generated.post_rest_api_process.sync(client=client, body=models.ProcessPayload(url=url, width="50%"))
    assert isinstance(queued, models.ProcessResult) and queued.status in (
        models.ProcessResultStatus.NOT_STARTED, models.ProcessResultStatus.IN_PROGRESS,
        models.ProcessResultStatus.COMPLETE), queued
    deadline = time.monotonic() + JOB_TIMEOUT_S
    result = queued
    while result.status != models.ProcessResultStatus.COMPLETE:
        assert time.monotonic() < deadline
        time.sleep(0.25)
        result = generated.get_rest_api_result_hash.sync(queued.job, client=client)
        assert isinstance(result, models.ProcessResult), result
    assert api.result_image(result.result_url).size == (round(w / 2), round(h / 2))

    # the schema's form-data body: the file in fileName, the fields as JSON in parameters
    photo = api.site.files["/api-example.png"]
    body = models.PostRestApiProcessResultFilesBody(
        file_name=generated.types.File(payload=io.BytesIO(photo), file_name="photo.png", mime_type="image/png"),
        parameters=models.PostRestApiProcessResultFilesBodyParameters.from_dict({"width": 32, "dpi": 72,
                                                                                "print_reorientation": True}))
    response = generated.post_rest_api_process_result.sync_detailed(client=client, body=body)
    assert response.status_code == 200, response.content
    result = response.parsed
    while result.status != models.ProcessResultStatus.COMPLETE:
        time.sleep(0.25)
        result = generated.get_rest_api_result_hash.sync(result.job, client=client)
    image = api.result_image(result.result_url)
    assert (image.size, [round(v) for v in image.info["dpi"]]) == ((32, round(h * 32 / w)), [72, 72])

    # a refused field is the schema's 400, parsed by the client
    refused = generated.post_rest_api_process.sync_detailed(client=client, body=models.ProcessPayload(
        url=url, enhancements=[models.EnhancementTypes.FACE_ENHANCE]))
    assert refused.status_code == 400 and "enhancements[0]='face_enhance'" in refused.parsed.message


# --- hostile input, faults and a broken configuration ------------------------------------------------------------

ROUTES = [
    ("post", "/rest_api/process"), ("post", "/rest_api/process_result"), ("get", "/rest_api/result/{}"),
    ("post", "/v1/generation/{}/image-to-image/upscale"), ("post", "/api/images/upscale"),
    ("post", "/api/images/generate"), ("get", "/api/images/{}"), ("get", "/hires_studio_api/files/{}/{}"),
    ("get", "/hires_studio_api/status"),
]
CONTENT_TYPES = ["application/json", "multipart/form-data", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded", "text/plain", None]
FIELD_VALUE_BYTES = [byte for byte in range(256) if byte == 0x09 or 0x20 <= byte <= 0x7E or byte >= 0x80]
"""The bytes HTTP allows in a header value (RFC 9110: VCHAR, obs-text, space, tab). A control byte is refused by
aiohttp's HTTP parser before any route sees the request, so it is no route's to answer."""
header_bytes = st.lists(st.sampled_from(FIELD_VALUE_BYTES), max_size=48).map(lambda b: bytes(b).strip(b" \t"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30)
FIELD_NAMES = ["url", "width", "height", "fit", "padding", "quality", "dpi", "print_size", "enhancements",
               "background", "image_id", "prompt", "num_images", "callback", "parameters", "text_prompts[0][text]"]


def nested(depth: int) -> bytes:
    return b'{"url": ' + b"[" * depth + b"]" * depth + b"}"


bodies = st.one_of(
    st.binary(max_size=600),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6).map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=200_000).map(nested),
    st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), st.text(max_size=30), max_size=5),
)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), part=st.text(max_size=30), body=bodies,
       content_type=st.sampled_from(CONTENT_TYPES), key=header_bytes, accept=header_bytes,
       auth=st.sampled_from(["zero", "raw", None]))
def test_property_no_500_on_any_request(api: Api, route: tuple[str, str], part: str, body: Any,
                                        content_type: str | None, key: bytes, accept: bytes, auth: str | None) -> None:
    """Arbitrary bytes, headers, nesting and path parts on every route: never a 500 (nothing is injected),
    the API's own 4xx body. The "zero" key's rate limit is 0, so a request that happens to be valid is a 429
    and queues nothing."""
    method, template = route
    segment = "x" if part in ("", ".", "..") else quote(part, safe="")  # a dot segment is the client's to resolve
    path = template.format(*[segment] * template.count("{}"))
    token = api.keys["zero"].encode() if auth == "zero" else key
    headers = {"x-api-key": token, "Authorization": b"Bearer " + token, "Accept": accept} if auth else {}
    if content_type:
        headers["Content-Type"] = content_type
    kwargs = {"data": body} if isinstance(body, (bytes, dict)) else {}
    response = api.http.request(method, api.server.url + path, headers=headers, timeout=60, **kwargs)
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    if template.startswith("/rest_api/"):
        validate_response(method, path, response.status_code, response.json())
    elif not template.startswith("/hires_studio_api/files"):
        assert isinstance(response.json(), dict), response.text[:300]


def test_after_hostile_requests_the_server_still_serves(api: Api) -> None:
    for data in (b"[" * 100_000, nested(5000), b"\xff\xfe" * 100, b'{"width": ' + b"9" * 100_000 + b"}"):
        response = api.deepimage("/rest_api/process", None, data=data, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
    response = api.deepimage("/rest_api/process_result", {"url": f"{api.site.url}/api-example.png", "width": 40,
                                                          "upscale_strength": 8})
    body = response.json() if response.json()["status"] == "complete" else api.wait_result(response.json()["job"])
    assert body["status"] == "complete"


def test_an_injected_fault_is_the_apis_documented_500_with_a_logged_traceback(api: Api) -> None:
    """The jobs' input folder replaced by a file: saving the request's image fails unexpectedly."""
    folder = api.server.base / "input" / "hires_studio_api"
    moved = folder.with_name("hires_studio_api.moved")
    folder.rename(moved)
    folder.write_bytes(b"not a folder")
    try:
        deep = api.deepimage("/rest_api/process", {"url": base64_url(png_bytes(16, 16)), "width": 32})
        stab = api.bearer("/v1/generation/esrgan-v1-x2plus/image-to-image/upscale",
                          files={"image": ("a.png", png_bytes(16, 16), "image/png")})
        image_id = upload(api, "fault_source.png", png_bytes(16, 16))
        mode = api.bearer("/api/images/upscale", json={"image_id": image_id})
    finally:
        folder.unlink()
        moved.rename(folder)
    assert deep.status_code == 500 and deep.json()["status"] == "failed" and deep.json()["job"], deep.text
    assert api.get(f"/rest_api/result/{deep.json()['job']}").json() == {"message": "Job not found"}
    assert stab.status_code == 500 and stab.json()["name"] == "server_error", stab.text
    assert mode.status_code == 500 and "unexpected server error" in mode.json()["message"], mode.text
    log = api.server.log_path.read_text()
    assert "HiRes Studio API: POST /rest_api/process failed" in log and "FileExistsError" in log
    test_after_hostile_requests_the_server_still_serves(api)


def test_a_broken_config_keeps_the_last_good_one_and_the_watcher_running(api: Api) -> None:
    api.write_config(cleanup_interval_s=0.1)
    status = api.http.get(api.server.url + "/hires_studio_api/status", timeout=30).json()
    assert status == {"config": "ok", "watcher": {"running": True, "failed_ticks_in_a_row": 0}}
    good = api.config_path.read_text()
    try:
        api.config_path.write_text(good[: len(good) // 2])  # a half-saved file
        status = api.http.get(api.server.url + "/hires_studio_api/status", timeout=30).json()
        assert status["config"] == "last_good", status
        time.sleep(1.0)  # ten cleanup ticks on the broken file
        response = api.deepimage("/rest_api/process", {"url": f"{api.site.url}/api-example.png", "width": 40,
                                                       "upscale_strength": 8})
        assert response.status_code == 200, response.text
        assert api.wait_result(response.json()["job"])["status"] == "complete"
        status = api.http.get(api.server.url + "/hires_studio_api/status", timeout=30).json()
        assert status == {"config": "last_good", "watcher": {"running": True, "failed_ticks_in_a_row": 0}}
    finally:
        api.write_config()
    status = api.http.get(api.server.url + "/hires_studio_api/status", timeout=30).json()
    assert status["config"] == "ok", status
    log = api.server.log_path.read_text()
    assert "the configuration cannot be used" in log and "the last good configuration keeps serving" in log
    assert "loads again" in log
