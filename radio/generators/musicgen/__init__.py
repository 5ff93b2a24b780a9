"""Generation requests in, MusicGen audio out: transformers' weights, our own decoding loop.

Importing this package imports torch, so only select.py and the benchmark import
it, and only once MusicGen is wanted. `generator` loads the checkpoint and serves
batches; `render` cuts long tracks into windows, `decode` runs one window of the
decoder, `sampling` picks the tokens and `graphs` captures the CUDA steps;
`agreement` runs our loop beside stock generate (the tests, `bench generate --check`).
README.md names the transformers internals they read and the versions tested.
"""

from radio.generators.musicgen.generator import (
    LoadedMusicgen,
    MusicgenGenerator,
    MusicgenSettings,
    load_musicgen,
    load_transformers,
    resolve_device,
    resolve_dtype,
)

__all__ = [
    "LoadedMusicgen",
    "MusicgenGenerator",
    "MusicgenSettings",
    "load_musicgen",
    "load_transformers",
    "resolve_device",
    "resolve_dtype",
]
