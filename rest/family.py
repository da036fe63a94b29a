"""What one hosted API brings to the shared job runner (`routes.RestApi`): its routes, its refusals in its own
bodies, its result writer and its typed job record. deep-image, Stability and deepmode are one object each,
registered in `routes.API_FAMILIES`; the runner never asks which API it is serving.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from aiohttp import web

from .errors import ApiError
from .jobs import Job

if TYPE_CHECKING:
    from .routes import RestApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Refusal = Literal["no_keys", "no_key_sent", "unknown_key", "config", "rate_limited", "unavailable"]
"""The runner's refusals: no key configured, none sent, one that matches no key, no configuration loaded, the
key's active jobs at its rate limit, and the shared job queue out of reach (a 503: try again shortly)."""
Record = TypeVar("Record")


def job_record(record_type: type[Record], meta: Mapping[str, Any]) -> Record:
    """A job's typed record from the JSON the store keeps (fields a newer version added take their defaults)."""
    names = {field.name for field in dataclasses.fields(record_type)}
    return record_type(**{name: value for name, value in meta.items() if name in names})


class ApiFamily(ABC):
    """One hosted API on the shared runner."""

    name: ClassVar[str]
    """The API's name, kept on each of its jobs."""

    def __init__(self, runner: RestApi) -> None:
        self.runner = runner

    @abstractmethod
    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) of each route; a path part is anything up to the next slash."""

    @abstractmethod
    def presented_key(self, request: web.Request) -> str | None:
        """The key the request presents, where this API's clients send it."""

    @abstractmethod
    def refuse(self, kind: Refusal, message: str) -> ApiError:
        """The API's body and status for one of the runner's refusals (`message` says why and what to do)."""

    @abstractmethod
    def bad_body(self, status: int, message: str) -> ApiError:
        """The API's body for a body the runner cannot read (400, 411, 413)."""

    @abstractmethod
    def server_error(self, job_id: str) -> ApiError:
        """The API's documented 500 for an error the server did not expect."""

    @abstractmethod
    def write_result(self, job: Job, paths: list[str], folder: Path) -> dict[str, Any]:
        """Encode a finished job's images into `folder`: the job's result (its files and what responses need)."""

    def callback(self, job: Job) -> tuple[str, Any] | None:
        """(URL, payload) to POST when the job ends, for an API with callbacks."""
        return None
