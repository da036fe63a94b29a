"""The shipped workflows against a real ComfyUI server on loopback (`main.py`, tiny random-weight models).

- every API-format file is accepted by POST /prompt exactly as shipped (validated, then taken off the
  queue before it can run, while a job that is later cancelled holds the queue), the hosted ones too: the
  server loads ComfyUI's API nodes with their API base on a closed loopback port, and no API node ever runs;
- every local workflow runs end to end with only its sizes and steps made small, to the exact pixel size;
- the files are what scripts/workflows.py makes from this ComfyUI's node definitions;
- ComfyUI lists and serves the editor files as the pack's templates (and not the API files);
- bad inputs are refused before any work, with a message that names the input, the value and the fix;
- Cancel stops a running GenerativeUpscale, leaves nothing in the output folder, and the next job runs.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from hires_studio.devtools.comfy_host import PACK_LINK, ROOT, ComfyServer
from hires_studio.devtools.staging import small_version
from hires_studio.scripts import workflows

pytestmark = pytest.mark.e2e

API_FILES = sorted((ROOT / workflows.API_DIR).glob("*.json"))
EDITOR_FILES = sorted((ROOT / workflows.EDITOR_DIR).glob("*.json"))
HOSTED = {w.name for w in workflows.WORKFLOWS if w.hosted}
LOCAL_API_FILES = [path for path in API_FILES if path.stem not in HOSTED]
CANCEL_STEPS = 200
CANCEL_WIDTH = 384
"""The cancelled job would run this many diffusion steps at this width; Cancel must stop it long before."""
CANCEL_WITHIN_S = 2.0
REGENERATE = ".hires/venv/bin/python scripts/workflows.py"


def load_api(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def nodes_of(prompt: dict[str, Any], class_type: str) -> list[str]:
    return [node_id for node_id, node in prompt.items() if node["class_type"] == class_type]


def example_photo_size(server: ComfyServer, prompt: dict[str, Any] | None = None) -> tuple[int, int]:
    """The size of the (one) image the prompt loads."""
    names = workflows.input_images(prompt) if prompt else {workflows.EXAMPLE_IMAGE}
    (name,) = names or {workflows.EXAMPLE_IMAGE}
    with Image.open(server.base / "input" / name) as image:
        return image.size


def expected_size(prompt: dict[str, Any], node_id: str, photo: tuple[int, int]) -> tuple[int, int]:
    """The output size the resize rules promise, worked out here from the photo (not by the pack's code):
    one side given keeps the aspect ratio (rounded); both given with fit canvas or crop is exactly W x H;
    HiResGenerate with no size keeps its adapter image's size."""
    inputs = prompt[node_id]["inputs"]
    width, height, fit = inputs["width"], inputs["height"], inputs.get("fit", "canvas")
    if prompt[node_id]["class_type"] == "HiResGenerate" and not width and not height:
        return photo
    if inputs.get("size_rules") == "stability-v1" and not width and not height:
        return photo[0] * 2, photo[1] * 2  # Stability v1: 2x by default
    if width and height:
        if fit not in ("canvas", "crop"):
            raise NotImplementedError(f"extend expected_size for fit {fit!r}")
        return width, height
    if not is_link(inputs.get("image")):
        raise NotImplementedError("extend expected_size: one side given, and no image to take the aspect ratio from")
    if width:
        return width, round(photo[1] * width / photo[0])
    if height:
        return round(photo[0] * height / photo[1]), height
    scale = inputs["scale_by"]
    return round(photo[0] * scale), round(photo[1] * scale)


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)


def sized_node(prompt: dict[str, Any]) -> str:
    """The node that decides the output size: the one that feeds the SaveImage and has width/height."""
    (save,) = nodes_of(prompt, "SaveImage")
    node_id = prompt[save]["inputs"]["images"][0]
    if "width" not in prompt[node_id]["inputs"]:
        raise NotImplementedError(f"extend sized_node for {prompt[node_id]['class_type']}")
    return node_id


