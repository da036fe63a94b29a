"""ComfyUI's API prompt format, completed from node definitions: every widget input a graph leaves out gets the
node's default, in the node's input order, as the editor would send it.

Pure (no ComfyUI import): the node definitions come in as /object_info-shaped mappings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ApiPrompt = dict[str, dict[str, Any]]
ObjectInfo = Mapping[str, Mapping[str, Any]]

WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
"""Input types the front end shows as widgets (a list in place of the type is a combo too)."""
SEED_NAMES = ("seed", "noise_seed")
"""INT inputs that get a control_after_generate widget even when the node does not ask for one."""


def node_info(node_class: type, name: str, display_name: str | None = None) -> dict[str, Any]:
    """A node class's /object_info entry, as ComfyUI's server builds it (V3 nodes describe themselves)."""
    if hasattr(node_class, "GET_NODE_INFO_V1"):
        return node_class.GET_NODE_INFO_V1()
    inputs = node_class.INPUT_TYPES()
    outputs = list(node_class.RETURN_TYPES)
    return {
        "input": inputs,
        "input_order": {section: list(values) for section, values in inputs.items()},
        "output": outputs,
        "output_name": list(getattr(node_class, "RETURN_NAMES", outputs)),
        "name": name,
        "display_name": display_name or name,
        "output_node": bool(getattr(node_class, "OUTPUT_NODE", False)),
    }


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str
    options: dict[str, Any]
    optional: bool

    @property
    def is_widget(self) -> bool:
        return self.type in WIDGET_TYPES and not self.options.get("forceInput", False)

    @property
    def has_control(self) -> bool:
        """Whether the front end adds a control_after_generate widget right after this one."""
        flag = self.options.get("control_after_generate")
        if self.type == "INT":
            return bool(flag) if flag is not None else self.name in SEED_NAMES
        return self.type == "COMBO" and bool(flag)

    @property
    def has_upload(self) -> bool:
        """Whether the front end adds an upload button (whose value is serialised) after this combo."""
        return self.type == "COMBO" and bool(self.options.get("image_upload"))

    def default(self) -> Any:
        if "default" in self.options:
            return self.options["default"]
        if self.type == "COMBO":
            raise ValueError(f"{self.name} is a combo without a default: give its value in the workflow")
        return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}[self.type]


def input_specs(info: Mapping[str, Any]) -> list[InputSpec]:
    """A node's inputs in the front end's order: required, then optional, each in the node's own order."""
    specs = []
    for section in ("required", "optional"):
        declared = info["input"].get(section, {})
        for name in info.get("input_order", {}).get(section, list(declared)):
            raw_type, *rest = declared[name]
            options = dict(rest[0]) if rest and isinstance(rest[0], dict) else {}
            specs.append(InputSpec(name, "COMBO" if isinstance(raw_type, list) else raw_type, options,
                                   section == "optional"))
    return specs


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def complete_prompt(prompt: ApiPrompt, object_info: ObjectInfo) -> ApiPrompt:
    """The prompt with every widget input the workflow leaves out set to the node's default, in the node's
    input order. Unknown inputs and unknown node types are errors, so a renamed input cannot go unnoticed."""
    out: ApiPrompt = {}
    for node_id, node in prompt.items():
        class_type = node["class_type"]
        if class_type not in object_info:
            raise KeyError(f"node {node_id}: {class_type} is not a node type of this ComfyUI")
        specs = input_specs(object_info[class_type])
        unknown = set(node["inputs"]) - {spec.name for spec in specs}
        if unknown:
            raise KeyError(f"node {node_id} ({class_type}) has no input(s) {sorted(unknown)}")
        inputs: dict[str, Any] = {}
        for spec in specs:
            if spec.name in node["inputs"]:
                inputs[spec.name] = copy.deepcopy(node["inputs"][spec.name])
            elif spec.is_widget:
                inputs[spec.name] = spec.default()
            elif not spec.optional:
                raise KeyError(f"node {node_id} ({class_type}): the required input {spec.name} is not connected")
        out[node_id] = {"inputs": inputs, "class_type": class_type, "_meta": dict(node["_meta"])}
    return out
