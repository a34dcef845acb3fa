"""Temporary probe (not committed): callgate at 50/s, with optional env overrides."""
import json, sys, tempfile, time
from pathlib import Path
import bench.__main__ as b
over = dict(a.split("=", 1) for a in sys.argv[1:])
b.CALLGATE_ENV.update(over)
work = Path(tempfile.mkdtemp(prefix="probe-"))
with b.fake_provider(work, "callgate") as (purl, rpath), b.target("callgate", work, purl) as (url, groups):
    used = b.cpu_seconds(groups)
    s = b.fixed_rate(url, work, "p", base=0, rate=50, seconds=6)
    time.sleep(2)
    cpu = (b.cpu_seconds(groups) - used) / len(s) * 1000
    log = (work / "callgate-server.log").read_text().splitlines()[-5:]
    wlog = (work / "callgate-worker.log").read_text().splitlines()[-5:]
received = json.loads(rpath.read_text())
r = b.summarise(s, received)
print({k: r[k] for k in r if "p99" in k or "p50" in k}, "cpu/lead ms", round(cpu, 2))
print("\n".join(log)); print("\n".join(wlog))
