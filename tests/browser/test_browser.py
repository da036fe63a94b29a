"""The shipped editor workflows in the real ComfyUI front end: headless Chromium driven by npm's playwright-core
(tests/browser/check_workflows.mjs) against the session's ComfyUI server (API nodes loaded, so the hosted
workflows load too; the page can reach nothing but that server).

The script loads every workflows/*.json into the editor, fails on a node type the front end does not know, a
widget value it would not accept, a dialog or an error in the console, compares the editor's own API
conversion with workflows/api/, then queues bicubic_clean_to_size from the editor and waits for its image. It
also reads the pack's nodes as the editor shows them and every card of the pack in the Templates browser.

The first click: on a second, plain ComfyUI (a base directory with nothing but the pack; API nodes off, so
nothing in the page talks to the internet), each local workflow is opened and Run as it is; it runs, or stops
only at model files the README says where to download (the Missing Models dialog on load, then the loader).
Then a value a node refuses at /prompt is Run from the editor: its dialog shows the refusal once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hires_studio.devtools.browser_env import run_browser_check
from hires_studio.devtools.comfy_host import PACK_LINK, ROOT, ComfyServer, make_comfy_base
from hires_studio.nodes.example_images import example_files
from hires_studio.scripts import workflows

pytestmark = pytest.mark.browser

QUEUED = "bicubic_clean_to_size"
QUEUED_SIZE = (1600, 1200)
PACK_NODES = ("GenerativeUpscale", "BicubicClean", "AdapterSelect", "HiResGenerate")


def _run_check(server: ComfyServer, path: Path, *options: str) -> dict:
    return run_browser_check("check_workflows.mjs", server.url, path, *options, timeout=600)


@pytest.fixture(scope="module")
def report(staged_server: ComfyServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("browser") / "report.json"
    return run_browser_check("check_workflows.mjs", staged_server.url, path, "--queue", QUEUED, "--module", PACK_LINK)


def test_front_end_started(report: dict) -> None:
    assert not report["errors"], report["errors"]
    assert report["startup"]["node_types"] > 100


def test_every_editor_file_was_loaded(report: dict) -> None:
    loaded = {w["name"] for w in report["workflows"]}
    assert loaded == {p.stem for p in (ROOT / workflows.EDITOR_DIR).glob("*.json")}


@pytest.mark.parametrize("name", [w.name for w in workflows.WORKFLOWS])
def test_front_end_accepts_the_workflow(report: dict, name: str) -> None:
    (entry,) = [w for w in report["workflows"] if w["name"] == name]
    assert entry["problems"] == [], "\n".join(entry["problems"])


def test_queued_from_the_editor_and_saved(report: dict) -> None:
    queued = report["queued"]
    assert queued["http_status"] == 200 and not queued["node_errors"], queued
    assert queued["status"] == "success", queued
    (image,) = queued["images"]
    assert image["http_status"] == 200
    assert (image["width"], image["height"]) == QUEUED_SIZE
    assert report["ok"] is True


def test_nothing_but_the_server_was_requested(report: dict, staged_server: ComfyServer) -> None:
    """Every request off the server was aborted in the page (the API-node front end asks the internet)."""
    assert all(not url.startswith(staged_server.url) for url in report["blocked"]), report["blocked"]


def test_pack_nodes_in_one_category(report: dict) -> None:
    assert {name: report["nodes"][name]["category"] for name in PACK_NODES} == dict.fromkeys(PACK_NODES, "HiRes Studio")


def test_hires_generate_outputs_are_named(report: dict) -> None:
    assert report["nodes"]["HiResGenerate"]["outputs"] == ["image", "native_image"]


def test_adapter_inputs_say_which_types_use_them(report: dict) -> None:
    labels = report["nodes"]["AdapterSelect"]["widget_labels"]
    assert labels["face_id"] == "face_id (face only)"
    assert labels["controlnet_conditioning_scale"] == "controlnet_conditioning_scale (control types only)"


def test_adapter_greys_out_what_its_type_does_not_use(report: dict) -> None:
    disabled = report["nodes"]["AdapterSelect"]["disabled_by_type"]
    assert disabled == {
        "generate_background": ["controlnet_conditioning_scale", "face_id"],
        "face": ["controlnet_conditioning_scale"],
        "control": ["face_id"],
        "control2": ["face_id"],
        "upscale": ["controlnet_conditioning_scale", "face_id"],
        "inpainting": ["controlnet_conditioning_scale", "face_id"],
    }


@pytest.mark.parametrize("node", ["GenerativeUpscale", "HiResGenerate"])
def test_strength_band_and_sampler_tooltips_in_the_editor(report: dict, node: str) -> None:
    shown = report["nodes"][node]
    assert shown["widget_labels"]["upscale_strength"] == "upscale_strength (1-3 strong, 4-6 medium, 7-9 none)"
    assert "sampling algorithm" in (shown["input_tooltips"]["sampler_name"] or "")
    assert "noise levels" in (shown["input_tooltips"]["scheduler"] or "")


def test_every_template_card_has_its_own_picture_and_title(report: dict, staged_server: ComfyServer) -> None:
    cards = {card["name"]: card for card in report["templates"]}
    assert set(cards) == {w.name for w in workflows.WORKFLOWS}, sorted(cards)
    for name, card in cards.items():
        # The pack's own title and description (web/template_order.js), not the file name twice; the front end
        # shows every '_' of a description as a space. The picture is <name>.jpg beside the file, no other card's.
        (workflow,) = [w for w in workflows.WORKFLOWS if w.name == name]
        text = workflows.template_card(workflow)
        assert card["title"] == workflow.display_title == text["title"], card
        assert card["description"] == text["description"].replace("_", " "), card
        assert ("API nodes" in card["description"]) == workflow.hosted, card
        own = hashlib.sha256((ROOT / workflows.EDITOR_DIR / f"{name}.jpg").read_bytes()).hexdigest()
        shown = [image for image in card["images"] if image["sha256"] == own]
        assert shown, f"the card {name} does not show workflows/{name}.jpg: {card['images']}"
        assert (shown[0]["width"], shown[0]["height"]) == workflows.THUMBNAIL_SIZE, card
    pictures = [image["sha256"] for card in cards.values() for image in card["images"]]
    assert len(set(pictures)) == len(pictures) == len(cards), "a card shows another card's picture"


def test_template_cards_in_the_pack_order(report: dict) -> None:
    """Upscaling first, then generation, then adapters (web/template_order.js orders the server's list)."""
    shown = [card["name"] for card in report["templates"]]
    assert shown == [w.name for w in workflows.WORKFLOWS]
    groups = [next(w.group for w in workflows.WORKFLOWS if w.name == name) for name in shown]
    assert groups == sorted(groups, key=workflows.GROUPS.index)


# --- the first click, in a plain ComfyUI --------------------------------------------------------------------

LOCAL = [w.name for w in workflows.WORKFLOWS if not w.hosted]
"""The workflows that run on this machine's ComfyUI (the hosted ones need a Comfy account and the API nodes)."""
RUNS_WITHOUT_MODELS = {"bicubic_clean_to_size": (1600, 1200)}
REFUSED = ("bicubic_clean_to_size", "BicubicClean", "canvas_fill", "outpaint")
"""A value the node refuses at /prompt (it has no model to outpaint with): the editor shows the refusal once."""
REFUSAL = ("canvas_fill='outpaint': BicubicClean has no diffusion model to generate the gap with. Fix: use "
           "GenerativeUpscale with a model for outpaint, or canvas_fill 'color'.")
"""What runs in a ComfyUI with no model added (the cleanup net comes with the pack's requirements), and its size."""


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A plain ComfyUI: its base directory holds the pack and nothing else (API nodes off)."""
    base = make_comfy_base(tmp_path_factory.mktemp("plain-base"), [])
    server = ComfyServer(base)
    try:
        shipped = {path.name: path.read_bytes() for path in example_files()}
        provided = {path.name: path.read_bytes() for path in (base / "input").iterdir() if path.is_file()}
        result = _run_check(server, tmp_path_factory.mktemp("first-click") / "report.json",
                            "--first-click", ",".join(LOCAL), "--refusal", ",".join(REFUSED))
    finally:
        server.stop()
    return {"report": result, "provided": provided, "shipped": shipped}


def test_the_pack_provides_its_example_photos_in_a_plain_comfyui(plain: dict) -> None:
    assert plain["provided"] == plain["shipped"] and len(plain["shipped"]) == 2


def test_every_local_workflow_was_run_once(plain: dict) -> None:
    assert not plain["report"]["errors"], plain["report"]["errors"]
    assert [entry["name"] for entry in plain["report"]["first_click"]] == LOCAL


@pytest.mark.parametrize("name", LOCAL)
def test_first_click_runs_or_stops_only_at_a_model_to_download(plain: dict, name: str) -> None:
    (entry,) = [e for e in plain["report"]["first_click"] if e["name"] == name]
    if name in RUNS_WITHOUT_MODELS:
        assert entry["http_status"] == 200 and entry["status"] == "success", entry
        (image,) = entry["images"]
        assert (image["width"], image["height"]) == RUNS_WITHOUT_MODELS[name]
        assert entry["dialogs_on_load"] == [], entry["dialogs_on_load"]
        return
    workflow = next(w for w in workflows.WORKFLOWS if w.name == name)
    loads = {model for _, model in workflows.model_references(workflow.prompt)}
    missing = set()
    if entry["http_status"] == 400:
        for node_error in entry["node_errors"].values():
            for error in node_error["errors"]:
                # Only a model loader's file is refused (never the image, never a pack node)...
                assert error["type"] == "value_not_in_list", error
                assert error["extra_info"]["received_value"] in loads, node_error
                missing.add(error["extra_info"]["received_value"])
    else:
        # ComfyUI 0.3.75 does not check a V3 loader's file list at /prompt (UpscaleModelLoader): the run stops
        # there, at the loader, before any of the pack's nodes.
        assert entry["http_status"] == 200 and entry["status"] == "error", entry
        ((_, stop),) = entry["messages"]
        loaders = {workflow.prompt[node_id]["class_type"] for node_id in workflow.prompt
                   if set(map(str, workflow.prompt[node_id]["inputs"].values())) & loads}
        assert stop["node_type"] in loaders, stop
        missing = {model for model in loads if model in stop["exception_message"]}
    # ... a file the README and the workflow's note say where to download, ...
    assert missing and missing <= set(workflows.MODEL_URLS), (missing, entry)
    # ... which the Missing Models dialog named when the workflow was opened.
    assert any(all(model in dialog for model in missing) for dialog in entry["dialogs_on_load"]), entry


def test_the_editor_shows_a_refusal_once(plain: dict) -> None:
    refusal = plain["report"]["refusal"]
    assert refusal["http_status"] == 400
    entries = [error["details"] for entry in refusal["node_errors"].values() for error in entry["errors"]]
    assert entries == [REFUSAL]
    # On the node at fault: the editor marks that node red, not the PreviewImage or SaveImage it feeds.
    assert refusal["marked"] == [REFUSED[1]], refusal
    (dialog,) = refusal["dialogs"]
    assert dialog.count(REFUSAL) == 1 and "Custom validation failed" not in dialog, dialog
