"""stations.toml in, frozen Station values out; every error names file, station and key.

The same `station_from_table` validates edits coming from the operator console,
so a station that loads from disk and a station saved over HTTP obey one rule set.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter

from radio.errors import ConfigError
from radio.lineup.icecast import IcecastConfig, icecast_from_table
from radio.lineup.text import template_fields, template_problem, text_problem

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


@dataclass(frozen=True)
class Tunables:
    """Per-station settings that `[defaults]` provides and a station may override."""

    track_seconds: float = 90.0
    crossfade_seconds: float = 3.0
    backlog_minutes: float = 10.0
    bitrate: int = 128
    opus_bitrate: int = 96


# key -> (type, low, high): inclusive numeric ranges for the tunables.
RANGES: dict[str, tuple[type, float, float]] = {
    "track_seconds": (float, 2.0, 600.0),
    "crossfade_seconds": (float, 0.0, 12.0),
    "backlog_minutes": (float, 0.05, 1440.0),
    "bitrate": (int, 32, 320),
    # libopus's own limits; 96 kbps stereo is about transparent for music.
    "opus_bitrate": (int, 6, 510),
}
REQUIRED = ("id", "name", "genre", "description", "prompt", "pools")
OPTIONAL = ("enabled", "dayparts", *RANGES)
DAYPART_KEYS = ("name", "cron", "prompt", "pools")
# What the text keys are, for their length limits (radio/lineup/text.py).
TEXT_KINDS = {"name": "name", "genre": "genre", "description": "description", "prompt": "prompt"}
# Every enabled or disabled station is a playout loop (mix, encode, publish four
# times a second) and a share of one generator. On the 2-core box of #10, 1,000
# stations played at 0.35x real time, so playout alone saturates it near 350;
# 100 keeps playout to under a third of such a box, leaving the rest for listeners
# and generation. Fifteen is the shipped lineup.
MAX_STATIONS = 100


@dataclass(frozen=True)
class Daypart:
    """A prompt set that takes over on a cron schedule (e.g. late-night jazz from 22:00)."""

    name: str
    cron: str
    prompt: str
    pools: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    genre: str
    description: str
    prompt: str
    pools: Mapping[str, tuple[str, ...]]
    # The tunables, always given: their defaults are declared once, in Tunables.
    track_seconds: float
    crossfade_seconds: float
    backlog_minutes: float
    bitrate: int
    opus_bitrate: int
    enabled: bool = True
    dayparts: tuple[Daypart, ...] = ()

    @property
    def backlog_seconds(self) -> float:
        """The backlog target, in seconds of prepared audio."""
        return self.backlog_minutes * 60.0


@dataclass(frozen=True)
class StationsConfig:
    path: Path
    defaults: Tunables
    stations: tuple[Station, ...] = field(default=())
    icecast: IcecastConfig = field(default_factory=IcecastConfig)

    def get(self, station_id: str) -> Station | None:
        return next((s for s in self.stations if s.id == station_id), None)

    @property
    def enabled(self) -> tuple[Station, ...]:
        return tuple(s for s in self.stations if s.enabled)


def load_stations(path: str | Path) -> StationsConfig:
    """Read and validate a stations file; raises ConfigError naming file, station, key, line."""
    path = Path(path)
    return parse_stations(read_text(path), path)


def read_text(path: Path) -> str:
    """The stations file as text; unreadable bytes are a located ConfigError, not a traceback."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read stations file: {exc.strerror}", path=str(path)) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}; save the file as UTF-8",
            path=str(path),
            line=line,
        ) from None


def parse_stations(text: str, path: str | Path = "stations.toml") -> StationsConfig:
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise ConfigError(f"TOML syntax error: {exc}", path=str(path), line=line) from exc
    except RecursionError:
        # tomllib recurses once per level of nested arrays or inline tables.
        raise ConfigError(
            "arrays or inline tables nested too deeply", path=str(path), line=_deepest_line(text)
        ) from None
    except ValueError:  # an integer past Python's 4,300-digit limit on reading one
        raise ConfigError(
            "a number too long to read", path=str(path), line=_longest_number_line(text)
        ) from None
    locate = _Locator(text, str(path))
    unknown = sorted(set(data) - {"defaults", "stations", "icecast"})
    if unknown:
        raise locate.error(
            "unknown top-level key (expected 'defaults', 'stations' or 'icecast')", key=unknown[0]
        )
    defaults = tunables_from_table(data.get("defaults", {}), locate)
    tables = data.get("stations")
    if not isinstance(tables, list) or not tables:
        raise locate.error("no stations: add at least one [[stations]] table", key="stations")
    if len(tables) > MAX_STATIONS:
        raise locate.error(
            f"{len(tables)} stations; at most {MAX_STATIONS} (each is a playout loop on this box)",
            key="stations",
        )
    stations: list[Station] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        station = station_from_table(table, defaults, locate, index)
        if station.id in seen:
            raise locate.error("duplicate station id", station=station.id, key="id", index=index)
        seen.add(station.id)
        stations.append(station)
    icecast = IcecastConfig()
    if "icecast" in data:

        def fail(message: str, key: str, station: str | None = None) -> ConfigError:
            section = "icecast.mounts" if key.startswith("mounts.") else "icecast"
            return locate.error(message, station=station, key=f"icecast.{key}", section=section)

        icecast = icecast_from_table(data["icecast"], [s.id for s in stations], fail)
    return StationsConfig(path=path, defaults=defaults, stations=tuple(stations), icecast=icecast)


