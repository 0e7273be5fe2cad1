"""bench/cpu.py: CPU time of a process tree, exited children included."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import cpu

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_tree_cpu_seconds_counts_a_child_that_has_exited_and_been_reaped():
    before_tree = cpu.tree_cpu_seconds(os.getpid())
    before_live = cpu.cpu_seconds(cpu.tree_pids(os.getpid()))
    subprocess.run([sys.executable, "-c", BURN], check=True)  # waited for: reaped

    # The child burnt 0.3 s of CPU; only the reaper's cutime still holds it.
    assert cpu.tree_cpu_seconds(os.getpid()) - before_tree >= 0.25
    assert cpu.cpu_seconds(cpu.tree_pids(os.getpid())) - before_live < 0.25


def test_tree_cpu_seconds_counts_a_live_child():
    child = subprocess.Popen([sys.executable, "-c", BURN + "time.sleep(30)\n"])
    try:
        assert _eventually(lambda: cpu.tree_cpu_seconds(child.pid) >= 0.25)
    finally:
        child.kill()
        child.wait()


def test_root_pid_is_the_one_master_of_a_name_and_none_when_two_are_running(tmp_path):
    program = tmp_path / "cpu-root-test"  # a name no other process has
    shutil.copy("/bin/sleep", program)
    first = subprocess.Popen([str(program), "30"])
    second = None
    try:
        assert _eventually(lambda: cpu.root_pid(program.name) == first.pid)
        second = subprocess.Popen([str(program), "30"])
        assert _eventually(lambda: len(_named(program.name)) == 2)
        assert cpu.root_pid(program.name) is None
    finally:
        for proc in (first, second):
            if proc:
                proc.kill()
                proc.wait()


def test_root_pid_of_postgresql_is_the_postmaster_of_every_backend():
    postmaster = cpu.root_pid("postgres")
    assert postmaster is not None
    assert set(_named("postgres")) <= set(cpu.tree_pids(postmaster))


def _named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _eventually(check) -> bool:
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
