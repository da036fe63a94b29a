"""The shipped workflow definitions and files: names, order, titles, the models each loads and where each is
published, the model_types, the hosted ones (pure: no ComfyUI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hires_studio.catalog.shipped_workflows import WORKFLOWS
from hires_studio.catalog.workflow import GROUPS, HOSTED_NODES
from hires_studio.graphs.building import OUTPUT_FOLDER
from hires_studio.graphs.models import MODEL_FOLDERS, MODEL_URLS, model_references

ROOT = Path(__file__).resolve().parents[2]
DEEPIMAGE_MODEL_TYPES = {"realistic", "fantasy", "premium", "z-image-turbo", "qwen", "flux2-klein9b",
                         "gemini-3-pro-image-preview", "google-gemini-image-flash", "see-dream-4.5"}
"""The nine values of deep-image's background.generate.model_type (seed 002)."""


def test_names_titles_and_descriptions_are_unique_and_readable() -> None:
    names = [w.name for w in WORKFLOWS]
    titles = [w.display_title for w in WORKFLOWS]
    assert len(set(names)) == len(names) and len(set(titles)) == len(titles)
    for workflow in WORKFLOWS:
        assert re.fullmatch(r"[a-z0-9_]+", workflow.name) and not workflow.name.startswith("deepimage_"), workflow.name
        line = workflow.one_line
        assert "\n" not in line and line.endswith(".") and 20 < len(line) <= 130, (workflow.name, line)


def test_upscaling_first_then_generation_then_adapters() -> None:
    groups = [w.group for w in WORKFLOWS]
    assert groups == sorted(groups, key=GROUPS.index)
    assert set(groups) == set(GROUPS)
    assert {w.name for w in WORKFLOWS if w.group == "adapters"} == {
        "background_around_object", "avatar_around_face", "edges_guided_image_to_image"}


def test_every_model_a_workflow_loads_has_a_public_address() -> None:
    for workflow in WORKFLOWS:
        for folder, name in model_references(workflow.prompt):
            assert MODEL_URLS.get(name, "").startswith("https://"), (workflow.name, folder, name)
            assert folder in set(MODEL_FOLDERS.values())
    used = {name for w in WORKFLOWS for _, name in model_references(w.prompt)}
    assert set(MODEL_URLS) == used, "an address for a model no workflow loads"


def test_editor_files_carry_each_loaders_model_for_the_missing_models_dialog() -> None:
    for workflow in WORKFLOWS:
        graph = json.loads((ROOT / "workflows" / f"{workflow.name}.json").read_text())
        api = json.loads((ROOT / "workflows" / "api" / f"{workflow.name}.json").read_text())
        for node in graph["nodes"]:
            if node["type"] == "MarkdownNote":
                continue
            refs = model_references({str(node["id"]): api[str(node["id"])]})
            listed = node["properties"].get("models", [])
            assert {(m["directory"], m["name"]) for m in listed} == refs, (workflow.name, node["type"])
            assert all(m["url"] == MODEL_URLS[m["name"]] for m in listed)
            for model in listed:
                assert model["name"] in node["widgets_values"], (workflow.name, model)


def test_every_deepimage_model_type_has_a_workflow() -> None:
    found = {}
    for workflow in WORKFLOWS:
        for value in re.findall(r'"model_type": "([^"]+)"', workflow.summary):
            found[value] = workflow.name
    found["realistic"] = "text_to_image_realistic"  # deep-image's default: the request leaves it out
    assert set(found) == DEEPIMAGE_MODEL_TYPES, sorted(set(found) ^ DEEPIMAGE_MODEL_TYPES)
    assert found["qwen"] == "text_to_image_qwen" and found["flux2-klein9b"] == "text_to_image_flux2"


def test_hosted_workflows_use_comfyuis_api_nodes_then_reach_the_exact_size() -> None:
    hosted = {w.name: w for w in WORKFLOWS if w.hosted}
    assert set(hosted) == {"text_to_image_gemini_3_pro", "text_to_image_gemini_flash", "text_to_image_seedream"}
    expected = {"text_to_image_gemini_3_pro": ("GeminiImage2Node", "gemini-3-pro-image-preview"),
                "text_to_image_gemini_flash": ("GeminiImageNode", "gemini-2.5-flash-image"),
                "text_to_image_seedream": ("ByteDanceSeedreamNode", "seedream-4-0-250828")}
    for name, workflow in hosted.items():
        (api_node,) = [n for n in workflow.prompt.values() if n["class_type"] in HOSTED_NODES]
        assert (api_node["class_type"], api_node["inputs"]["model"]) == expected[name]
        (upscale,) = [n for n in workflow.prompt.values() if n["class_type"] == "GenerativeUpscale"]
        assert upscale["inputs"]["image"][0] in workflow.prompt
        assert workflow.prompt[upscale["inputs"]["image"][0]] is api_node
        size = (upscale["inputs"]["width"], upscale["inputs"]["height"], upscale["inputs"]["fit"])
        assert size == (2048, 1024, "crop")
        assert upscale["inputs"]["upscale_strength"] >= 7, "no diffusion: no checkpoint beside a hosted model"


def test_outputs_go_to_one_folder_named_by_the_workflow() -> None:
    for workflow in WORKFLOWS:
        prefixes = [n["inputs"]["filename_prefix"] for n in workflow.prompt.values() if n["class_type"] == "SaveImage"]
        assert prefixes == [f"{OUTPUT_FOLDER}/{workflow.name}"]


def test_template_order_file_lists_the_workflows_in_order() -> None:
    assert json.loads((ROOT / "web" / "template_order.json").read_text()) == [w.name for w in WORKFLOWS]
