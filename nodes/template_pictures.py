"""The Templates browser's card pictures: each shipped workflow's `workflows/<name>.jpg`, served at the URL the
front end asks for, whatever the ComfyUI version.

Every supported front end (1.32 with ComfyUI 0.3.75, 1.58) builds a custom node's card picture as
`/api/workflow_templates/<folder>/<name>.jpg`, `<folder>` being the name of the pack's folder under custom_nodes.
ComfyUI 0.3.75 mounts the whole workflows folder there as static files, so the picture is served; 0.38 serves
only `<name>.json` on that path (`app/custom_node_manager.py`), so the pictures are lost. The pack adds its own
route for its pictures; it is registered before core's (custom nodes load before the server adds its routes), and
on 0.3.75 core's static mount, added to the app earlier still, answers first with the same file.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

PICTURE_SUFFIX = ".jpg"
"""The picture type the front end asks for a custom node's template (its `mediaSubtype`)."""
PACK_DIR = Path(__file__).parent.parent
"""The pack's folder as ComfyUI loaded it (links not followed: its name is the one ComfyUI knows the pack by)."""
WORKFLOWS_FOLDER = "workflows"
"""The pack's folder of editor workflows and their pictures (one of the folder names ComfyUI lists templates
from)."""


def picture_route(folder: str) -> str:
    """The route (without ComfyUI's `/api` prefix, which the server adds to every route) of the pack's pictures
    when the pack's folder under custom_nodes is `folder`. The folder is a pattern that matches only that name:
    aiohttp matches a literal part against the percent-encoded form, so a name with a space would never match."""
    return f"/workflow_templates/{{module:{re.escape(folder)}}}/{{name}}{PICTURE_SUFFIX}"


def picture_file(workflows_dir: Path, name: str) -> Path | None:
    """The picture of the workflow `name`, or None when `name` is not a plain file name or has no picture."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        return None
    path = workflows_dir / f"{name}{PICTURE_SUFFIX}"
    return path if path.is_file() else None


def add_picture_route(routes: web.RouteTableDef, pack_dir: Path) -> None:
    """Serve `pack_dir`'s workflow pictures on `routes` under the folder name ComfyUI knows the pack by (the
    directory's own name as it sits in custom_nodes, links not followed)."""
    workflows_dir = pack_dir / WORKFLOWS_FOLDER

    async def serve_picture(request: web.Request) -> web.StreamResponse:
        path = picture_file(workflows_dir, request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "image/jpeg"})

    routes.get(picture_route(pack_dir.name))(serve_picture)
