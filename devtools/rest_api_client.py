"""The REST suites' client: a ComfyUI server's three APIs as their clients call them (real HTTP on loopback, every
deep-image answer checked against deep-image's schema), the configuration those suites write, and deep-image's
client generated from its published schema. Shared by tests/e2e/test_rest_*.py and the cluster test, which
runs part of those suites against its workers."""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import requests
from PIL import Image

from hires_studio.catalog import shipped_workflows
from hires_studio.rest.config import key_entry
from hires_studio.rest.keys import new_key

from .comfy_host import ComfyServer
from .deepimage_schema import SCHEMA_PATH, validate_response
from .loopback_site import LoopbackSite, loopback_session

CONFIG = "hires_studio_api/config.json"
MAX_INPUT_PIXELS = 1_500_000
MAX_BODY_BYTES = 3_000_000
JOB_TIMEOUT_S = 300.0
DEEPMODE_NATIVE = 64
"""deepmode's generate sizes follow the model's native side: 64 keeps the tiny model's generation small."""
SMALL_WIDTH = 128
COTTAGE = "small cottage and cows eating grass on the green fields. Sunset."

STABILITY_UPSCALE = "/v1/generation/esrgan-v1-x2plus/image-to-image/upscale"
DEEPMODE_KEYS = ["id", "file_name", "model_id", "image_url", "prompt", "negative_prompt", "upscaled", "ratio"]
"""deepmode's image object, its keys in order."""


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


def site_files(base: Path) -> dict[str, bytes]:
    """What the loopback site serves: the seeds' example URLs (the example photos in `base`'s input folder) and
    a file that is no image."""
    photo = (base / "input" / shipped_workflows.EXAMPLE_IMAGE).read_bytes()
    face = (base / "input" / shipped_workflows.EXAMPLE_FACE_IMAGE).read_bytes()
    return {"/api-example.png": photo, "/api-example3.jpg": face, "/not-an-image.png": b"hello"}


@contextmanager
def open_api(server: ComfyServer) -> Iterator[Api]:
    """The suites' client on `server`: the example photos on a loopback site, three keys (alice, bob with a rate
    limit of 4, zero with 0) written into the server's configuration, removed at the end."""
    site = LoopbackSite(site_files(server.base))
    api = Api(server, site, {"alice": new_key(), "bob": new_key(), "zero": new_key()}, loopback_session())
    api.write_config()
    try:
        yield api
    finally:
        api.config_path.unlink(missing_ok=True)
        site.close()


def photo_size(api: Api) -> tuple[int, int]:
    with Image.open(api.server.base / "input" / shipped_workflows.EXAMPLE_IMAGE) as image:
        return image.size


def upload(api: Api, name: str, data: bytes) -> str:
    response = api.http.post(api.server.url + "/upload/image", files={"image": (name, data, "image/png")},
                             timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["name"]


def check_deepmode_image(api: Api, payload: dict[str, Any], size: tuple[int, int]) -> None:
    assert list(payload) == DEEPMODE_KEYS and payload["upscaled"] is True
    assert payload["file_name"].endswith(".jpeg") and payload["image_url"].endswith(payload["file_name"])
    image = api.result_image(payload["image_url"])
    assert (image.format, image.size) == ("JPEG", size)


@contextmanager
def generated_deepimage_client(folder: Path) -> Iterator[SimpleNamespace]:
    """deep-image's client as openapi-python-client generates it from the published schema, now (never
    committed), imported under its own package name and forgotten at the end."""
    out = folder / "deep_image_client"
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
    try:
        yield SimpleNamespace(package=package, **{name.rsplit(".", 1)[-1]: module for name, module in modules.items()})
    finally:
        for name in [name for name in sys.modules if name.startswith("deep_image_client")]:
            del sys.modules[name]


def generated_client(api: Api, generated: Any, key: str = "alice") -> Any:
    """The generated Client with only the host changed (and the key in the schema's X-API-KEY header)."""
    return generated.package.Client(base_url=api.server.url, headers={"X-API-KEY": api.keys[key]},
                                    httpx_args={"trust_env": False}, timeout=httpx.Timeout(120.0))

