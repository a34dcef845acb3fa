"""Latency of Ringostat's call-routing webhook, ``/api/v1/ringostat/route``, under gunicorn.

Ringostat waits on this answer while a caller hears ringing, so the goal is p99 <= 20 ms.

The bench starts ``callgate serve`` (gunicorn, as the README starts it) against a loopback fake
of Ringostat's SIP-status API, waits until every worker's status cache is warm, then fires a
bounded number of webhook requests from a thread pool over keep-alive connections on loopback,
open loop at a steady rate (default 100/s, far above a real call centre's incoming calls).
Each request carries a caller number, so the sticky lookup in the store runs every time; some
callers match a placed lead (sticky), the rest go to the least recently routed free agent.

    python -m bench.route_latency [--requests 1500] [--rate 100] [--concurrency 8]

``run()`` returns the figures as a dict (``make bench`` prints them).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.sipstatus import FakeSipStatus  # noqa: E402
from tests.servers import Redis, Service, wait_until  # noqa: E402

TOKEN = "bench-route-token-0123456789abcdef"  # noqa: S105 - a throw-away local service
FALLBACK = "380441234567"
AGENTS = [f"supportrngst_manager{n}" for n in range(1, 9)]
GOAL_P99_MS = 20.0


def _env(
    sip_url: str, database_url: str, workers: int, threads: int, redis_url: str
) -> dict[str, str]:
    # Several web processes share their limits and the routing ledger through Redis (start-up
    # refuses in-memory limits with more than one worker); one process keeps them in memory.
    shared = {"CALLGATE_REDIS_URL": redis_url} if redis_url else {}
    return {
        **shared,
        "CALLGATE_PROVIDER": "ringostat",
        "CALLGATE_RINGOSTAT_API_URL": sip_url,
        "CALLGATE_RINGOSTAT_AUTH_KEY": "bench-auth-key",
        "CALLGATE_RINGOSTAT_PROJECT_ID": "11111",
        "CALLGATE_RINGOSTAT_CALLEE": "supportrngst_manager1",
        "CALLGATE_RINGOSTAT_CALLEE_TYPE": "sip",
        "CALLGATE_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "CALLGATE_DATABASE_URL": database_url,
        "CALLGATE_ROUTE_TOKEN": TOKEN,
        "CALLGATE_ROUTE_FALLBACK": FALLBACK,
        "CALLGATE_WORKERS": str(workers),
        "CALLGATE_THREADS": str(threads),
        "CALLGATE_LIMIT_PER_IP": "1000/minute",
        # Twenty callers from one bench address, posted by a script without a widget.
        "CALLGATE_MAX_NUMBERS_PER_IP": "1000",
        "CALLGATE_FORM_TOKEN": "optional",
    }


def _place_some_leads(service: Service, count: int) -> list[str]:
    """Callbacks placed the product's way, so their callers' later calls are sticky."""
    callers = []
    for n in range(count):
        digits = f"38067{1000000 + n:07d}"
        response = requests.post(
            f"{service.url}/api/v1/callbacks", json={"phone": "+" + digits}, timeout=5
        )
        response.raise_for_status()
        callers.append(digits)
    return callers


def _percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def run(
    requests_total: int = 1500,
    rate: float = 100.0,
    concurrency: int = 8,
    workers: int = 2,
    threads: int = 4,
) -> dict[str, Any]:
    """Start everything, measure, stop everything; return the figures in milliseconds."""
    sip = FakeSipStatus().start()
    sip.agents(online=AGENTS, speaking=AGENTS[:3])
    with tempfile.TemporaryDirectory(prefix="callgate-bench-") as tmp:
        redis = Redis(Path(tmp)).start() if workers > 1 else None
        redis_url = redis.url if redis else ""
        service = Service(
            env=_env(sip.url, f"sqlite:///{tmp}/callgate.db", workers, threads, redis_url),
            log_path=Path(tmp) / "service.log",
        )
        try:
            service.start()
            url = f"{service.url}/api/v1/ringostat/route/{TOKEN}"
            sticky_callers = _place_some_leads(service, 20)

            def warm() -> bool:
                # New connections, so that every worker is asked until all are warm.
                answers = {requests.get(url, timeout=5).json()["destination"] for _ in range(20)}
                return FALLBACK not in answers

            wait_until(warm, 60, "every worker's SIP-status cache warm")
            result = _measure(url, requests_total, rate, concurrency, sticky_callers)
        finally:
            service.stop()
            sip.stop()
            if redis is not None:
                redis.stop()
        result.update(_server_side(service.log(), requests_total))
        return result


def _server_side(log: str, last: int) -> dict[str, Any]:
    """The service's own timing of the measured requests (its access log, request to answer)."""
    found = re.findall(r"/api/v1/ringostat/route/\S+ 200 ([\d.]+)ms", log)
    samples = [float(ms) for ms in found[-last:]]
    if len(samples) < 2:
        return {}
    return {
        "server_p50_ms": round(statistics.median(samples), 2),
        "server_p99_ms": round(_percentile(samples, 99), 2),
    }


def _measure(
    url: str, requests_total: int, rate: float, concurrency: int, sticky_callers: list[str]
) -> dict[str, Any]:
    """Open loop at ``rate`` requests/s (0: as fast as ``concurrency`` clients go).

    Latency runs from the moment a request was due, not from when a client got round to it, so
    a stall is charged to every request it delayed (no coordinated omission).
    """
    local = threading.local()
    target = urlsplit(url)
    callers = sticky_callers + [f"38050{2000000 + n:07d}" for n in range(80)]
    interval = 1.0 / rate if rate > 0 else 0.0

    def one(n: int, start: float) -> tuple[float, str]:
        due = start + n * interval
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        else:
            due = due if interval else time.perf_counter()
        # http.client, not requests: a light client leaves the CPU to the service measured.
        conn: http.client.HTTPConnection | None = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
        conn.request("GET", f"{target.path}?caller={callers[n % len(callers)]}")
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - due) * 1000
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        destination: str = json.loads(body)["destination"]
        return elapsed, destination

    with ThreadPoolExecutor(concurrency) as pool:
        warmup = time.perf_counter()
        # Warm every client's connection; not counted.
        list(pool.map(lambda n: one(n, warmup), range(min(100, requests_total))))
        started = time.perf_counter()
        results = list(pool.map(lambda n: one(n, started), range(requests_total)))
        wall = time.perf_counter() - started
    samples = [ms for ms, _ in results]
    destinations = [d for _, d in results]
    return {
        "endpoint": "/api/v1/ringostat/route",
        "requests": requests_total,
        "rate_rps": rate or "max",
        "concurrency": concurrency,
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(_percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
        "achieved_rps": round(requests_total / wall, 1),
        "fallback_answers": destinations.count(FALLBACK),
        "goal_p99_ms": GOAL_P99_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s; 0: flat out")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    result = run(args.requests, args.rate, args.concurrency, args.workers, args.threads)
    print(json.dumps(result, indent=2))
    verdict = "meets" if result["p99_ms"] <= GOAL_P99_MS else "MISSES"
    print(
        f"route webhook: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
        f"({verdict} the {GOAL_P99_MS:.0f} ms p99 goal)"
    )


if __name__ == "__main__":
    main()
