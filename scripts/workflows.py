"""The shipped workflows (the catalog in the pack: catalog/shipped_workflows.py), written in both formats ComfyUI reads.

usage: .hires/venv/bin/python scripts/workflows.py
           [--out DIR] [--url URL] [--check]

Writes, under DIR (default: the pack's root):
  workflows/<name>.json       the graph editor's format (LiteGraph workflow, version 0.4): ComfyUI lists these
                              in the editor's Templates browser under the pack's folder name
  workflows/api/<name>.json   the API format, for POST /prompt (ComfyUI lists only `workflows/*.json`, so
                              these never show up as editor templates)

Each workflow lists only the inputs that matter; every other widget input takes the node's default. Widget
order, types and defaults come from the node definitions of a real ComfyUI: by default a ComfyUI imported
in this process on a temporary base directory (models named by the workflows are placeholder files there,
so the script also runs ComfyUI's own validation of every prompt), or `--url` a running server's
/object_info. `--check` writes nothing and exits 1 when a file differs from what would be written.

A new workflow is one more entry in `WORKFLOWS`: the tests and the browser check pick it up from there
(and from the files).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("workflows")

ROOT = Path(__file__).resolve().parents[1]
EDITOR_DIR = "workflows"
API_DIR = "workflows/api"
TEMPLATE_ORDER = "web/template_order.json"
"""The workflow names in the pack's order, for the front-end extension that orders the Templates browser."""
TEMPLATE_CARDS = "web/template_cards.json"
"""Each workflow's card title and description, for the same extension (web/template_order.js): a custom node's
templates reach the front end as bare file names, so without it a card shows the file name twice."""
CARD_HYPHEN = "\u2011"
"""The front end shows a card's description with every '-' and '_' turned into a space ("Real ESRGAN"); a
non-breaking hyphen looks the same and is left alone."""
THUMBNAIL_SIZE = (256, 256)
"""The Templates browser's card picture: `workflows/<name>.jpg` beside the editor file (scripts/thumbnails.py)."""

from hires_studio.api_prompt import (  # noqa: E402 (the definitions live in the pack)
    ApiPrompt,
    InputSpec,
    ObjectInfo,
    complete_prompt,
    input_specs,
    is_link,
)
from hires_studio.catalog.shipped_workflows import (  # noqa: E402
    EXAMPLE_IMAGE,  # noqa: F401 (part of this module's interface for the tests)
    WORKFLOWS,
)
from hires_studio.catalog.workflow import (  # noqa: E402
    GROUPS,  # noqa: F401 (the tests read the group order from here)
    HOSTED_NODES,
    Workflow,
)
from hires_studio.graphs.building import OUTPUT_FOLDER  # noqa: E402
from hires_studio.graphs.models import MODEL_URLS, input_images, model_references  # noqa: E402
from hires_studio.scripts.node_definitions import (  # noqa: E402
    object_info_from_server,
    object_info_in_process,
)

# --- editor format ------------------------------------------------------------------------------------------

CONTROL_VALUE = "fixed"
"""The control_after_generate value the editor files carry: the shipped seed stays as written."""
UPLOAD_WIDGET_VALUE = "image"
"""The value the front end serialises for the upload button of an `image_upload` combo (LoadImage)."""
NODE_WIDTH = 330
WIDE_NODE_WIDTH = 420
TITLE_HEIGHT = 30
SLOT_HEIGHT = 22
WIDGET_HEIGHT = 24
MULTILINE_HEIGHT = 96
IMAGE_PREVIEW_HEIGHT = 260
COLUMN_GAP = 70
ROW_GAP = 50
NOTE_WIDTH = 420
NOTE_CHARS_PER_LINE = 64
NOTE_LINE_HEIGHT = 14
VIEW_OFFSET = (80, 170)
"""The editor's initial view: the graph's top left this far (screen pixels) from the window's corner, clear
of the menu bar and the side bar ..."""
VIEW_WIDTH = 1500
"""... and zoomed out (in steps of 0.05, at most 1) so the whole graph fits a window this wide."""
NOTE_COLOR = {"color": "#432", "bgcolor": "#653"}
PREVIEW_NODES = ("LoadImage", "SaveImage", "PreviewImage")


