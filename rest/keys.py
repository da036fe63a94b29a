"""API keys: stored as SHA-256 digests (never in clear), matched in constant time.

Keys are long random strings (see scripts/api_key.py), so a plain digest is enough: there is nothing to
brute-force the way there is with a password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKey:
    name: str
    """Who the key belongs to: jobs are owned by this name, and each name sees only its own jobs."""
    digest: str
    """Hex SHA-256 of the key's UTF-8 bytes."""
    rate_limit: int
    """The most jobs this key may have received, queued or running at once."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh key: 32 random bytes, URL-safe."""
    return "hs_" + secrets.token_urlsafe(32)


def identify(presented: str | None, keys: Sequence[ApiKey]) -> ApiKey | None:
    """The configured key the presented one matches, or None. Every configured digest is compared, with
    hmac.compare_digest, so the time taken says nothing about which key (or how much of it) matched."""
    if not presented:
        return None
    try:
        digest = hash_key(presented)
    except UnicodeEncodeError:  # aiohttp hands a non-UTF-8 header byte on as a surrogate: no key has one
        return None
    match = None
    for key in keys:
        if hmac.compare_digest(digest, key.digest):
            match = key
    return match


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
