"""Files written in one step: a new file beside the target, renamed over it, so a reader (the config watcher,
a client fetching a result, another worker) sees the old file or the whole new one, never a part."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o666) -> None:
    """`data` into `path` through a `.part` file named for this process (two writers never share one); `mode`
    before the umask (0o600 for a file only its owner may read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(part, path)
