"""The environment in, whether the Hugging Face hub may and can be asked for weights out.

Offline, transformers waits for the hub's connection timeouts (27.5 s measured in
issue #10) before using the local cache or failing. Both the choice (`select`,
`radio doctor`) and the loader ask here first, so an unreachable hub costs two
seconds at most, and nothing here imports torch.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

CONNECT_SECONDS = 2.0


def offline() -> bool:
    """True when the Hugging Face offline switches are set."""
    flags = (os.environ.get(name, "") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag.strip().lower() in {"1", "true", "yes", "on"} for flag in flags)


def hub_reachable(timeout: float = CONNECT_SECONDS) -> bool:
    """Whether the hub may be used: not switched off, and a TCP connection to it opens."""
    if offline():
        return False
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False
