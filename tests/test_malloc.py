"""The allocator is told to return audio buffers: checked in fresh interpreters, since
mallopt is process-wide and must come before the threads that allocate."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from tests.support import REPO

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

PROBE = """
import json, threading, numpy as np
from radio.malloc import tune_allocator

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

applied = tune_allocator()
before = rss()

def work():  # audio-sized buffers made and freed on a worker thread, as preparation does
    for _ in range(16):
        buffer = np.ones((1 << 20,), np.float32)  # 4 MB, touched
        del buffer

thread = threading.Thread(target=work)
thread.start()
thread.join()
print(json.dumps({"applied": applied, "grown": rss() - before}))
"""


def probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=clean | env,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_audio_buffers_freed_on_a_worker_thread_leave_no_resident_memory() -> None:
    result = probe()
    assert result["applied"] == {"MALLOC_ARENA_MAX": 2, "MALLOC_MMAP_THRESHOLD_": 1 << 20}
    assert isinstance(result["grown"], int) and result["grown"] < 2 << 20


def test_an_operators_own_malloc_settings_win() -> None:
    result = probe(MALLOC_ARENA_MAX="4")
    assert result["applied"] == {"MALLOC_MMAP_THRESHOLD_": 1 << 20}
