"""The pack's server routes on this host's real ComfyUI server (0.3.75, loopback), where they differ by version:

- the Templates pictures answer at the URL the front end builds, and on the pack's own route (the one that
  serves them on ComfyUI 0.38, whose core route answers only `.json`);
- ComfyUI 0.38 answers 403 to any request sent with `Sec-Fetch-Site: cross-site` unless started with
  `--enable-cors-header`; the pack's routes themselves answer the same with and without that header.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from hires_studio.devtools.comfy_host import PACK_LINK, ROOT, ComfyServer
from hires_studio.nodes.template_pictures import PICTURE_SUFFIX, WORKFLOWS_FOLDER

pytestmark = pytest.mark.e2e

PICTURES = sorted((ROOT / WORKFLOWS_FOLDER).glob(f"*{PICTURE_SUFFIX}"))
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


def send(server: ComfyServer, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of one request to the server on loopback."""
    request = urllib.request.Request(server.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


def comparable(answer: tuple[int, str, bytes]) -> tuple:
    """An answer without what differs on every request (Stability's error bodies carry a fresh error id)."""
    status, content_type, body = answer
    if content_type == "application/json":
        payload = json.loads(body)
        if isinstance(payload, dict):
            payload.pop("id", None)
        return status, content_type, payload
    return status, content_type, body


def test_the_pictures_answer_at_the_front_ends_url_and_on_the_packs_route(comfy_server: ComfyServer) -> None:
    listed = comfy_server.get("/api/workflow_templates")
    module = next(name for name, templates in listed.items() if PICTURES[0].stem in templates)
    assert module == PACK_LINK, "the front end's folder is the name the pack sits under in custom_nodes"
    for picture in PICTURES:
        expected = picture.read_bytes()
        # The front end's URL: apiURL(`/workflow_templates/${module}/${name}`) + `.jpg` (0.3.75's static mount
        # answers it here); without /api only the pack's route answers on this host.
        for path in (f"/api/workflow_templates/{module}/{picture.stem}.jpg",
                     f"/workflow_templates/{module}/{picture.stem}.jpg"):
            status, content_type, body = send(comfy_server, "GET", path)
            assert (status, content_type) == (200, "image/jpeg"), path
            assert body == expected, path
    assert send(comfy_server, "GET", f"/workflow_templates/{module}/no_such_workflow.jpg")[0] == 404


def test_the_packs_routes_answer_the_same_with_and_without_a_cross_site_header(comfy_server: ComfyServer) -> None:
    requests = [
        ("POST", "/rest_api/process_result", b'{"url": "http://127.0.0.1:9/a.png"}'),
        ("GET", "/rest_api/result/anything", None),
        ("POST", "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale", b"{}"),
        ("POST", "/api/images/upscale", b'{"image_id": "x"}'),
        ("GET", "/api/images/x", None),
        ("GET", f"/api/workflow_templates/{PACK_LINK}/{PICTURES[0].stem}.jpg", None),
        ("GET", f"/workflow_templates/{PACK_LINK}/{PICTURES[0].stem}.jpg", None),
    ]
    for method, path, body in requests:
        plain = comparable(send(comfy_server, method, path, body=body))
        cross_site = comparable(send(comfy_server, method, path, CROSS_SITE, body=body))
        assert plain == cross_site, (method, path, plain[:2], cross_site[:2])
        assert plain[0] != 500, (method, path)
        # Refused for want of a key; deep-image's result route says so as a 404 (its schema gives it no 403).
        refused = (404,) if path.startswith("/rest_api/result/") else (401, 403)
        assert plain[0] == 200 if path.endswith(".jpg") else plain[0] in refused, (method, path, plain)
