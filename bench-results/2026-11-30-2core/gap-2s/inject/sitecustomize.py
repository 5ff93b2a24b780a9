"""With GAP_INJECT=1: every 4th play write waits 2 s first, as a catalog thread busy for
that long (a slow fsync, a long query ahead in its queue) makes it. Same in either tree."""

import os
import sys
import time

if os.environ.get("GAP_INJECT") and os.path.isdir("radio"):  # a server run in its tree
    sys.path.insert(0, os.getcwd())  # the tree under test, as `python -m` would put it
    import radio.catalog

    write_play = radio.catalog.Catalog.start_play
    calls = 0

    def start_play(self, track_id, station, listeners):  # type: ignore[no-untyped-def]
        global calls
        calls += 1
        if calls % 4 == 0:
            print(
                f"INJECT catalog busy 2.0 s at play write #{calls} ({station})",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(2.0)
        return write_play(self, track_id, station, listeners)

    radio.catalog.Catalog.start_play = start_play