def tunables_from_table(table: Any, locate: _Locator | None = None) -> Tunables:
    locate = locate or _Locator("", None)
    if not isinstance(table, Mapping):
        raise locate.error("[defaults] must be a table", key="defaults")
    unknown = sorted(set(table) - set(RANGES))
    if unknown:
        raise locate.error(
            f"unknown key in [defaults] (known: {', '.join(RANGES)})",
            key=unknown[0],
            section="defaults",
        )
    values = {key: _tunable(key, table[key], locate, None, None) for key in table}
    return Tunables(**values)


def station_from_table(
    table: Any, defaults: Tunables, locate: _Locator | None = None, index: int | None = None
) -> Station:
    """Validate one station table (from the file or from the console's API)."""
    locate = locate or _Locator("", None)
    if not isinstance(table, Mapping):
        raise locate.error("each [[stations]] entry must be a table", index=index)
    sid = table.get("id")
    label = sid if isinstance(sid, str) else (f"#{index + 1}" if index is not None else None)

    def fail(message: str, key: str) -> ConfigError:
        return locate.error(message, station=label, key=key, index=index)

    unknown = sorted(set(table) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        known = ", ".join((*REQUIRED, *OPTIONAL))
        raise fail(f"unknown key (known: {known})", unknown[0])
    for key in REQUIRED:
        if key not in table:
            raise fail("missing required key", key)
    for key in ("id", "name", "genre", "description", "prompt"):
        if not isinstance(table[key], str) or not table[key].strip():
            raise fail("must be a non-empty string", key)
    sid = str(sid)
    if not SLUG.match(sid):
        raise fail("must be a slug: lowercase letters, digits and '-', at most 40", "id")
    for key, kind in TEXT_KINDS.items():
        problem = text_problem(table[key].strip(), kind)
        if problem:
            raise fail(problem, key)
    pools = _pools(table["pools"], lambda msg, key: fail(msg, key))
    _check_template(table["prompt"], pools, lambda msg, key: fail(msg, key), "prompt")
    tunables = {
        key: _tunable(key, table[key], locate, label, index)
        if key in table
        else getattr(defaults, key)
        for key in RANGES
    }
    if tunables["crossfade_seconds"] * 2 > tunables["track_seconds"]:
        raise fail("crossfade_seconds must be at most half of track_seconds", "crossfade_seconds")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("must be true or false", "enabled")
    dayparts = _dayparts(table.get("dayparts", []), lambda msg, key: fail(msg, key))
    return Station(
        id=sid,
        name=table["name"].strip(),
        genre=table["genre"].strip(),
        description=table["description"].strip(),
        prompt=table["prompt"].strip(),
        pools=pools,
        enabled=enabled,
        dayparts=dayparts,
        **tunables,
    )


def _pools(raw: Any, fail: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping) or not raw:
        raise fail("must be a table of non-empty lists of strings", "pools")
    pools: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise fail("pool names are lowercase identifiers", f"pools.{name}")
        if (
            not isinstance(values, Sequence)
            or isinstance(values, str)
            or not values
            or not all(isinstance(v, str) and v.strip() for v in values)
        ):
            raise fail("must be a non-empty list of non-empty strings", f"pools.{name}")
        for value in values:
            problem = text_problem(value.strip(), "pool value")
            if problem:
                raise fail(f"{value[:40]!r}... {problem}", f"pools.{name}")
        pools[name] = tuple(str(v).strip() for v in values)
    return pools


def _check_template(template: str, pools: Mapping[str, Sequence[str]], fail: Any, key: str) -> None:
    problem = template_problem(template)
    if problem:
        raise fail(problem, key)
    for name in template_fields(template):
        if name not in pools:
            raise fail(f"placeholder {{{name}}} has no pool of that name", key)


def valid_cron(expression: str) -> bool:
    """A five-field crontab expression, read as crontab reads it (see dayparts.py)."""
    return len(expression.split()) == 5 and bool(croniter.is_valid(expression))


def _dayparts(raw: Any, fail: Any) -> tuple[Daypart, ...]:
    if not isinstance(raw, list):
        raise fail("must be a list of tables", "dayparts")
    parts = []
    for n, item in enumerate(raw):
        key = f"dayparts[{n}]"
        if not isinstance(item, Mapping):
            raise fail("must be a table", key)
        unknown = sorted(set(item) - set(DAYPART_KEYS))
        if unknown:
            raise fail(f"unknown key {unknown[0]!r} (known: {', '.join(DAYPART_KEYS)})", key)
        for sub in ("name", "cron", "prompt"):
            if not isinstance(item.get(sub), str) or not item[sub].strip():
                raise fail("must be a non-empty string", f"{key}.{sub}")
        for sub, kind in (("name", "daypart name"), ("cron", "daypart name"), ("prompt", "prompt")):
            problem = text_problem(item[sub].strip(), kind)
            if problem:
                raise fail(problem, f"{key}.{sub}")
        if not valid_cron(item["cron"]):
            raise fail(
                "bad cron expression: five crontab fields (minute hour day month weekday)",
                f"{key}.cron",
            )
        pools = _pools(item.get("pools"), lambda msg, k, key=key: fail(msg, f"{key}.{k}"))
        _check_template(item["prompt"], pools, fail, f"{key}.prompt")
        parts.append(
            Daypart(item["name"].strip(), item["cron"].strip(), item["prompt"].strip(), pools)
        )
    return tuple(parts)


def _tunable(key: str, value: Any, locate: _Locator, station: str | None, index: int | None) -> Any:
    kind, low, high = RANGES[key]
    section = "defaults" if station is None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise locate.error(
            "must be a number", station=station, key=key, index=index, section=section
        )
    if kind is int and not isinstance(value, int):
        raise locate.error(
            "must be a whole number", station=station, key=key, index=index, section=section
        )
    if not low <= value <= high:
        raise locate.error(
            f"{value} is out of range [{low:g}, {high:g}]",
            station=station,
            key=key,
            index=index,
            section=section,
        )
    if key == "bitrate" and value not in MP3_BITRATES:
        raise locate.error(
            f"{value} is not an MP3 bitrate ({', '.join(map(str, MP3_BITRATES))})",
            station=station,
            key=key,
            index=index,
            section=section,
        )
    return kind(value)


def _deepest_line(text: str) -> int | None:
    """The line where brackets and braces nest deepest (strings are not told apart:
    it only points the operator at the likely place)."""
    depth, deepest, where = 0, 0, None
    for number, line in enumerate(text.splitlines(), start=1):
        for char in line:
            depth += (char in "[{") - (char in "]}")
            if depth > deepest:
                deepest, where = depth, number
    return where


def _longest_number_line(text: str) -> int | None:
    """The line holding the longest run of digits."""
    runs = [
        (len(run), number)
        for number, line in enumerate(text.splitlines(), start=1)
        for run in re.findall(r"\d+", line)
    ]
    return max(runs)[1] if runs else None


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


class _Locator:
    """Finds the line of a key in the source text, so errors can point at it."""

    def __init__(self, text: str, path: str | None) -> None:
        self.lines = text.splitlines()
        self.path = path

    def error(
        self,
        message: str,
        *,
        station: str | None = None,
        key: str | None = None,
        index: int | None = None,
        section: str | None = None,
    ) -> ConfigError:
        return ConfigError(
            message, path=self.path, station=station, key=key, line=self._line(key, index, section)
        )

    def _line(self, key: str | None, index: int | None, section: str | None) -> int | None:
        if not self.lines:
            return None
        start, end = 0, len(self.lines)
        if index is not None:
            headers = [n for n, line in enumerate(self.lines) if line.strip() == "[[stations]]"]
            if index >= len(headers):
                return None
            start = headers[index]
            end = headers[index + 1] if index + 1 < len(headers) else len(self.lines)
        elif section is not None:
            header = next(
                (n for n, text in enumerate(self.lines) if text.strip() == f"[{section}]"), None
            )
            if header is None:
                return None
            start = header
        if key is None:
            return start + 1 if index is not None else None
        leaf = key.split(".")[-1].split("[")[0]
        pattern = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
        for n in range(start, end):
            if pattern.match(self.lines[n]):
                return n + 1
        return start + 1 if index is not None else None
