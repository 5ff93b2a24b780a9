"""How the benches split our server's CPU: its worker processes (generation and
preparation) apart from its own process (delivery), read from /proc."""

from __future__ import annotations

import subprocess
import sys
import time

from radio.bench.serving import cpu_seconds, workers_cpu_seconds

# A parent that only waits, over a child that spins until its stdin closes.
PARENT = """
import subprocess, sys
spin = "import sys, select\\nwhile not select.select([sys.stdin], [], [], 0)[0]: pass"
child = subprocess.Popen([sys.executable, "-c", spin], stdin=subprocess.PIPE)
print(child.pid, flush=True)
sys.stdin.readline()
child.stdin.close()
child.wait()
"""


def test_the_worker_processes_cpu_is_told_apart_from_the_servers_own() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdin is not None and parent.stdout is not None
        try:
            parent.stdout.readline()
            deadline = time.monotonic() + 60
            while workers_cpu_seconds(parent.pid) < 0.5 and time.monotonic() < deadline:
                time.sleep(0.05)
            workers, whole = workers_cpu_seconds(parent.pid), cpu_seconds(parent.pid)
            assert workers >= 0.5
            # The parent's own share is its start-up alone: it never spun.
            assert whole >= workers and whole - workers < 0.4
        finally:
            parent.stdin.write("\n")
            parent.stdin.close()
            parent.wait(timeout=30)