def _node_size(class_type: str, specs: list[InputSpec], outputs: int) -> tuple[int, int]:
    sockets = sum(1 for spec in specs if not spec.is_widget)
    widgets = sum(1 + spec.has_control + spec.has_upload for spec in specs if spec.is_widget)
    multiline = sum(1 for spec in specs if spec.is_widget and spec.options.get("multiline"))
    height = TITLE_HEIGHT + max(sockets, outputs) * SLOT_HEIGHT + widgets * WIDGET_HEIGHT + 10
    height += multiline * MULTILINE_HEIGHT
    if class_type in PREVIEW_NODES:
        height += IMAGE_PREVIEW_HEIGHT
    return (WIDE_NODE_WIDTH if multiline or class_type == "SaveImage" else NODE_WIDTH), height


def _columns(prompt: ApiPrompt) -> dict[str, int]:
    """Each node's column: the longest chain of links from a node with no inputs (left to right)."""
    column: dict[str, int] = {}

    def depth(node_id: str, seen: tuple[str, ...] = ()) -> int:
        if node_id in seen:
            raise ValueError(f"the workflow has a cycle through node {node_id}")
        if node_id not in column:
            sources = [v[0] for v in prompt[node_id]["inputs"].values() if is_link(v)]
            column[node_id] = 1 + max((depth(s, (*seen, node_id)) for s in sources), default=-1)
        return column[node_id]

    for node_id in prompt:
        depth(node_id)
    return column


def _execution_order(prompt: ApiPrompt, column: Mapping[str, int]) -> dict[str, int]:
    ranked = sorted(prompt, key=lambda node_id: (column[node_id], int(node_id)))
    return {node_id: order for order, node_id in enumerate(ranked)}


def _input_slots(specs: list[InputSpec], inputs: Mapping[str, Any]) -> list[InputSpec]:
    """A node's input slots as the front end numbers them: every socket, then each widget fed by a link."""
    sockets = [spec for spec in specs if not spec.is_widget]
    return sockets + [spec for spec in specs if spec.is_widget and is_link(inputs.get(spec.name))]


LinkIds = tuple[dict[tuple[str, str], int], dict[tuple[str, int], list[int]]]
"""A graph's link ids by the input they feed (node id, input name) and by the output they leave (node id, index)."""


def _links(prompt: ApiPrompt, object_info: ObjectInfo) -> tuple[list[list[Any]], LinkIds]:
    """The editor's link table, numbered by target node and slot, and each link's id by its input and output."""
    links: list[list[Any]] = []
    input_links: dict[tuple[str, str], int] = {}
    output_links: dict[tuple[str, int], list[int]] = {}
    for node_id in sorted(prompt, key=int):
        node_inputs = prompt[node_id]["inputs"]
        slots = [spec.name for spec in _input_slots(input_specs(object_info[prompt[node_id]["class_type"]]),
                                                    node_inputs)]
        for name in slots:
            if not is_link(node_inputs.get(name)):
                continue
            source, index = node_inputs[name]
            source_type = object_info[prompt[source]["class_type"]]["output"][index]
            link_id = len(links) + 1
            links.append([link_id, int(source), index, int(node_id), slots.index(name), source_type])
            input_links[(node_id, name)] = link_id
            output_links.setdefault((source, index), []).append(link_id)
    return links, (input_links, output_links)


def _slot_entries(node_id: str, specs: list[InputSpec], inputs: Mapping[str, Any],
                  input_links: Mapping[tuple[str, str], int]) -> list[dict[str, Any]]:
    """A node's input slots as the editor stores them, each with the id of the link that feeds it (or None)."""
    slots: list[dict[str, Any]] = []
    for spec in _input_slots(specs, inputs):
        slot: dict[str, Any] = {"name": spec.name, "type": spec.type}
        if spec.is_widget:
            slot["widget"] = {"name": spec.name}
        elif spec.optional:
            slot["shape"] = 7  # the front end's hollow socket for an optional input
        slot["link"] = input_links.get((node_id, spec.name))
        slots.append(slot)
    return slots


def _widgets_values(specs: list[InputSpec], inputs: Mapping[str, Any]) -> list[Any]:
    """Every widget's value in the front end's order, with the extra values it serialises after a seed or an
    upload combo; a widget fed by a link keeps its default."""
    values: list[Any] = []
    for spec in specs:
        if spec.is_widget:
            value = inputs.get(spec.name)
            values.append(spec.default() if is_link(value) else value)
            if spec.has_control:
                values.append(CONTROL_VALUE)
            if spec.has_upload:
                values.append(UPLOAD_WIDGET_VALUE)
    return values


