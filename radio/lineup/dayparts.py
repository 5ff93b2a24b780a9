"""Stations' dayparts in, the active prompt set per station out, kept current by a cron job.

A daypart holds its station during every minute its cron expression matches:
"* 22-23,0-5 * * *" is late-night jazz from 22:00 to 05:59, "* * * * sat,sun"
the weekend. Reading cron as a window rather than a start time gives every
daypart an end without another key, so the station's own prompt comes back by
itself; when several match, the first listed wins. An APScheduler cron job
re-evaluates at the start of every minute, and the scheduler reads the result
for each track it asks for, so the sound changes from the next generated track
(what the backlog already holds still plays; "apply now" drops it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, MutableMapping
from datetime import datetime, tzinfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from tzlocal import get_localzone

from radio.lineup.stations import Daypart, Station

log = logging.getLogger(__name__)

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def trigger(daypart: Daypart, timezone: tzinfo) -> CronTrigger:
    """The daypart's cron as an APScheduler trigger, weekdays numbered as in crontab.

    APScheduler 3 counts weekdays from 0 = Monday (its issue 286), crontab from
    0 = Sunday; operators write crontab, so "* 22 * * 5" must mean Friday.
    Numbers become names, which both read the same way.
    """
    fields = daypart.cron.split()
    if len(fields) == 5:
        day = re.sub(r"\d+", lambda m: WEEKDAYS[int(m[0])] if int(m[0]) < 8 else m[0], fields[4])
        try:
            return CronTrigger.from_crontab(" ".join([*fields[:4], day]), timezone=timezone)
        except ValueError:
            pass  # e.g. "0-6" reads "sun-sat", a backwards range; the numbers mean every day
    return CronTrigger.from_crontab(daypart.cron, timezone=timezone)


def holds(daypart: Daypart, moment: datetime) -> bool:
    """Whether the daypart's cron matches the minute `moment` falls in."""
    minute = moment.replace(second=0, microsecond=0)
    fire = trigger(daypart, moment.tzinfo or get_localzone()).get_next_fire_time(None, minute)
    return bool(fire == minute)


def current(dayparts: Iterable[Daypart], moment: datetime) -> Daypart | None:
    """The first daypart holding the station at `moment`, if any."""
    return next((part for part in dayparts if holds(part, moment)), None)


class Dayparts:
    """Keeps `active` (the scheduler's station -> Daypart map) in step with the clock."""

    def __init__(self, active: MutableMapping[str, Daypart], timezone: tzinfo | None = None):
        self.active = active
        self.timezone = timezone or get_localzone()
        self._aps: AsyncIOScheduler | None = None
        self._parts: dict[str, tuple[Daypart, ...]] = {}

    def start(self, stations: Iterable[Station]) -> None:
        self._aps = AsyncIOScheduler(timezone=self.timezone)
        self._aps.add_job(
            self.refresh,
            CronTrigger(second=0, timezone=self.timezone),
            id="dayparts",
            coalesce=True,
            misfire_grace_time=30,
        )
        self._aps.start()
        self.sync(stations)

    def stop(self) -> None:
        if self._aps and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None

    def sync(self, stations: Iterable[Station]) -> None:
        """Take a new lineup's dayparts and apply them at once."""
        self._parts = {s.id: s.dayparts for s in stations if s.enabled and s.dayparts}
        self.refresh()

    def refresh(self, moment: datetime | None = None) -> None:
        moment = moment or datetime.now(self.timezone)
        for station_id in [sid for sid in self.active if sid not in self._parts]:
            del self.active[station_id]
        for station_id, parts in self._parts.items():
            part = current(parts, moment)
            before = self.active.get(station_id)
            if part is None:
                self.active.pop(station_id, None)
            else:
                self.active[station_id] = part
            if (before and before.name) != (part and part.name):
                log.info(
                    "%s: %s", station_id, f"daypart {part.name!r}" if part else "regular prompt"
                )
