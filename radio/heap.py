"""Keep what the server built at startup out of Python's full collections.

CPython's cyclic collector stops the whole interpreter, event loop included, for a
full collection, and that walks every tracked object. The server holds about 120,000
of them once it is on air (modules, the app, the lineup, the catalog, the scheduler),
and a full collection of those took 53-71 ms here: every station and every listener
waited that long. Frozen after startup (`gc.freeze`), they are never walked again, and
the served process's full collections took 0.3-0.4 ms. The listeners' own objects stay
collectable (about 55 a listener, mostly aiohttp's): at 8,000 listeners a full
collection took 260-330 ms before the freeze and up to 177 ms after it, and one comes
only when thousands connect or leave at once.

The price: a reference cycle among the frozen objects that later becomes garbage is
never freed. What exists at startup lives as long as the server, so that is bounded
by the startup heap and paid at most once.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web


def freeze_startup_heap() -> int:
    """Collect what startup left behind, then freeze the rest; returns how many froze."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def freeze_on_startup(app: web.Application) -> None:
    """An on_startup hook, added after the radio's own: it runs once the radio is on air."""
    freeze_startup_heap()
