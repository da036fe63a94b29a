"""A real ComfyUI host for the tests, the demo and the benchmarks: in-process (no HTTP) or a `main.py`
server on loopback, both on a --base-directory that holds the pack in custom_nodes and the models.

ComfyUI's modules are importable by name in the venv the bootstrap builds (its one import path).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .plain_python import plain_python
from .processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
HIRES = ROOT / ".hires"
COMFY = HIRES / "ComfyUI"
COMFY_ARGS = ["--cpu", "--database-url", "sqlite:///:memory:"]
NO_API_NODES = ["--disable-api-nodes"]
PACK_LINK = "hires_studio"
"""The name the pack is linked under in a test base's custom_nodes (the Templates browser's folder name there);
the tests import the pack by this name too, so the in-process ComfyUI and the tests share its modules."""


TINY_MODELS = HIRES / "cache" / "tiny_models"
TINY_SCRIPT = ROOT / "tests" / "fixtures" / "make_tiny_models.py"


def ensure_tiny_models() -> Path:
    """Tiny random-weight models (tests/fixtures/make_tiny_models.py), made once into a cache, and made again
    whenever the script changes (the cache's stamp is the script's hash)."""
    stamp = TINY_MODELS / f".complete-{hashlib.sha256(TINY_SCRIPT.read_bytes()).hexdigest()[:16]}"
    if not stamp.exists():
        shutil.rmtree(TINY_MODELS, ignore_errors=True)
        subprocess.run([sys.executable, str(TINY_SCRIPT), str(TINY_MODELS)], check=True, cwd=COMFY)
        stamp.touch()
    return TINY_MODELS


def make_comfy_base(base: Path, model_sources: list[Path]) -> Path:
    """A ComfyUI --base-directory: the pack linked into custom_nodes, every model file linked into models/."""
    (base / "custom_nodes").mkdir(parents=True, exist_ok=True)
    pack = base / "custom_nodes" / PACK_LINK
    if not pack.exists():
        pack.symlink_to(ROOT, target_is_directory=True)
    for folder in ("input", "output", "temp", "user"):
        (base / folder).mkdir(exist_ok=True)
    for source in model_sources:
        for path in source.rglob("*.safetensors"):
            link = base / "models" / path.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path)
    return base


class _NullServer:
    """The PromptServer surface PromptExecutor touches when no client is attached."""

    client_id = None
    last_node_id = None
    last_prompt_id = None

    def send_sync(self, *args: Any, **kwargs: Any) -> None:
        pass

    def queue_updated(self) -> None:
        pass


@dataclass
class PromptRun:
    success: bool
    executor: Any
    messages: list

    def output(self, node_id: str, index: int = 0) -> Any:
        return self.executor.caches.outputs.get(node_id).outputs[index][0]

    def error(self) -> dict:
        return next(data for kind, data in self.messages if kind == "execution_error")


class InProcessComfy:
    """A real ComfyUI imported in this process, with the pack loaded through its custom-node loader."""

    def __init__(self, base: Path, api_nodes: bool = False) -> None:
        """api_nodes: also load ComfyUI's API nodes (to describe and validate hosted workflows; never to run)."""
        sys.argv = [sys.argv[0], *COMFY_ARGS, *([] if api_nodes else NO_API_NODES), "--base-directory", str(base),
                    "--verbose", "WARNING"]
        import comfy.options

        comfy.options.enable_args_parsing()
        # The order main.py uses: `utils.*` and `server` before `nodes`, because nodes.py puts comfy/ first on
        # sys.path, after which `utils` would resolve to comfy/utils.py.
        for name in ("comfy.cli_args", "utils.extra_config", "utils.install_util", "server"):
            importlib.import_module(name)
        execution = importlib.import_module("execution")
        nodes = importlib.import_module("nodes")

        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=api_nodes))
        self.execution = execution
        self.nodes = nodes
        self.base = base

    def node(self, node_id: str) -> Any:
        return self.nodes.NODE_CLASS_MAPPINGS[node_id]

    def validate(self, prompt: dict) -> tuple:
        return asyncio.run(self.execution.validate_prompt(str(uuid.uuid4()), prompt, None))

    def run(self, prompt: dict) -> PromptRun:
        valid, error, outputs, node_errors = self.validate(prompt)
        assert valid, (error, node_errors)
        executor = self.execution.PromptExecutor(
            _NullServer(), cache_type=self.execution.CacheType.CLASSIC, cache_args={"lru": 0, "ram": 0}
        )
        executor.execute(prompt, str(uuid.uuid4()), {}, outputs)
        return PromptRun(executor.success, executor, executor.status_messages)


class ComfyServer:
    """A real `main.py` on loopback, with the same base directory as the in-process host.

    With api_nodes, ComfyUI's API nodes are loaded (so that hosted workflows load and validate) and their API
    base is a closed port on loopback: whatever runs, nothing they send can leave this machine.
    """

    def __init__(self, base: Path, api_nodes: bool = False, log_name: str = "server.log",
                 extra_args: tuple[str, ...] = (), port: int | None = None, plain: bool = False) -> None:
        """extra_args: more `main.py` options (e.g. `("--preview-method", "latent2rgb")` for live previews);
        plain: run ComfyUI as a user's install does, without the repository's import path (plain_python.py)."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base = base
        self.log_path = base / log_name
        self.api_nodes = api_nodes
        guard = ["--comfy-api-base", f"http://127.0.0.1:{free_port()}"] if api_nodes else NO_API_NODES
        args = [*COMFY_ARGS, *guard, "--listen", "127.0.0.1", "--port", str(self.port), "--base-directory", str(base),
                *extra_args]
        cmd, env = plain_python(COMFY / "main.py", *args) if plain else ([sys.executable, "main.py", *args], os.environ)
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        # Passive OpenMP waits: with both cores busy, spinning worker threads slow torch down several times.
        env = {**env, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        self.proc = subprocess.Popen(cmd, cwd=COMFY, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI server died:\n{self.log_path.read_text()[-4000:]}")
            try:
                self.object_info = self.get("/object_info")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        raise RuntimeError("ComfyUI server did not come up in 180 s")

    def request(self, path: str, body: dict | None = None, raw: bool = False) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                payload = response.read()
                if raw:
                    return response.status, payload
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            if raw:
                return error.code, error.read()
            raise

    def get(self, path: str) -> Any:
        return self.request(path)

    def post_prompt(self, prompt: dict) -> tuple[int, dict]:
        status, payload = self.request("/prompt", {"prompt": prompt, "client_id": str(uuid.uuid4())}, raw=True)
        return status, json.loads(payload)

    def wait(self, prompt_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}")
            entry = history.get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                return entry
            time.sleep(0.2)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


def pack_module(comfy: InProcessComfy, name: str) -> Any:
    """A module of the pack (e.g. "runtime.tiled_vae", "host") as ComfyUI loaded it: ComfyUI imports the pack under
    its folder path, so the pack's root is read off a node's module (`<pack>.nodes.generative_upscale`)."""
    root = comfy.node("GenerativeUpscale").__module__.rsplit(".", 2)[0]
    return importlib.import_module(f"{root}.{name}")
