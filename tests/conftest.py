"""Shared fixtures: the tiny-model cache, a ComfyUI base directory with the pack and the models, a real
in-process ComfyUI, and a real ComfyUI server on loopback (see devtools/comfy_host.py).

The host itself (.hires/venv, .hires/ComfyUI, the converted real weights) comes from scripts/bootstrap.sh,
which the README's test command runs first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hires_studio.devtools.comfy_host import (
    COMFY,
    HIRES,
    ComfyServer,
    InProcessComfy,
    ensure_tiny_models,
    make_comfy_base,
)
from hires_studio.devtools.redis_server import RedisServer
from hires_studio.devtools.staging import stage_base, tiny_stand_ins

REAL_MODELS = HIRES / "base" / "models"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not (COMFY / "main.py").is_file() or not REAL_MODELS.is_dir():
        raise pytest.UsageError("the host is missing: run `make test` (it runs scripts/bootstrap.sh first)")


@pytest.fixture(scope="session")
def tiny_models() -> Path:
    return ensure_tiny_models()


@pytest.fixture(scope="session")
def comfy_base(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_comfy_base(tmp_path_factory.mktemp("comfy-base"), [tiny_models, REAL_MODELS])


@pytest.fixture(scope="session")
def comfy(comfy_base: Path) -> InProcessComfy:
    return InProcessComfy(comfy_base)


@pytest.fixture(scope="session")
def comfy_server(comfy_base: Path):
    """The session's server: API nodes loaded (hosted workflows validate; none is ever run), API base on loopback."""
    server = ComfyServer(comfy_base, api_nodes=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def staged_server(comfy_server: ComfyServer, tiny_models: Path) -> ComfyServer:
    """The server staged so that every shipped workflow runs as shipped: the example photos in input/, and
    tiny random-weight stand-ins linked under the model names the workflows use where the base lacks them
    (real weights win when present)."""
    stage_base(comfy_server.base, tiny_stand_ins(tiny_models))
    return comfy_server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on loopback for the session (devtools/redis_server.py), stopped at the end."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
