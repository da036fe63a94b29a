"""Each rule has one definition, and everything else asks it: the REST layer, the graph builders and the
catalog use the very objects core and the graphs package define (not equal copies), and the derived facts of
the strength table and the percentage reader say what the table and deep-image's sizes say."""

from __future__ import annotations

import inspect

import pytest

from hires_studio.catalog.shipped_workflows import WORKFLOWS
from hires_studio.core import sizing, strength
from hires_studio.core.errors import HiResInputError
from hires_studio.core.plan import check_connected, no_diffusion_route
from hires_studio.core.request_rules import MAX_NUM_IMAGES, check_num_images
from hires_studio.graphs import deepmode as deepmode_graphs
from hires_studio.graphs import models
from hires_studio.graphs import stability as stability_graphs
from hires_studio.rest import deepimage, deepimage_graph, deepmode, stability
from hires_studio.rest import model_files as rest_model_files


def test_rest_uses_the_graphs_packages_tables_themselves() -> None:
    assert stability.STABILITY_ENGINES is stability_graphs.STABILITY_ENGINES
    assert deepmode.DEEPMODE_RATIOS is deepmode_graphs.DEEPMODE_RATIOS
    assert rest_model_files.MODEL_FOLDERS is models.MODEL_FOLDERS
    assert deepimage.MODEL_TYPES is models.MODEL_TYPES and deepimage.FAMILIES is models.FAMILIES


def test_graph_builders_take_stabilitys_defaults_from_core() -> None:
    parameters = inspect.signature(stability_graphs.stability_upscale_graph).parameters
    assert parameters["cfg_scale"].default is sizing.STABILITY_DEFAULT_CFG_SCALE
    assert parameters["steps"].default == sizing.STABILITY_DEFAULT_STEPS
    assert stability_graphs.STABILITY_STEPS is sizing.STABILITY_STEPS
    assert stability_graphs.STABILITY_CFG_SCALE is sizing.STABILITY_CFG_SCALE


@pytest.mark.parametrize("num_images", [0, MAX_NUM_IMAGES + 1])
def test_deepmode_graph_refuses_num_images_with_cores_own_error(num_images: int) -> None:
    with pytest.raises(HiResInputError) as core_error:
        check_num_images(num_images)
    with pytest.raises(HiResInputError) as graph_error:
        deepmode_graphs.deepmode_generate_graph("p", num_images=num_images)
    assert str(graph_error.value) == str(core_error.value)
    assert (graph_error.value.field, graph_error.value.problem) == ("num_images", f"must be from 1 to {MAX_NUM_IMAGES}")


@pytest.mark.parametrize("model_type", sorted(models.FAMILIES))
def test_rest_and_the_catalog_load_a_family_from_the_same_table(model_type: str) -> None:
    family = models.FAMILIES[model_type]
    request = deepimage.parse_request({"width": 2048, "height": 1024,
                                       "background": {"generate": {"description": "p", "model_type": model_type}}})
    built = deepimage_graph.build_graph(request, image=None, source=None)
    shipped = next(w.prompt for w in WORKFLOWS if any(n["inputs"].get("unet_name") == family.files["unet"]
                                                      for n in w.prompt.values()))
    for prompt in (built, shipped):
        loaders = {n["class_type"]: n["inputs"] for n in prompt.values() if n["class_type"] in family.loader_inputs()}
        assert loaders == family.loader_inputs()
        generate = next(n["inputs"] for n in prompt.values() if n["class_type"] == "HiResGenerate")
        assert {k: generate[k] for k in family.settings} == family.settings
        assert "upscale_model" not in generate


def test_the_strength_tables_derived_facts() -> None:
    assert strength.STRENGTHS == tuple(range(1, 10))
    assert strength.UPSCALE_MODEL_STRENGTHS == (1, 4, 7)
    assert [strength.strength_preset(s).base_path_only for s in strength.STRENGTHS] == [7, 8, 9] * 3
    for s in strength.STRENGTHS:
        preset = strength.strength_preset(s)
        plain = strength.strength_preset(preset.base_path_only)
        assert (plain.base_path, plain.generative) == (preset.base_path, False)
        assert preset.uses_upscale_model == (preset.base_path == "upscale_4")
    default, plain_default = (strength.strength_preset(s) for s in (strength.DEFAULT_STRENGTH,
                                                                     strength.DEFAULT_PLAIN_STRENGTH))
    assert (default.effect, default.base_path) == ("medium", "bicubic")
    assert (plain_default.generative, plain_default.uses_upscale_model) == (False, True)


def test_the_upscale_model_refusal_lists_the_rows_that_need_none() -> None:
    with pytest.raises(HiResInputError) as caught:
        check_connected(no_diffusion_route("upscale_4"), False, "GenerativeUpscale", ())
    assert caught.value.fix.endswith("or choose a bicubic strength (2, 3, 5, 6, 8, 9)")


@pytest.mark.parametrize(("text", "number"), [("200%", 200.0), (" 50 % ", 50.0), ("12.5%", 12.5), ("200", None),
                                              ("%", None), (200, None), ("-5%", None)])
def test_one_percentage_reader(text: object, number: float | None) -> None:
    assert sizing.parse_percent(text) == number


def test_percentages_size_and_pad_through_the_same_reader() -> None:
    assert sizing.resolve_dimension("width", "150%", 640) == 960
    assert sizing.plan_size(640, 427, "200%").canvas == (1280, 854)
    assert sizing.parse_padding("5%") == (5.0, True)


def test_the_error_keeps_its_parts_apart() -> None:
    error = HiResInputError("background.color", "red", "is not a colour", "send a hex colour like \"#ffffff\"")
    assert (error.field, error.value, error.problem, error.fix) == ("background.color", "red", "is not a colour",
                                                                     "send a hex colour like \"#ffffff\"")
    assert error.input_name == "background.color"
    assert str(error) == "background.color='red': is not a colour. Fix: send a hex colour like \"#ffffff\"."
