"""The API's configuration: a small JSON file in ComfyUI's user directory plus an environment variable.

`<user>/hires_studio_api/config.json` (every field optional):

    {"keys": [{"name": "team-a", "sha256": "<hex digest of the key>", "rate_limit": 4}],
     "rate_limit": 4, "result_ttl_hours": 24, "process_result_wait_s": 25,
     "fetch_allowlist": ["192.168.1.20", "10.0.0.0/8", "127.0.0.1:8123"],
     "models": {"v1-5-pruned-emaonly-fp16.safetensors": "my_model.safetensors"},
     "public_url": "https://images.example.com", "deepmode_native_side": 1024,
     "queue_url": "rediss://:password@redis.internal:6380/0", "queue_lease_s": 60, "queue_max_attempts": 3,
     "max_result_bytes": 134217728}

The queue_* fields and max_result_bytes are read when ComfyUI starts (docs/cluster.md); no queue_url = the
embedded SQLite store.

`HIRES_STUDIO_API_KEYS="name=key,other=key2"` adds keys from the environment (hashed on load). The file lives
outside `user/default`, so ComfyUI's own /userdata routes cannot read or write it. It is read again whenever
it changes, so keys can be added without a restart.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic_files import write_atomic
from .keys import ApiKey, hash_key
from .store import DEFAULT_LEASE_S, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_RESULT_BYTES, REDIS_SCHEMES, QueueSettings

log = logging.getLogger(__name__)

CONFIG_DIR = "hires_studio_api"
CONFIG_FILE = "config.json"
KEYS_ENV = "HIRES_STUDIO_API_KEYS"
DEFAULT_RATE_LIMIT = 4
DEFAULT_TTL_HOURS = 24.0
DEFAULT_WAIT_S = 25.0
"""deep-image's process_result answers with the result if the job is done within 25 s."""
DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_INPUT_PIXELS = 64 * 1024 * 1024
"""Decoded-pixel cap for input images, against decompression bombs (64 MP, e.g. 8192 x 8192)."""
DEFAULT_MAX_FETCH_BYTES = 50 * 1024 * 1024
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 20.0
DEFAULT_CLEANUP_INTERVAL_S = 60.0
"""How often the job watcher deletes expired results."""


class ConfigError(ValueError):
    """The config file or the environment variable cannot be used: the message says where and why."""


@dataclass(frozen=True)
class AllowEntry:
    """A private address the server may fetch from anyway: a network and, optionally, one port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int | None = None

    def allows(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> bool:
        return address.version == self.network.version and address in self.network and self.port in (None, port)


@dataclass(frozen=True)
class ApiConfig:
    keys: tuple[ApiKey, ...] = ()
    allowlist: tuple[AllowEntry, ...] = ()
    models: Mapping[str, str] = field(default_factory=dict)
    result_ttl_s: float = DEFAULT_TTL_HOURS * 3600
    process_result_wait_s: float = DEFAULT_WAIT_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_input_pixels: int = DEFAULT_MAX_INPUT_PIXELS
    max_fetch_bytes: int = DEFAULT_MAX_FETCH_BYTES
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    public_url: str | None = None
    cleanup_interval_s: float = DEFAULT_CLEANUP_INTERVAL_S
    deepmode_native_side: int = 0
    """The native side of the model deepmode's generate loads (its sizes are that budget at the ratio); 0 = the
    shipped checkpoint's (SD1.5, 512). Set it when `models` maps the checkpoint to another family (SDXL: 1024)."""
    queue: QueueSettings = QueueSettings()
    """The shared job queue (a Redis URL and its settings); no URL = the embedded SQLite store."""


def parse_allow_entry(text: str) -> AllowEntry:
    """"10.0.0.0/8", "192.168.1.20", "127.0.0.1:8123" or "[::1]:8123"."""
    text = text.strip()
    port = None
    host = text
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    try:
        return AllowEntry(ipaddress.ip_network(host, strict=False), port)
    except ValueError as error:
        raise ConfigError(f"fetch_allowlist entry {text!r} is not an address or network: {error}") from None


