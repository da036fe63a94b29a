"""The shipped workflows (the catalog in the pack: catalog/shipped_workflows.py), written in both formats ComfyUI reads.

usage: .hires/venv/bin/python scripts/workflows.py \
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
import tempfile
import urllib.request
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
    node_info,
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


def editor_workflow(workflow: Workflow, object_info: ObjectInfo) -> dict[str, Any]:
    """The workflow in the graph editor's format, laid out left to right in columns, with a note."""
    prompt = complete_prompt(workflow.prompt, object_info)
    column = _columns(prompt)
    order = _execution_order(prompt, column)

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

    nodes: list[dict[str, Any]] = []
    sizes: dict[str, tuple[int, int]] = {}
    for node_id in sorted(prompt, key=int):
        node = prompt[node_id]
        info = object_info[node["class_type"]]
        specs = input_specs(info)
        inputs: list[dict[str, Any]] = []
        for spec in _input_slots(specs, node["inputs"]):
            slot: dict[str, Any] = {"name": spec.name, "type": spec.type}
            if spec.is_widget:
                slot["widget"] = {"name": spec.name}
            elif spec.optional:
                slot["shape"] = 7  # the front end's hollow socket for an optional input
            slot["link"] = input_links.get((node_id, spec.name))
            inputs.append(slot)
        widgets_values: list[Any] = []
        for spec in specs:
            if spec.is_widget:
                value = node["inputs"].get(spec.name)
                widgets_values.append(spec.default() if is_link(value) else value)
                if spec.has_control:
                    widgets_values.append(CONTROL_VALUE)
                if spec.has_upload:
                    widgets_values.append(UPLOAD_WIDGET_VALUE)
        outputs = [
            {"name": out_name, "type": out_type, "links": output_links.get((node_id, index)) or None,
             "slot_index": index}
            for index, (out_type, out_name) in enumerate(zip(info["output"], info["output_name"], strict=True))
        ]
        sizes[node_id] = _node_size(node["class_type"], specs, len(outputs))
        properties: dict[str, Any] = {"Node name for S&R": node["class_type"]}
        models = [{"name": name, "url": MODEL_URLS[name], "directory": folder}
                  for folder, name in sorted(model_references({node_id: node}))]
        if models:
            properties["models"] = models
        entry: dict[str, Any] = {
            "id": int(node_id), "type": node["class_type"], "pos": [0, 0], "size": list(sizes[node_id]),
            "flags": {}, "order": order[node_id], "mode": 0, "inputs": inputs, "outputs": outputs,
        }
        title = node["_meta"].get("title")
        if title and title != info.get("display_name", node["class_type"]):
            entry["title"] = title
        entry["properties"] = properties
        entry["widgets_values"] = widgets_values
        nodes.append(entry)

    # Layout: columns left to right, the note first; nodes of a column stacked top to bottom by id.
    note = _note_text(workflow, prompt)
    x = NOTE_WIDTH + COLUMN_GAP
    by_id = {str(n["id"]): n for n in nodes}
    for col in range(max(column.values()) + 1):
        members = sorted((i for i in prompt if column[i] == col), key=int)
        y = 0
        for node_id in members:
            by_id[node_id]["pos"] = [x, y]
            y += sizes[node_id][1] + ROW_GAP
        x += max(sizes[i][0] for i in members) + COLUMN_GAP

    note_id = max(int(i) for i in prompt) + 1
    nodes.append({
        "id": note_id, "type": "MarkdownNote", "pos": [0, 0], "size": [NOTE_WIDTH, _note_height(note)], "flags": {},
        "order": len(prompt), "mode": 0, "inputs": [], "outputs": [], "title": "About this workflow",
        "properties": {}, "widgets_values": [note], **NOTE_COLOR,
    })
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hires-studio/workflows/{workflow.name}")),
        "revision": 0,
        "last_node_id": note_id,
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": _view(x)},
        "version": 0.4,
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


# --- node definitions from a real ComfyUI -------------------------------------------------------------------


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
