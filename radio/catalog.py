"""Prepared tracks and plays in, a SQLite catalog (sqlite-utils) out; one writer thread.

`Catalog` is plain synchronous code over one connection. `CatalogWriter` owns the
single thread that connection lives on, so every read and write runs off the
event loop and writes never race each other.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from radio.errors import CatalogError, DuplicateTrack, NotFound
from radio.tracks import EditRecord, NewTrack, PlayRecord, TrackRecord

T = TypeVar("T")


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.table("tracks").create(
        {
            "id": int,
            "station": str,
            "title": str,
            "prompt": str,
            "seed": int,
            "generator": str,
            "model": str,
            "parameters": str,
            "duration": float,
            "sample_rate": int,
            "loudness": float,
            "audio_hash": str,
            "path": str,
            "created_at": str,
            "discarded_at": str,  # set when "apply now" drops an unplayed track
        },
        pk="id",
        not_null={"station", "title", "prompt", "seed", "audio_hash", "path", "created_at"},
    )
    db.table("tracks").create_index(["audio_hash"], unique=True)
    db.table("tracks").create_index(["station", "id"])
    db.table("plays").create(
        {
            "id": int,
            "track_id": int,
            "station": str,
            "started_at": str,
            "ended_at": str,
            "listeners": int,
        },
        pk="id",
        foreign_keys=[("track_id", "tracks", "id")],
    )
    db.table("plays").create_index(["station", "id"])
    db.table("plays").create_index(["track_id"])


def _migrate_2(db: sqlite_utils.Database) -> None:
    # The operator console's audit trail (issue: "every edit is recorded: who, when,
    # before, after"); before/after are the station's table as JSON, null on add/remove.
    db.table("edits").create(
        {
            "id": int,
            "station": str,
            "action": str,
            "who": str,
            "at": str,
            "before": str,
            "after": str,
        },
        pk="id",
        not_null={"station", "action", "who", "at"},
    )
    db.table("edits").create_index(["station", "id"])


def _migrate_3(db: sqlite_utils.Database) -> None:
    # Bounded disk (issue #10): retention deletes the audio of old, little-played tracks
    # but keeps their rows, so the catalog still says what was made and played.
    db.table("tracks").add_column("pruned_at", str)


# Append-only: each function moves the schema one version forward (PRAGMA user_version).
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migrate_1, _migrate_2, _migrate_3]


class Catalog:
    """The catalog on one connection; call it from one thread only (see CatalogWriter)."""

    def __init__(self, path: Path | str) -> None:
        memory = str(path) == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        if not memory:
            self.db.enable_wal()
            # A commit waits for no fsync (one waited up to 0.5 s beside a disk flood, with
            # everything queued behind it: `radio bench catalog`). In WAL mode that loses
            # nothing when the process is killed; an OS crash may lose the last commits.
            self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA busy_timeout = 5000")
        self.migrate()

    def migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                step(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing. The connection autocommits (isolation_level=None), so
        `with conn:` alone would not group statements: BEGIN explicitly."""
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- tracks ---------------------------------------------------------------
    def add_track(self, track: NewTrack) -> int:
        row = {
            "station": track.station,
            "title": track.title,
            "prompt": track.prompt,
            "seed": track.seed,
            "generator": track.generator,
            "model": track.model,
            "parameters": json.dumps(track.parameters, sort_keys=True, default=str),
            "duration": track.duration,  # exact: seconds ahead are counted with it
            "sample_rate": track.sample_rate,
            "loudness": round(track.loudness, 2),
            "audio_hash": track.audio_hash,
            "path": track.path,
            "created_at": utcnow(),
        }
        try:
            return self._insert("tracks", row)
        except sqlite3.IntegrityError as exc:
            if "audio_hash" in str(exc):
                raise DuplicateTrack(
                    f"audio {track.audio_hash[:12]} is already in the catalog"
                ) from exc
            raise CatalogError(str(exc)) from exc
        except sqlite3.OperationalError as exc:  # "database or disk is full", say
            raise CatalogError(f"cannot add the track: {exc}") from exc

    def titles(self, station: str) -> set[str]:
        """Every title the station's tracks have had, discarded and pruned ones too."""
        rows = self.db.execute("SELECT title FROM tracks WHERE station = ?", [station])
        return {row[0] for row in rows.fetchall()}

    def fingerprints(self, station: str) -> set[str]:
        """The plan fingerprints (a generator's "fingerprint" parameter) of the station's
        tracks, so the next track's plan can differ from all of them (#9)."""
        rows = self.db.execute(
            "SELECT DISTINCT json_extract(parameters, '$.fingerprint') FROM tracks"
            " WHERE station = ? AND json_extract(parameters, '$.fingerprint') IS NOT NULL",
            [station],
        )
        return {str(row[0]) for row in rows.fetchall()}

    def track(self, track_id: int) -> TrackRecord:
        rows = self._tracks(f"{_TRACK_SELECT} WHERE t.id = ?", [track_id])
        if not rows:
            raise NotFound(f"no track {track_id}")
        return rows[0]

    def tracks(
        self, station: str | None = None, limit: int = 50, before: int | None = None
    ) -> list[TrackRecord]:
        where: list[str] = ["1=1"]
        args: list[object] = []
        if station:
            where.append("t.station = ?")
            args.append(station)
        if before is not None:
            where.append("t.id < ?")
            args.append(before)
        sql = f"{_TRACK_SELECT} WHERE {' AND '.join(where)} ORDER BY t.id DESC LIMIT ?"
        return self._tracks(sql, [*args, limit])

    def unplayed(self) -> list[TrackRecord]:
        """Tracks never played nor discarded, oldest first: the backlog after a restart."""
        sql = (
            f"{_TRACK_SELECT} WHERE t.discarded_at IS NULL AND t.pruned_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM plays p WHERE p.track_id = t.id) ORDER BY t.id"
        )
        return self._tracks(sql, [])

    def least_recently_played(
        self, station: str, exclude: tuple[int, ...] = ()
    ) -> list[TrackRecord]:
        """The station's played tracks, least recently played first: the replay order."""
        skip = f"AND t.id NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        sql = (
            f"{_TRACK_SELECT} WHERE t.station = ? AND t.pruned_at IS NULL {skip}"
            " ORDER BY (SELECT MAX(p.id) FROM plays p WHERE p.track_id = t.id) IS NOT NULL,"
            " (SELECT MAX(p.id) FROM plays p WHERE p.track_id = t.id), t.id LIMIT 20"
        )
        return self._tracks(sql, [station, *exclude])

    def discard(self, track_ids: list[int]) -> None:
        now = utcnow()
        with self.transaction():
            for track_id in track_ids:
                self.db.table("tracks").update(track_id, {"discarded_at": now})

    def prunable(self, keep: tuple[int, ...] = ()) -> list[TrackRecord]:
        """Tracks whose audio retention may delete, least played then oldest first.

        Only tracks that have been played or discarded: an unplayed one is in a backlog,
        or about to be (prepared, not yet queued). `keep` are the ones playout holds."""
        skip = f"AND t.id NOT IN ({','.join('?' * len(keep))})" if keep else ""
        sql = (
            f"{_TRACK_SELECT} WHERE t.pruned_at IS NULL {skip}"
            " AND (t.discarded_at IS NOT NULL"
            " OR EXISTS (SELECT 1 FROM plays p WHERE p.track_id = t.id))"
            " ORDER BY plays, t.id"
        )
        return self._tracks(sql, list(keep))

    def mark_pruned(self, track_ids: list[int]) -> None:
        now = utcnow()
        with self.transaction():
            for track_id in track_ids:
                self.db.table("tracks").update(track_id, {"pruned_at": now})

    def close_open_plays(self) -> int:
        """End the plays a crash left open: at the track's end, or now if that is sooner.
        Call it before playout starts, when no play can be open for real; returns how many."""
        now = datetime.now(UTC)
        sql = (
            "SELECT p.id, p.started_at, t.duration FROM plays p JOIN tracks t ON t.id = p.track_id"
            " WHERE p.ended_at IS NULL"
        )
        rows = self.db.execute(sql).fetchall()
        with self.transaction():
            for play_id, started_at, duration in rows:
                end = datetime.fromisoformat(started_at) + timedelta(seconds=duration or 0.0)
                ended = min(end, now).isoformat(timespec="milliseconds")
                self.db.table("plays").update(play_id, {"ended_at": ended})
        return len(rows)

    def paths(self) -> set[str]:
        """Every cache-relative audio path the catalog knows, pruned or not."""
        return {row[0] for row in self.db.execute("SELECT path FROM tracks").fetchall()}

    def count(self, station: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM tracks" + (" WHERE station = ?" if station else "")
        return int(self.db.execute(sql, [station] if station else []).fetchone()[0])

    # -- plays ----------------------------------------------------------------
    def start_play(self, track_id: int, station: str, listeners: int) -> int:
        row = {
            "track_id": track_id,
            "station": station,
            "started_at": utcnow(),
            "listeners": listeners,
        }
        return self._insert("plays", row)

    def end_play(self, play_id: int, listeners: int) -> None:
        self.db.table("plays").update(play_id, {"ended_at": utcnow(), "listeners": listeners})

    def recent_plays(self, station: str, limit: int = 20) -> list[PlayRecord]:
        sql = (
            "SELECT p.id AS play_id, p.track_id, p.station, t.title, t.duration,"
            " p.started_at, p.ended_at, p.listeners"
            " FROM plays p JOIN tracks t ON t.id = p.track_id"
            " WHERE p.station = ? ORDER BY p.id DESC LIMIT ?"
        )
        return [PlayRecord(**row) for row in self.db.query(sql, [station, limit])]

    # -- edits (the operator console's audit trail) ---------------------------
    def record_edit(
        self,
        station: str,
        action: str,
        who: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> int:
        row = {
            "station": station,
            "action": action,
            "who": who,
            "at": utcnow(),
            "before": None if before is None else json.dumps(before, sort_keys=True),
            "after": None if after is None else json.dumps(after, sort_keys=True),
        }
        return self._insert("edits", row)

    def edits(self, station: str | None = None, limit: int = 50) -> list[EditRecord]:
        """The newest edits first, before/after decoded."""
        where, args = ("WHERE station = ?", [station]) if station else ("", [])
        sql = f"SELECT * FROM edits {where} ORDER BY id DESC LIMIT ?"
        return [
            EditRecord(**{**row, "before": _json(row["before"]), "after": _json(row["after"])})
            for row in self.db.query(sql, [*args, limit])
        ]

    # -- rows -----------------------------------------------------------------
    def _insert(self, table: str, row: dict[str, Any]) -> int:
        key = self.db.table(table).insert(row).last_pk
        if key is None:  # sqlite-utils gives None only for a table without a primary key
            raise CatalogError(f"{table}: insert returned no id")
        return int(key)

    def _tracks(self, sql: str, args: list[object]) -> list[TrackRecord]:
        return [
            TrackRecord(**{**row, "parameters": _json(row["parameters"]) or {}})
            for row in self.db.query(sql, args)
        ]


_TRACK_SELECT = (
    "SELECT t.*, (SELECT COUNT(*) FROM plays p WHERE p.track_id = t.id) AS plays FROM tracks t"
)


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class CatalogWriter:
    """Runs catalog calls on one dedicated thread: the loop never touches SQLite.

    Nothing opens at construction: `open()` starts the thread and the connection
    (the radio's lifecycle does it first and closes it last), and a `with` block
    does both for the CLI and tests.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._catalog: Catalog | None = None

    def open(self) -> CatalogWriter:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog")
            self._catalog = self._executor.submit(Catalog, self.path).result()
        return self

    def __enter__(self) -> CatalogWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def run(self, call: Callable[[Catalog], T]) -> T:
        executor, catalog = self._opened()
        return await asyncio.get_running_loop().run_in_executor(executor, call, catalog)

    def run_sync(self, call: Callable[[Catalog], T]) -> T:
        """From a thread other than the loop's: the CLI, preparation, tests."""
        executor, catalog = self._opened()
        return executor.submit(call, catalog).result()

    def close(self) -> None:
        if self._executor is not None and self._catalog is not None:
            self._executor.submit(self._catalog.close).result()
            self._executor.shutdown(wait=True)
        self._executor = self._catalog = None

    def _opened(self) -> tuple[ThreadPoolExecutor, Catalog]:
        if self._executor is None or self._catalog is None:
            raise CatalogError(f"the catalog {self.path} is not open")
        return self._executor, self._catalog
