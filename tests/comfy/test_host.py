"""The REST submit path against both ComfyUI behaviours (host.py, docs/comfyui-versions.md): 0.38's node
replacements applied to a REST graph as POST /prompt applies them, a graph as given without them, and history
entries read only for their file (newer ComfyUI adds asset ids). The other version-dependent calls are tested in
test_host_control_hints.py and test_host_memory.py.
"""

from __future__ import annotations

import types

import pytest

from hires_studio.devtools.comfy_host import pack_module

pytestmark = pytest.mark.comfy


class NodeReplaceManager:
    """0.38's `app/node_replace_manager.py` for one registered replacement: a node type that is not installed
    becomes `new`, inputs copied."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def apply_replacements(self, prompt: dict) -> None:
        import nodes

        for node_id, node in list(prompt.items()):
            if node["class_type"] == self.old and self.old not in nodes.NODE_CLASS_MAPPINGS:
                prompt[node_id] = {**node, "class_type": self.new, "inputs": dict(node["inputs"])}


GRAPH = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8}, "_meta": {"title": "Image"}},
         "2": {"class_type": "RenamedPreviewImage", "inputs": {"images": ["1", 0]}, "_meta": {"title": "Preview"}}}


def test_the_rest_submit_path_applies_the_servers_node_replacements(comfy, host, monkeypatch):
    import server

    comfy_queue = pack_module(comfy, "rest.comfy_queue")
    monkeypatch.setattr(server.PromptServer, "instance",
                        types.SimpleNamespace(node_replace_manager=NodeReplaceManager("RenamedPreviewImage",
                                                                                      "PreviewImage")),
                        raising=False)
    graph = {key: {**node, "inputs": dict(node["inputs"])} for key, node in GRAPH.items()}
    completed = comfy_queue.complete(graph)
    assert completed["2"]["class_type"] == "PreviewImage"
    assert completed["1"]["inputs"] == {"width": 8, "height": 8, "batch_size": 1, "color": 0}
    assert graph["2"]["class_type"] == "RenamedPreviewImage", "the caller's graph is not changed"


def test_without_node_replacements_the_graph_is_as_given(comfy, host, monkeypatch):
    import server

    comfy_queue = pack_module(comfy, "rest.comfy_queue")
    monkeypatch.setattr(server.PromptServer, "instance", types.SimpleNamespace(), raising=False)  # 0.3.75's
    assert host.replace_nodes(GRAPH) is GRAPH
    with pytest.raises(comfy_queue.GraphRefused, match="RenamedPreviewImage is not installed"):
        comfy_queue.complete(GRAPH)


def test_saved_images_read_only_the_file_of_each_history_entry(comfy):
    import folder_paths

    comfy_queue = pack_module(comfy, "rest.comfy_queue")
    graph = {"9": {"class_type": "SaveImage", "inputs": {}}, "3": {"class_type": "PreviewImage", "inputs": {}}}
    history = {"outputs": {"9": {"images": [
        {"filename": "a.png", "subfolder": "x", "type": "output", "id": "asset-1", "preview_id": "asset-2"},
        {"id": "asset-3", "preview_id": "asset-3"},
        {"filename": "b.png", "subfolder": "", "type": "output"},
    ]}, "3": {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]}}}
    out = folder_paths.get_output_directory()
    assert comfy_queue.saved_images(history, graph) == [f"{out}/x/a.png", f"{out}/b.png"]
