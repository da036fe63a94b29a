"""What the browser tests need on this machine: node, playwright-core (npm ci in tests/browser) and a Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from comfy_host import HIRES, ROOT

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
