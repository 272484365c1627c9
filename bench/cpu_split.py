"""Where a stage's core-seconds go, read from Linux's /proc: this process (in the pipeline benchmark, the
embedded stack: emulated AWS, loader, dispatcher), its live child processes (the ingestion workers), the rest of
the machine, and the time the cores were idle or stolen by the hypervisor.

A child that exits during the stage takes its CPU time with it; the pipeline benchmark's workers live through
the replay, so this holds for them. Elsewhere (no /proc) :func:`snapshot` returns None and nothing is split.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Snapshot:
    at: float  # perf_counter seconds
    own: float  # this process's CPU seconds (user + system)
    children: dict[int, float]  # live child pid -> its CPU seconds
    busy: float  # the machine's CPU seconds spent working (user, nice, system, irq, softirq)
    idle: float  # ... idle or waiting for I/O
    steal: float  # ... taken by the hypervisor for other guests


@dataclass(frozen=True)
class Split:
    wall: float
    cores: int
    own: float
    children: float
    others: float  # the machine's busy time that is neither this process's nor its children's
    idle: float
    steal: float

    def line(self, own_label: str, children_label: str) -> str:
        return (
            f"{self.cores} cores x {self.wall:.1f} s = {self.cores * self.wall:.1f} core-s: "
            f"{children_label} {self.children:.1f}, {own_label} {self.own:.1f}, other processes {self.others:.1f}, "
            f"idle {self.idle:.1f}, stolen by the hypervisor {self.steal:.1f}"
        )


def _fields(stat: str) -> list[str]:
    """A /proc/<pid>/stat line's fields after the command name (which may hold spaces): state, ppid, ..."""
    return stat.rsplit(")", 1)[1].split()


def _process_cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _children(pid: int) -> dict[int, float]:
    found: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = _fields(stat)
        if int(fields[1]) == pid:
            found[int(entry.name)] = _process_cpu(fields)
    return found


def snapshot() -> Snapshot | None:
    if not (_PROC / "stat").is_file():
        return None
    cpu = [int(v) for v in (_PROC / "stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = cpu[:7]
    steal = cpu[7] if len(cpu) > 7 else 0
    return Snapshot(
        at=time.perf_counter(),
        own=_process_cpu(_fields((_PROC / "self" / "stat").read_text())),
        children=_children(os.getpid()),
        busy=(user + nice + system + irq + softirq) / _TICK,
        idle=(idle + iowait) / _TICK,
        steal=steal / _TICK,
    )


def split(start: Snapshot, end: Snapshot) -> Split:
    """The core-seconds between two snapshots; a child born in between counts from zero."""
    own = end.own - start.own
    children = sum(cpu - start.children.get(pid, 0.0) for pid, cpu in end.children.items())
    busy = end.busy - start.busy
    return Split(
        wall=end.at - start.at,
        cores=os.cpu_count() or 1,
        own=own,
        children=children,
        others=busy - own - children,  # the machine's counters tick coarser than a process's: may be a little < 0
        idle=end.idle - start.idle,
        steal=end.steal - start.steal,
    )
