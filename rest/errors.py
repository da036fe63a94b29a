"""Refusals with each API's own documented body and status, raised anywhere a request is checked."""

from __future__ import annotations

import uuid
from typing import Any


class ApiError(Exception):
    """A request this server refuses: the HTTP status and the JSON body the API documents for it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status} {body}")


class DeepImageError(ApiError):
    """deep-image's `{message, code}`; `extra` adds body fields (a failed job's 500 adds `status` and `job`)."""

    def __init__(self, http_status: int, message: str, code: str | None = None, **extra: Any) -> None:
        body: dict[str, Any] = {"message": message}
        if code is not None:
            body["code"] = code
        body.update(extra)
        super().__init__(http_status, body)


def bad_request(error: Exception) -> DeepImageError:
    """deep-image's 400 for a field at fault (`field=value: problem. Fix: fix.`, which HiResInputError builds
    from its attributes) or for a graph ComfyUI refused (its message)."""
    return DeepImageError(400, str(error), "BAD_REQUEST")


class StabilityError(ApiError):
    """Stability v1's `{id, name, message}`."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(status, {"id": uuid.uuid4().hex, "name": name, "message": message})


class DeepmodeError(ApiError):
    """deepmode documents no error body; this server answers `{"message": ...}` with the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, {"message": message})
