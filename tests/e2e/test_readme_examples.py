"""The README's shell examples, run as written.

Every fenced `bash` block of README.md is either run here or listed in NOT_RUN_HERE with the reason; a block that
is neither fails the test, so a new example cannot go untested by accident. The REST example runs against
`make serve` (on a free loopback port: the only change made to the block's text), with what the bootstrap
installed, in a folder that sees the project's `.hires` and `scripts` (so its outputs stay out of the project)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import cv2
import pytest

from hires_studio.devtools.make_serve import make_serve

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEFAULT_URL = "http://127.0.0.1:8188"
KEY_CONFIG = ROOT / ".hires" / "base" / "user" / "hires_studio_api" / "config.json"

NOT_RUN_HERE = {
    "comfy node install comfyui-hires-studio": "installs from the Comfy registry: needs the internet",
    "git clone https://github.com/hires-studio/comfyui-hires-studio.git": "clones from GitHub: needs the internet",
    "make test   # set up": "the whole suite, this test among it",
    "make demo   # set up": "the product tour, minutes of CPU on its own",
}
"""A fragment of each README block this test does not run -> why."""


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)


def is_not_run_here(block: str) -> bool:
    return any(fragment in block for fragment in NOT_RUN_HERE)


def test_every_readme_block_is_run_or_has_a_reason_not_to_be() -> None:
    blocks = bash_blocks()
    assert blocks, "the README has no bash blocks"
    for fragment in NOT_RUN_HERE:
        assert sum(fragment in block for block in blocks) == 1, f"{fragment!r} is not in exactly one README block"
    runnable = [block for block in blocks if not is_not_run_here(block)]
    assert runnable == [block for block in blocks if DEFAULT_URL in block], (
        "a README block that is neither run by this test (it talks to `make serve`) nor listed in NOT_RUN_HERE"
    )


def test_the_rest_example_runs_as_written_against_make_serve(tmp_path: Path) -> None:
    (block,) = [block for block in bash_blocks() if DEFAULT_URL in block]
    saved_config = KEY_CONFIG.read_bytes() if KEY_CONFIG.is_file() else None
    work = tmp_path / "work"
    work.mkdir()
    # The block's relative paths are the project's (linked into a temporary folder); its outputs (job.json, the
    # image) land in that folder.
    for name in (".hires", "scripts"):
        (work / name).symlink_to(ROOT / name)
    try:
        with make_serve(tmp_path / "serve.log") as (port, _):
            script = block.replace(DEFAULT_URL, f"http://127.0.0.1:{port}")
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script], cwd=work, capture_output=True, text=True, timeout=600,
                env={**os.environ, "http_proxy": "", "https_proxy": "", "HTTP_PROXY": "", "HTTPS_PROXY": ""},
            )
            assert result.returncode == 0, (result.stdout, result.stderr)
    finally:
        if saved_config is None:
            KEY_CONFIG.unlink(missing_ok=True)
        else:
            KEY_CONFIG.write_bytes(saved_config)
    job = json.loads((work / "job.json").read_text())
    assert job["status"] == "complete", job
    source = cv2.imread(str(ROOT / ".hires" / "base" / "input" / "example.png"))
    result_image = cv2.imread(str(work / "example_1024.png"))
    assert result_image is not None, "the example's result is not an image"
    assert result_image.shape[1] == 1024
    assert result_image.shape[0] == round(source.shape[0] * 1024 / source.shape[1])
