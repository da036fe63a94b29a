"""`make serve PORT=N`, the README's editor command: it listens on the port asked for, loads ComfyUI's API nodes
(the hosted workflows need them) and the pack, and starts without a traceback or an import failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from hires_studio.devtools.make_serve import make_serve

pytestmark = pytest.mark.e2e

PACK_NODES = {"GenerativeUpscale", "BicubicClean", "AdapterSelect", "HiResGenerate"}


def test_make_serve_takes_port_and_starts_clean_with_the_api_nodes(tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with make_serve(log_path) as (port, info):
        assert PACK_NODES <= set(info)
        assert {"GeminiImageNode", "ByteDanceSeedreamNode"} <= set(info), "ComfyUI's API nodes did not load"
    output = log_path.read_text()
    assert f"To see the GUI go to: http://127.0.0.1:{port}" in output
    assert "Traceback" not in output, output
    assert "IMPORT FAILED" not in output, output
