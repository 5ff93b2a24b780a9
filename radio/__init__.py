"""AI Radio: genre stations of generated music, streamed Icecast-style."""

__version__ = "0.1.0"
