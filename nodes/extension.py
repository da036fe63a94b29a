"""The ComfyExtension that lists the pack's nodes."""

from __future__ import annotations

from pathlib import Path

from comfy_api.latest import ComfyExtension, io
from typing_extensions import override

from .adapter_select import AdapterSelect
from .bicubic_clean import BicubicClean
from .generative_upscale import GenerativeUpscale
from .hires_generate import HiResGenerate
from .runtime.cleanup_model import register_cleanup_folder
from .template_pictures import add_picture_route

PACK_DIR = Path(__file__).parent.parent
"""The pack's folder as ComfyUI loaded it (links not followed: its name is the one ComfyUI knows the pack by)."""


def register_routes() -> None:
    """The Templates pictures and the deep-image, Stability and deepmode routes on ComfyUI's server (none when
    ComfyUI runs without one, as in the in-process tests)."""
    from server import PromptServer

    server = getattr(PromptServer, "instance", None)
    if server is not None:
        from .rest.routes import register_routes as register_api_routes

        add_picture_route(server.routes, PACK_DIR)
        register_api_routes(server)


class HiResStudioExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [AdapterSelect, BicubicClean, GenerativeUpscale, HiResGenerate]


def create_extension() -> HiResStudioExtension:
    """Register the pack's model folder and its routes with ComfyUI, then hand over the node list."""
    register_cleanup_folder()
    register_routes()
    return HiResStudioExtension()
