"""A console edit in, stations.toml rewritten out: comments and order kept, validated first.

Edits go through tomlkit so everything the operator did not touch (comments,
key order, spacing) survives. The whole resulting document is validated with
`parse_stations`, the rules `radio stations --check` applies, before a byte is
written; the write is a temporary file and `os.replace`, so a crash mid-write
never leaves half a lineup. One lock serialises read-modify-write cycles.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from radio.errors import ConfigError, NotFound
from radio.lineup.stations import RANGES, StationsConfig, parse_stations, read_text

# Keys in the order a new station is written, as in the shipped stations.toml.
KEY_ORDER = ("id", "name", "genre", "description", "prompt", "enabled", *RANGES)
# Sub-tables: written as [stations.pools] and [[stations.dayparts]] sections.
NESTED = ("pools", "dayparts")
# The deepest valid value is a daypart's pool: changes > dayparts > daypart > pools > list.
MAX_NESTING = 6

_lock = threading.Lock()


@dataclass(frozen=True)
class Change:
    """A saved change: the new lineup, and the station's table before and after."""

    lineup: StationsConfig
    station: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def edit_station(path: Path, station_id: str, changes: Mapping[str, Any]) -> Change:
    """Set the given keys of one station; a key set to None is removed (back to [defaults]).

    `pools` and `dayparts` given replace the whole mapping or list.
    """
    check_nesting(changes)
    if "id" in changes and changes["id"] != station_id:
        raise ConfigError(
            "a station's id is its mount URL and cannot change; add a new station instead",
            station=station_id,
            key="id",
        )
    with _lock:
        doc = _read(path)
        table = _find(doc, station_id)
        before = table.unwrap()
        for key, value in changes.items():
            if key == "id":
                continue
            if value is None:
                if key in table:
                    del table[key]
            elif (
                key == "pools" and isinstance(value, Mapping) and isinstance(table.get(key), Table)
            ):
                _replace_mapping(table[key], value)
            elif key == "dayparts":
                table[key] = _dayparts(value)
            else:
                _set(table, key, value)
        return _save(path, doc, station_id, before, table.unwrap())


def add_station(path: Path, values: Mapping[str, Any]) -> Change:
    """Append a new [[stations]] table at the end of the file."""
    check_nesting(values)
    station_id = values.get("id")
    if not isinstance(station_id, str):
        raise ConfigError("missing required key", key="id")
    with _lock:
        doc = _read(path)
        if any(t.get("id") == station_id for t in _stations(doc)):
            raise ConfigError("a station with this id already exists", station=station_id, key="id")
        table = tomlkit.table()
        table.trivia.indent = "\n"  # a blank line before its [[stations]] header
        ordered = [k for k in KEY_ORDER if k in values]
        rest = [k for k in values if k not in KEY_ORDER and k not in NESTED]
        for key in (*ordered, *rest):
            if values[key] is not None:
                table[key] = values[key]
        if isinstance(values.get("pools"), Mapping):
            pools = tomlkit.table()
            _replace_mapping(pools, values["pools"])
            table["pools"] = pools
        elif "pools" in values:
            table["pools"] = values["pools"]  # not a table: validation names it
        if values.get("dayparts"):
            table["dayparts"] = _dayparts(values["dayparts"])
        stations = doc.get("stations")
        if isinstance(stations, AoT):
            stations.append(table)
        else:
            doc["stations"] = tomlkit.aot()
            doc["stations"].append(table)
        return _save(path, doc, station_id, None, table.unwrap())


def remove_station(path: Path, station_id: str) -> Change:
    """Delete one [[stations]] table; the last station cannot be removed."""
    with _lock:
        doc = _read(path)
        stations = doc.get("stations")
        table = _find(doc, station_id)
        before = table.unwrap()
        if isinstance(stations, AoT):
            del stations[next(n for n, t in enumerate(stations) if t is table)]
        return _save(path, doc, station_id, before, None)


def station_table(lineup: StationsConfig, station_id: str) -> dict[str, Any]:
    """One station's effective settings as plain JSON-ready values."""
    station = lineup.get(station_id)
    if station is None:
        raise NotFound(f"no station {station_id!r}")
    return {
        "id": station.id,
        "name": station.name,
        "genre": station.genre,
        "description": station.description,
        "prompt": station.prompt,
        "pools": {name: list(values) for name, values in station.pools.items()},
        "enabled": station.enabled,
        "track_seconds": station.track_seconds,
        "crossfade_seconds": station.crossfade_seconds,
        "backlog_minutes": station.backlog_minutes,
        "bitrate": station.bitrate,
        "opus_bitrate": station.opus_bitrate,
        "dayparts": [
            {
                "name": d.name,
                "cron": d.cron,
                "prompt": d.prompt,
                "pools": {name: list(values) for name, values in d.pools.items()},
            }
            for d in station.dayparts
        ],
    }


