"""The node definitions (ComfyUI's /object_info) that scripts/workflows.py writes the shipped workflows from:
from a running server, or from a ComfyUI imported in this process, which also validates every workflow."""

from __future__ import annotations

import json
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from hires_studio.api_prompt import complete_prompt, node_info
from hires_studio.catalog.shipped_workflows import WORKFLOWS
from hires_studio.graphs.models import input_images, model_references


def object_info_from_server(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + "/object_info", timeout=120) as response:
        return json.loads(response.read())


def _placeholder_png(path: Path) -> None:
    """A valid 8x8 grey PNG, enough for LoadImage's validation."""
    import numpy as np
    from PIL import Image

    Image.fromarray(np.full((8, 8, 3), 128, dtype=np.uint8)).save(path)


def object_info_in_process(validate: bool = True) -> dict[str, Any]:
    """Import ComfyUI here on a temporary base directory with the pack, and describe every node class.

    Every model file and input image the workflows name exists there as a placeholder, so ComfyUI's own
    prompt validation (types, ranges, links, the nodes' validate_inputs) runs on each workflow too.
    """
    from hires_studio.devtools.comfy_host import InProcessComfy, make_comfy_base

    with tempfile.TemporaryDirectory(prefix="hires-workflows-") as tmp:
        base = make_comfy_base(Path(tmp), [])
        for workflow in WORKFLOWS:
            for folder, name in model_references(workflow.prompt):
                (base / "models" / folder).mkdir(parents=True, exist_ok=True)
                (base / "models" / folder / name).touch()
            for image in input_images(workflow.prompt):
                _placeholder_png(base / "input" / image)
        comfy = InProcessComfy(base, api_nodes=True)  # hosted workflows name API nodes
        names = comfy.nodes.NODE_DISPLAY_NAME_MAPPINGS
        info = {name: node_info(cls, name, names.get(name)) for name, cls in comfy.nodes.NODE_CLASS_MAPPINGS.items()}
        if validate:
            for workflow in WORKFLOWS:
                valid, error, _, node_errors = comfy.validate(complete_prompt(workflow.prompt, info))
                if not valid or node_errors:
                    raise ValueError(f"{workflow.name} does not validate: {error} {node_errors}")
    return info
