"""The pack installed the way the README says, outside the bootstrap: copied (as a clone would be) under another
folder name into a plain ComfyUI base directory, run by a Python without the repository's import path
(devtools/plain_python.py: no name `hires_studio` on sys.path, as in a user's install).

- ComfyUI loads it: its four nodes are defined, from the new folder, and its templates are listed and served
  under that folder's name, thumbnails included;
- its weight conversion script runs from the copy: it converts a cleanup net for real
  (checked against its recorded sha256) and checks the files already present.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from hires_studio.devtools.comfy_host import HIRES, ROOT, ComfyServer
from hires_studio.devtools.plain_python import DEV_PATH_FILE, plain_python
from hires_studio.scripts import workflows

pytestmark = pytest.mark.e2e

CLONE_NAME = "ComfyUI-HiRes-Studio-fork"
"""Not the bootstrap's `hires_studio`: mixed case and hyphens (not an importable Python name), as git clone or a
user may call it."""
NOT_COPIED = shutil.ignore_patterns(".git", ".hires", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache",
                                    ".hypothesis", "out")
PACK_NODES = {"GenerativeUpscale", "BicubicClean", "AdapterSelect", "HiResGenerate"}
CONVERTED = "hires_cleanup/waifu2x_photo_noise0.safetensors"
"""The one file the test converts for real (small); the others are copied in and only checked."""


@pytest.fixture(scope="module")
def fresh_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fresh-install")
    shutil.copytree(ROOT, base / "custom_nodes" / CLONE_NAME, ignore=NOT_COPIED)
    for folder in ("input", "output", "models"):
        (base / folder).mkdir(exist_ok=True)
    return base


@pytest.fixture(scope="module")
def fresh_server(fresh_base: Path):
    server = ComfyServer(fresh_base, plain=True)
    yield server
    server.stop()


def test_comfyui_loads_the_pack_under_another_folder_name(fresh_server: ComfyServer) -> None:
    info = fresh_server.object_info
    assert PACK_NODES <= set(info), sorted(PACK_NODES - set(info))
    for name in PACK_NODES:
        assert info[name]["python_module"] == f"custom_nodes.{CLONE_NAME}", info[name]["python_module"]
    failed = [line for line in fresh_server.log_path.read_text().splitlines()
              if CLONE_NAME in line and ("IMPORT FAILED" in line or "Cannot import" in line)]
    assert not failed, failed


def test_templates_are_listed_and_served_under_that_name(fresh_server: ComfyServer) -> None:
    listed = fresh_server.get("/workflow_templates")[CLONE_NAME]
    assert sorted(listed) == sorted(w.name for w in workflows.WORKFLOWS)
    for name in ("bicubic_clean_to_size.json", "bicubic_clean_to_size.jpg"):
        status, payload = fresh_server.request(f"/api/workflow_templates/{CLONE_NAME}/{name}", raw=True)
        assert status == 200 and payload == (ROOT / workflows.EDITOR_DIR / name).read_bytes(), name


def test_the_plain_python_has_no_name_for_the_pack(tmp_path: Path) -> None:
    """What the two tests below rely on: the venv names the pack (its one import path), the plain Python does not,
    and both import torch and torchvision."""
    probe = tmp_path / "probe.py"
    probe.write_text("import importlib.util, torchvision\nprint(importlib.util.find_spec('hires_studio') is None)\n")
    assert (Path(sysconfig.get_paths()["purelib"]) / DEV_PATH_FILE).is_file()
    venv = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120)
    assert venv.stdout.strip() == "False", venv.stderr
    cmd, env = plain_python(probe)
    plain = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert plain.stdout.strip() == "True", plain.stderr


def test_conversion_script_runs_from_the_copy(fresh_base: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    real = HIRES / "base" / "models"
    for path in real.rglob("*.safetensors"):
        rel = path.relative_to(real).as_posix()
        if rel != CONVERTED:
            (models / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, models / rel)
    script = fresh_base / "custom_nodes" / CLONE_NAME / "scripts" / "convert_weights.py"
    cmd, env = plain_python(script, str(models))
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith(f"wrote    {CONVERTED}") for line in lines), lines
    assert (models / CONVERTED).read_bytes() == (real / CONVERTED).read_bytes()
    others = [line for line in lines if line.startswith(("ok", "wrote"))]
    assert len(others) == len(list(real.rglob("*.safetensors"))), lines