def _keys_from_env(value: str, rate_limit: int) -> list[ApiKey]:
    keys = []
    for i, item in enumerate(part.strip() for part in value.split(",")):
        if not item:
            continue
        name, sep, key = item.partition("=")
        if not sep:
            name, key = f"env-{i}", item
        keys.append(ApiKey(name.strip(), hash_key(key.strip()), rate_limit))
    return keys


def parse_config(data: Mapping[str, Any], env: Mapping[str, str], source: str = CONFIG_FILE) -> ApiConfig:
    """The configuration from the file's JSON object and the environment."""
    def number(name: str, default: float, minimum: float = 0) -> float:
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise ConfigError(f"{source}: {name} must be a number >= {minimum}, got {value!r}")
        return value

    rate_limit = int(number("rate_limit", DEFAULT_RATE_LIMIT))
    keys: list[ApiKey] = []
    for entry in data.get("keys", []):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not isinstance(
                entry.get("sha256"), str) or len(entry["sha256"]) != 64:
            raise ConfigError(f"{source}: each key needs a name and the 64-hex-digit sha256 of the key, got {entry!r}")
        limit = entry.get("rate_limit", rate_limit)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"{source}: key {entry['name']}: rate_limit must be an integer >= 0")
        keys.append(ApiKey(entry["name"], entry["sha256"].lower(), limit))
    keys += _keys_from_env(env.get(KEYS_ENV, ""), rate_limit)
    names = [key.name for key in keys]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source} and {KEYS_ENV}: key names must be unique, got {names}")
    models = data.get("models", {})
    if not isinstance(models, Mapping) or not all(isinstance(v, str) for v in models.values()):
        raise ConfigError(f"{source}: models must map a shipped model file name to your file name")
    public_url = data.get("public_url")
    if public_url is not None and not (isinstance(public_url, str) and public_url.startswith(("http://", "https://"))):
        raise ConfigError(f"{source}: public_url must be an http(s) URL, got {public_url!r}")
    queue_url = data.get("queue_url")
    if queue_url is not None and not (isinstance(queue_url, str) and queue_url.startswith(REDIS_SCHEMES)):
        raise ConfigError(f"{source}: queue_url must be a redis:// or rediss:// URL, got a {type(queue_url).__name__}"
                          f" that does not start with either")
    max_attempts = data.get("queue_max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ConfigError(f"{source}: queue_max_attempts must be an integer >= 1, got {max_attempts!r}")
    queue = QueueSettings(url=queue_url, lease_s=number("queue_lease_s", DEFAULT_LEASE_S, 1),
                          max_attempts=max_attempts,
                          max_result_bytes=int(number("max_result_bytes", DEFAULT_MAX_RESULT_BYTES, 1)))
    return ApiConfig(
        queue=queue,
        keys=tuple(keys),
        allowlist=tuple(parse_allow_entry(text) for text in data.get("fetch_allowlist", [])),
        models=dict(models),
        result_ttl_s=number("result_ttl_hours", DEFAULT_TTL_HOURS) * 3600,
        process_result_wait_s=number("process_result_wait_s", DEFAULT_WAIT_S),
        max_body_bytes=int(number("max_body_bytes", DEFAULT_MAX_BODY_BYTES, 1)),
        max_input_pixels=int(number("max_input_pixels", DEFAULT_MAX_INPUT_PIXELS, 1)),
        max_fetch_bytes=int(number("max_fetch_bytes", DEFAULT_MAX_FETCH_BYTES, 1)),
        connect_timeout_s=number("connect_timeout_s", DEFAULT_CONNECT_TIMEOUT_S, 0.1),
        read_timeout_s=number("read_timeout_s", DEFAULT_READ_TIMEOUT_S, 0.1),
        public_url=public_url,
        cleanup_interval_s=number("cleanup_interval_s", DEFAULT_CLEANUP_INTERVAL_S, 0.1),
        deepmode_native_side=int(number("deepmode_native_side", 0)),
    )


CONFIG_PLACE = f"{CONFIG_DIR}/{CONFIG_FILE} in ComfyUI's user directory"
"""How messages name the file: relative, so no caller learns the server's file-system layout."""


def config_path(user_dir: str | Path) -> Path:
    return Path(user_dir) / CONFIG_DIR / CONFIG_FILE


def write_config_atomic(path: str | Path, data: Mapping[str, Any]) -> None:
    """The config file replaced in one step (a new file, owner-only, renamed over the old one), so the watcher
    never reads a half-written file."""
    write_atomic(Path(path), (json.dumps(data, indent=2) + "\n").encode(), mode=0o600)


def key_entry(name: str, key: str, rate_limit: int) -> dict[str, Any]:
    """One entry of the file's "keys": the key's name, its digest (never the key) and its jobs per minute."""
    return {"name": name, "sha256": hash_key(key), "rate_limit": rate_limit}


def write_key_config(user_dir: str | Path, name: str, key: str, rate_limit: int) -> Path:
    """A configuration that holds this one key (its digest), as a test or a benchmark starts a server with;
    scripts/api_key.py is how a person adds keys."""
    path = config_path(user_dir)
    write_config_atomic(path, {"keys": [key_entry(name, key, rate_limit)]})
    return path


def load_config(user_dir: str | Path, env: Mapping[str, str] | None = None) -> ApiConfig:
    """The configuration as it is now (no file = defaults and no keys, so every route refuses)."""
    path = config_path(user_dir)
    env = os.environ if env is None else env
    data: Any = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as error:
            raise ConfigError(f"{CONFIG_PLACE}: {error}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{CONFIG_PLACE}: the file must hold one JSON object")
    try:
        return parse_config(data, env, CONFIG_PLACE)
    except (TypeError, ValueError, AttributeError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"{CONFIG_PLACE}: {error}") from None


@dataclass(frozen=True)
class ConfigState:
    """What the status route says about the configuration: "ok", "last_good" (the file changed and cannot be
    used, so the last good one still serves) or "broken" (none has loaded yet), and the problem."""

    state: str
    problem: str | None = None


class ConfigCache:
    """load_config, read again only when the file's modification time or the environment variable changes.

    While a changed file cannot be used, the last configuration that loaded keeps serving (a live edit or a
    half-saved file must not stop the API); the problem is logged once per change and shown by `state`."""

    def __init__(self, user_dir: str | Path) -> None:
        self.user_dir = Path(user_dir)
        self._stamp: tuple | None = None
        self._config: ApiConfig | None = None
        self._problem: str | None = None

    def _current_stamp(self) -> tuple:
        try:
            stat = config_path(self.user_dir).stat()
            return (stat.st_ino, stat.st_mtime_ns, stat.st_size, os.environ.get(KEYS_ENV))  # a rename is a new inode
        except OSError:
            return (None, None, None, os.environ.get(KEYS_ENV))

    def get(self) -> ApiConfig:
        """The configuration in force; ConfigError only when none has ever loaded."""
        stamp = self._current_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._config = load_config(self.user_dir)
                if self._problem is not None:
                    log.warning("HiRes Studio API: %s loads again", CONFIG_PLACE)
                self._problem = None
            except ConfigError as error:
                self._problem = str(error)
                kept = "the last good configuration keeps serving" if self._config else "the API refuses requests"
                log.error("HiRes Studio API: the configuration cannot be used (%s); %s until it is fixed",
                          error, kept)
        if self._config is None:
            raise ConfigError(self._problem or CONFIG_PLACE)
        return self._config

    @property
    def state(self) -> ConfigState:
        try:
            self.get()
        except ConfigError:
            pass
        if self._problem is None:
            return ConfigState("ok")
        return ConfigState("last_good" if self._config is not None else "broken", self._problem)
