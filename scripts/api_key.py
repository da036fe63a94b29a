"""Add, list or remove HiRes Studio API keys in ComfyUI's user directory.

    python scripts/api_key.py add NAME --user-dir ComfyUI/user [--rate-limit N]
    python scripts/api_key.py list --user-dir ComfyUI/user
    python scripts/api_key.py remove NAME --user-dir ComfyUI/user

`add` prints the new key once; only its SHA-256 is stored (in <user-dir>/hires_studio_api/config.json), so a
lost key cannot be shown again: remove it and add a new one. Standalone on purpose (no import of the pack,
whatever folder it is cloned into); the digest is the one rest/keys.py compares.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path


def write_atomic(path: Path, config: dict) -> None:
    """The file replaced in one step (a new owner-only file renamed over the old one): the server, which reads
    the file again whenever it changes, never sees it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(config, indent=2) + "\n")
    os.replace(part, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("add", "list", "remove"))
    parser.add_argument("name", nargs="?")
    parser.add_argument("--user-dir", required=True, type=Path, help="ComfyUI's user directory")
    parser.add_argument("--rate-limit", type=int, help="the most active jobs for this key")
    args = parser.parse_args()
    path = args.user_dir / "hires_studio_api" / "config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    keys = config.setdefault("keys", [])
    if args.action == "list":
        for entry in keys:
            print(entry["name"], entry.get("rate_limit", config.get("rate_limit", "default")))
        return 0
    if not args.name:
        parser.error(f"{args.action} needs a NAME")
    if args.action == "remove":
        config["keys"] = [entry for entry in keys if entry["name"] != args.name]
    else:
        if any(entry["name"] == args.name for entry in keys):
            parser.error(f"a key named {args.name} exists: remove it first")
        key = "hs_" + secrets.token_urlsafe(32)
        entry = {"name": args.name, "sha256": hashlib.sha256(key.encode()).hexdigest()}
        if args.rate_limit is not None:
            entry["rate_limit"] = args.rate_limit
        keys.append(entry)
        print(key)
    write_atomic(path, config)
    print(f"{path}: {len(config['keys'])} key(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
