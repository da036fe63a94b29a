"""The nodes take their sizing defaults from the request dataclass itself: every widget default and every
signature default of a sizing input is SIZE_DEFAULTS' own value (the same object: an equal literal such as
"#000000" or "deep-image" written again would be another), and the strength dial's range is the strength
table's."""

from __future__ import annotations

import inspect

import pytest

from hires_studio.devtools.comfy_host import pack_module

pytestmark = pytest.mark.comfy
SIZED = ("GenerativeUpscale", "BicubicClean", "HiResGenerate")
SIZE_FIELDS = ("width", "height", "fit", "scale_by", "size_rules", "padding", "min_length", "crop_focus",
               "canvas_fill", "fill_color")


@pytest.mark.parametrize("node_id", SIZED)
def test_sizing_defaults_are_the_dataclass_defaults(comfy, node_id: str) -> None:
    defaults = pack_module(comfy, "core.request_rules").SIZE_DEFAULTS
    node = comfy.node(node_id)
    widgets = {i.id: getattr(i, "default", None) for i in node.define_schema().inputs}
    checked = 0
    for name in SIZE_FIELDS:
        if name in widgets and node_id != "HiResGenerate":  # HiResGenerate's own width/height: 2048 x 1024
            assert widgets[name] is getattr(defaults, name), (name, widgets[name])
            checked += 1
        for method in ("execute", "validate_inputs", "check_lazy_status"):
            parameter = inspect.signature(getattr(node, method)).parameters.get(name)
            if parameter is not None and parameter.default is not inspect.Parameter.empty \
                    and parameter.default is not None:
                assert parameter.default is getattr(defaults, name), (method, name, parameter.default)
                checked += 1
    assert checked >= (1 if node_id == "HiResGenerate" else 10)
    assert widgets["size_rules"] is defaults.size_rules


def test_the_strength_dial_is_the_tables_range(comfy) -> None:
    table = pack_module(comfy, "core.strength")
    widget = next(i for i in comfy.node("GenerativeUpscale").define_schema().inputs if i.id == "upscale_strength")
    assert (widget.default, widget.min, widget.max) == (table.DEFAULT_STRENGTH, table.STRENGTHS[0],
                                                        table.STRENGTHS[-1])
