"""What processes cost at rest, read from ``/proc``: CPU time, and memory (RSS and PSS).

RSS counts the pages a process shares with others (gunicorn workers forked from one master
share most of theirs) once per process, so the sum of RSS overstates a group's memory; PSS
divides each shared page among its sharers and sums to what the group really holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _members(groups: list[int]) -> list[Path]:
    """``/proc/<pid>`` of every live process in these process groups."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, …
        if int(fields[2]) in groups:
            found.append(entry)
    return found


def cpu_seconds(groups: list[int]) -> float:
    """CPU time (user + system) used so far by the live processes of these process groups."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in _members(groups):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime and stime: the 14th and 15th fields, the 12th and 13th after the command.
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _kib(text: str, label: str) -> int:
    for line in text.splitlines():
        if line.startswith(label + ":"):
            return int(line.split()[1])
    return 0


def memory(groups: list[int]) -> dict[str, Any]:
    """Each process's RSS and PSS (MiB), and the group's totals."""
    processes = []
    for entry in _members(groups):
        try:
            status = (entry / "status").read_text()
            rollup = (entry / "smaps_rollup").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        processes.append(
            {
                "pid": int(entry.name),
                "command": command[:80],
                "rss_mib": round(_kib(status, "VmRSS") / 1024, 1),
                "pss_mib": round(_kib(rollup, "Pss") / 1024, 1),
            }
        )
    processes.sort(key=lambda p: p["pid"])
    return {
        "processes": processes,
        "rss_mib": round(sum(p["rss_mib"] for p in processes), 1),
        "pss_mib": round(sum(p["pss_mib"] for p in processes), 1),
    }
