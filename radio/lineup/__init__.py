"""The lineup: stations.toml read, validated and edited; prompts and dayparts from it.

Leaves of the flow: nothing here imports a stage. `stations` reads and validates,
`edits` writes operator changes back, `prompts` turns a station and a seed into a
concrete prompt and title, `dayparts` says which prompt set holds at a moment.
"""

from radio.lineup.stations import (
    Daypart,
    Station,
    StationsConfig,
    Tunables,
    load_stations,
    parse_stations,
)

__all__ = ["Daypart", "Station", "StationsConfig", "Tunables", "load_stations", "parse_stations"]