def fetch_image(server: ComfyServer, image: dict[str, str]) -> Image.Image:
    query = f"/view?filename={image['filename']}&subfolder={image['subfolder']}&type={image['type']}"
    status, payload = server.request(query, raw=True)
    assert status == 200, (status, payload[:200])
    return Image.open(io.BytesIO(payload))


def output_files(server: ComfyServer) -> set[str]:
    out = server.base / "output"
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def api_nodes_in(server: ComfyServer, prompt: dict[str, Any]) -> set[str]:
    """The prompt's node types that are ComfyUI API nodes (they would call out to a provider)."""
    return {node["class_type"] for node in prompt.values()
            if server.object_info.get(node["class_type"], {}).get("api_node")}


def submit(server: ComfyServer, prompt: dict[str, Any], client_id: str | None = None) -> str:
    """Queue a prompt to run; never one with an API node."""
    assert not api_nodes_in(server, prompt), f"refusing to run API nodes: {api_nodes_in(server, prompt)}"
    status, body = server.request(
        "/prompt", {"prompt": prompt, "client_id": client_id or str(uuid.uuid4())}, raw=True
    )
    payload = json.loads(body)
    assert status == 200 and not payload.get("node_errors"), payload
    return payload["prompt_id"]


def queue_ids(server: ComfyServer) -> tuple[set[str], set[str]]:
    queue = server.get("/queue")
    return {item[1] for item in queue["queue_running"]}, {item[1] for item in queue["queue_pending"]}


# --- (a) + (f): the queue held by a job that is then cancelled ---------------------------------------------


@dataclass
class HeldQueue:
    """What happened while a long GenerativeUpscale held the queue and was then cancelled."""

    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    """API file name -> POST /prompt response for the shipped prompt."""
    pending_seen: set[str] = field(default_factory=set)
    pending_after_delete: set[str] = field(default_factory=set)
    cancelled_id: str = ""
    cancelled_entry: dict[str, Any] = field(default_factory=dict)
    steps_before_cancel: int = 0
    cancel_seconds: float = 0.0
    outputs_before: set[str] = field(default_factory=set)
    outputs_after: set[str] = field(default_factory=set)
    history_after: dict[str, Any] = field(default_factory=dict)


async def _hold_queue(server: ComfyServer, long_job: dict[str, Any], node_id: str) -> HeldQueue:
    held = HeldQueue(outputs_before=output_files(server))
    client_id = str(uuid.uuid4())
    ws_url = server.url.replace("http://", "ws://") + f"/ws?clientId={client_id}"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        held.cancelled_id = submit(server, long_job, client_id)

        # Wait until the node itself reports diffusion progress: Cancel then lands inside the node.
        deadline = time.monotonic() + 120
        while True:
            message = await ws.receive(timeout=max(1.0, deadline - time.monotonic()))
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            data = event.get("data", {})
            if data.get("prompt_id") != held.cancelled_id:
                continue
            if event["type"] in ("execution_error", "execution_success"):
                raise AssertionError(f"the long job ended before it could be cancelled: {event}")
            if event["type"] == "progress" and data.get("node") == node_id and data.get("max", 0) >= CANCEL_STEPS \
                    and data.get("value", 0) >= 1:
                held.steps_before_cancel = data["value"]
                break

        # The queue is busy: every shipped prompt is validated and queued behind, then taken off.
        ids: list[str] = []
        try:
            for path in API_FILES:
                status, body = server.request("/prompt", {"prompt": load_api(path), "client_id": client_id}, raw=True)
                held.accepted[path.stem] = {"status": status, **json.loads(body)}
                ids += [held.accepted[path.stem]["prompt_id"]] if status == 200 else []
            running, pending = queue_ids(server)
            held.pending_seen = pending & set(ids)
        finally:
            server.request("/queue", {"delete": ids}, raw=True)
            for prompt_id in ids:  # never let a full-size shipped job hold the server, whatever happened
                server.request("/interrupt", {"prompt_id": prompt_id}, raw=True)
        held.pending_after_delete = queue_ids(server)[1] & set(ids)
        assert running == {held.cancelled_id}, "the long job ended before the shipped prompts were queued"

        started = time.monotonic()
        server.request("/interrupt", {"prompt_id": held.cancelled_id}, raw=True)
        held.cancelled_entry = server.wait(held.cancelled_id, timeout=CANCEL_WITHIN_S + 60)
        held.cancel_seconds = time.monotonic() - started
    held.outputs_after = output_files(server)
    held.history_after = server.get("/history")
    return held


