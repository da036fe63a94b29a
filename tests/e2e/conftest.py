"""The REST suites' fixtures (tests/e2e/test_rest_*.py): their client on the session's staged server, and
deep-image's client generated from its published schema. The cluster test gives `api` its own workers."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from hires_studio.devtools.comfy_host import ComfyServer
from hires_studio.devtools.rest_api_client import Api, generated_deepimage_client, open_api


@pytest.fixture(scope="module")
def api(staged_server: ComfyServer) -> Iterator[Api]:
    with open_api(staged_server) as client:
        yield client


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    with generated_deepimage_client(tmp_path_factory.mktemp("generated")) as client:
        yield client
