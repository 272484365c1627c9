from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cpu_split import Snapshot, snapshot, split

BUSY_THEN_IDLE = """
import time
started = time.process_time()
while time.process_time() - started < 0.6:
    pass
time.sleep(5)
"""


def test_split_attributes_a_childs_work_to_the_children_and_the_rest_to_other_processes() -> None:
    start = Snapshot(at=0.0, own=1.0, children={10: 2.0}, busy=100.0, idle=50.0, steal=1.0)
    end = Snapshot(at=4.0, own=2.5, children={10: 5.0, 11: 0.5}, busy=106.0, idle=51.5, steal=1.5)
    used = split(start, end)
    assert (used.wall, used.own, used.children) == (4.0, 1.5, 3.5)  # child 11 was born in between: from zero
    assert (used.others, used.idle, used.steal) == (1.0, 1.5, 0.5)
    quiet = split(start, Snapshot(at=1.0, own=1.25, children={}, busy=100.25, idle=51.0, steal=1.0))
    assert quiet.others == 0.0
    assert "core-s: workers 0.0, stack 0.2" in quiet.line("stack", "workers")


@pytest.mark.skipif(not os.path.isfile("/proc/stat"), reason="reads Linux's /proc")
def test_a_busy_child_shows_in_the_children_and_this_process_in_its_own_time() -> None:
    start = snapshot()
    child = subprocess.Popen([sys.executable, "-c", BUSY_THEN_IDLE])
    try:
        deadline = time.perf_counter() + 10
        while True:  # the child's CPU, seen while it still lives (a child that exits takes its time with it)
            end = snapshot()
            assert start is not None and end is not None
            if end.children.get(child.pid, 0.0) >= 0.5 or time.perf_counter() > deadline:
                break
            time.sleep(0.1)
        t = time.process_time()
        while time.process_time() - t < 0.3:
            pass
        end = snapshot()
    finally:
        child.kill()
        child.wait()
    assert end is not None
    used = split(start, end)
    assert used.children >= 0.5
    assert used.own >= 0.3
    assert used.own + used.children <= used.cores * used.wall + 0.05
    assert used.others >= -0.1  # the machine's busy time holds this process's and the child's
    assert (
        abs(used.own + used.children + used.others + used.idle + used.steal - used.cores * used.wall) < 0.2 * used.cores
    )