@pytest.fixture(scope="module")
def held_queue(staged_server: ComfyServer) -> HeldQueue:
    prompt = load_api(ROOT / workflows.API_DIR / "generative_upscale_to_width.json")
    (node_id,) = nodes_of(prompt, "GenerativeUpscale")
    prompt[node_id]["inputs"].update(width=CANCEL_WIDTH, height=0, steps=CANCEL_STEPS)
    (save,) = nodes_of(prompt, "SaveImage")
    prompt[save]["inputs"]["filename_prefix"] = f"hires_e2e/cancelled_{uuid.uuid4().hex[:8]}"
    return asyncio.run(_hold_queue(staged_server, prompt, node_id))


def test_api_files_exist() -> None:
    assert API_FILES, "no API-format workflows: run scripts/workflows.py"
    assert {p.stem for p in API_FILES} == {p.stem for p in EDITOR_FILES}


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.stem)
def test_shipped_api_file_is_accepted_as_is(held_queue: HeldQueue, path: Path) -> None:
    response = held_queue.accepted[path.stem]
    assert response["status"] == 200, response
    assert response["node_errors"] == {}, response
    assert response["prompt_id"] in held_queue.pending_seen
    assert response["prompt_id"] not in held_queue.pending_after_delete
    assert response["prompt_id"] not in held_queue.history_after, "a shipped full-size prompt ran"


def test_cancel_stops_the_running_node(held_queue: HeldQueue) -> None:
    status = held_queue.cancelled_entry["status"]
    assert status["status_str"] == "error" and status["completed"] is False, status
    kinds = [kind for kind, _ in status["messages"]]
    assert "execution_interrupted" in kinds, kinds
    interrupted = dict(status["messages"])["execution_interrupted"]
    assert interrupted["node_type"] == "GenerativeUpscale", interrupted
    assert held_queue.cancel_seconds < CANCEL_WITHIN_S, held_queue.cancel_seconds
    assert held_queue.cancelled_entry["outputs"] == {}


def test_cancel_leaves_nothing_in_the_output_folder(held_queue: HeldQueue) -> None:
    assert held_queue.outputs_after == held_queue.outputs_before


def test_next_job_after_cancel_runs(held_queue: HeldQueue, staged_server: ComfyServer) -> None:
    prompt = small_version(load_api(ROOT / workflows.API_DIR / "bicubic_clean_to_size.json"), "hires_e2e/after_cancel")
    entry = staged_server.wait(submit(staged_server, prompt), timeout=120)
    assert entry["status"]["status_str"] == "success", entry["status"]
    (save,) = nodes_of(prompt, "SaveImage")
    (image,) = entry["outputs"][save]["images"]
    expected = expected_size(prompt, sized_node(prompt), example_photo_size(staged_server, prompt))
    assert fetch_image(staged_server, image).size == expected


# --- (b): every workflow runs, small ---------------------------------------------------------------------


def test_hosted_workflows_are_exactly_the_ones_with_api_nodes(staged_server: ComfyServer) -> None:
    assert staged_server.api_nodes, "the server must load the API nodes for the hosted workflows to validate"
    with_api_nodes = {path.stem for path in API_FILES if api_nodes_in(staged_server, load_api(path))}
    assert with_api_nodes == HOSTED == {"text_to_image_gemini_3_pro", "text_to_image_gemini_flash",
                                        "text_to_image_seedream"}


