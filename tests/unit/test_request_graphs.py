"""The pure graph builders of Stability v1's upscale and deepmode's requests (graphs/)."""

from __future__ import annotations

import random

import pytest

from hires_studio.catalog.shipped_workflows import EXAMPLE_IMAGE, WORKFLOWS
from hires_studio.core.errors import HiResInputError
from hires_studio.graphs.deepmode import deepmode_generate_graph, deepmode_sizes, deepmode_upscale_graph
from hires_studio.graphs.stability import stability_upscale_graph


def only(prompt: dict, class_type: str) -> dict:
    (node,) = [n for n in prompt.values() if n["class_type"] == class_type]
    return node["inputs"]


def of_type(prompt: dict, class_type: str) -> list[dict]:
    return [n["inputs"] for n in prompt.values() if n["class_type"] == class_type]


def test_esrgan_engine_is_the_upscaler_alone_under_stability_rules():
    prompt = stability_upscale_graph("esrgan-v1-x2plus", image="in.png", width=1024)
    upscale = only(prompt, "GenerativeUpscale")
    assert upscale["upscale_strength"] == 7 and upscale["size_rules"] == "stability-v1"
    assert (upscale["width"], upscale["height"]) == (1024, 0)
    assert not of_type(prompt, "CheckpointLoaderSimple"), "no checkpoint for the ESRGAN engine"


def test_latent_engine_prompts_by_weight_and_sign():
    prompts = (("a", 1.0), ("b", 3.0), ("bad", -2.0), ("worse", -2.0))
    prompt = stability_upscale_graph("stable-diffusion-x4-latent-upscaler", image="in.png", prompts=prompts, seed=5,
                                     steps=10, cfg_scale=35)
    texts = {n["text"] for n in of_type(prompt, "CLIPTextEncode")}
    assert texts == {"a", "b", "bad", "worse"}
    averages = sorted(n["conditioning_to_strength"] for n in of_type(prompt, "ConditioningAverage"))
    assert averages == [0.25, 0.5]  # a:b = 1:3 keeps a quarter of a; bad:worse = 2:2 keeps half
    adapter = only(prompt, "AdapterSelect")
    upscale = only(prompt, "GenerativeUpscale")
    assert upscale["adapter"][0] in prompt and adapter["adapter_type"] == "upscale"
    negative_source = prompt[adapter["negative"][0]]
    assert negative_source["class_type"] == "ConditioningAverage"
    assert {prompt[negative_source["inputs"][k][0]]["inputs"]["text"] for k in ("conditioning_to",
                                                                                "conditioning_from")} == {"bad",
                                                                                                          "worse"}
    assert (upscale["seed"], upscale["steps"], upscale["cfg"]) == (5, 10, 35.0)


def test_latent_engine_without_prompts_and_seed_zero_is_random():
    first = stability_upscale_graph("stable-diffusion-x4-latent-upscaler", image="in.png", rng=random.Random(1))
    second = stability_upscale_graph("stable-diffusion-x4-latent-upscaler", image="in.png", rng=random.Random(2))
    seeds = {only(first, "GenerativeUpscale")["seed"], only(second, "GenerativeUpscale")["seed"]}
    assert len(seeds) == 2 and 0 not in seeds
    assert [n["text"] for n in of_type(first, "CLIPTextEncode")] == ["", ""]
    fixed = stability_upscale_graph("stable-diffusion-x4-latent-upscaler", image="in.png", seed=9)
    assert only(fixed, "GenerativeUpscale")["seed"] == 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "some-fake-engine"}, "engine_id='some-fake-engine': The specified engine (ID some-fake-engine) "
         "was not found."),
        ({"steps": 9}, "steps=9: must be a whole number from 10 to 150."),
        ({"steps": 151}, "steps=151: must be a whole number from 10 to 150."),
        ({"cfg_scale": 35.5}, "cfg_scale=35.5: must be a number from 0 to 35."),
        ({"cfg_scale": float("nan")}, "cfg_scale=nan: must be a number from 0 to 35."),
        ({"seed": 4_294_967_296}, "seed=4294967296: must be a whole number from 0 to 4294967295."),
        ({"prompts": (("x", 0.0),)}, "text_prompts[0][weight]=0.0: must be a finite number other than 0."),
        ({"prompts": (("", 1.0),)}, "text_prompts[0][text]='': must be 1 to 2000 characters."),
        ({"engine": "esrgan-v1-x2plus", "prompts": (("x", 1.0),)}, "text_prompts=1: esrgan-v1-x2plus takes no "
         "prompts."),
    ],
)
def test_stability_request_errors(kwargs, message):
    kwargs = {"engine": "stable-diffusion-x4-latent-upscaler", **kwargs}
    with pytest.raises(HiResInputError) as caught:
        stability_upscale_graph(kwargs.pop("engine"), image="in.png", **kwargs)
    assert str(caught.value).startswith(message + " Fix:")


def test_deepmode_upscale_is_x4_without_diffusion():
    upscale = only(deepmode_upscale_graph("mine.png"), "GenerativeUpscale")
    assert (upscale["upscale_strength"], upscale["scale_by"], upscale["width"], upscale["height"]) == (7, 4.0, 0, 0)


@pytest.mark.parametrize(("ratio", "upscale", "size"),
                         [("square", False, (512, 512)), ("square", True, (2048, 2048)),
                          ("portrait", False, (416, 624)), ("portrait", True, (1664, 2496))])
def test_deepmode_sizes(ratio, upscale, size):
    assert deepmode_sizes(ratio, upscale) == size
    generate = only(deepmode_generate_graph("p", ratio=ratio, upscale=upscale, num_images=3, seed=11), "HiResGenerate")
    assert (generate["width"], generate["height"]) == size
    assert (generate["num_images"], generate["sample_num"], generate["generative_upscale"]) == (3, 11, False)
    assert ("upscale_model" in generate) == upscale


@pytest.mark.parametrize(("kwargs", "name"), [({"ratio": "landscape"}, "ratio"), ({"num_images": 9}, "num_images"),
                                              ({"num_images": 0}, "num_images"), ({"prompt": " "}, "prompt")])
def test_deepmode_request_errors(kwargs, name):
    with pytest.raises(HiResInputError) as caught:
        deepmode_generate_graph(**{"prompt": "p", **kwargs})
    assert caught.value.input_name == name


def test_the_shipped_entries_are_the_builders_graphs():
    shipped = {w.name: w.prompt for w in WORKFLOWS}
    assert shipped["deepmode_upscale_x4"] == deepmode_upscale_graph(EXAMPLE_IMAGE)
    assert only(shipped["deepmode_generate_upscaled"], "HiResGenerate")["num_images"] == 2
    assert only(shipped["stability_esrgan_x2_upscale"], "GenerativeUpscale")["size_rules"] == "stability-v1"
    assert only(shipped["stability_latent_x4_upscale"], "GenerativeUpscale")["seed"] != 0