def nesting(value: Any, limit: int = MAX_NESTING) -> int:
    """How deeply lists and mappings nest in `value`, counted no further than limit + 1."""
    if limit < 0 or not isinstance(value, Mapping | list):
        return 0
    items = value.values() if isinstance(value, Mapping) else value
    return 1 + max((nesting(item, limit - 1) for item in items), default=0)


def check_nesting(changes: Mapping[str, Any]) -> None:
    """Refuse values nested deeper than any station can be, before tomlkit recurses into them."""
    if nesting(changes) > MAX_NESTING:
        raise ConfigError(f"values nested deeper than {MAX_NESTING} levels")


# -- inside the document ------------------------------------------------------------
def _read(path: Path) -> tomlkit.TOMLDocument:
    text = read_text(path)  # bytes that are not UTF-8 are a located ConfigError too
    # The file on disk is the truth: refuse to build on a file that is already broken.
    parse_stations(text, path)
    return tomlkit.parse(text)


def _stations(doc: tomlkit.TOMLDocument) -> Iterator[Table]:
    stations = doc.get("stations")
    if isinstance(stations, AoT):
        yield from stations


def _find(doc: tomlkit.TOMLDocument, station_id: str) -> Table:
    for table in _stations(doc):
        if table.get("id") == station_id:
            return table
    raise NotFound(f"no station {station_id!r}")


def _set(table: Table, key: str, value: Any) -> None:
    """Set a key without tomlkit pushing the sub-table after it down by a blank line."""
    indents = {k: v.trivia.indent for k, v in table.value.body if k and isinstance(v, Table)}
    table[key] = value
    for name, indent in indents.items():
        if name.key != key:
            table[name.key].trivia.indent = indent


def _replace_mapping(table: Table, values: Mapping[str, Any]) -> None:
    """Make `table` hold exactly `values`, in place, so untouched lines keep their comments."""
    for name in [n for n in table if n not in values]:
        del table[name]
    for name, value in values.items():
        if table.get(name) != value:
            table[name] = value


def _dayparts(raw: Any) -> Any:
    if not isinstance(raw, list):
        return raw  # not a list: validation names it
    parts = tomlkit.aot()
    for item in raw:
        if not isinstance(item, Mapping):
            return raw
        part = tomlkit.table()
        for key, value in item.items():
            if key != "pools":
                part[key] = value
        if isinstance(item.get("pools"), Mapping):
            pools = tomlkit.table()
            _replace_mapping(pools, item["pools"])
            part["pools"] = pools
        elif "pools" in item:
            part["pools"] = item["pools"]
        parts.append(part)
    return parts


def _separate_headers(doc: tomlkit.TOMLDocument) -> None:
    """Keep a blank line before each [[stations]] and [[stations.dayparts]] header.

    tomlkit keeps a table's trailing blank line with that table, so adding or
    replacing dayparts can leave the next header glued to the line above it.
    """
    tables: list[Table] = []
    for station in _stations(doc):
        tables.append(station)
        dayparts = station.get("dayparts")
        if isinstance(dayparts, AoT):
            tables.extend(dayparts)
    lines = tomlkit.dumps(doc).splitlines()
    marks = ("[[stations]]", "[[stations.dayparts]]")
    headers = [n for n, line in enumerate(lines) if line in marks]
    if len(headers) != len(tables):
        return  # hand-written inline tables: leave the layout alone
    for table, n in zip(tables, headers, strict=True):
        above = lines[n - 1].strip() if n > 0 else ""
        if above and not above.startswith("#"):
            table.trivia.indent = "\n" + table.trivia.indent


def _save(
    path: Path,
    doc: tomlkit.TOMLDocument,
    station_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> Change:
    _separate_headers(doc)
    text = tomlkit.dumps(doc)
    lineup = parse_stations(text, path)  # raises ConfigError: nothing is written
    _write_atomically(path, text)
    return Change(lineup, station_id, before, after)


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        # Keep the file's permissions: mkstemp creates 0600.
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
