"""Real Celery processes of the web app (``celery -A webapp.celery worker|beat``) for the
tests and the benchmarks.

Each runs in a process group of its own, so that a caller can SIGKILL a worker together with
its pool processes, as a node failure would; ``start_*`` returns once the process says it is
ready.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from devtools.servers import REPO, VENV_BIN, read_log

READY_TIMEOUT = 60.0


@dataclass
class CeleryProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    metrics_port: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def logs(self) -> str:
        return read_log(self.log)

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.logs():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise TimeoutError(f"{text!r} not logged within {timeout}s:\n{self.logs()[-3000:]}")

    def dump_and_kill(self) -> None:
        """Make a stuck process print where it is (faulthandler), for the failure report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGABRT)
            time.sleep(1)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no acknowledgement, no cleanup."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def metric(self, name: str, labels: dict[str, str]) -> float:
        """A sample from the worker's /metrics (0 when not exported yet)."""
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(f"{name}{{"):
                sample, value = line.rsplit(" ", 1)
                found = sample[len(name) + 1 : -1].split(",")
                if ",".join(sorted(found)) == wanted:
                    return float(value)
        return 0.0


def celery_env(work: Path, env: dict[str, str]) -> dict[str, str]:
    """The caller's environment in test mode, its state under ``work``; ``env`` wins. The
    caller's own PROMETHEUS_MULTIPROC_DIR is not inherited: a process shares it only when
    ``env`` says so."""
    inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "APP_MODE": "test",
        "VAR_DIR": str(work / "var"),
        "PYTHONFAULTHANDLER": "1",
        **env,
    }


def start_celery(
    work: Path, env: dict[str, str], args: Sequence[str], *, name: str, ready: str
) -> CeleryProcess:
    """``celery -A webapp.celery args``, logging to ``work/name.log``, once ``ready`` is
    logged (the process is killed, and its log raised, if it is not within a minute)."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"{name}.log"
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "webapp.celery", *args, "--loglevel=INFO"],
            cwd=REPO,
            env=celery_env(work, env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process = CeleryProcess(proc, log)
    try:
        process.wait_for_log(ready, timeout=READY_TIMEOUT)
    except TimeoutError:
        process.dump_and_kill()
        raise TimeoutError(
            f"{name} not ready within {READY_TIMEOUT:g}s:\n{process.logs()[-5000:]}"
        ) from None
    return process


def start_worker(
    work: Path,
    env: dict[str, str],
    *,
    name: str = "worker",
    options: Sequence[str] = ("--concurrency=1",),
) -> CeleryProcess:
    """A worker named ``name``, with one pool process unless ``options`` say otherwise."""
    args = ["worker", *options, "--without-gossip", "--without-mingle", f"--hostname={name}@%h"]
    return start_celery(work, env, args, name=name, ready=" ready.")


def start_beat(work: Path, env: dict[str, str]) -> CeleryProcess:
    # Its schedule and pidfile under ``work``: two beats never share the repository's.
    args = ["beat", f"--schedule={work / 'celerybeat-schedule'}", f"--pidfile={work / 'beat.pid'}"]
    return start_celery(work, env, args, name="beat", ready="beat: Starting")
