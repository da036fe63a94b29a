"""The editor's node help panel shows each node's page from web/docs/<NodeId>.md: headless Chromium puts each
node on the canvas of the real ComfyUI front end, selects it and presses the selection toolbox's info button
(tests/browser/check_node_help.mjs), against the session's server."""

from __future__ import annotations

import re

import pytest

from hires_studio.devtools.browser_env import run_browser_check
from hires_studio.devtools.comfy_host import PACK_LINK, ROOT, ComfyServer

pytestmark = pytest.mark.browser

DOCS = ROOT / "web" / "docs"
PACK_NODES = ("GenerativeUpscale", "BicubicClean", "AdapterSelect", "HiResGenerate")


@pytest.fixture(scope="module")
def help_report(comfy_server: ComfyServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("help") / "report.json"
    report = run_browser_check("check_node_help.mjs", comfy_server.url, path)
    assert report["errors"] == [] and report["ok"], report["errors"]
    # The front end with API nodes asks the internet for releases and the registry (aborted in the page); the
    # help panel must not.
    assert [url for url in report["blocked"] if "/docs/" in url or ".md" in url] == [], report["blocked"]
    return report


def markdown_headings(text: str) -> list[str]:
    return [re.sub(r"`", "", m.group(1)).strip() for m in re.finditer(r"^#{1,3} (.+)$", text, flags=re.MULTILINE)]


@pytest.mark.parametrize("node", PACK_NODES)
def test_the_help_panel_shows_the_nodes_page(help_report: dict, comfy_server: ComfyServer, node: str) -> None:
    shown = help_report["nodes"][node]
    page = (DOCS / f"{node}.md").read_text()
    assert shown["headings"] == markdown_headings(page)
    assert shown["tables"] == page.count("\n| --- |")
    fetched = {f["url"].split("?")[0]: f["status"] for f in shown["fetched"]}
    assert fetched.get(f"{comfy_server.url}/extensions/{PACK_LINK}/docs/{node}.md") == 200, shown["fetched"]
    # Every input the node has is explained on its page (by its name, as the panel shows it).
    info = comfy_server.object_info[node]["input"]
    inputs = [*info.get("required", {}), *info.get("optional", {})]
    assert [name for name in inputs if name not in shown["text"]] == []
