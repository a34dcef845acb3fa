"""An open-loop load generator: requests go out on a fixed schedule, whatever the answers.

Latency is measured from each request's *scheduled* time, so a slow server cannot hide its
queueing by slowing the generator down (no coordinated omission). Python rather than wrk:
wrk is closed-loop (a fixed number of connections, each waiting for its answer), which cannot
hold a rate of 200 requests/s against a server that answers in 300 ms; wrk2 is not packaged.
wrk is still used for the maximum-throughput figures.
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests


@dataclass
class Sample:
    phone: str
    scheduled: float
    sent: float
    done: float
    status: int


def number(n: int, base: int) -> str:
    return f"+38067{(base + n) % 10_000_000:07d}"


def run(url: str, rate: float, duration: float, threads: int, base: int) -> list[Sample]:
    total = int(rate * duration)
    start = time.time() + 0.2
    jobs: queue.Queue[int | None] = queue.Queue()
    for n in range(total):
        jobs.put(n)
    samples: list[Sample] = []
    lock = threading.Lock()

    def worker() -> None:
        session = requests.Session()
        while True:
            n = jobs.get()
            if n is None:
                return
            scheduled = start + n / rate
            pause = scheduled - time.time()
            if pause > 0:
                time.sleep(pause)
            phone = number(n, base)
            sent = time.time()
            try:
                status = session.post(url, json={"phone": phone}, timeout=30).status_code
            except requests.RequestException:
                status = 0
            sample = Sample(phone, scheduled, sent, time.time(), status)
            with lock:
                samples.append(sample)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for _ in pool:
        jobs.put(None)
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--base", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    samples = run(args.url, args.rate, args.duration, args.threads, args.base)
    args.out.write_text(json.dumps([asdict(s) for s in samples]))


if __name__ == "__main__":
    main()
