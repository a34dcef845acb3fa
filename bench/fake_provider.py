"""A loopback provider in its own process that takes ``--delay`` seconds per call.

On SIGTERM it writes ``{caller: first time received}`` to ``--out`` (for speed to lead).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from tests.fakes.provider import FakeProvider


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    fake = FakeProvider(port=args.port)
    fake.server.request_queue_size = 1024
    fake.set(delay=args.delay)
    fake.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    first: dict[str, float] = {}
    for received in list(fake.received):
        try:
            caller = str(received.json()["params"]["caller"])
        except (ValueError, KeyError, TypeError):
            continue
        first.setdefault(caller, received.at)
    args.out.write_text(json.dumps(first))
    fake.stop()


if __name__ == "__main__":
    main()
