"""``make bench``: callgate against a bare Flask "hello" and a naive synchronous proxy.

Everything runs on loopback in separate processes: gunicorn (production settings), a fake
provider that takes 300 ms per call, and the load generators (wrk for maximum throughput,
``bench.load`` for a fixed rate). Figures are printed and written to ``bench/results/``.
Nothing passes or fails on time.

Before the load, the default layout (``make run``: ``callgate serve`` with nothing configured)
is measured at rest: the memory of each of its processes and its CPU over ``IDLE_SECONDS``.
At each fixed rate the bare hello runs too, with the same generator, so that callgate's visitor
p99 is quoted as a ratio to the stack's own in the same run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

from bench import route_latency
from bench.footprint import cpu_seconds, memory
from tests.servers import Redis, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent

PROVIDER_DELAY = 0.3
RATE = 200.0
SUSTAINED_RATE = 50.0
RATE_SECONDS = 10.0
WRK_SECONDS = 10
WRK_CONNECTIONS = 32
# The default layout (`make run`) is left idle this long to measure its CPU at rest.
IDLE_SECONDS = 30.0
# Turns of (hello, callgate) maximum throughput; the table shows the turn with the median ratio.
MAX_ROUNDS = 3
# Production-like gunicorn: gthread workers, shared by all three targets.
GUNICORN = {"workers": "2", "threads": "8"}
CALLGATE_ENV = {
    "CALLGATE_WORKERS": GUNICORN["workers"],
    "CALLGATE_THREADS": GUNICORN["threads"],
    # Production layout: the web processes only accept; one `callgate worker` places the
    # calls: it finds a new lead by NOTIFY (PostgreSQL) or its 10 ms poll of the queue (SQLite).
    "CALLGATE_DISPATCHER": "external",
    "CALLGATE_DISPATCH_THREADS": "96",
    "CALLGATE_LOG_LEVEL": "WARNING",
    # The benchmark is one client address sending thousands of numbers: lift the limits
    # and de-duplication so they measure the path, not the defences.
    "CALLGATE_LIMIT_PER_IP": "10000000/minute",
    "CALLGATE_LIMIT_PER_PHONE": "1000/minute",
    "CALLGATE_LIMIT_GLOBAL": "10000000/minute",
    "CALLGATE_DEDUPE_WINDOW": "0",
    "CALLGATE_MAX_NUMBERS_PER_IP": "0",
    "CALLGATE_LIMIT_PER_COUNTRY": "10000000/minute",
    "CALLGATE_DAILY_CALL_BUDGET": "0",
    "CALLGATE_FORM_TOKEN": "optional",
    "CALLGATE_PROVIDER": "ringostat",
    "CALLGATE_RINGOSTAT_AUTH_KEY": "bench-key",
    "CALLGATE_RINGOSTAT_PROJECT_ID": "1",
    "CALLGATE_RINGOSTAT_CALLEE": "1",
    "CALLGATE_SECRET_KEY": "bench-secret-key-0123456789abcdef",
}


def database_url(work: Path) -> str:
    # BENCH_DATABASE_URL measures another database (e.g. PostgreSQL) the same way.
    return os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{work}/callgate.db"


def drain(url: str, timeout: float = 180.0) -> None:
    """Wait until callgate has no lead left to place (after a burst wrk left behind)."""
    engine = create_engine(url)
    try:

        def waiting() -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT count(*) FROM leads WHERE status IN ('queued', 'dispatching')")
                    ).scalar_one()
                )

        wait_until(lambda: waiting() == 0, timeout, "the worker to place the burst")
    finally:
        engine.dispose()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@contextmanager
def process(
    args: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextmanager
def fake_provider(work: Path, name: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    out = work / f"{name}-provider.json"
    args = [
        sys.executable,
        "-m",
        "bench.fake_provider",
        "--port",
        str(port),
        "--delay",
        str(PROVIDER_DELAY),
        "--out",
        str(out),
    ]
    with process(args, {}, work / f"{name}-provider.log") as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(url, timeout=2).status_code, 15, "fake provider")
        yield url, out
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


@contextmanager
def target(
    name: str, work: Path, provider_url: str, inline: bool = False
) -> Iterator[tuple[str, list[int]]]:
    """The server (and, for callgate, its worker) on loopback: its URL and process groups.

    ``inline``: callgate as one machine runs it by default, one web process with its limits in
    memory and the dispatcher in it (``CALLGATE_DISPATCHER=inline``), no worker, on SQLite."""
    port = free_port()
    bind = f"127.0.0.1:{port}"
    stack = ExitStack()
    if name == "callgate":
        env = {
            **CALLGATE_ENV,
            "CALLGATE_BIND": bind,
            "CALLGATE_DATABASE_URL": f"sqlite:///{work}/callgate.db"
            if inline
            else database_url(work),
            "CALLGATE_RINGOSTAT_API_URL": provider_url,
        }
        if inline:
            env.update(CALLGATE_WORKERS="1", CALLGATE_DISPATCHER="inline")
        elif os.environ.get("BENCH_LAYOUT") == "one-process":
            # One machine's default: one web process (its threads share the in-memory limits).
            env["CALLGATE_WORKERS"] = "1"
        else:
            # Several web processes keep one set of limits only in a storage they share: the
            # production layout for more than one worker (start-up refuses memory:// with two).
            redis = Redis(work).start()
            stack.callback(redis.stop)
            env["CALLGATE_RATELIMIT_STORAGE_URL"] = redis.url
        args = [str(BIN / "callgate"), "serve"]
        health = "/healthz"
    else:
        env = {"BENCH_PROVIDER_URL": provider_url}
        args = [
            str(BIN / "gunicorn"),
            "-b",
            bind,
            "-k",
            "gthread",
            "-w",
            GUNICORN["workers"],
            "--threads",
            GUNICORN["threads"],
            "--no-control-socket",
            f"bench.apps:{name}",
        ]
        health = "/hello" if name == "hello" else None
    with stack:
        groups = [stack.enter_context(process(args, env, work / f"{name}-server.log")).pid]
        url = f"http://{bind}"
        if health:
            wait_until(lambda: requests.get(url + health, timeout=2).ok, 30, name)
        else:
            wait_until(lambda: requests.get(url + "/", timeout=2).status_code == 404, 30, name)
        if name == "callgate" and not inline:
            # Once the server has migrated the database: the worker's own check finds it done.
            worker = [str(BIN / "callgate"), "worker"]
            log = work / f"{name}-worker.log"
            groups.append(stack.enter_context(process(worker, env, log)).pid)
            time.sleep(3)  # no file to watch; the worker is up and polling well within this
        yield url, groups


def default_layout(work: Path, idle_seconds: float = IDLE_SECONDS) -> dict[str, Any]:
    """What ``make run`` costs: ``callgate serve`` with nothing configured (dry-run, SQLite and
    its files under ./var, the dispatcher inline), once it has served a page and placed a call.
    """
    layout = work / "default-layout"
    layout.mkdir()
    bind = f"127.0.0.1:{free_port()}"
    # Only the address: every other setting keeps its default, as `make run` has them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGATE_")}
    env["CALLGATE_BIND"] = bind
    args = [str(BIN / "callgate"), "serve"]
    with process(args, env, work / "default-layout.log", cwd=layout) as proc:
        url = f"http://{bind}"
        wait_until(lambda: requests.get(url + "/healthz", timeout=2).ok, 30, "make run's layout")
        # Warm, as after a first visitor: the demo page, the widget, one call placed.
        requests.get(url + "/", timeout=10).raise_for_status()
        requests.get(url + "/widget.js", timeout=10).raise_for_status()
        config = requests.get(url + "/api/v1/widget-config", timeout=10).json()
        token = requests.get(url + "/api/v1/form-token", timeout=10).json()["form_token"]
        # The widget waits as long before posting (the minimum age is measured to the ms).
        time.sleep(config["form_token_min_age"] + 0.2)
        body = {"phone": "+380671112233", "form_token": token}
        lead = requests.post(url + "/api/v1/callbacks", json=body, timeout=10)
        lead.raise_for_status()
        status = url + lead.headers["Location"]
        wait_until(
            lambda: requests.get(status, timeout=5).json()["status"] == "placed", 30, "dry-run call"
        )
        time.sleep(2)
        footprint = memory([proc.pid])
        used = cpu_seconds([proc.pid])
        time.sleep(idle_seconds)
        idle_cpu = cpu_seconds([proc.pid]) - used
    footprint["idle_seconds"] = idle_seconds
    footprint["idle_cpu_percent"] = round(idle_cpu / idle_seconds * 100, 2)
    return footprint


def inline_dispatcher(work: Path) -> dict[str, Any]:
    """Speed to lead with the dispatcher in the web process (``target(inline=True)``), at the
    rate this machine sustains, after a warm-up at that rate. On SQLite, one machine's
    database, also when ``BENCH_DATABASE_URL`` names another for the other runs."""
    work.mkdir()
    with (
        fake_provider(work, "inline") as (provider_url, received_path),
        target("callgate", work, provider_url, inline=True) as (url, _),
    ):
        fixed_rate(url, work, "inline-warm", base=200_000, rate=SUSTAINED_RATE, seconds=3)
        time.sleep(1)
        samples = fixed_rate(url, work, "inline", base=300_000, rate=SUSTAINED_RATE)
        time.sleep(2)  # let the last leads reach the provider before it stops
    result = summarise(samples, json.loads(received_path.read_text()))
    layout = "one web process, limits in memory, dispatcher inline, SQLite"
    return {"layout": layout, **result}


def wrk(url: str, path: str, post: bool) -> dict[str, float]:
    args = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(WRK_CONNECTIONS),
        "-d",
        f"{WRK_SECONDS}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if post:
        args += ["-s", str(ROOT / "bench" / "post.lua")]
    output = subprocess.run([*args, url + path], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    latency = {p: _wrk_ms(output, p) for p in ("50%", "99%")}
    return {
        "requests_per_s": rps,
        "p50_ms": latency["50%"],
        "p99_ms": latency["99%"],
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _wrk_ms(output: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def fixed_rate(
    url: str,
    work: Path,
    name: str,
    base: int,
    rate: float = RATE,
    path: str = "/api/v1/callbacks",
    seconds: float = RATE_SECONDS,
) -> list[dict[str, Any]]:
    """Post callbacks open-loop at ``rate`` per second for ``seconds``: one sample each."""
    out = work / f"{name}-load.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--url",
            url + path,
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--base",
            str(base),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
    )
    samples: list[dict[str, Any]] = json.loads(out.read_text())
    return samples


def summarise(samples: list[dict[str, Any]], received: dict[str, float] | None) -> dict[str, Any]:
    ok = [s for s in samples if 200 <= s["status"] < 300]
    latencies = [(s["done"] - s["scheduled"]) * 1000 for s in ok]
    span = max(s["done"] for s in samples) - min(s["scheduled"] for s in samples)
    result: dict[str, Any] = {
        "sent": len(samples),
        "accepted": len(ok),
        "achieved_per_s": round(len(ok) / span, 1),
        "visitor_p50_ms": round(percentile(latencies, 50), 2),
        "visitor_p99_ms": round(percentile(latencies, 99), 2),
    }
    if received is not None:
        reached = [
            (s, received[s["phone"].lstrip("+")]) for s in ok if s["phone"].lstrip("+") in received
        ]
        speed = [(at - s["sent"]) * 1000 for s, at in reached]
        # From the visitor's 202 on: the dispatcher's part of the speed to lead (below 0 when
        # the call reached the provider before the 202 reached the visitor).
        after = [(at - s["done"]) * 1000 for s, at in reached]
        result.update(
            {
                "reached_provider": len(speed),
                "speed_to_lead_p50_ms": round(percentile(speed, 50), 2),
                "speed_to_lead_p99_ms": round(percentile(speed, 99), 2),
                "after_202_p50_ms": round(percentile(after, 50), 2),
                "after_202_p99_ms": round(percentile(after, 99), 2),
            }
        )
    return result


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("bench: wrk not found (make bench installs Debian's wrk)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="callgate-bench-"))
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count()},
        "settings": {
            "provider_delay_s": PROVIDER_DELAY,
            "rate": RATE,
            "rate_seconds": RATE_SECONDS,
            "idle_seconds": IDLE_SECONDS,
            "wrk_seconds": WRK_SECONDS,
            "wrk_connections": WRK_CONNECTIONS,
            "gunicorn": GUNICORN,
            "callgate": {
                "dispatcher": "one `callgate worker` process",
                "dispatch_threads": CALLGATE_ENV["CALLGATE_DISPATCH_THREADS"],
                "database": database_url(work).split(":", 1)[0],
            },
        },
    }
    # First, on a machine at rest: what the default layout holds and burns doing nothing.
    results["default_layout"] = default_layout(work)
    print(
        f"default layout (make run): {results['default_layout']['pss_mib']:.0f} MiB PSS, "
        f"{results['default_layout']['idle_cpu_percent']}% CPU idle",
        flush=True,
    )
    # hello stays up while callgate runs: their maximum throughputs are measured in turns,
    # back to back, so that both see the same machine (shared cores come and go).
    with (
        fake_provider(work, "hello") as (hello_provider, _),
        target("hello", work, hello_provider) as (hello_url, _),
    ):
        with (
            fake_provider(work, "naive") as (provider_url, received_path),
            target("naive", work, provider_url) as (url, _),
        ):
            fixed = fixed_rate(url, work, "naive", base=0)
            maximum = wrk(url, "/api/v1/callbacks", post=True)
        received = json.loads(received_path.read_text())
        results["naive"] = {"max": maximum, "fixed_rate": summarise(fixed, received)}
        print(f"naive      {maximum['requests_per_s']:>8.0f} req/s", flush=True)

        with (
            fake_provider(work, "callgate") as (provider_url, received_path),
            target("callgate", work, provider_url) as (url, groups),
        ):
            # First at a rate this machine sustains, then at the target rate; each time the
            # bare hello first, with the same generator, so that callgate's visitor latency
            # reads as a ratio to what the stack itself gives in the same minute.
            hello_sustained = fixed_rate(
                hello_url, work, "hello-sustained", base=0, rate=SUSTAINED_RATE, path="/hello"
            )
            sustained = fixed_rate(url, work, "callgate-sustained", base=0, rate=SUSTAINED_RATE)
            time.sleep(2)
            hello_fixed = fixed_rate(hello_url, work, "hello", base=0, path="/hello")
            time.sleep(2)
            used = cpu_seconds(groups)
            fixed = fixed_rate(url, work, "callgate", base=100_000)
            time.sleep(2)  # let the last leads reach the provider before it stops
            cpu_per_lead_ms = (cpu_seconds(groups) - used) / max(1, len(fixed)) * 1000
            rounds = []
            for _ in range(MAX_ROUNDS):
                hello_max = wrk(hello_url, "/hello", post=False)
                callgate_max = wrk(url, "/api/v1/callbacks", post=True)
                rounds.append({"hello": hello_max, "callgate": callgate_max})
                print(
                    f"max: hello {hello_max['requests_per_s']:.0f} req/s, "
                    f"callgate {callgate_max['requests_per_s']:.0f} req/s",
                    flush=True,
                )
                drain(database_url(work))  # the worker's backlog must not slow the next turn
    received = json.loads(received_path.read_text())
    results["callgate_inline"] = inline_dispatcher(work / "inline")
    middle = sorted(
        rounds, key=lambda r: r["callgate"]["requests_per_s"] / r["hello"]["requests_per_s"]
    )[len(rounds) // 2]
    results["hello"] = {
        "max": middle["hello"],
        "fixed_rate": summarise(hello_fixed, None),
        f"fixed_rate_{SUSTAINED_RATE:.0f}": summarise(hello_sustained, None),
    }
    results["callgate"] = {
        "layout": os.environ.get("BENCH_LAYOUT") or "two web processes, limits in Redis",
        "cpu_per_lead_ms": round(cpu_per_lead_ms, 2),
        "max": middle["callgate"],
        "max_rounds": rounds,
        "fixed_rate": summarise(fixed, received),
        f"fixed_rate_{SUSTAINED_RATE:.0f}": summarise(sustained, received),
    }

    results["callgate"]["visitor_p99_x_hello"] = visitor_ratios(results)
    results["route_webhook"] = route_latency.run()
    hello_rps = results["hello"]["max"]["requests_per_s"]
    for name in ("naive", "callgate"):
        results[name]["ratio_to_hello"] = round(
            results[name]["max"]["requests_per_s"] / hello_rps, 3
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(results, indent=2)
    (RESULTS / f"{stamp}.json").write_text(text + "\n")
    (RESULTS / "latest.json").write_text(text + "\n")
    print_table(results)
    shutil.rmtree(work, ignore_errors=True)


def visitor_ratios(results: dict[str, Any]) -> dict[str, float]:
    """callgate's visitor p99 over the bare hello's, at each fixed rate of the same run."""
    ratios = {}
    for key, rate in (("fixed_rate", RATE), (f"fixed_rate_{SUSTAINED_RATE:.0f}", SUSTAINED_RATE)):
        hello = results["hello"][key]["visitor_p99_ms"]
        ratios[f"{rate:.0f}_per_s"] = round(results["callgate"][key]["visitor_p99_ms"] / hello, 2)
    return ratios


def print_table(results: dict[str, Any]) -> None:
    print()
    print(
        f"{'target':<10}{'max req/s':>11}{'x hello':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"  | at {RATE:.0f}/s: {'ok/s':>6}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'lead p50':>10}{'lead p99':>10}"
    )
    for name in ("hello", "naive", "callgate"):
        r = results[name]
        m = r["max"]
        line = (
            f"{name:<10}{m['requests_per_s']:>11.0f}{r.get('ratio_to_hello', 1.0):>9.2f}"
            f"{m['p50_ms']:>9.1f}{m['p99_ms']:>9.1f}"
        )
        f = r.get("fixed_rate")
        if f:
            line += (
                f"  | {'':>9}{f['achieved_per_s']:>6.0f}{f['visitor_p50_ms']:>9.1f}"
                f"{f['visitor_p99_ms']:>9.1f}"
            )
            if "speed_to_lead_p50_ms" in f:  # hello places no call
                line += f"{f['speed_to_lead_p50_ms']:>10.1f}{f['speed_to_lead_p99_ms']:>10.1f}"
        print(line)
    sustained = results["callgate"][f"fixed_rate_{SUSTAINED_RATE:.0f}"]
    print(
        f"callgate at {SUSTAINED_RATE:.0f}/s: ok/s {sustained['achieved_per_s']:.0f}, visitor "
        f"p50 {sustained['visitor_p50_ms']} ms p99 {sustained['visitor_p99_ms']} ms, "
        f"speed to lead p50 {sustained['speed_to_lead_p50_ms']} ms "
        f"p99 {sustained['speed_to_lead_p99_ms']} ms"
    )
    inline = results["callgate_inline"]
    print(
        f"callgate, dispatcher inline ({inline['layout']}) at {SUSTAINED_RATE:.0f}/s: visitor "
        f"p50 {inline['visitor_p50_ms']} ms p99 {inline['visitor_p99_ms']} ms, speed to lead "
        f"p50 {inline['speed_to_lead_p50_ms']} ms p99 {inline['speed_to_lead_p99_ms']} ms "
        f"(after the 202: p50 {inline['after_202_p50_ms']} ms p99 {inline['after_202_p99_ms']} ms)"
    )
    print(
        f"callgate CPU per lead at {RATE:.0f}/s (web processes and worker): "
        f"{results['callgate']['cpu_per_lead_ms']} ms"
    )
    ratios = results["callgate"]["visitor_p99_x_hello"]
    hello = results["hello"]
    print(
        f"visitor p99, callgate over the bare hello at the same rate: "
        f"x{ratios[f'{RATE:.0f}_per_s']} at {RATE:.0f}/s "
        f"(hello {hello['fixed_rate']['visitor_p99_ms']} ms), "
        f"x{ratios[f'{SUSTAINED_RATE:.0f}_per_s']} at {SUSTAINED_RATE:.0f}/s "
        f"(hello {hello[f'fixed_rate_{SUSTAINED_RATE:.0f}']['visitor_p99_ms']} ms)"
    )
    layout = results["default_layout"]
    print(
        f"default layout (make run, {len(layout['processes'])} processes): "
        f"{layout['pss_mib']} MiB PSS ({layout['rss_mib']} MiB RSS summed), "
        f"{layout['idle_cpu_percent']}% of a core idle over {layout['idle_seconds']:.0f} s"
    )
    route = results["route_webhook"]
    print(
        f"\nRingostat route webhook: p50 {route['p50_ms']} ms, p99 {route['p99_ms']} ms "
        f"(goal p99 <= {route_latency.GOAL_P99_MS:.0f} ms)"
    )
    print(f"\nwritten to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
