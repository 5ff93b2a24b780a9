"""A station and a moment in, the daypart holding the station then (if any) out; pure.

A daypart holds its station during every minute its cron expression matches:
"* 22-23,0-5 * * *" is late-night jazz from 22:00 to 05:59, "* * * * sat,sun"
the weekend. Reading cron as a window rather than a start time gives every
daypart an end without another key, so the station's own prompt comes back by
itself; when several match, the first listed wins. Cron is read by croniter,
which follows crontab itself: weekdays 0-7 with 0 and 7 for Sunday, names, and
day-of-month OR day-of-week when both are restricted.

The scheduler asks for the daypart in force each time it builds a request, so
the sound changes from the next generated track (what the backlog already holds
still plays; "apply now" drops it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from croniter import croniter
from tzlocal import get_localzone

from radio.lineup.stations import Daypart, Station


def holds(daypart: Daypart, moment: datetime) -> bool:
    """Whether the daypart's cron matches the minute `moment` falls in."""
    return bool(croniter.match(daypart.cron, moment.replace(second=0, microsecond=0)))


def current(dayparts: Iterable[Daypart], moment: datetime) -> Daypart | None:
    """The first daypart holding at `moment`, if any."""
    return next((part for part in dayparts if holds(part, moment)), None)


def daypart_at(
    station: Station, moment: datetime | None = None, timezone: tzinfo | None = None
) -> Daypart | None:
    """The daypart holding `station` at `moment` (now, in the server's time zone, if None)."""
    if not station.dayparts:
        return None
    return current(station.dayparts, moment or datetime.now(timezone or get_localzone()))
