"""The shipped editor workflows in the real ComfyUI front end: headless Chromium driven by npm's playwright-core
(tests/browser/check_workflows.mjs) against the session's ComfyUI server (API nodes loaded, so the hosted
workflows load too; the page can reach nothing but that server).

The script loads every workflows/*.json into the editor, fails on a node type the front end does not know, a
widget value it would not accept, a dialog or an error in the console, compares the editor's own API
conversion with workflows/api/, then queues bicubic_clean_to_size from the editor and waits for its image. It
also reads the pack's nodes as the editor shows them and every card of the pack in the Templates browser.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from comfy_host import HIRES, PACK_LINK, ROOT, ComfyServer

import workflows

pytestmark = pytest.mark.browser

HERE = ROOT / "tests" / "browser"
QUEUED = "bicubic_clean_to_size"
QUEUED_SIZE = (1600, 1200)
PACK_NODES = ("GenerativeUpscale", "BicubicClean", "AdapterSelect", "HiResGenerate")


def chromium_path() -> Path:
    """$HIRES_CHROMIUM, else the one the bootstrap found or installed, else the system's `chromium`."""
    recorded = HIRES / "chromium-path"
    for candidate in (os.environ.get("HIRES_CHROMIUM"), recorded.read_text().strip() if recorded.is_file() else None,
                      shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return Path("/usr/bin/chromium")


CHROMIUM = chromium_path()


def _browser_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not CHROMIUM.is_file():
        return f"no Chromium ({CHROMIUM} is missing): run scripts/bootstrap.sh --browser"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing (npm ci in tests/browser)"
    return None


@pytest.fixture(scope="module")
def report(staged_server: ComfyServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    missing = _browser_missing()
    if missing:
        if os.environ.get("HIRES_SKIP_BROWSER") == "1":
            pytest.skip(f"HIRES_SKIP_BROWSER=1 and {missing}")
        pytest.fail(f"{missing}: run scripts/bootstrap.sh (or set HIRES_SKIP_BROWSER=1)")
    path = tmp_path_factory.mktemp("browser") / "report.json"
    run = subprocess.run(
        ["node", str(HERE / "check_workflows.mjs"), "--url", staged_server.url, "--queue", QUEUED,
         "--module", PACK_LINK, "--report", str(path), "--chromium", str(CHROMIUM)],
        capture_output=True, text=True, timeout=300, cwd=HERE,
    )
    if not path.is_file():
        pytest.fail(f"check_workflows.mjs wrote no report (rc {run.returncode}):\n{run.stderr[-4000:]}")
    return json.loads(path.read_text())


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
        # ComfyUI 0.3.75's front end titles a custom node's card with the file name and describes it with the
        # name's words; the picture is <name>.jpg beside the file, and no other card's.
        assert card["title"] == name and card["description"] == name.replace("_", " "), card
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
