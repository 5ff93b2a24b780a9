"""A folder and a bitrate in, a running Debian icecast2 with one mount fed by ffmpeg out.

Icecast keeps its stock settings but for the ones a benchmark must change: the
client limit (stock 100), loopback addresses and passwords. ffmpeg is the source
client, encoding noise at our stations' bitrate in real time (its own CPU is not
counted: Icecast's source is an upload, its encoder is elsewhere). A prepared MP3
sent with `-c copy` reached Icecast at several times real time here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

MOUNT = "/bench.mp3"
PASSWORD = "bench-source"

CONFIG = """<icecast>
  <location>bench</location>
  <admin>bench@localhost</admin>
  <limits>
    <clients>{clients}</clients>
    <sources>{sources}</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65535</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  {relays}
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>{logs}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><loglevel>2</loglevel></logging>
  <security>
    <chroot>0</chroot>
    {owner}
  </security>
</icecast>
"""
# A single-mount relay that starts at once (not on demand) and passes titles on.
RELAY = """<relay>
    <server>127.0.0.1</server><port>{port}</port><mount>{mount}</mount>
    <local-mount>{mount}</local-mount><on-demand>0</on-demand>
    <relay-shoutcast-metadata>1</relay-shoutcast-metadata>
  </relay>"""


class IcecastServer:
    """One Debian icecast2 on a loopback port with a generated config in `folder`;
    `relays` are (port, mount) of another Icecast's mounts to relay under the same name.
    It can be killed (SIGKILL, as a crash) and started again on the same port."""

    def __init__(
        self,
        folder: Path,
        port: int,
        password: str = PASSWORD,
        clients: int = 100,
        sources: int = 4,
        relays: Sequence[tuple[int, str]] = (),
    ) -> None:
        binary = shutil.which("icecast2")
        if binary is None:
            raise click.ClickException("icecast2 is not installed (make system-deps installs it)")
        self.binary = binary
        self.port = port
        # Icecast drops root for `nobody` and must still reach and write its logs.
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        self.logs = folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.logs.chmod(0o777)
        # Icecast refuses to run as root without changeowner, and needs nothing else as root.
        owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
        self.config = folder / "icecast.xml"
        self.config.write_text(
            CONFIG.format(
                clients=clients,
                sources=sources,
                password=password,
                port=port,
                logs=self.logs,
                owner=owner if os.geteuid() == 0 else "",
                relays="".join(RELAY.format(port=p, mount=m) for p, m in relays),
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("icecast2 was not started")
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        command = [self.binary, "-c", str(self.config)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_listening(self.port, self.process)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _mount_up(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/status-json.xsl"
    with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=2) as r:
        source = json.load(r)["icestats"].get("source")
        return bool(source) and str(source.get("listenurl", "")).endswith(MOUNT)
    return False


def _wait_listening(port: int, icecast: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while icecast.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise click.ClickException("icecast2 did not start listening")


@contextlib.contextmanager
def running_icecast(port: int, bitrate: int, clients: int) -> Iterator[int]:
    """Icecast with its mount on air, fed by ffmpeg; yields Icecast's pid (not ffmpeg's)."""
    with tempfile.TemporaryDirectory(prefix="radio-icecast-") as name:
        icecast = IcecastServer(Path(name), port, clients=clients, sources=2)
        feeder = None
        try:
            icecast.start()  # ffmpeg gives up at once if the port is closed
            url = f"icecast://source:{PASSWORD}@127.0.0.1:{port}{MOUNT}"
            command = ["ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "anoisesrc=a=0.2"]
            command += ["-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", f"{bitrate}k"]
            command += ["-content_type", "audio/mpeg", "-f", "mp3", url]
            feeder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 20
            while not _mount_up(port):
                if time.monotonic() > deadline or not icecast.running():
                    raise click.ClickException(
                        f"icecast's mount did not come up; see {icecast.logs}"
                    )
                time.sleep(0.2)
            yield icecast.pid
        finally:
            if feeder is not None:
                feeder.terminate()
                feeder.wait(timeout=10)
            icecast.stop()