@pytest.mark.parametrize("path", LOCAL_API_FILES, ids=lambda p: p.stem)
def test_workflow_runs_small_to_the_exact_size(staged_server: ComfyServer, path: Path) -> None:
    shipped = load_api(path)
    prompt = small_version(shipped, f"hires_e2e/{path.stem}")
    changed = {
        (node_id, key)
        for node_id, node in prompt.items()
        for key, value in node["inputs"].items()
        if value != shipped[node_id]["inputs"][key]
    }
    allowed = {"width", "height", "steps", "filename_prefix"}
    assert all(key in allowed or (prompt[node_id]["class_type"], key) == ("CLIPLoader", "type")
               for node_id, key in changed), changed
    started = time.monotonic()
    entry = staged_server.wait(submit(staged_server, prompt), timeout=300)
    assert entry["status"]["status_str"] == "success", entry["status"]["messages"]
    (save,) = nodes_of(prompt, "SaveImage")
    images = entry["outputs"][save]["images"]
    sized = sized_node(prompt)
    assert len(images) == prompt[sized]["inputs"].get("num_images", 1), images
    expected = expected_size(prompt, sized, example_photo_size(staged_server, prompt))
    for saved in images:
        image = fetch_image(staged_server, saved)
        assert image.format == "PNG"
        assert image.size == expected, f"{image.size} != {expected} ({time.monotonic() - started:.1f} s)"


# --- (c): the files are what the script makes ------------------------------------------------------------


def test_files_are_up_to_date(staged_server: ComfyServer, tmp_path: Path) -> None:
    script = ROOT / "scripts" / "workflows.py"
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--url", staged_server.url],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    made = workflows.shipped_files(tmp_path)
    assert made == workflows.shipped_files(ROOT), "workflow files differ in name: run scripts/workflows.py"
    stale = [rel for rel in sorted(made) if (tmp_path / rel).read_text() != (ROOT / rel).read_text()]
    assert not stale, f"out of date, run `{REGENERATE}`: {stale}"
    assert {p.stem for p in EDITOR_FILES} == {w.name for w in workflows.WORKFLOWS}


def test_editor_files_name_the_api_files_nodes() -> None:
    for path in EDITOR_FILES:
        graph = json.loads(path.read_text())
        api = load_api(ROOT / workflows.API_DIR / path.name)
        types = {str(node["id"]): node["type"] for node in graph["nodes"] if node["type"] != "MarkdownNote"}
        assert types == {node_id: node["class_type"] for node_id, node in api.items()}, path.name
        assert graph["version"] == 0.4 and graph["last_link_id"] == len(graph["links"])


# --- (d): templates ----------------------------------------------------------------------------------------


def test_templates_list_and_serve_the_editor_files(staged_server: ComfyServer) -> None:
    listed = staged_server.get("/workflow_templates").get(PACK_LINK, [])
    assert sorted(listed) == sorted(p.stem for p in EDITOR_FILES), listed  # once each: api/ is not listed
    for path in EDITOR_FILES:
        status, payload = staged_server.request(f"/api/workflow_templates/{PACK_LINK}/{path.name}", raw=True)
        assert status == 200, path.name
        assert json.loads(payload) == json.loads(path.read_text())


def test_templates_serve_a_thumbnail_of_each_workflow(staged_server: ComfyServer) -> None:
    """The front end shows `<name>.jpg` beside a custom node's template as its card's picture."""
    pictures = {}
    for path in EDITOR_FILES:
        status, payload = staged_server.request(f"/api/workflow_templates/{PACK_LINK}/{path.stem}.jpg", raw=True)
        assert status == 200, path.stem
        with Image.open(io.BytesIO(payload)) as image:
            assert image.format == "JPEG" and image.size == workflows.THUMBNAIL_SIZE, (path.stem, image.size)
        pictures[path.stem] = payload
    assert len(set(pictures.values())) == len(pictures), "two cards share one picture"


# --- (e): bad inputs -------------------------------------------------------------------------------------

BAD_INPUTS = [
    ("bicubic_clean_to_size", "BicubicClean", "fit", "stretch"),
    ("generative_upscale_to_width", "GenerativeUpscale", "upscale_strength", 0),
    ("generative_upscale_prompt_guided", "AdapterSelect", "controlnet_conditioning_scale", 1.5),
]


