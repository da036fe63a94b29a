"""Kill the server mid-queue and start it again: every REST job ends complete or failed, none is lost, none stays
in_progress, a failed job leaves no half-written file, and a deepmode callback the restart cut receives the
failure once. Its own server (killed with SIGKILL), on loopback. And a server started on a broken configuration:
its documented 503s until the file is fixed, then it serves without a restart."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from hires_studio.devtools.comfy_host import ComfyServer, make_comfy_base
from hires_studio.devtools.loopback_site import LoopbackSite, loopback_session
from hires_studio.devtools.request_images import png_base64_url, png_bytes
from hires_studio.devtools.staging import stage_base, tiny_stand_ins
from hires_studio.rest.config import config_path, key_entry, write_config_atomic
from hires_studio.rest.jobs import FAILED_MESSAGE, RESTART_MESSAGE
from hires_studio.rest.keys import new_key

pytestmark = pytest.mark.e2e

REAL_MODELS = Path(__file__).resolve().parents[2] / ".hires" / "base" / "models"


def _post(http: requests.Session, url: str, headers: dict, body: dict) -> str:
    response = http.post(url + "/rest_api/process", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["job"]


def _status(http: requests.Session, url: str, headers: dict, job: str) -> dict:
    return http.get(f"{url}/rest_api/result/{job}", headers=headers, timeout=60).json()


def _queue_then_kill(base: Path, http: requests.Session, key: str, callback: str) -> tuple[str, list[str]]:
    """On a first server: one job run to completion, three slow ones queued (the first running) and a deepmode
    upscale that calls `callback` back; then the server is killed with SIGKILL. The quick job and the slow ones."""
    headers = {"x-api-key": key}
    server = ComfyServer(base)
    try:
        quick = _post(http, server.url, headers, {"url": png_base64_url(24, 16), "width": 48, "upscale_strength": 8})
        deadline = time.monotonic() + 120
        while _status(http, server.url, headers, quick)["status"] != "complete":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        slow = [_post(http, server.url, headers,
                      {"url": png_base64_url(64, 48), "width": 320, "generative_upscale": True, "upscale_strength": 5})
                for _ in range(3)]
        upload = http.post(server.url + "/upload/image", timeout=60,
                           files={"image": ("cut.png", png_bytes(16, 16), "image/png")})
        ack = http.post(server.url + "/api/images/upscale", timeout=60, headers={"Authorization": f"Bearer {key}"},
                        json={"image_id": upload.json()["name"], "callback": callback})
        assert ack.json() == {"message": "Upscaling images..."}, ack.text
        deadline = time.monotonic() + 120
        while _status(http, server.url, headers, slow[0])["status"] != "in_progress":
            assert time.monotonic() < deadline, _status(http, server.url, headers, slow[0])
            time.sleep(0.1)
    finally:
        server.proc.kill()
        server.proc.wait()
        server._log.close()
    return quick, slow


def _assert_jobs_ended(http: requests.Session, url: str, headers: dict, base: Path, quick: str,
                       slow: list[str]) -> None:
    """The finished job still serves its result; every cut one failed with the restart's message and left no
    file behind."""
    finals = {job: _status(http, url, headers, job) for job in [quick, *slow]}
    assert finals[quick]["status"] == "complete"
    image = http.get(finals[quick]["result_url"], timeout=60)
    assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (48, 32)
    for job in slow:
        expected = {"status": "failed", "job": job, "message": FAILED_MESSAGE, "error": RESTART_MESSAGE}
        assert finals[job] == expected, finals[job]
        assert not list((base / "input" / "hires_studio_api").glob(f"{job}_*"))
        assert not list((base / "output" / "hires_studio_api").glob(f"{job}_*"))
        assert not (base / "user" / "hires_studio_api" / "results" / job).exists()
    assert not list((base / "user" / "hires_studio_api").rglob("*.part"))


def test_restart_mid_queue(tiny_models: Path, tmp_path: Path) -> None:
    base = make_comfy_base(tmp_path / "base", [tiny_models, REAL_MODELS])
    stage_base(base, tiny_stand_ins(tiny_models))
    key = new_key()
    receiver = LoopbackSite({})
    write_config_atomic(config_path(base / "user"), {
        "keys": [key_entry("t", key, 50)],
        "fetch_allowlist": [f"127.0.0.1:{receiver.port}"]})
    http = loopback_session()
    headers = {"x-api-key": key}
    quick, slow = _queue_then_kill(base, http, key, f"http://127.0.0.1:{receiver.port}/done")

    restarted = ComfyServer(base)
    try:
        _assert_jobs_ended(http, restarted.url, headers, base, quick, slow)
        again = http.post(restarted.url + "/rest_api/process_result", headers=headers, timeout=120,
                          json={"url": png_base64_url(24, 16), "width": 36, "upscale_strength": 9}).json()
        assert again["status"] in ("complete", "not_started", "in_progress"), again
        path, _, payload = receiver.callbacks.get(timeout=60)
        assert path == "/done" and (payload["status"], payload["message"]) == ("failed", RESTART_MESSAGE), payload
        time.sleep(2)
        assert receiver.callbacks.empty(), "the failure is sent once"
    finally:
        restarted.stop()
        receiver.close()


def test_a_server_started_with_a_broken_config_refuses_then_serves_once_fixed(tiny_models: Path,
                                                                              tmp_path: Path) -> None:
    """No configuration has loaded: every API route answers its 503 (no absolute path in it) and the status
    route says "broken"; once the file is fixed, without a restart, the routes serve."""
    base = make_comfy_base(tmp_path / "base", [tiny_models, REAL_MODELS])
    stage_base(base, tiny_stand_ins(tiny_models))
    config = config_path(base / "user")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('{"keys": [')
    key = new_key()
    http = loopback_session()
    server = ComfyServer(base, log_name="broken.log")
    try:
        assert http.get(server.url + "/hires_studio_api/status", timeout=30).json()["config"] == "broken"
        refused = {
            "deep-image": http.post(server.url + "/rest_api/process", json={"url": "x"}, timeout=30,
                                    headers={"x-api-key": key}),
            "stability": http.post(server.url + "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale",
                                   timeout=30, headers={"Authorization": f"Bearer {key}"}),
            "deepmode": http.post(server.url + "/api/images/upscale", json={"image_id": "x"}, timeout=30,
                                  headers={"Authorization": f"Bearer {key}"}),
        }
        for name, response in refused.items():
            assert response.status_code == 503, (name, response.text)
            message = response.json()["message"]
            assert "hires_studio_api/config.json in ComfyUI's user directory" in message, (name, message)
            assert str(tmp_path) not in message, (name, "no absolute path", message)
        assert refused["deep-image"].json()["code"] == "SERVER_CONFIG"
        write_config_atomic(config, {"keys": [key_entry("t", key, 4)]})
        assert http.get(server.url + "/hires_studio_api/status", timeout=30).json()["config"] == "ok"
        done = http.post(server.url + "/rest_api/process_result", headers={"x-api-key": key}, timeout=120,
                         json={"url": png_base64_url(24, 16), "width": 36, "upscale_strength": 9})
        assert done.status_code == 200 and done.json()["status"] in ("complete", "not_started", "in_progress"), \
            done.text
    finally:
        server.stop()
