"""The ComfyExtension that lists the pack's nodes."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io
from typing_extensions import override

from .adapter_select import AdapterSelect
from .bicubic_clean import BicubicClean
from .generative_upscale import GenerativeUpscale
from .hires_generate import HiResGenerate
from .runtime.cleanup_model import register_cleanup_folder


class HiResStudioExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [AdapterSelect, BicubicClean, GenerativeUpscale, HiResGenerate]


def create_extension() -> HiResStudioExtension:
    """Register the pack's model folder with ComfyUI, then hand over the node list."""
    register_cleanup_folder()
    return HiResStudioExtension()