@pytest.mark.parametrize(
    ("name", "class_type", "key", "value"), BAD_INPUTS, ids=[f"{c}.{k}" for _, c, k, _ in BAD_INPUTS]
)
def test_bad_input_is_refused_with_name_value_and_fix(
    staged_server: ComfyServer, name: str, class_type: str, key: str, value: Any
) -> None:
    prompt = load_api(ROOT / workflows.API_DIR / f"{name}.json")
    (node_id,) = nodes_of(prompt, class_type)
    prompt[node_id]["inputs"][key] = value
    before = output_files(staged_server)
    status, body = staged_server.post_prompt(prompt)
    assert status == 400, body
    errors = body["node_errors"][node_id]["errors"]
    assert len(errors) == 1, errors  # one refusal, one entry
    message = errors[0]["details"]
    assert f"{key}={value!r}" in message and "Fix:" in message, message
    assert output_files(staged_server) == before


# --- (g): sizes checked where they can be: at /prompt without the image, on the real image otherwise ----------

PROMPT_TIME_SIZE_ERRORS = [
    ("stability_esrgan_x2_upscale", "GenerativeUpscale", {"width": 1024, "height": 1024}, "height",
     "height=1024: Only one of width or height may be specified. Fix: set height to 0 (or width to 0): the other "
     "side keeps the aspect ratio."),
    ("stability_latent_x4_upscale", "GenerativeUpscale", {"width": 300}, "width",
     "width=300: must be at least 512 under Stability v1's rules. Fix: ask for 512 pixels or more, or 0 for the "
     "2x default."),
    ("stability_esrgan_x2_upscale", "GenerativeUpscale", {"padding": "5%"}, "padding",
     "padding='5%': is a deep-image resize field; Stability v1's upscale has no such field. Fix: set size_rules to "
     "'deep-image', or padding back to '0'."),
    ("bicubic_clean_to_size", "BicubicClean", {"width": 0, "height": 0, "scale_by": 0.0}, "scale_by",
     "scale_by=0.0: width and height are both 0, so the scale factor is needed and must be above 0. Fix: set "
     "width, height, or a scale_by above 0."),
    ("bicubic_clean_to_size", "BicubicClean", {"canvas_fill": "outpaint"}, "canvas_fill",
     "canvas_fill='outpaint': BicubicClean has no diffusion model to generate the gap with. Fix: use "
     "GenerativeUpscale with a model for outpaint, or canvas_fill 'color'."),
]


@pytest.mark.parametrize(("name", "class_type", "change", "key", "message"), PROMPT_TIME_SIZE_ERRORS,
                         ids=[f"{n}.{k}" for n, _, _, k, _ in PROMPT_TIME_SIZE_ERRORS])
def test_size_errors_are_refused_at_prompt_naming_the_input_at_fault(
    staged_server: ComfyServer, name: str, class_type: str, change: dict[str, Any], key: str, message: str
) -> None:
    prompt = load_api(ROOT / workflows.API_DIR / f"{name}.json")
    (node_id,) = nodes_of(prompt, class_type)
    prompt[node_id]["inputs"].update(change)
    status, body = staged_server.post_prompt(prompt)
    assert status == 400, body
    errors = body["node_errors"][node_id]["errors"]
    # One refusal, one entry, whose message names the one input at fault.
    assert [e["details"] for e in errors] == [message], errors
    assert message.startswith(f"{key}=")


def test_scale_by_over_16_runs_on_a_small_image(staged_server: ComfyServer) -> None:
    """scale_by 20 on the 96 x 64 example photo is 1920 x 1280: accepted at /prompt, and it runs to that size
    (the 16384 cap is checked on the real image, not on a stand-in)."""
    prompt = load_api(ROOT / workflows.API_DIR / "bicubic_clean_to_size.json")
    (node_id,) = nodes_of(prompt, "BicubicClean")
    prompt[node_id]["inputs"].update(width=0, height=0, scale_by=20.0, cleanup="off")
    (save,) = nodes_of(prompt, "SaveImage")
    prompt[save]["inputs"]["filename_prefix"] = "hires_e2e/scale_by_20"
    entry = staged_server.wait(submit(staged_server, prompt), timeout=120)
    assert entry["status"]["status_str"] == "success", entry["status"]
    (image,) = entry["outputs"][save]["images"]
    photo = example_photo_size(staged_server, prompt)
    assert fetch_image(staged_server, image).size == (photo[0] * 20, photo[1] * 20)
