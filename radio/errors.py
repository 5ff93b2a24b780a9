"""The one exception tree; every layer raises its own subclass of RadioError.

    RadioError
    ├── ConfigError          stations.toml or a setting is wrong (names file, station, key, line)
    ├── GeneratorError       a generator failed on a batch; the station keeps playing
    │   └── GeneratorUnavailable   a generator cannot be used here (no CUDA, no weights)
    ├── AudioError           audio that cannot be prepared (silent, empty, unreadable)
    ├── EncoderError         the MP3 encoder's output is not the frames it should be
    ├── OutputError          an outside server (Icecast) refused or lost a station's stream
    ├── WorkerDied           a worker process (generator, preparation) ended mid-call
    ├── CatalogError         the catalog refused a write or a query
    │   ├── NotFound         no such track / station
    │   ├── DuplicateTrack   the audio hash is already in the catalog
    │   └── Gone             the track is known but its audio was pruned from the cache
    └── AuthError            the operator console's token is missing or wrong

The CLI turns these into readable messages and the HTTP handlers into JSON errors.
"""

from __future__ import annotations


class RadioError(Exception):
    """Base of every error the radio raises on purpose."""


class ConfigError(RadioError):
    """A configuration problem, located as precisely as we can."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        station: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.station = station
        self.key = key
        self.line = line
        super().__init__(self.located())

    def located(self) -> str:
        where = []
        if self.path:
            where.append(f"{self.path}:{self.line}" if self.line else self.path)
        if self.station:
            where.append(f"station {self.station!r}")
        if self.key:
            where.append(f"key {self.key!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class GeneratorError(RadioError):
    """A generator failed on a batch of requests."""


class GeneratorUnavailable(GeneratorError):
    """A generator cannot run here; the message says what to install or set."""


class AudioError(RadioError):
    """Audio that cannot be prepared for playout."""


class EncoderError(RadioError):
    """The MP3 encoder produced something other than MPEG-1 Layer III frames."""


class OutputError(RadioError):
    """An output could not deliver a station to an outside server; the station plays on."""


class WorkerDied(RadioError):
    """A worker process ended during a call (killed, crashed in native code); the next
    call starts a new one."""


class CatalogError(RadioError):
    """The catalog refused a write or a query."""


class NotFound(CatalogError):
    """No such track or station."""


class DuplicateTrack(CatalogError):
    """The audio hash is already in the catalog: a repeat can never enter."""


class Gone(CatalogError):
    """The track is in the catalog but retention deleted its audio."""


class AuthError(RadioError):
    """The operator console's token is not configured or does not match."""
