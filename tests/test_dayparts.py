"""Dayparts: which prompt set holds a station at a given minute, read as crontab reads cron."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from radio.errors import ConfigError
from radio.lineup.dayparts import current, daypart_at, holds
from radio.lineup.stations import Daypart, parse_stations
from radio.scheduler import pending
from tests.support import short_lineup

UTC = ZoneInfo("UTC")
NIGHT = Daypart("night", "* 22-23,0-5 * * *", "{mood} nocturne", {"mood": ("hushed",)})
FRIDAY = Daypart("friday", "* 18-23 * * 5", "{mood} party", {"mood": ("loud",)})


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute, second, tzinfo=UTC)  # May 1st 2024: a Wednesday


@pytest.mark.parametrize(
    ("moment", "holding"),
    [
        (at(1, 21, 59, 59), None),
        (at(1, 22, 0), "night"),
        (at(2, 3, 30, 10), "night"),
        (at(2, 5, 59, 59), "night"),
        (at(2, 6, 0), None),
        (at(3, 20, 0), "friday"),  # Friday: crontab's 5 (APScheduler would read Saturday)
        (at(3, 22, 30), "friday"),  # both match: the first listed wins
        (at(4, 20, 0), None),  # Saturday
    ],
)
def test_a_daypart_holds_while_its_cron_matches(moment: datetime, holding: str | None) -> None:
    part = current([FRIDAY, NIGHT], moment)
    assert (part.name if part else None) == holding


def test_weekday_numbers_and_names_read_as_in_crontab() -> None:
    sunday, monday = at(5, 12), at(6, 12)
    for cron in ("* * * * 0", "* * * * 7", "* * * * sun", "* * * * 0,6"):
        assert holds(Daypart("x", cron, "p", {}), sunday), cron
        assert not holds(Daypart("x", cron, "p", {}), monday), cron
    assert holds(Daypart("x", "* * * * 1-5", "p", {}), monday)
    assert holds(Daypart("x", "* * * * 0-6", "p", {}), monday)


NIGHT_METAL = (
    short_lineup()
    + '[[stations.dayparts]]\nname = "night"\ncron = "* 22-23,0-5 * * *"\n'
    + 'prompt = "{mood} night metal"\n[stations.dayparts.pools]\nmood = ["slow"]\n'
)


def test_the_request_takes_the_daypart_in_force_when_it_is_built() -> None:
    metal = parse_stations(NIGHT_METAL).get("metal")
    assert metal is not None
    assert daypart_at(metal, at(1, 23, 15)) is not None
    assert pending(metal, 1, 4.0, at(1, 23, 15)).request.prompt == "slow night metal"
    assert daypart_at(metal, at(2, 6, 0)) is None
    own = pending(metal, 1, 4.0, at(2, 6, 0)).request.prompt
    assert own.split()[0] in ("epic", "furious") and "night" not in own


def test_bad_cron_is_refused_with_its_station_and_key() -> None:
    with pytest.raises(ConfigError, match=r"station 'metal', key 'dayparts\[0\]\.cron'"):
        parse_stations(NIGHT_METAL.replace("* 22-23,0-5 * * *", "* 25 * * *"))
    with pytest.raises(ConfigError, match="five crontab fields"):
        parse_stations(NIGHT_METAL.replace("* 22-23,0-5 * * *", "0 * * * * *"))
