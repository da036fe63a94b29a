"""Keys and SSRF on the three REST APIs, against a real ComfyUI server on loopback: no key, a wrong key, another
key's job, no keys configured; every refused fetch target is an address literal, "localhost" or a redirect from
the loopback test server, so the server decides (and refuses) without ever dialling anything outside loopback."""

from __future__ import annotations

import pytest
import requests

from hires_studio.devtools.request_images import png_bytes
from hires_studio.devtools.rest_api_client import STABILITY_UPSCALE, Api, upload

pytestmark = pytest.mark.e2e


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
    return api.bearer(STABILITY_UPSCALE, key=key,
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

