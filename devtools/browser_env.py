"""What the browser tests need on this machine: node, playwright-core (npm ci in tests/browser) and a Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .comfy_host import HIRES, ROOT

BROWSER_DIR = ROOT / "tests" / "browser"


def chromium_path() -> Path:
    """$HIRES_CHROMIUM, else the one the bootstrap found or installed, else the system's `chromium`."""
    recorded = HIRES / "chromium-path"
    for candidate in (os.environ.get("HIRES_CHROMIUM"), recorded.read_text().strip() if recorded.is_file() else None,
                      shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return Path("/usr/bin/chromium")


def browser_missing(chromium: Path) -> str | None:
    """Why the browser test cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not chromium.is_file():
        return f"no Chromium ({chromium} is missing): run scripts/bootstrap.sh --browser"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing (npm ci in tests/browser)"
    return None


def run_browser_check(script: str, url: str, report: Path, *options: str, timeout: int = 300) -> dict:
    """Run tests/browser/<script> (a playwright-core script) against the ComfyUI at `url`; the report it wrote.
    Without node, playwright-core or a Chromium the test fails, or skips where HIRES_SKIP_BROWSER=1 says so."""
    chromium = chromium_path()
    missing = browser_missing(chromium)
    if missing:
        if os.environ.get("HIRES_SKIP_BROWSER") == "1":
            pytest.skip(f"HIRES_SKIP_BROWSER=1 and {missing}")
        pytest.fail(f"{missing}: run scripts/bootstrap.sh (or set HIRES_SKIP_BROWSER=1)")
    run = subprocess.run(
        ["node", str(BROWSER_DIR / script), "--url", url, "--report", str(report), "--chromium", str(chromium),
         *options],
        capture_output=True, text=True, timeout=timeout, cwd=BROWSER_DIR,
    )
    if not report.is_file():
        pytest.fail(f"{script} wrote no report (rc {run.returncode}):\n{run.stderr[-4000:]}")
    return json.loads(report.read_text())
