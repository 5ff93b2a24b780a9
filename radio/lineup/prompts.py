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


# Other titles drawn from the same seed, for when a station already has the first:
# the catalog keeps the first one the station has not used (#9).
ALTERNATIVE_TITLES = 12


@dataclass(frozen=True)
class ConcretePrompt:
    text: str
    title: str
    params: Mapping[str, str]
    alternatives: tuple[str, ...] = ()


def concrete_prompt(station: Station, seed: int, daypart: Daypart | None = None) -> ConcretePrompt:
    """Fill the station's (or the active daypart's) template with pool values drawn by `seed`."""
    template = daypart.prompt if daypart else station.prompt
    pools = daypart.pools if daypart else station.pools
    rng = random.Random(seed)
    # Draw every pool in a fixed order so one seed always gives one prompt.
    params = {name: rng.choice(pools[name]) for name in sorted(pools)}
    text = template.format(**params)
    title, *alternatives = _titles(template, params, rng)
    return ConcretePrompt(text, title, params, tuple(alternatives))


def _titles(template: str, params: Mapping[str, str], rng: random.Random) -> list[str]:
    """The title (the prompt's first word and a noun), then alternatives that lead with
    any of the prompt's words; every one names the key when the prompt has one."""
    used = [params[name] for name in template_fields(template) if name in params]
    words = [v for v in used if not v.replace(".", "").isdigit()]
    key = params.get("key")

    def title(lead: str) -> str:
        named = f"{_capitalise(lead)} {rng.choice(TITLE_NOUNS)}".strip()
        return f"{named} in {key}" if key else named

    titles = [title(words[0] if words else "")]
    others = [w for w in words if w != key]  # the key already ends the title
    for _ in range(ALTERNATIVE_TITLES):
        other = title(rng.choice(others) if others else "")
        if other not in titles:
            titles.append(other)
    return titles


def _capitalise(text: str) -> str:
    return " ".join(part[:1].upper() + part[1:] for part in text.split())
