"""What one shipped workflow is: a file name, the request it reproduces, its graph, and the group the
Templates browser and the README list it in. The catalog of them is `shipped_workflows`."""

from __future__ import annotations

from dataclasses import dataclass

from ..api_prompt import ApiPrompt

HOSTED_NODES: dict[str, str] = {
    "GeminiImage2Node": "Google (Gemini 3 Pro Image, through the Comfy API)",
    "GeminiImageNode": "Google (Gemini 2.5 Flash Image, through the Comfy API)",
    "ByteDanceSeedreamNode": "ByteDance (Seedream 4.0, through the Comfy API)",
}
"""ComfyUI's own API nodes the hosted model_types use: they run on the provider's servers and need a Comfy
account (API key); this pack then brings their image to the exact size."""


@dataclass(frozen=True)
class Workflow:
    """One shipped workflow: a file name, the request it reproduces, and its nodes in API format."""

    name: str
    summary: str
    """One paragraph for the note in the editor file: what it does and which request it reproduces."""
    prompt: ApiPrompt
    """API format, node id -> {class_type, inputs, _meta: {title}}; unlisted widget inputs take defaults."""
    title: str = ""
    """A readable title (the note's heading); empty = made from the name."""
    description: str = ""
    """One line: what the workflow does (the README's table); empty = the summary's first sentence."""

    @property
    def display_title(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    @property
    def one_line(self) -> str:
        return self.description or self.summary.split(". ")[0].split("\n")[0].rstrip(".") + "."

    @property
    def group(self) -> str:
        """upscaling, generation or adapters: the order the Templates browser and the README list them in."""
        types = {node["class_type"] for node in self.prompt.values()}
        adapters = {node["inputs"].get("adapter_type") for node in self.prompt.values()
                    if node["class_type"] == "AdapterSelect"}
        if adapters & ADAPTER_GROUP_TYPES:
            return "adapters"
        if "HiResGenerate" in types or types & set(HOSTED_NODES):
            return "generation"
        return "upscaling"

    @property
    def hosted(self) -> bool:
        """Whether the workflow runs a model on someone else's servers (a ComfyUI API node)."""
        return any(node["class_type"] in HOSTED_NODES for node in self.prompt.values())


GROUPS = ("upscaling", "generation", "adapters")
ADAPTER_GROUP_TYPES = frozenset({"generate_background", "face", "control", "control2", "inpainting"})
"""AdapterSelect types that make a workflow an adapter workflow (upscale is just the prompt)."""
