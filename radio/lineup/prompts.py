"""Station + seed in, one concrete prompt and title out; pure and reproducible."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from radio.lineup.stations import Daypart, Station
from radio.lineup.text import template_fields

# Nouns that make a title read like a track name rather than a prompt; chosen by seed.
TITLE_NOUNS = (
    "Reverie",
    "Avenue",
    "Lanterns",
    "Undertow",
    "Meridian",
    "Embers",
    "Harbour",
    "Satellites",
    "Afterglow",
    "Crossing",
    "Tidewater",
    "Static",
    "Orchard",
    "Parallax",
    "Monsoon",
    "Vesper",
    "Quarry",
    "Halo",
    "Driftwood",
    "Skyline",
    "Cinders",
    "Lighthouse",
    "Mirage",
    "Nightjar",
    "Porchlight",
    "Solstice",
    "Causeway",
    "Juniper",
    "Riverbend",
    "Switchback",
    "Wildfire",
    "Zenith",
)


@dataclass(frozen=True)
class ConcretePrompt:
    text: str
    title: str
    params: Mapping[str, str]


def concrete_prompt(station: Station, seed: int, daypart: Daypart | None = None) -> ConcretePrompt:
    """Fill the station's (or the active daypart's) template with pool values drawn by `seed`."""
    template = daypart.prompt if daypart else station.prompt
    pools = daypart.pools if daypart else station.pools
    rng = random.Random(seed)
    # Draw every pool in a fixed order so one seed always gives one prompt.
    params = {name: rng.choice(pools[name]) for name in sorted(pools)}
    text = template.format(**params)
    return ConcretePrompt(text=text, title=_title(template, params, rng), params=params)


def _title(template: str, params: Mapping[str, str], rng: random.Random) -> str:
    used = [params[name] for name in template_fields(template) if name in params]
    words = [v for v in used if not v.replace(".", "").isdigit()]
    lead = _capitalise(words[0]) if words else ""
    key = params.get("key")
    noun = rng.choice(TITLE_NOUNS)
    title = f"{lead} {noun}".strip()
    return f"{title} in {key}" if key else title


def _capitalise(text: str) -> str:
    return " ".join(part[:1].upper() + part[1:] for part in text.split())
