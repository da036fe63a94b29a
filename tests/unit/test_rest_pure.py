"""The REST layer's pure parts: keys, config, the job store, image encoding, model resolution, and the three
APIs' field checks and graphs (no ComfyUI)."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from hires_studio.core.errors import HiResInputError
from hires_studio.rest import deepimage, deepimage_graph, deepmode, forms, stability
from hires_studio.rest.config import ConfigError, load_config, parse_allow_entry, parse_config, write_key_config
from hires_studio.rest.errors import StabilityError
from hires_studio.rest.images import decode_base64, encode, open_image, parse_file_size
from hires_studio.rest.jobs import COMPLETE, FAILED, IN_PROGRESS, NOT_STARTED, RESTART_MESSAGE, JobStore
from hires_studio.rest.keys import ApiKey, bearer_token, hash_key, identify, new_key
from hires_studio.rest.model_files import resolve_models


def test_keys_are_matched_by_digest_and_every_key_is_compared() -> None:
    alice, bob = new_key(), new_key()
    keys = [ApiKey("alice", hash_key(alice), 4), ApiKey("bob", hash_key(bob), 4)]
    assert identify(alice, keys).name == "alice"
    assert identify(bob, keys).name == "bob"
    assert identify(alice[:-1], keys) is None
    assert identify("", keys) is None and identify(None, keys) is None
    assert len(alice) > 40 and alice != bob
    assert bearer_token("Bearer abc") == "abc" and bearer_token("Basic abc") is None and bearer_token(None) is None


def test_config_keys_from_file_and_environment() -> None:
    config = parse_config({"keys": [{"name": "a", "sha256": hash_key("k1"), "rate_limit": 2}], "rate_limit": 3},
                          {"HIRES_STUDIO_API_KEYS": "b=k2, k3"})
    assert [(k.name, k.rate_limit) for k in config.keys] == [("a", 2), ("b", 3), ("env-1", 3)]
    assert identify("k2", config.keys).name == "b" and identify("k3", config.keys).name == "env-1"
    assert parse_config({}, {}).keys == ()


def test_a_written_one_key_config_loads_with_only_that_key(tmp_path) -> None:
    path = write_key_config(tmp_path / "user", "bench", "k1", rate_limit=4)
    assert path.stat().st_mode & 0o777 == 0o600, "the key digests must not be readable by other users"
    config = load_config(tmp_path / "user", env={})
    assert [(k.name, k.rate_limit) for k in config.keys] == [("bench", 4)]
    assert identify("k1", config.keys).name == "bench" and identify("k2", config.keys) is None


@pytest.mark.parametrize("data", [
    {"keys": [{"name": "a", "sha256": "short"}]},
    {"keys": [{"name": "a", "sha256": "0" * 64}, {"name": "a", "sha256": "1" * 64}]},
    {"rate_limit": -1},
    {"fetch_allowlist": ["not an address"]},
    {"models": {"a": 3}},
])
def test_bad_config_is_refused_with_the_reason(data: dict) -> None:
    with pytest.raises(ConfigError):
        parse_config(data, {})


def test_allowlist_entries() -> None:
    import ipaddress

    entry = parse_allow_entry("127.0.0.1:8123")
    assert entry.allows(ipaddress.ip_address("127.0.0.1"), 8123)
    assert not entry.allows(ipaddress.ip_address("127.0.0.1"), 8124)
    net = parse_allow_entry("10.0.0.0/8")
    assert net.allows(ipaddress.ip_address("10.2.3.4"), 80) and not net.allows(ipaddress.ip_address("11.0.0.1"), 80)
    assert parse_allow_entry("[::1]:9000").allows(ipaddress.ip_address("::1"), 9000)


def test_job_store_owner_isolation_recovery_and_expiry(tmp_path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    a = store.create("alice", "deep-image", {"x": 1})
    b = store.create("alice", "deep-image", {})
    c = store.create("bob", "deep-image", {})
    assert store.get(a.id, owner="bob") is None and store.get(a.id, owner="alice").meta == {"x": 1}
    assert len({a.id, b.id, c.id}) == 3 and len(a.id) >= 32
    assert a.token != a.id and len(a.token) >= 32 and store.by_token(a.token).id == a.id
    store.update(a.id, status=IN_PROGRESS)
    store.update(b.id, status=COMPLETE, result={"r": 1})
    store.update(c.id, status=NOT_STARTED)
    assert store.active_count("alice") == 1 and store.active_count("bob") == 1
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    assert sorted(job.id for job in reopened.recover()) == sorted([a.id, c.id])
    assert reopened.get(a.id).status == FAILED and reopened.get(a.id).error == RESTART_MESSAGE
    assert reopened.get(b.id).status == COMPLETE and reopened.active() == []
    assert {job.id for job in reopened.expired(3600)} == set()
    assert {job.id for job in reopened.expired(3600, now=time.time() + 7200)} == {a.id, b.id, c.id}
    reopened.delete(a.id)
    assert reopened.get(a.id) is None


def _photo(w: int = 64, h: int = 48) -> Image.Image:
    import numpy as np

    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_encode_formats_and_max_file_size() -> None:
    image = _photo(128, 96)
    png = encode(image, "png")
    assert png.mime == "image/png" and Image.open(io.BytesIO(png.data)).size == (128, 96)
    full = encode(image, "jpeg", 95)
    capped = encode(image, "jpeg", 95, max_file_size=len(full.data) // 2)
    assert len(capped.data) <= len(full.data) // 2 and capped.quality < 95
    one_more = encode(image, "jpeg", capped.quality + 1)
    assert len(one_more.data) > len(full.data) // 2, "the highest quality that fits is chosen"
    assert encode(image, "webp", 80).mime == "image/webp"
    assert parse_file_size("1MB") == 1024**2 and parse_file_size("500kb") == 500 * 1024 and parse_file_size(7) == 7
    with pytest.raises(HiResInputError, match="max_file_size"):
        parse_file_size("lots")


def test_decode_under_the_pixel_cap() -> None:
    out = io.BytesIO()
    _photo(100, 100).save(out, "PNG")
    assert open_image(out.getvalue(), 10_000).size == (100, 100)
    with pytest.raises(HiResInputError, match="has 10,000 pixels, more than this server.s 9,999-pixel limit"):
        open_image(out.getvalue(), 9_999)
    with pytest.raises(HiResInputError, match="Unidentified image"):
        open_image(b"not an image", 10_000)
    with pytest.raises(HiResInputError, match="not valid base64"):
        decode_base64("base64,@@@")


def test_model_resolution(tmp_path) -> None:
    graph = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1.safetensors"}, "_meta": {}},
             "2": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "cn.safetensors"}, "_meta": {}}}
    installed = {"checkpoints": ["mine.safetensors"], "controlnet": ["cn.safetensors", "other.safetensors"]}
    out = resolve_models(graph, installed, {})
    assert out["1"]["inputs"]["ckpt_name"] == "mine.safetensors"
    assert graph["1"]["inputs"]["ckpt_name"] == "v1.safetensors", "the input graph is not changed"
    out = resolve_models(graph, installed, {"cn.safetensors": "other.safetensors"})
    assert out["2"]["inputs"]["control_net_name"] == "other.safetensors"
    with pytest.raises(HiResInputError, match="missing.safetensors.*models/controlnet"):
        resolve_models(graph, installed, {"cn.safetensors": "missing.safetensors"})
    with pytest.raises(HiResInputError, match="cn.safetensors.*models/controlnet"):
        resolve_models(graph, {"checkpoints": ["a"]}, {})


BAD_DEEPIMAGE = [
    ({}, "url", "File or image url is required"),
    ({"url": "storage://bucket/a.png"}, "url", "storage://"),
    ({"url": "http://x/a.png", "width": -5}, "width", "is not a size"),
    ({"url": "http://x/a.png", "width": "lots"}, "width", "is not a size"),
    ({"url": "http://x/a.png", "width": 20000}, "width", "Image cannot be upscaled above 16384 x 16384"),
    ({"url": "http://x/a.png", "fit": "stretch"}, "fit", "is not a fit mode"),
    ({"url": "http://x/a.png", "fit": {"crop": "left"}}, "fit", "object form"),
    ({"url": "http://x/a.png", "upscale_strength": 0}, "upscale_strength", "from 1 to 9"),
    ({"url": "http://x/a.png", "upscale_strength": 10}, "upscale_strength", "from 1 to 9"),
    ({"url": "http://x/a.png", "generative_upscale": "yes"}, "generative_upscale", "true or false"),
    ({"url": "http://x/a.png", "output_format": "gif"}, "output_format", "is not an output format"),
    ({"url": "http://x/a.png", "quality": 101}, "quality", "from 0 to 100"),
    ({"url": "http://x/a.png", "max_file_size": "huge"}, "max_file_size", "is not a size"),
    ({"url": "http://x/a.png", "padding": "wide"}, "padding", "is not a margin"),
    ({"url": "http://x/a.png", "enhancements": ["denoise", "deblur"]}, "enhancements[1]", "is not served"),
    ({"url": "http://x/a.png", "enhancements": ["sharpen"]}, "enhancements[0]", "is not an enhancement type"),
    ({"url": "http://x/a.png", "enhancements": "denoise"}, "enhancements", "must be a list"),
    ({"background": {"generate": {"description": "x"}}, "enhancements": ["denoise"]}, "enhancements",
     "works on an input image"),
    ({"url": "http://x/a.png", "denoise_parameters": {"type": "v1"}}, "denoise_parameters", "without the denoise"),
    ({"url": "http://x/a.png", "enhancements": ["denoise"], "denoise_parameters": {"type": "v2"}},
     "denoise_parameters.type", "is not served"),
    ({"url": "http://x/a.png", "light_parameters": {"level": 1}}, "light_parameters", "light is not served"),
    ({"url": "http://x/a.png", "target": "storage://s/f/"}, "target", "cloud storage"),
    ({"url": "http://x/a.png", "preset": "ecommerce"}, "preset", "hosted recipes"),
    ({"url": "http://x/a.png", "dpi": 0}, "dpi", "from 1 to 65535"),
    ({"url": "http://x/a.png", "print_reorientation": "sideways"}, "print_reorientation", "true or false"),
    ({"url": "http://x/a.png", "print_size": "a4long"}, "print_size", "no single standard size"),
    ({"url": "http://x/a.png", "print_size": "a4", "width": 1000}, "width", "print_size sets the size"),
    ({"url": "http://x/a.png", "print_size": "a0", "dpi": 600}, "print_size", "above 16384 x 16384"),
    ({"url": "http://x/a.png", "background": {"remove": "auto"}}, "background.remove", "removal is not served"),
    ({"url": "http://x/a.png", "background": {"replace": "http://x/b.png"}}, "background.replace", "not served"),
    ({"url": "http://x/a.png", "background": {"color": "red"}}, "background.color", "is not a colour"),
    ({"background": {"generate": {"description": "x", "adapter_type": "face"}}}, "url", "File or image url"),
    ({"background": {"generate": {"description": "x", "adapter_type": "wild"}}}, "adapter_type", "not an adapter"),
    ({"background": {"generate": {"description": "x", "model_type": "gpt"}}}, "model_type", "is not a model type"),
    ({"background": {"generate": {"description": "x", "model_type": "see-dream-4.5"}}}, "model_type",
     "is not served"),
    ({"background": {"generate": {"description": "x", "controlnet_conditioning_scale": 2}}},
     "controlnet_conditioning_scale", "from 0 to 1"),
    ({"background": {"generate": {"description": 5}}}, "description", "must be a string"),
    ({"background": {"generate": {"description": "x"}}, "width": "200%"}, "width", "needs an input image"),
    ({"background": {"generate": {"description": "x"}}, "fit": "crop"}, "fit", "not a generated one"),
    ({"url": "http://x/a.png", "background": {"generate": {"adapter_type": "upscale", "description": "x"}}},
     "generative_upscale", "holds the prompt"),
    ({"url": "http://x/a.png", "background": {"generate": {"adapter_type": "inpainting", "description": "x"}}},
     "ip_image2", "needs the mask"),
    ({"url": "http://x/a.png", "ip_image2": "http://x/m.png"}, "ip_image2", "is the inpainting mask"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_DEEPIMAGE)
def test_deepimage_bad_fields_name_the_field(body: dict, field: str, message: str) -> None:
    with pytest.raises(HiResInputError) as error:
        deepimage.parse_request(body)
    assert field in error.value.field and message in str(error.value)


def test_deepimage_sizes_follow_the_sizing_rules() -> None:
    def sizes(**body):
        return deepimage_graph.upscale_sizes(deepimage.parse_request({"url": "http://x/a.png", **body}), (640, 427))

    assert sizes(width=1000) == {"width": 1000, "height": 0}
    assert sizes(width="200%") == {"width": 0, "height": 0, "scale_by": 2.0}
    assert sizes(width="50%", height=300) == {"width": 320, "height": 300, "fit": "canvas"}
    assert sizes() == {"width": 0, "height": 0, "scale_by": 1.0}
    assert sizes(width=500, height=500, fit={"crop": "center"}) == {"width": 500, "height": 500, "fit": "crop"}
    with pytest.raises(HiResInputError, match="16384"):
        sizes(width="3000%")


def test_deepimage_graph_choices() -> None:
    def graph(**body):
        request = deepimage.parse_request(body)
        return deepimage_graph.build_graph(request, image="in.png" if request.url else None, source=(96, 64),
                                     mask="m.png")

    plain = graph(url="http://x/a.png", width=200)
    assert plain["upscale"]["inputs"]["upscale_strength"] == 7 and "ckpt" not in plain and "upscaler" in plain
    assert graph(url="http://x/a.png", upscale_strength=5)["upscale"]["inputs"]["upscale_strength"] == 8
    gen = graph(url="http://x/a.png", generative_upscale=True, upscale_strength=4,
                background={"generate": {"adapter_type": "upscale", "description": "d", "sample_num": 7}})
    assert gen["upscale"]["inputs"]["seed"] == 7 and gen["adapter"]["inputs"]["description"] == "d"
    assert gen["upscale"]["inputs"]["upscale_model"] == ["upscaler", 0]
    text = graph(width=2048, height=1024, background={"generate": {"description": "d", "model_type": "fantasy"}})
    assert text["ckpt"]["inputs"]["ckpt_name"] == "dreamshaper_8.safetensors"
    assert text["generate"]["inputs"]["generative_upscale"] is False and "upscaler" in text
    inpaint = graph(url="http://x/a.png", ip_image2="http://x/m.png",
                    background={"generate": {"adapter_type": "inpainting", "description": "d"}})
    assert inpaint["mask"]["class_type"] == "LoadImageMask" and inpaint["adapter"]["inputs"]["mask"] == ["mask", 0]
    zimage = graph(background={"generate": {"description": "d", "model_type": "z-image-turbo"}})
    assert zimage["generate"]["inputs"]["steps"] == 8 and zimage["unetloader"]["class_type"] == "UNETLoader"
    assert zimage["generate"]["inputs"]["model"] == ["unetloader", 0] and "upscaler" not in zimage


def test_form_data_nests_like_json() -> None:
    form = {"url": "http://x/a.png", "width": "300", "generative_upscale": "true",
            "background[generate][description]": "d", "background[generate][adapter_type]": "upscale",
            "fit": '{"crop": "item"}'}
    body = forms.normalize_form(form)
    request = deepimage.parse_request(body)
    assert (request.width, request.generative_upscale, request.generate["description"], request.crop_focus) == (
        300, True, "d", "item")


@pytest.mark.parametrize(("fields", "has_image", "name", "message"), [
    ({}, False, "bad_request", "image: is required"),
    ({"width": "600", "height": "600"}, True, "bad_request", "Only one of width or height may be specified"),
    ({"width": "100"}, True, "bad_request", "width: must be from 512"),
    ({"steps": "5"}, True, "bad_request", "steps: must be from 10 to 150"),
    ({"cfg_scale": "40"}, True, "bad_request", "cfg_scale: must be from 0 to 35"),
    ({"seed": "-1"}, True, "bad_request", "seed: must be from 0 to 4294967295"),
    ({"text_prompts[0][weight]": "1"}, True, "bad_request", "text_prompts[0][text]: is required"),
    ({"style": "x"}, True, "bad_request", "style: is not a field"),
])
def test_stability_bad_fields(fields: dict, has_image: bool, name: str, message: str) -> None:
    with pytest.raises(StabilityError) as error:
        stability.parse_fields(stability.LATENT, fields, has_image, "application/json")
    assert error.value.status == 400 and error.value.body["name"] == name and message in error.value.body["message"]


def test_stability_rules_and_prompts() -> None:
    request = stability.parse_fields(stability.LATENT, {
        "text_prompts[0][text]": "sharp", "text_prompts[0][weight]": "0.5", "text_prompts[1][text]": "blurry",
        "text_prompts[1][weight]": "-1", "steps": "10"}, True, "image/png")
    assert request.prompts == (("sharp", 0.5), ("blurry", -1.0)) and request.steps == 10 and request.seed == 0
    assert stability.output_size(request, (300, 200)) == (600, 400)
    with pytest.raises(StabilityError) as error:
        stability.output_size(request, (1500, 1500))
    assert error.value.body["name"] == "invalid_pixel_count"
    big = stability.parse_fields(stability.ESRGAN, {"width": "4096"}, True, "application/json")
    with pytest.raises(StabilityError, match="would exceed the maximum pixel count of 4,194,304"):
        stability.output_size(big, (1024, 1024))
    with pytest.raises(StabilityError) as missing:
        stability.check_engine("some-fake-engine")
    assert missing.value.status == 404
    assert missing.value.body["message"] == "The specified engine (ID some-fake-engine) was not found."
    assert stability.check_accept(None) == "application/json" and stability.check_accept("image/png") == "image/png"


@pytest.mark.parametrize(("parse", "body", "message"), [
    (deepmode.parse_upscale, {}, "image_id: is required"),
    (deepmode.parse_upscale, {"image_id": 5}, "image_id: must be a non-empty string"),
    (deepmode.parse_upscale, {"image_id": "a", "size": 2}, "size: is not a field"),
    (deepmode.parse_generate, {"prompt": "p"}, "model_id: is required"),
    (deepmode.parse_generate, {"model_id": "m"}, "prompt: is required"),
    (deepmode.parse_generate, {"model_id": "m", "prompt": "p", "num_images": 9}, "num_images: must be"),
    (deepmode.parse_generate, {"model_id": "m", "prompt": "p", "ratio": "wide"}, "ratio: must be one of"),
    (deepmode.parse_generate, {"model_id": "m", "prompt": "p", "upscale": "yes"}, "upscale: must be true"),
])
def test_deepmode_bad_fields(parse, body: dict, message: str) -> None:
    with pytest.raises(deepmode.DeepmodeError) as error:
        parse(body)
    assert error.value.status == 400 and message in error.value.body["message"]


def test_deepmode_image_object_keys() -> None:
    obj = deepmode.image_object("i", "f.jpeg", "http://h/f.jpeg", upscaled=True, ratio="square")
    assert list(obj) == ["id", "file_name", "model_id", "image_url", "prompt", "negative_prompt", "upscaled", "ratio"]
    assert deepmode.ratio_of((4, 4)) == "square" and deepmode.ratio_of((3, 4)) == "portrait"
