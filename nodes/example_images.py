"""The pack's example photos, provided where ComfyUI's Load Image finds them, so every shipped workflow runs on
its first Run in a ComfyUI to which nothing was added.

The photos ship with the pack (`example_images/`, made by scripts/example_images.py from public-domain and CC0
photographs); at start-up each one is copied into ComfyUI's input folder under its own name unless a file of
that name is already there: a user's file is never overwritten or changed. Nothing is downloaded. No ComfyUI
import here: the caller passes the input folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "example_images"
"""The pack's example photos (found from this file, whatever the pack's folder is called)."""


def example_files(source: Path = EXAMPLE_DIR) -> list[Path]:
    """The example photos the pack ships, by name."""
    return sorted(path for path in source.glob("*.png") if path.is_file())


def provide_example_images(input_dir: Path, source: Path = EXAMPLE_DIR) -> list[str]:
    """Copy each example photo into `input_dir` where no file of its name exists; the names copied.

    The file is created exclusively (`x` mode), so an existing file, or one the user puts there at the same
    moment, is never touched; a copy that fails half-way removes only the file it created."""
    copied: list[str] = []
    try:
        input_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.warning("HiRes Studio: could not copy the example photos into %s (%s); the shipped workflows will ask "
                    "for an image", input_dir, error)
        return copied
    for path in example_files(source):
        target = input_dir / path.name
        if target.exists() or target.is_symlink():
            continue
        try:
            data = path.read_bytes()
            with open(target, "xb") as out:
                try:
                    out.write(data)
                except OSError:
                    target.unlink()
                    raise
        except FileExistsError:
            continue
        except OSError as error:
            log.warning("HiRes Studio: could not copy the example photo %s into %s (%s); the shipped workflows "
                        "will ask for an image", path.name, input_dir, error)
            continue
        copied.append(path.name)
    return copied
