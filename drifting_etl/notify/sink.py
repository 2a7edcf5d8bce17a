"""A local SMTP sink on loopback that keeps every message it receives as an .eml file: the team inbox of
`make airflow`, so that e-mail sent by the monitoring DAGs can be read without a mail server.

    python -m drifting_etl.notify.sink --outbox .drifting/outbox --port 8025

Files are numbered after those already in the outbox (`001.eml`, `002.eml`, …), so the demo's messages stay.
It listens on 127.0.0.1 only and runs until SIGINT or SIGTERM. Needs the [demo] extra (aiosmtpd).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from drifting_etl.core.extras import require_extra

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8025


class Outbox:
    """An aiosmtpd handler that writes each message to `directory` as the next free NNN.eml (`received` lists them);
    `announce` prints a line per message."""

    def __init__(self, directory: Path, *, announce: bool = False) -> None:
        self.directory, self.announce = directory, announce
        self.received: list[Path] = []
        self._lock = threading.Lock()

    def save(self, content: bytes) -> Path:
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            numbers = [int(path.stem) for path in self.directory.glob("*.eml") if path.stem.isdigit()]
            path = self.directory / f"{max(numbers, default=0) + 1:03d}.eml"
            path.write_bytes(content)
            self.received.append(path)
            return path

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        path = self.save(envelope.original_content or envelope.content)
        if self.announce:
            print(f"saved a message for {', '.join(envelope.rcpt_tos)} as {path}", flush=True)
        return "250 OK"


def serve(outbox: Path, port: int) -> None:
    """Receive on 127.0.0.1:`port` into `outbox` until SIGINT or SIGTERM."""
    require_extra("demo", feature="the local SMTP sink (drifting_etl.notify.sink)")
    from aiosmtpd.controller import Controller

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    controller = Controller(Outbox(outbox, announce=True), hostname=LOOPBACK, port=port)
    controller.start()
    print(f"SMTP sink listening on {LOOPBACK}:{port}, saving every message in {outbox}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m drifting_etl.notify.sink", description=__doc__.splitlines()[0])
    parser.add_argument("--outbox", type=Path, required=True, help="directory for the .eml files")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on {LOOPBACK} (default {DEFAULT_PORT})")
    arguments = parser.parse_args(argv)
    serve(arguments.outbox, arguments.port)


if __name__ == "__main__":
    main()
