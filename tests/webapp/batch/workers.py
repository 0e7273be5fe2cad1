"""Real Celery processes for tests: ``celery -A webapp.celery worker|beat`` as subprocesses.

Each runs in its own process group, so a test can SIGKILL a worker together with its pool
processes, as a node failure would.
"""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import requests

from tests.support.servers import REPO, VENV_BIN, free_port

# The tests' own Redis database; fixtures empty it before and after each test.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def flush_test_redis() -> None:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class CeleryProcess:
    proc: subprocess.Popen
    log: Path
    metrics_port: int | None = None

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

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


def celery_env(tmp_dir: Path, env: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "APP_MODE": "test",
        "VAR_DIR": str(tmp_dir / "var"),
        "PYTHONFAULTHANDLER": "1",
        **env,
    }


def start_worker(tmp_dir: Path, env: dict[str, str], *, name: str = "worker") -> CeleryProcess:
    """A worker with one pool process, its metrics on a free port; waits until it is ready."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    metrics_dir = tmp_dir / f"metrics-{name}"
    metrics_dir.mkdir(exist_ok=True)
    port = free_port()
    log = tmp_dir / f"{name}.log"
    full_env = celery_env(
        tmp_dir,
        {
            "WORKER_METRICS_PORT": str(port),
            "WORKER_METRICS_ADDR": "127.0.0.1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            **env,
        },
    )
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "webapp.celery",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                f"--hostname={name}@%h",
            ],
            cwd=REPO,
            env=full_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = CeleryProcess(proc, log, port)
    try:
        worker.wait_for_log(" ready.", timeout=60)
    except TimeoutError:
        worker.dump_and_kill()
        raise TimeoutError(f"worker not ready within 60s:\n{worker.logs()[-5000:]}") from None
    return worker


def start_beat(tmp_dir: Path, env: dict[str, str]) -> CeleryProcess:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_dir / "beat.log"
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "webapp.celery",
                "beat",
                "--loglevel=INFO",
                f"--schedule={tmp_dir / 'celerybeat-schedule'}",
            ],
            cwd=REPO,
            env=celery_env(tmp_dir, env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    beat = CeleryProcess(proc, log)
    try:
        beat.wait_for_log("beat: Starting", timeout=60)
    except TimeoutError:
        beat.dump_and_kill()
        raise TimeoutError(f"beat not started within 60s:\n{beat.logs()[-5000:]}") from None
    return beat
