"""bench/cpu.py: CPU time of a process tree, exited children included."""

import os
import shutil
import subprocess
import sys
import time

from bench import cpu

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_tree_cpu_seconds_counts_a_child_that_has_exited_and_been_reaped():
    before_tree = cpu.tree_cpu_seconds(os.getpid())
    before_children = os.times()
    subprocess.run([sys.executable, "-c", BURN], check=True)  # waited for: reaped
    after_children = os.times()

    # The child burnt 0.3 s of CPU, gone from /proc; only the reaper's cutime still holds
    # it, as the kernel reports it to this process (os.times) too.
    children = (after_children.children_user - before_children.children_user) + (
        after_children.children_system - before_children.children_system
    )
    assert children >= 0.25
    assert cpu.tree_cpu_seconds(os.getpid()) - before_tree >= children - 0.02


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
        assert _eventually(lambda: cpu.named_pids(program.name) == sorted([first.pid, second.pid]))
        assert cpu.root_pid(program.name) is None
    finally:
        for proc in (first, second):
            if proc:
                proc.kill()
                proc.wait()


def test_root_pid_of_postgresql_is_the_postmaster_of_every_backend():
    postmaster = cpu.root_pid("postgres")
    assert postmaster is not None
    backends = cpu.named_pids("postgres")
    assert len(backends) >= 2  # the postmaster and at least its checkpointer
    assert set(backends) <= set(cpu.tree_pids(postmaster))


def _eventually(check) -> bool:
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
