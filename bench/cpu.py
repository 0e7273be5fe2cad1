"""CPU time used by a process tree, from /proc: what a server spent, whatever else ran."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after it are fixed.
    return raw[raw.rindex(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """``root`` and every process descending from it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    tree, changed = {root}, True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sorted(tree)


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds of the given processes (those still alive)."""
    total = 0
    for pid in pids:
        if fields := _stat(pid):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root``'s tree, processes that have exited and been reaped included:
    their time is added to their reaper's cutime/cstime (a PostgreSQL backend per client
    connection comes and goes within a run)."""
    total = 0
    for pid in tree_pids(root):
        if fields := _stat(pid):
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / _TICKS


def root_pid(command: str) -> int | None:
    """The one process named ``command`` whose parent has another name (a server's master)."""
    names: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if fields := _stat(int(entry.name)):
            names[int(entry.name)] = (name, int(fields[1]))
    roots = [
        pid
        for pid, (name, parent) in names.items()
        if name == command and names.get(parent, ("", 0))[0] != command
    ]
    return roots[0] if len(roots) == 1 else None
