"""The shipped editor workflows in the real ComfyUI front end: headless Chromium (Debian's `chromium`) driven
by npm's playwright-core (tests/browser/check_workflows.mjs) against the session's ComfyUI server.

The script loads every workflows/*.json into the editor, fails on a node type the front end does not know, a
widget value it would not accept, a dialog or an error in the console, compares the editor's own API
conversion with workflows/api/, then queues bicubic_clean_to_size from the editor and waits for its image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from comfy_host import ROOT, ComfyServer

import workflows

pytestmark = pytest.mark.browser

HERE = ROOT / "tests" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
QUEUED = "bicubic_clean_to_size"
QUEUED_SIZE = (1600, 1200)


def _browser_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing (npm ci in tests/browser)"
    return None


@pytest.fixture(scope="module")
def report(staged_server: ComfyServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    missing = _browser_missing()
    if missing:
        if os.environ.get("HIRES_SKIP_BROWSER") == "1":
            pytest.skip(f"HIRES_SKIP_BROWSER=1 and {missing}")
        pytest.fail(f"{missing}: run scripts/bootstrap.sh (or set HIRES_SKIP_BROWSER=1)")
    path = tmp_path_factory.mktemp("browser") / "report.json"
    run = subprocess.run(
        ["node", str(HERE / "check_workflows.mjs"), "--url", staged_server.url, "--queue", QUEUED,
         "--report", str(path), "--chromium", str(CHROMIUM)],
        capture_output=True, text=True, timeout=300, cwd=HERE,
    )
    if not path.is_file():
        pytest.fail(f"check_workflows.mjs wrote no report (rc {run.returncode}):\n{run.stderr[-4000:]}")
    return json.loads(path.read_text())


def test_front_end_started(report: dict) -> None:
    assert not report["errors"], report["errors"]
    assert report["startup"]["node_types"] > 100


def test_every_editor_file_was_loaded(report: dict) -> None:
    loaded = {w["name"] for w in report["workflows"]}
    assert loaded == {p.stem for p in (ROOT / workflows.EDITOR_DIR).glob("*.json")}


@pytest.mark.parametrize("name", [w.name for w in workflows.WORKFLOWS])
def test_front_end_accepts_the_workflow(report: dict, name: str) -> None:
    (entry,) = [w for w in report["workflows"] if w["name"] == name]
    assert entry["problems"] == [], "\n".join(entry["problems"])


def test_queued_from_the_editor_and_saved(report: dict) -> None:
    queued = report["queued"]
    assert queued["http_status"] == 200 and not queued["node_errors"], queued
    assert queued["status"] == "success", queued
    (image,) = queued["images"]
    assert image["http_status"] == 200
    assert (image["width"], image["height"]) == QUEUED_SIZE
    assert report["ok"] is True
