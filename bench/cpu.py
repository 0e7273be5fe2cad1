"""CPU time used by a process tree, from /proc: what a server spent, whatever else ran."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, list[str]] | None:
    """The command name and the fields after it in /proc/<pid>/stat (None once it exited)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the fields after it are fixed.
    return raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()


def _processes() -> dict[int, tuple[str, int]]:
    """Every live process: its command name and its parent's pid."""
    found: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            name, fields = stat
            found[int(entry.name)] = (name, int(fields[1]))
    return found


def tree_pids(root: int) -> list[int]:
    """``root`` and every process descending from it."""
    parents = {pid: parent for pid, (_, parent) in _processes().items()}
    tree, changed = {root}, True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sorted(tree)


def tree_cpu_seconds(root: int) -> float:
    """User plus system CPU seconds of ``root``'s tree, processes that have exited and been
    reaped included: their time is added to their reaper's cutime/cstime (a PostgreSQL
    backend per client connection comes and goes within a run)."""
    total = 0
    for pid in tree_pids(root):
        if stat := _stat(pid):
            _, fields = stat
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / _TICKS


def named_pids(command: str) -> list[int]:
    """The live processes named ``command`` (as /proc shows it: at most 15 characters)."""
    return sorted(pid for pid, (name, _) in _processes().items() if name == command)


def root_pid(command: str) -> int | None:
    """The one process named ``command`` whose parent has another name (a server's master)."""
    processes = _processes()
    roots = [
        pid
        for pid, (name, parent) in processes.items()
        if name == command and processes.get(parent, ("", 0))[0] != command
    ]
    return roots[0] if len(roots) == 1 else None


def per_request(run: Callable[[], dict], roots: Mapping[str, int | None]) -> dict:
    """``run()`` (a wrk run, whose figures count ``requests``) plus the CPU milliseconds per
    request that each named process tree spent meanwhile (``cpu_ms_per_request``; a name
    whose root is None is left out): a cost that holds even when other work shares the
    machine, and shows where its cores went."""
    found = {name: pid for name, pid in roots.items() if pid}
    before = {name: tree_cpu_seconds(pid) for name, pid in found.items()}
    result = run()
    requests_done = max(result["requests"], 1)
    result["cpu_ms_per_request"] = {
        name: (tree_cpu_seconds(pid) - before[name]) * 1000 / requests_done
        for name, pid in found.items()
    }
    return result
