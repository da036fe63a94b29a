"""Nodes called directly run as ComfyUI runs them: under torch.inference_mode. The in-ComfyUI tests' shared
fixtures: the tiny SD1.5 checkpoint's model, CLIP and VAE (loaded once per module) and the pack's modules that
several test files ask for."""

from typing import Any

import pytest
import torch

from hires_studio.devtools.comfy_host import pack_module


@pytest.fixture(autouse=True)
def inference_mode():
    with torch.inference_mode():
        yield


@pytest.fixture(scope="module")
def ckpt(comfy) -> tuple[Any, Any, Any]:
    return comfy.node("CheckpointLoaderSimple")().load_checkpoint("tiny_sd15.safetensors")[:3]


@pytest.fixture
def td(comfy) -> Any:
    """The tiled diffusion runtime as ComfyUI loaded it."""
    return pack_module(comfy, "runtime.tiled_diffusion")


@pytest.fixture
def host(comfy) -> Any:
    """host.py (the version-dependent calls) as ComfyUI loaded it."""
    return pack_module(comfy, "host")
