"""Bad input on the three REST APIs, against a real ComfyUI server on loopback: each case with its documented
status and body and nothing half-written; a missing model named; arbitrary hostile requests never a 500; an
injected fault the API's documented 500; a broken configuration keeps the last good one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hires_studio.devtools.deepimage_schema import validate_response
from hires_studio.devtools.request_images import base64_url, png_bytes
from hires_studio.devtools.rest_api_client import CONFIG, MAX_BODY_BYTES, STABILITY_UPSCALE, Api, upload
from hires_studio.graphs.models import CHECKPOINT

pytestmark = pytest.mark.e2e


Case = tuple[str, Callable[[], requests.Response], int, dict[str, Any]]
"""(name, a call, status, the body's expected fields: exact values, or "~text" for a part of the text)."""
BAD = {"code": "BAD_REQUEST"}
"""deep-image's 400 body carries this code beside its message."""
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
        stab = api.bearer(STABILITY_UPSCALE,
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
