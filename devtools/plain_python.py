"""Python as a user's ComfyUI install runs it: the venv's packages, without the repository's import path.

The bootstrap's `hires_studio_dev.pth` names the pack `hires_studio` in every process of the development venv. A
user's clone sits under any folder name with no such name on sys.path, so the tests that show the pack works as
installed start their processes without it: site's `.pth` files are skipped (`-S`) and the venv's packages come
from PYTHONPATH. The CPU torchvision shim, which the venv loads through a `.pth` of its own, is imported by hand:
a user's torchvision works without it.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

DEV_PATH_FILE = "hires_studio_dev.pth"
"""The file scripts/bootstrap.sh writes into the venv's site-packages: the repository's one import path."""
LAUNCHER = ("import runpy, sys; import _torchvision_cpu_shim; del sys.argv[0]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")


def plain_python(script: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run `python script args` as a user's install would: the script's folder
    first on sys.path (as Python puts it), then the venv's packages, and nothing else."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(script).resolve().parent), sysconfig.get_paths()["purelib"]])
    return [sys.executable, "-S", "-c", LAUNCHER, str(script), *args], env
