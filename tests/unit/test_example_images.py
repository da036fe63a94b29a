"""The example photos the shipped workflows load: shipped with the pack, reproducible, and provided in ComfyUI's
input folder without ever touching a file already there (pure: no ComfyUI)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PIL import Image

from hires_studio.catalog.shipped_workflows import EXAMPLE_FACE_IMAGE, EXAMPLE_IMAGE
from hires_studio.nodes.example_images import EXAMPLE_DIR, example_files, provide_example_images
from hires_studio.scripts.workflows import WORKFLOWS, input_images


def test_every_image_a_workflow_loads_ships_with_the_pack() -> None:
    loaded = {name for workflow in WORKFLOWS for name in input_images(workflow.prompt)}
    assert loaded == {EXAMPLE_IMAGE, EXAMPLE_FACE_IMAGE}
    assert {path.name for path in example_files()} == loaded
    sizes = {name: Image.open(EXAMPLE_DIR / name).size for name in loaded}
    assert sizes == {EXAMPLE_IMAGE: (384, 256), EXAMPLE_FACE_IMAGE: (320, 320)}


def test_the_example_photos_are_what_the_script_makes() -> None:
    from hires_studio.scripts import example_images

    assert example_images.render() == {name: (EXAMPLE_DIR / name).read_bytes() for name in example_images.render()}


def test_copied_into_an_empty_input_folder_once(tmp_path: Path) -> None:
    input_dir = tmp_path / "input"
    assert provide_example_images(input_dir) == sorted([EXAMPLE_FACE_IMAGE, EXAMPLE_IMAGE])
    for name in (EXAMPLE_IMAGE, EXAMPLE_FACE_IMAGE):
        assert (input_dir / name).read_bytes() == (EXAMPLE_DIR / name).read_bytes()
    assert provide_example_images(input_dir) == []
    assert sorted(p.name for p in input_dir.iterdir()) == sorted([EXAMPLE_FACE_IMAGE, EXAMPLE_IMAGE])


def test_a_users_file_of_the_same_name_is_never_touched(tmp_path: Path) -> None:
    mine = tmp_path / EXAMPLE_IMAGE
    mine.write_bytes(b"my own picture")
    os.utime(mine, (1_000_000, 1_000_000))
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(b"linked")
    (tmp_path / EXAMPLE_FACE_IMAGE).symlink_to(elsewhere)
    assert provide_example_images(tmp_path) == []
    assert mine.read_bytes() == b"my own picture" and mine.stat().st_mtime == 1_000_000
    assert (tmp_path / EXAMPLE_FACE_IMAGE).is_symlink() and elsewhere.read_bytes() == b"linked"


def test_a_dangling_link_of_the_same_name_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / EXAMPLE_IMAGE).symlink_to(tmp_path / "gone.png")
    assert provide_example_images(tmp_path) == [EXAMPLE_FACE_IMAGE]
    assert (tmp_path / EXAMPLE_IMAGE).is_symlink() and not (tmp_path / "gone.png").exists()


def test_a_failed_copy_is_a_warning_and_leaves_no_file(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "input"
    blocker.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        assert provide_example_images(blocker) == []
    assert "could not copy the example photos" in caplog.text and blocker.read_text().startswith("a file")
