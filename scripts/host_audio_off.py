"""Leave ComfyUI's two audio node files out of the development host's ComfyUI (.hires/ComfyUI).

Both import torchaudio, and no torchaudio wheel matches the host's CPU torch 2.13.0 (PyPI's builds are for other
torch releases and link CUDA), so ComfyUI would print two import tracebacks and "IMPORT FAILED" on every start.
The pack has no audio node and no workflow of it uses one; a user's own ComfyUI is never changed by this.

Usage: python scripts/host_audio_off.py COMFYUI_DIR   (idempotent)
"""

from __future__ import annotations

import sys
from pathlib import Path

AUDIO_NODE_FILES = ("nodes_audio.py", "nodes_audio_encoder.py")


def without_audio_nodes(nodes_py: str) -> str:
    """nodes.py's text with the audio node files taken out of the built-in extra node list."""
    dropped = {f'"{name}",' for name in AUDIO_NODE_FILES}
    return "".join(line for line in nodes_py.splitlines(keepends=True) if line.strip() not in dropped)


def main(comfy_dir: Path) -> None:
    nodes_py = comfy_dir / "nodes.py"
    text = nodes_py.read_text()
    if "def init_builtin_extra_nodes" not in text:
        raise SystemExit(f"{nodes_py} has no init_builtin_extra_nodes: not a ComfyUI this script knows")
    new = without_audio_nodes(text)
    if new != text:
        nodes_py.write_text(new)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
