"""The ComfyUI range the pack declares (pyproject.toml [tool.comfy] requires-comfyui, read by the Comfy registry
and ComfyUI-Manager) holds the ComfyUI the suite runs on, and docs/comfyui-versions.md states that same range."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def declared() -> str:
    """requires-comfyui of pyproject.toml's [tool.comfy] table (the one line in the file that sets it)."""
    text = (ROOT / "pyproject.toml").read_text()
    table = text.split("[tool.comfy]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^requires-comfyui = "([^"]+)"', table, re.MULTILINE).group(1)


def host_version() -> str:
    """The version of the ComfyUI the tests run on (.hires/ComfyUI, built by scripts/bootstrap.sh)."""
    text = (ROOT / ".hires" / "ComfyUI" / "comfyui_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def test_the_declared_range_holds_the_tested_comfyui_and_is_bounded():
    spec = SpecifierSet(declared())
    assert Version(host_version()) in spec, (declared(), host_version())
    lower = [s for s in spec if s.operator == ">="]
    upper = [s for s in spec if s.operator == "<"]
    assert len(lower) == 1 and Version(lower[0].version) == Version(host_version()), "the floor is the tested host"
    assert len(upper) == 1 and Version(host_version()) < Version(upper[0].version)


def test_the_versions_page_states_the_declared_range():
    page = (ROOT / "docs" / "comfyui-versions.md").read_text()
    assert f'requires-comfyui = "{declared()}"' in page
    spec = SpecifierSet(declared())
    low = next(s.version for s in spec if s.operator == ">=")
    assert f"ComfyUI {low} to " in page
