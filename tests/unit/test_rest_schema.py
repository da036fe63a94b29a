"""deep-image's published schema, field by field: each request example is valid by the schema (openapi-core) and
is served or refused by name; the defaults a generated client sends are accepted; print_size, dpi and the denoise
enhancement reach the graph and the file; the config cache keeps the last good configuration; hostile values
never break an error message. No ComfyUI."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

from hires_studio.core.errors import HiResInputError, short_repr
from hires_studio.devtools.deepimage_schema import request_examples, schema, validate_request, validate_response
from hires_studio.rest import deepimage, deepimage_graph, forms
from hires_studio.rest.config import CONFIG_PLACE, ConfigCache, ConfigError, config_path, write_key_config
from hires_studio.rest.forms import FormError, split_form
from hires_studio.rest.images import encode
from hires_studio.rest.keys import hash_key, identify
from hires_studio.rest.print_sizes import PAPER_INCHES, oriented, print_pixels
from hires_studio.rest.ticks import TickHealth, run_ticks

ROOT = Path(__file__).resolve().parents[2]
SERVED_EXAMPLES = {"Upscale image from url", "Upscale Base64 encoded image", "Generate image"}
REFUSED_EXAMPLES = {
    "Remove background": "background.remove",
    "Remove and generate background": "background.generate.item_area_percentage",
    "Upscale image from storage": "url",
    "Upscale image and upload to storage": "target",
}


def test_every_request_example_is_valid_and_served_or_refused_by_name() -> None:
    examples = request_examples()
    assert set(examples) == SERVED_EXAMPLES | set(REFUSED_EXAMPLES)
    for name, body in examples.items():
        validate_request("/rest_api/process", body)
        validate_request("/rest_api/process_result", body)
        if name in SERVED_EXAMPLES:
            deepimage.parse_request(body)
            continue
        with pytest.raises(HiResInputError) as error:
            deepimage.parse_request(body)
        assert error.value.field == REFUSED_EXAMPLES[name], (name, str(error.value))


def test_the_defaults_a_generated_client_sends_are_accepted() -> None:
    payload = schema()["components"]["schemas"]["ProcessPayload"]["properties"]
    defaults = {}
    for name, prop in payload.items():
        target = schema()["components"]["schemas"][prop["$ref"].rsplit("/", 1)[1]] if "$ref" in prop else prop
        if "default" in target:
            defaults[name] = target["default"]
    assert defaults == {"fit": "canvas", "quality": 85, "dpi": 300, "print_reorientation": True}
    for body in ({"url": "http://x/a.png", "width": "200%"},
                 {"background": {"generate": {"description": "a house"}}, "width": 512, "height": 512}):
        request = deepimage.parse_request({**body, **defaults})
        assert (request.quality, request.dpi, request.print_size, request.fit) == (85, 300, None, "canvas")


def test_print_size_is_the_paper_at_the_dpi_turned_to_the_photo() -> None:
    assert print_pixels("a4", 300) == (2480, 3508)
    assert print_pixels("letter", 300) == (2550, 3300)
    assert print_pixels("ledger", 100) == (1700, 1100)
    assert oriented((2480, 3508), (640, 427)) == (3508, 2480)
    assert oriented((2480, 3508), (427, 640)) == (2480, 3508)
    assert oriented((2480, 3508), (500, 500)) == (2480, 3508)
    enum = schema()["components"]["schemas"]["PrintSize"]["enum"]
    assert set(PAPER_INCHES) < set(enum) and len(PAPER_INCHES) == 53

    def upscale(**body):
        request = deepimage.parse_request({"url": "http://x/a.png", "upscale_strength": 8, **body})
        graph = deepimage_graph.build_graph(request, image="x.png", source=(640, 427))
        return {k: graph["upscale"]["inputs"].get(k) for k in ("width", "height", "fit")}

    assert upscale(print_size="a5", dpi=100) == {"width": 827, "height": 583, "fit": "canvas"}
    assert upscale(print_size="a5", dpi=100, print_reorientation=False) == {"width": 583, "height": 827,
                                                                           "fit": "canvas"}
    assert upscale(print_size="a5", dpi=100, fit="cover")["fit"] == "cover"


def test_dpi_is_written_into_every_output_format() -> None:
    image = Image.new("RGB", (24, 16), (1, 2, 3))
    for output_format in ("png", "jpeg", "webp"):
        encoded = encode(image, output_format, 85, None, 240)
        with Image.open(io.BytesIO(encoded.data)) as written:
            if output_format == "webp":
                exif = written.getexif()
                assert (float(exif[282]), float(exif[283]), exif[296]) == (240.0, 240.0, 2)
            else:
                assert [round(v) for v in written.info["dpi"]] == [240, 240], output_format
    assert "dpi" not in Image.open(io.BytesIO(encode(image, "jpeg").data)).info


def test_denoise_is_bicubic_cleans_pass_before_the_upscale() -> None:
    request = deepimage.parse_request({"url": "http://x/a.png", "width": 300, "enhancements": ["denoise"],
                                       "denoise_parameters": {"type": "v1"}})
    graph = deepimage_graph.build_graph(request, image="x.png", source=(200, 100))
    assert graph["denoise"] == {"inputs": {"image": ["image", 0], "width": 0, "height": 0, "fit": "canvas",
                                           "scale_by": 1.0, "cleanup": "auto"},
                                "class_type": "BicubicClean", "_meta": {"title": "BicubicClean"}}
    assert graph["upscale"]["inputs"]["image"] == ["denoise", 0]
    plain = deepimage_graph.build_graph(deepimage.parse_request({"url": "http://x/a.png", "width": 300}), image="x.png",
                                  source=(200, 100))
    assert "denoise" not in plain and plain["upscale"]["inputs"]["image"] == ["image", 0]


def test_the_schemas_form_data_parameters_part() -> None:
    body = forms.normalize_form({"parameters": json.dumps({"width": "200%", "quality": 85}).encode()})
    assert body == {"width": "200%", "quality": 85}
    for fields, field in (({"parameters": b"{bad"}, "parameters"), ({"parameters": b"[1]"}, "parameters"),
                          ({"parameters": b"\xff"}, "parameters"), ({"fit": "{bad"}, "fit"),
                          ({"url": "x", "url[a]": "y"}, "url[a]"),
                          ({"parameters": b'{"url": "x"}', "url": "y"}, "url")):
        with pytest.raises(HiResInputError) as error:
            forms.normalize_form(fields)
        assert error.value.field == field, fields


def test_responses_are_judged_by_the_schema() -> None:
    validate_response("post", "/rest_api/process", 200, {"status": "complete", "job": "j", "result_url": "u"})
    validate_response("post", "/rest_api/process", 500, {"message": "m", "status": "failed", "job": "j"})
    validate_response("post", "/rest_api/process", 413, {"message": "m", "code": "BAD_REQUEST"})
    for status, body in ((200, {"status": "failed", "job": "j"}), (500, {"message": "m"}),
                         (413, {"message": "m"})):
        with pytest.raises(Exception):  # noqa: B017 (openapi-core's error types differ by status)
            validate_response("post", "/rest_api/process", status, body)


def test_error_messages_survive_hostile_values() -> None:
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert short_repr(deep) == "<a list nested too deeply to print>"
    assert len(short_repr("x" * 10_000)) == 80
    error = HiResInputError("url", deep, "must be a string", "send url as text")
    assert str(error).startswith("url=<a list nested too deeply") and error.value is deep
    assert identify("caf\udcff", []) is None


def test_the_last_good_config_keeps_serving_while_the_file_is_broken(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIRES_STUDIO_API_KEYS", raising=False)
    user = tmp_path / "user"
    cache = ConfigCache(user)
    with pytest.raises(ConfigError):  # nothing loaded yet and the file is broken: refused
        config_path(user).parent.mkdir(parents=True)
        config_path(user).write_text("{broken")
        cache.get()
    assert cache.state.state == "broken" and CONFIG_PLACE in cache.state.problem
    assert str(tmp_path) not in cache.state.problem, "no absolute path in a message"
    write_key_config(user, "a", "k1", rate_limit=2)
    assert [k.name for k in cache.get().keys] == ["a"] and cache.state.state == "ok"
    config_path(user).write_text('{"keys": [{"name": "b"')
    os.utime(config_path(user), ns=(1, 1))
    assert [k.name for k in cache.get().keys] == ["a"]
    assert cache.state.state == "last_good" and "config.json" in cache.state.problem
    write_key_config(user, "c", "k2", rate_limit=2)
    assert [k.name for k in cache.get().keys] == ["c"] and cache.state.state == "ok"


def test_api_key_script_writes_the_file_atomically(tmp_path: Path) -> None:
    user = tmp_path / "user"
    script = [sys.executable, str(ROOT / "scripts" / "api_key.py")]
    key = subprocess.run([*script, "add", "team", "--user-dir", str(user)], capture_output=True, text=True,
                         check=True).stdout.strip()
    path = config_path(user)
    data = json.loads(path.read_text())
    assert data["keys"] == [{"name": "team", "sha256": hash_key(key)}]
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.json"], "no temporary file left behind"


def test_the_watcher_loop_outlives_errors_in_its_ticks() -> None:
    calls: list[int] = []

    async def tick() -> None:
        calls.append(len(calls))
        if len(calls) <= 3:
            raise RuntimeError("config.json: Expecting value")

    async def run() -> TickHealth:
        health = TickHealth()
        task = asyncio.get_running_loop().create_task(run_ticks(tick, 0.001, 0.001, health))
        while len(calls) < 6:
            await asyncio.sleep(0.001)
        assert (health.failed_in_a_row, health.failed_total, health.last_error) == (0, 3, "RuntimeError")
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return health

    asyncio.run(run())
    assert len(calls) >= 6


def test_a_form_body_whose_content_type_names_no_boundary() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/", files=[
        ("fileName", ("a.png", b"\x89PNG\r\n--not-the-boundary\r\n\x00\xff", "image/png")),
        ("parameters", (None, b'{"width": 32}', "application/json")), ("note", (None, "caf\u00e9".encode(), None))])
    fields, files = split_form(request.read())
    assert fields == {"parameters": b'{"width": 32}', "note": "caf\u00e9"}
    assert files == {"fileName": b"\x89PNG\r\n--not-the-boundary\r\n\x00\xff"}
    for body in (b"", b"no boundary line", b"--\r\n", b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
                 b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
                 b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n2\r\n--b--\r\n'):
        with pytest.raises(FormError):
            split_form(body)


def test_rest_asks_cores_single_definitions() -> None:
    """The REST layer uses core's objects themselves, not equal copies."""
    from hires_studio.core import request_rules, sizing, strength
    from hires_studio.rest import deepmode, stability

    assert deepimage.CROP_FOCI is sizing.CROP_FOCI and deepimage.FITS is sizing.FITS
    assert deepimage.parse_percent is sizing.parse_percent and deepimage.parse_padding is sizing.parse_padding
    assert deepimage.STRENGTHS is strength.STRENGTHS
    assert deepimage_graph.strength_preset is strength.strength_preset
    assert deepimage_graph.resolve_dimension is sizing.resolve_dimension
    assert deepmode.check_num_images is request_rules.check_num_images
    assert stability.STABILITY_STEPS is sizing.STABILITY_STEPS
    assert stability.STABILITY_CFG_SCALE is sizing.STABILITY_CFG_SCALE
    assert stability.stability_v1_size is sizing.stability_v1_size
    assert HiResInputError is sizing.HiResInputError, "one error type"
