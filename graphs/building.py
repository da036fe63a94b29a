"""The parts every graph is built from: a titled node in ComfyUI's API format, the save, the image load, and
a graph that numbers its nodes in the order they are added."""

from __future__ import annotations

from typing import Any

from ..api_prompt import ApiPrompt

OUTPUT_FOLDER = "hires_studio"
"""The subfolder of ComfyUI's output folder the shipped workflows save into (a fixed name: it does not depend on
the folder the pack is cloned into; the Templates browser lists the workflows under that folder's name)."""

Link = list
"""[node id, output index]: an input fed by another node's output."""


def node(class_type: str, title: str, **inputs: Any) -> dict[str, Any]:
    """One node: its class, its inputs (widget values and links) and the title the editor shows."""
    return {"inputs": inputs, "class_type": class_type, "_meta": {"title": title}}


def save(source: str, name: str) -> dict[str, Any]:
    """SaveImage of node `source`'s first output, into OUTPUT_FOLDER with the file prefix `name`."""
    return node("SaveImage", "Save Image", images=[source, 0], filename_prefix=f"{OUTPUT_FOLDER}/{name}")


def load_image(image: str) -> dict[str, Any]:
    """LoadImage of a file in ComfyUI's input folder."""
    return node("LoadImage", "Load Image (your photo)", image=image)


def adapter(adapter_type: str, description: str, clip: Link, **inputs: Any) -> dict[str, Any]:
    """AdapterSelect of `adapter_type` with its prompt."""
    return node("AdapterSelect", f"Adapter Select ({adapter_type})", adapter_type=adapter_type,
                description=description, clip=clip, **inputs)


def generate(title: str, adapter: Link, model: Link, clip: Link, vae: Link, **inputs: Any) -> dict[str, Any]:
    """HiResGenerate fed by an adapter and a model's three parts."""
    return node("HiResGenerate", title, model=model, clip=clip, vae=vae, adapter=adapter, **inputs)


def output(link: Link, index: int) -> Link:
    """Another output of the node `link` points at."""
    return [link[0], index]


class Graph:
    """An API prompt under construction: node ids 1, 2, 3, ... in the order nodes are added."""

    def __init__(self) -> None:
        self.prompt: ApiPrompt = {}

    def add(self, new: dict[str, Any]) -> Link:
        """Add a node; returns the link to its first output."""
        node_id = str(len(self.prompt) + 1)
        self.prompt[node_id] = new
        return [node_id, 0]