def _editor_node(node_id: str, node: Mapping[str, Any], info: Mapping[str, Any], order: int,
                 link_ids: LinkIds) -> dict[str, Any]:
    """One node in the editor's format, at (0, 0) until the layout places it."""
    input_links, output_links = link_ids
    specs = input_specs(info)
    outputs = [
        {"name": out_name, "type": out_type, "links": output_links.get((node_id, index)) or None,
         "slot_index": index}
        for index, (out_type, out_name) in enumerate(zip(info["output"], info["output_name"], strict=True))
    ]
    properties: dict[str, Any] = {"Node name for S&R": node["class_type"]}
    models = [{"name": name, "url": MODEL_URLS[name], "directory": folder}
              for folder, name in sorted(model_references({node_id: node}))]
    if models:
        properties["models"] = models
    entry: dict[str, Any] = {
        "id": int(node_id), "type": node["class_type"], "pos": [0, 0],
        "size": list(_node_size(node["class_type"], specs, len(outputs))), "flags": {}, "order": order, "mode": 0,
        "inputs": _slot_entries(node_id, specs, node["inputs"], input_links), "outputs": outputs,
    }
    title = node["_meta"].get("title")
    if title and title != info.get("display_name", node["class_type"]):
        entry["title"] = title
    entry["properties"] = properties
    entry["widgets_values"] = _widgets_values(specs, node["inputs"])
    return entry


def _place(nodes: Mapping[str, dict[str, Any]], column: Mapping[str, int]) -> int:
    """Position the nodes in columns left to right after the note, a column's nodes stacked top to bottom by id;
    the graph's width."""
    x = NOTE_WIDTH + COLUMN_GAP
    for col in range(max(column.values()) + 1):
        members = sorted((node_id for node_id in column if column[node_id] == col), key=int)
        y = 0
        for node_id in members:
            nodes[node_id]["pos"] = [x, y]
            y += nodes[node_id]["size"][1] + ROW_GAP
        x += max(nodes[node_id]["size"][0] for node_id in members) + COLUMN_GAP
    return x


def _note_node(node_id: int, order: int, text: str) -> dict[str, Any]:
    """The note on the left of the graph that says what the workflow does and what it needs."""
    return {
        "id": node_id, "type": "MarkdownNote", "pos": [0, 0], "size": [NOTE_WIDTH, _note_height(text)], "flags": {},
        "order": order, "mode": 0, "inputs": [], "outputs": [], "title": "About this workflow",
        "properties": {}, "widgets_values": [text], **NOTE_COLOR,
    }


def editor_workflow(workflow: Workflow, object_info: ObjectInfo) -> dict[str, Any]:
    """The workflow in the graph editor's format, laid out left to right in columns, with a note."""
    prompt = complete_prompt(workflow.prompt, object_info)
    column = _columns(prompt)
    order = _execution_order(prompt, column)
    links, link_ids = _links(prompt, object_info)
    nodes = [_editor_node(node_id, prompt[node_id], object_info[prompt[node_id]["class_type"]], order[node_id],
                          link_ids) for node_id in sorted(prompt, key=int)]
    width = _place({str(node["id"]): node for node in nodes}, column)
    note_id = max(int(node_id) for node_id in prompt) + 1
    nodes.append(_note_node(note_id, len(prompt), _note_text(workflow, prompt)))
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hires-studio/workflows/{workflow.name}")), "revision": 0,
        "last_node_id": note_id, "last_link_id": len(links), "nodes": nodes, "links": links, "groups": [],
        "config": {}, "extra": {"ds": _view(width)}, "version": 0.4,
    }


def _view(graph_width: int) -> dict[str, Any]:
    """The editor's initial zoom and pan (LiteGraph: screen = (graph + offset) * scale)."""
    scale = min(1.0, int(20 * VIEW_WIDTH / (graph_width + VIEW_OFFSET[0])) / 20)
    return {"scale": scale, "offset": [round(v / scale) for v in VIEW_OFFSET]}


