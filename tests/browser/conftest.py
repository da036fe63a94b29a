"""The browser test's server: the session's real ComfyUI server (tests/conftest.py), staged so that every
shipped workflow runs as shipped: the example photograph in input/, and tiny random-weight stand-ins linked
under the model names the workflows use where the base lacks them (real weights win when present)."""

from __future__ import annotations

from pathlib import Path

import pytest
from comfy_host import ComfyServer

import workflows


@pytest.fixture(scope="session")
def staged_server(comfy_server: ComfyServer, tiny_models: Path) -> ComfyServer:
    workflows.stage_base(comfy_server.base, workflows.tiny_stand_ins(tiny_models))
    return comfy_server
