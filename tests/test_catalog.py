from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from radio.catalog import Catalog, CatalogWriter
from radio.errors import CatalogError, DuplicateTrack, NotFound
from radio.tracks import NewTrack, unique_title

REPO = Path(__file__).resolve().parent.parent


def track(n: int, station: str = "jazz") -> NewTrack:
    return NewTrack(
        station=station, title=f"Track {n}", prompt=f"prompt {n}", seed=n, generator="tone",
        model="tone-v1", parameters={"hz": n}, duration=4.0, sample_rate=44100, loudness=-14.0,
        audio_hash=f"hash-{n}", path=f"{station}/{n}.flac",
    )  # fmt: skip


def test_a_repeat_can_never_enter() -> None:
    catalog = Catalog(":memory:")
    catalog.add_track(track(1))
    with pytest.raises(DuplicateTrack):
        catalog.add_track(track(1))
    assert catalog.count() == 1


def test_track_rows_and_paging() -> None:
    catalog = Catalog(":memory:")
    ids = [catalog.add_track(track(n, "jazz" if n % 2 else "metal")) for n in range(1, 8)]
    row = catalog.track(ids[0])
    assert row.audio_hash == "hash-1" and row.parameters == {"hz": 1} and row.plays == 0
    page = catalog.tracks(limit=3)
    assert [r.id for r in page] == ids[::-1][:3]
    older = catalog.tracks(limit=3, before=page[-1].id)
    assert [r.id for r in older] == ids[::-1][3:6]
    assert {r.station for r in catalog.tracks("metal")} == {"metal"}
    with pytest.raises(NotFound):
        catalog.track(999)


def test_unplayed_and_replay_order() -> None:
    catalog = Catalog(":memory:")
    a, b, c = (catalog.add_track(track(n)) for n in (1, 2, 3))
    assert [r.id for r in catalog.unplayed()] == [a, b, c]
    play = catalog.start_play(b, "jazz", 2)
    catalog.end_play(play, 3)
    catalog.start_play(a, "jazz", 0)
    catalog.discard([c])
    assert catalog.unplayed() == []
    # Never-played first, then least recently played.
    assert [r.id for r in catalog.least_recently_played("jazz")] == [c, b, a]
    assert [r.id for r in catalog.least_recently_played("jazz", exclude=(c,))] == [b, a]
    recent = catalog.recent_plays("jazz")
    assert [r.track_id for r in recent] == [a, b] and recent[1].listeners == 3


def test_file_catalog_survives_reopen_and_runs_off_thread(tmp_path: Path) -> None:
    writer = CatalogWriter(tmp_path / "catalog.db")
    with pytest.raises(CatalogError, match="not open"):  # nothing opens at construction
        writer.run_sync(lambda c: c.count())
    assert not (tmp_path / "catalog.db").exists()
    with writer:
        track_id = writer.run_sync(lambda c: c.add_track(track(1)))
    with CatalogWriter(tmp_path / "catalog.db") as again:
        assert again.run_sync(lambda c: c.track(track_id)).title == "Track 1"
        mode = again.run_sync(lambda c: c.db.execute("PRAGMA journal_mode").fetchone()[0])
        sync = again.run_sync(lambda c: c.db.execute("PRAGMA synchronous").fetchone()[0])
    assert mode == "wal" and sync == 1  # NORMAL: a commit waits for no fsync
    again.close()


def test_a_commit_survives_the_process_being_killed(tmp_path: Path) -> None:
    """synchronous=NORMAL (in WAL mode) keeps every commit through a kill -9: the WAL is
    written before the commit returns, and only its fsync waits for a checkpoint."""
    killed = textwrap.dedent(f"""
        import os, signal
        from radio.catalog import Catalog
        from tests.test_catalog import track
        catalog = Catalog({str(tmp_path / "catalog.db")!r})
        track_id = catalog.add_track(track(1))
        catalog.start_play(track_id, "jazz", 3)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", killed], cwd=REPO, check=False)
    assert done.returncode == -signal.SIGKILL
    catalog = Catalog(tmp_path / "catalog.db")
    assert [p.listeners for p in catalog.recent_plays("jazz")] == [3]
    catalog.close()


def test_titles_and_plan_fingerprints_per_station() -> None:
    catalog = Catalog(":memory:")
    catalog.add_track(replace(track(1), parameters={"fingerprint": "A|120"}))
    catalog.add_track(track(2))
    catalog.add_track(replace(track(3, "metal"), parameters={"fingerprint": "B|90"}))
    assert catalog.titles("jazz") == {"Track 1", "Track 2"}
    assert catalog.fingerprints("jazz") == {"A|120"}
    assert catalog.fingerprints("metal") == {"B|90"} and catalog.titles("folk") == set()


def test_unique_title_takes_the_first_free_then_numbers() -> None:
    assert unique_title(("A", "B"), set()) == "A"
    assert unique_title(("A", "B"), {"A"}) == "B"
    assert unique_title(("A", "B"), {"A", "B", "A No. 2"}) == "A No. 3"