def _note_height(text: str) -> int:
    """Room for the note's text: wrapped lines at the note's width, with a margin."""
    lines = sum(1 + len(line) // NOTE_CHARS_PER_LINE for line in text.splitlines())
    return 60 + lines * NOTE_LINE_HEIGHT


def _note_text(workflow: Workflow, prompt: ApiPrompt) -> str:
    lines = [f"## {workflow.display_title}", "", f"`{workflow.name}`: {workflow.one_line}", "", workflow.summary, "",
             "**Before you run it**", ""]
    for image in sorted(input_images(prompt)):
        lines.append(f"- Load Image: `{image}` is the pack's example photo (copied into ComfyUI's input folder at "
                     "start-up), so the workflow runs as it is; pick or upload your own photo there.")
    for folder, name in sorted(model_references(prompt)):
        lines.append(f"- `models/{folder}/{name}` ([download]({MODEL_URLS[name]}))")
    if any(folder == "checkpoints" for folder, _ in model_references(prompt)):
        lines.append("- Any checkpoint ComfyUI loads works (SD1.5, SDXL, Flux ...); tile_size 0 uses its "
                     "native resolution.")
    for class_type in sorted({node["class_type"] for node in prompt.values()} & set(HOSTED_NODES)):
        lines.append(f"- {class_type} runs on the servers of {HOSTED_NODES[class_type]}: sign in to a Comfy "
                     "account (or set an API key) in ComfyUI's settings; each image is paid for there. It is one "
                     "of ComfyUI's API nodes: a ComfyUI started with `--disable-api-nodes` does not have them, and "
                     "the editor then reports this node as a missing custom node.")
    lines += ["", f"Outputs go to `output/{OUTPUT_FOLDER}/`."]
    return "\n".join(lines)


# --- files --------------------------------------------------------------------------------------------------


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(object_info: ObjectInfo, workflows: Iterable[Workflow] = WORKFLOWS) -> dict[str, str]:
    """Relative path -> file text for every shipped file."""
    files: dict[str, str] = {}
    for workflow in workflows:
        files[f"{EDITOR_DIR}/{workflow.name}.json"] = _dump(editor_workflow(workflow, object_info))
        files[f"{API_DIR}/{workflow.name}.json"] = _dump(complete_prompt(workflow.prompt, object_info))
    files[TEMPLATE_ORDER] = _dump([workflow.name for workflow in workflows])
    files[TEMPLATE_CARDS] = _dump({workflow.name: template_card(workflow) for workflow in workflows})
    return files


def template_card(workflow: Workflow) -> dict[str, str]:
    """The Templates browser card of a workflow: its title, and its one line (plus what a hosted one needs)."""
    description = workflow.one_line
    if workflow.hosted:
        description = description.rstrip(".") + " and ComfyUI's API nodes."
    return {"title": workflow.display_title, "description": description.replace("-", CARD_HYPHEN)}


def shipped_files(root: Path = ROOT) -> set[str]:
    """Relative paths of the workflow files present under root."""
    shipped = {
        path.relative_to(root).as_posix()
        for folder in (EDITOR_DIR, API_DIR)
        for path in (root / folder).glob("*.json")
    }
    return shipped | {rel for rel in (TEMPLATE_ORDER, TEMPLATE_CARDS) if (root / rel).is_file()}


def write(root: Path, files: Mapping[str, str]) -> list[str]:
    """Write the files under root and remove workflow files no workflow makes any more; the changed paths."""
    changed = []
    for rel, text in files.items():
        path = root / rel
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".json.part")
            tmp.write_text(text)
            tmp.replace(path)
            changed.append(rel)
    for rel in sorted(shipped_files(root) - set(files)):
        (root / rel).unlink()
        changed.append(rel)
    return changed


def stale(root: Path, files: Mapping[str, str]) -> list[str]:
    """The paths under root that differ from files (missing, different or left over)."""
    differ = [rel for rel, text in files.items() if not (root / rel).is_file() or (root / rel).read_text() != text]
    return sorted(differ + sorted(shipped_files(root) - set(files)))


def main(argv: list[str] | None = None, source: Callable[[], dict[str, Any]] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="root to write workflows/ under (the pack root)")
    parser.add_argument("--url", help="take the node definitions from this running ComfyUI server")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    if source is not None:
        object_info = source()
    elif args.url:
        object_info = object_info_from_server(args.url)
    else:
        object_info = object_info_in_process()
    files = render(object_info)
    if args.check:
        differ = stale(args.out, files)
        for rel in differ:
            log.error("out of date: %s (run scripts/workflows.py)", rel)
        return 1 if differ else 0
    changed = write(args.out, files)
    log.info("%d workflows, %d files written or removed under %s", len(WORKFLOWS), len(changed), args.out)
    for rel in changed:
        log.info("  %s", rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
