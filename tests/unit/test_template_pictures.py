"""The Templates pictures route on an aiohttp app laid out as ComfyUI 0.38's server lays out its routes: the
pack's route first, then core's `/workflow_templates/{module_name}/{filename}` that answers only `.json`, each
also under `/api` (server.py `add_routes`). The URL is the one the front end builds for a card picture."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hires_studio.nodes.template_pictures import (
    PICTURE_SUFFIX,
    WORKFLOWS_FOLDER,
    add_picture_route,
    picture_file,
    picture_route,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / WORKFLOWS_FOLDER).glob(f"*{PICTURE_SUFFIX}"))


def front_end_picture_url(module: str, name: str) -> str:
    """A custom node template's card picture as the front end (1.32 and 1.58) builds it: `api.apiURL(...)` of
    `/workflow_templates/<module>/<name>` plus `.<mediaSubtype>`, which is `jpg` for custom node templates."""
    return "/api" + f"/workflow_templates/{module}/{name}" + ".jpg"


def newer_core_app(pack_dir: Path) -> web.Application:
    """The routes as ComfyUI 0.38 adds them: custom nodes' routes (added while they load) before core's."""
    routes = web.RouteTableDef()
    add_picture_route(routes, pack_dir)

    @routes.get("/workflow_templates/{module_name}/{filename}")
    async def core_template_file(request: web.Request) -> web.StreamResponse:
        filename = request.match_info["filename"]
        if not filename.endswith(".json"):
            raise web.HTTPNotFound()
        path = pack_dir / WORKFLOWS_FOLDER / filename
        if request.match_info["module_name"] != pack_dir.name or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    api_routes = web.RouteTableDef()
    for route in routes:
        api_routes.route(route.method, "/api" + route.path)(route.handler, **route.kwargs)
    app = web.Application()
    app.add_routes(api_routes)
    app.add_routes(routes)
    return app


def fetch(app: web.Application, paths: list[str]) -> list[tuple[int, str, bytes]]:
    """GET each path on a loopback test server: (status, content type, body)."""

    async def run() -> list[tuple[int, str, bytes]]:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            out = []
            for path in paths:
                response = await client.get(path)
                out.append((response.status, response.content_type, await response.read()))
            return out

    return asyncio.run(run())


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """A pack folder under an arbitrary name, with two shipped workflows and their pictures."""
    pack_dir = tmp_path / "custom_nodes" / "any name.v2"
    (pack_dir / WORKFLOWS_FOLDER).mkdir(parents=True)
    for picture in SHIPPED[:2]:
        shutil.copy(picture, pack_dir / WORKFLOWS_FOLDER / picture.name)
        shutil.copy(picture.with_suffix(".json"), pack_dir / WORKFLOWS_FOLDER / picture.with_suffix(".json").name)
    return pack_dir


def test_the_shipped_workflows_have_pictures():
    assert len(SHIPPED) >= 2
    assert all(path.with_suffix(".json").is_file() for path in SHIPPED)


def test_newer_core_serves_the_picture_the_front_end_asks_for(pack: Path):
    names = [path.stem for path in SHIPPED[:2]]
    answers = fetch(newer_core_app(pack), [front_end_picture_url(pack.name, name) for name in names])
    for name, (status, content_type, body) in zip(names, answers, strict=True):
        assert status == 200, name
        assert content_type == "image/jpeg"
        assert body == (pack / WORKFLOWS_FOLDER / f"{name}.jpg").read_bytes()
        assert body[:3] == b"\xff\xd8\xff"


def test_the_workflow_itself_is_still_cores_and_other_files_are_not_served(pack: Path):
    name = SHIPPED[0].stem
    (pack / "secret.jpg").write_bytes(b"\xff\xd8\xff not a workflow picture")
    app = newer_core_app(pack)
    json_answer, missing, other_pack, outside, escaped = fetch(app, [
        f"/api/workflow_templates/{pack.name}/{name}.json",
        front_end_picture_url(pack.name, "no_such_workflow"),
        front_end_picture_url("another_pack", name),
        front_end_picture_url(pack.name, "..%2Fsecret"),
        front_end_picture_url(pack.name, "%2E%2E"),
    ])
    assert json_answer[0] == 200 and json_answer[2] == (pack / WORKFLOWS_FOLDER / f"{name}.json").read_bytes()
    assert missing[0] == 404
    assert other_pack[0] == 404, "only the pack's own folder is answered by its route"
    assert outside[0] == 404 and escaped[0] == 404


def test_the_route_matches_the_packs_folder_name_whatever_it_is(tmp_path: Path):
    for folder in ("hires_studio", "comfyui-hires-studio", "HiRes Studio", "pack (1)", "a+b.c"):
        pattern = picture_route(folder).split("{module:", 1)[1].split("}/", 1)[0]
        assert re.fullmatch(pattern, folder)
        assert not re.fullmatch(pattern, folder + "x") and not re.fullmatch(pattern, "x" + folder)
    workflows = tmp_path / WORKFLOWS_FOLDER
    workflows.mkdir()
    (workflows / "a.jpg").write_bytes(b"x")
    assert picture_file(workflows, "a") == workflows / "a.jpg"
    for bad in ("", ".", "..", "../a", "a/b", "a\\b", "missing"):
        assert picture_file(workflows, bad) is None, bad
