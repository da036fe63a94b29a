"""Kill the server mid-queue and start it again: every REST job ends complete or failed, none is lost, none stays
in_progress, and a failed job leaves no half-written file. Its own server (killed with SIGKILL), on loopback."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
import requests
from comfy_host import ComfyServer, make_comfy_base
from PIL import Image
from staging import stage_base, tiny_stand_ins

from hires_studio.nodes.rest.config import write_key_config
from hires_studio.nodes.rest.jobs import RESTART_MESSAGE
from hires_studio.nodes.rest.keys import new_key

pytestmark = pytest.mark.e2e

REAL_MODELS = Path(__file__).resolve().parents[2] / ".hires" / "base" / "models"


def png_b64(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 90)).save(out, "PNG")
    return "base64," + base64.b64encode(out.getvalue()).decode()


def test_restart_mid_queue(tiny_models: Path, tmp_path: Path) -> None:
    base = make_comfy_base(tmp_path / "base", [tiny_models, REAL_MODELS])
    stage_base(base, tiny_stand_ins(tiny_models))
    key = new_key()
    write_key_config(base / "user", "t", key, rate_limit=50)
    http = requests.Session()
    http.trust_env = False
    headers = {"x-api-key": key}

    server = ComfyServer(base)
    try:
        def post(body: dict) -> str:
            response = http.post(server.url + "/rest_api/process", json=body, headers=headers, timeout=60)
            assert response.status_code == 200, response.text
            return response.json()["job"]

        def status(url: str, job: str) -> dict:
            return http.get(f"{url}/rest_api/result/{job}", headers=headers, timeout=60).json()

        quick = post({"url": png_b64(24, 16), "width": 48, "upscale_strength": 8})
        deadline = time.monotonic() + 120
        while status(server.url, quick)["status"] != "complete":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        slow = [post({"url": png_b64(64, 48), "width": 320, "generative_upscale": True, "upscale_strength": 5})
                for _ in range(3)]
        deadline = time.monotonic() + 120
        while status(server.url, slow[0])["status"] != "in_progress":
            assert time.monotonic() < deadline, status(server.url, slow[0])
            time.sleep(0.1)
    finally:
        server.proc.kill()
        server.proc.wait()
        server._log.close()

    restarted = ComfyServer(base)
    try:
        finals = {job: status(restarted.url, job) for job in [quick, *slow]}
        assert finals[quick]["status"] == "complete"
        image = http.get(finals[quick]["result_url"], timeout=60)
        assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (48, 32)
        for job in slow:
            assert finals[job] == {"status": "failed", "job": job, "message": RESTART_MESSAGE}, finals[job]
            assert not list((base / "input" / "hires_studio_api").glob(f"{job}_*"))
            assert not list((base / "output" / "hires_studio_api").glob(f"{job}_*"))
            assert not (base / "user" / "hires_studio_api" / "results" / job).exists()
        assert not list((base / "user" / "hires_studio_api").rglob("*.part"))
        again = http.post(restarted.url + "/rest_api/process_result", headers=headers, timeout=120,
                          json={"url": png_b64(24, 16), "width": 36, "upscale_strength": 9}).json()
        assert again["status"] in ("complete", "not_started", "in_progress"), again
    finally:
        restarted.stop()
