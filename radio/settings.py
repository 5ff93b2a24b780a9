"""Every server setting, declared once: name, default, type and help.

Precedence: command-line option > environment variable (RADIO_<NAME>) > default.
The CLI builds its options from this table and tests check the README lists each.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from radio.errors import ConfigError

# Where generators run: in the server's process, or as actors on a Ray cluster (issue #12).
WORKERS = ("local", "ray")
# MusicGen's precisions, by the names torch gives them.
DTYPES = ("float32", "float16", "bfloat16")
# public_url goes into headers and playlist lines: one http(s) URL, no spaces or controls.
PUBLIC_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f/?#]+(/[^\s\x00-\x1f\x7f]*)?")


def setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    host: str = setting("127.0.0.1", "Address to listen on.")
    port: int = setting(8000, "TCP port to listen on.")
    stations: Path = setting(Path("stations.toml"), "Stations file.")
    cache: Path = setting(Path("cache"), "Folder for generated audio and the catalog (catalog.db).")
    generator: str = setting(
        "auto", "auto, synth or musicgen; auto picks MusicGen with CUDA and weights."
    )
    model: str = setting("facebook/musicgen-small", "MusicGen model id or local folder.")
    soundfont: Path = setting(
        Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
        "General MIDI SoundFont the synth plays through FluidSynth; missing: sine voices.",
    )
    device: str = setting(
        "", "Torch device for MusicGen (cuda, cuda:1, cpu); empty picks CUDA if present."
    )
    dtype: str = setting("", f"MusicGen precision ({', '.join(DTYPES)}); empty picks per device.")
    guidance_scale: float = setting(3.0, "MusicGen classifier-free guidance scale (1 disables it).")
    top_k: int = setting(250, "MusicGen sampling: keep the k most likely tokens at each step.")
    temperature: float = setting(1.0, "MusicGen sampling temperature.")
    workers: str = setting(
        "local", "Where generators run: local (in the server) or ray (actors on a Ray cluster)."
    )
    worker_processes: bool = setting(
        True,
        "Run the synth and preparation in worker processes, off playout's interpreter;"
        " false: on the server's threads.",
    )
    ray_address: str = setting(
        "auto",
        "Ray cluster for --workers ray: auto (this machine's, or a new one) or ray://host:port.",
    )
    admin_token: str = setting(
        "", "Token for the operator console and its API; empty: serve keeps one in cache/."
    )
    public_url: str = setting(
        "", "Base URL for playlists, icy-url and listenurl; empty: the address listened on."
    )
    burst_bytes: int = setting(
        64 * 1024, "Bytes sent at once to a new listener so players start at once."
    )
    queue_limit_bytes: int = setting(
        512 * 1024, "A listener this many bytes behind is disconnected."
    )
    cache_max_bytes: int = setting(
        20 * 10**9,
        "Audio kept in the cache; beyond it the least played, oldest tracks' audio is pruned.",
    )
    min_free_bytes: int = setting(
        500 * 10**6, "Free disk space under which generation pauses (stations replay)."
    )
    max_listeners: int = setting(
        0, "Listeners the whole server takes (Icecast's clients); more get a 503. 0: no cap."
    )
    max_listeners_per_mount: int = setting(
        0, "Listeners one mount takes (Icecast's max-listeners); more get a 503. 0: no cap."
    )
    log_level: str = setting("INFO", "Logging level.")

    def __post_init__(self) -> None:
        if self.workers not in WORKERS:
            raise ConfigError(
                f"unknown workers {self.workers!r} (known: {', '.join(WORKERS)})", key="workers"
            )
        if self.public_url and not PUBLIC_URL.fullmatch(self.public_url):
            raise ConfigError(
                f"{self.public_url!r} is not an http(s) URL on one line", key="public_url"
            )

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def help(cls, name: str) -> str:
        return str(next(f for f in fields(cls) if f.name == name).metadata["help"])

    @classmethod
    def load(
        cls, overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None
    ) -> Settings:
        """Defaults, then RADIO_* environment variables, then explicit overrides (CLI)."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"RADIO_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, type(f.default), raw)
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
        return replace(cls(), **values)


BOOLEANS = {"1": True, "true": True, "yes": True, "on": True} | {
    "0": False, "false": False, "no": False, "off": False
}  # fmt: skip


def _convert(name: str, kind: type, raw: str) -> Any:
    if kind is bool:  # bool("false") is True
        word = raw.strip().lower()
        if word not in BOOLEANS:
            raise ConfigError(f"cannot read {raw!r} as true or false", key=f"RADIO_{name.upper()}")
        return BOOLEANS[word]
    try:
        return kind(raw)
    except ValueError as exc:
        raise ConfigError(
            f"cannot read {raw!r} as {kind.__name__}", key=f"RADIO_{name.upper()}"
        ) from exc
