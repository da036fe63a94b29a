"""The ComfyExtension that lists the pack's nodes."""

from __future__ import annotations

from pathlib import Path

import folder_paths
from comfy_api.latest import ComfyExtension, io
from typing_extensions import override

from ..runtime.cleanup_model import register_cleanup_folder
from .adapter_select import AdapterSelect
from .bicubic_clean import BicubicClean
from .example_images import provide_example_images
from .generative_upscale import GenerativeUpscale
from .hires_generate import HiResGenerate
from .template_pictures import PACK_DIR, add_picture_route


def register_api_routes() -> None:
    """The deep-image, Stability and deepmode routes and the Templates pictures' route on ComfyUI's server (none
    when ComfyUI runs without one, as in the in-process tests)."""
    from server import PromptServer

    server = getattr(PromptServer, "instance", None)
    if server is not None:
        from ..rest.routes import register_routes

        register_routes(server)
        add_picture_route(server.routes, PACK_DIR)


class HiResStudioExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [AdapterSelect, BicubicClean, GenerativeUpscale, HiResGenerate]


def create_extension() -> HiResStudioExtension:
    """Register the pack's model folder and its REST routes with ComfyUI, put the example photos the shipped
    workflows load into its input folder (never over a file already there), then hand over the node list."""
    register_cleanup_folder()
    provide_example_images(Path(folder_paths.get_input_directory()))
    register_api_routes()
    return HiResStudioExtension()
