"""The `[icecast]` table of stations.toml in, a frozen IcecastConfig out; errors located.

Server-wide settings for pushing every station's MP3 to an Icecast 2.4+ server as
a source client (radio/outputs/icecast.py), with per-station mount overrides in
`[icecast.mounts]`. Off unless `enabled = true`. The source password is never read
from the file: `password_env` names the environment variable that holds it, so the
file can be shared and committed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radio.errors import ConfigError
from radio.lineup.text import template_fields, template_problem

# A mount goes into a request line and a URL: a path of unreserved characters only.
MOUNT = re.compile(r"/[A-Za-z0-9._~/-]{1,100}")
HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,253}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
KEYS = ("enabled", "host", "port", "mount", "password_env", "public", "mounts")

Fail = Callable[..., ConfigError]  # (message, key=..., station=...) -> a located error


@dataclass(frozen=True)
class IcecastConfig:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    mount: str = "/{id}.mp3"  # a template: {id} is the station's id
    password_env: str = "RADIO_ICECAST_PASSWORD"
    public: bool = False  # ice-public: whether Icecast may list the stations in a directory
    mounts: Mapping[str, str] = field(default_factory=dict)  # station id -> its own mount

    def mount_for(self, station_id: str) -> str:
        return self.mounts.get(station_id) or self.mount.replace("{id}", station_id)


def icecast_from_table(table: Any, station_ids: Sequence[str], fail: Fail) -> IcecastConfig:
    """Validate the `[icecast]` table against the lineup's station ids, in lineup order
    (so a clash of mounts is always laid at the later station)."""
    if not isinstance(table, Mapping):
        raise fail("[icecast] must be a table", key="icecast")
    if "password" in table:
        raise fail(
            "the source password is never kept in the file: put it in the environment "
            "variable that password_env names",
            key="password",
        )
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise fail(f"unknown key in [icecast] (known: {', '.join(KEYS)})", key=unknown[0])
    values: dict[str, Any] = {}
    for key in ("enabled", "public"):
        if key in table:
            if not isinstance(table[key], bool):
                raise fail("must be true or false", key=key)
            values[key] = table[key]
    if "host" in table:
        if not isinstance(table["host"], str) or not HOST.fullmatch(table["host"]):
            raise fail("must be a host name or address (no scheme, port or path)", key="host")
        values["host"] = table["host"]
    if "port" in table:
        port = table["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise fail("must be a whole number from 1 to 65535", key="port")
        values["port"] = port
    if "password_env" in table:
        name = table["password_env"]
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise fail(
                "must be an environment variable's name, such as ICECAST_PASSWORD",
                key="password_env",
            )
        values["password_env"] = name
    if "mount" in table:
        values["mount"] = _template(table["mount"], fail)
    if "mounts" in table:
        values["mounts"] = _mounts(table["mounts"], station_ids, fail)
    config = IcecastConfig(**values)
    _check_distinct(config, station_ids, fail)
    return config


def _template(template: Any, fail: Fail) -> str:
    if not isinstance(template, str):
        raise fail('must be a string such as "/{id}.mp3"', key="mount")
    problem = template_problem(template)
    if problem:
        raise fail(problem, key="mount")
    if set(template_fields(template)) - {"id"}:
        raise fail("the only field a mount template takes is {id}", key="mount")
    if not MOUNT.fullmatch(template.replace("{id}", "x")):
        raise fail("must start with '/' and hold only letters, digits and . _ ~ / -", key="mount")
    return template


def _mounts(raw: Any, station_ids: Collection[str], fail: Fail) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise fail('must be a table of station id = "/mount"', key="mounts")
    mounts: dict[str, str] = {}
    for station, mount in raw.items():
        if station not in station_ids:
            raise fail(
                "[icecast.mounts] names a station the lineup does not have",
                key=f"mounts.{station}",
                station=station,
            )
        if not isinstance(mount, str) or not MOUNT.fullmatch(mount):
            raise fail(
                "must start with '/' and hold only letters, digits and . _ ~ / -",
                key=f"mounts.{station}",
                station=station,
            )
        mounts[station] = mount
    return mounts


def _check_distinct(config: IcecastConfig, station_ids: Sequence[str], fail: Fail) -> None:
    """Two stations on one mount would fight over it (Icecast answers the second 403)."""
    owner: dict[str, str] = {}
    for station in station_ids:
        mount = config.mount_for(station)
        if mount in owner:
            key = f"mounts.{station}" if station in config.mounts else "mount"
            raise fail(
                f"mount {mount} is also station {owner[mount]!r}'s", key=key, station=station
            )
        owner[mount] = station
