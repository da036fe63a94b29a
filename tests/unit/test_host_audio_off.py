"""scripts/host_audio_off.py takes exactly ComfyUI's two audio node files out of the development host's list."""

from __future__ import annotations

from hires_studio.scripts.host_audio_off import without_audio_nodes

NODES_PY = """async def init_builtin_extra_nodes():
    extras_files = [
        "nodes_latent.py",
        "nodes_audio.py",
        "nodes_canny.py",
        "nodes_audio_encoder.py",
        "nodes_ace.py",
    ]
"""


def test_only_the_two_audio_files_go() -> None:
    assert without_audio_nodes(NODES_PY) == NODES_PY.replace('        "nodes_audio.py",\n', "").replace(
        '        "nodes_audio_encoder.py",\n', ""
    )


def test_a_second_run_changes_nothing() -> None:
    once = without_audio_nodes(NODES_PY)
    assert without_audio_nodes(once) == once
