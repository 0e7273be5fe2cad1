"""Gunicorn subprocesses on loopback: a free port, start, wait until ready, stop."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import requests

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_static_root: Path | None = None


def collected_static() -> Path:
    """A STATIC_ROOT filled by collectstatic, once per process: web app servers link hashed
    static names and serve them as immutable, as the image does."""
    global _static_root  # noqa: PLW0603 - one collection per test session or benchmark run
    if _static_root is None:
        root = Path(tempfile.mkdtemp(prefix="sentiment-static-"))
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "APP_MODE": "test",
            "STATIC_ROOT": str(root),
        }
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=REPO,
            env=env,
            check=True,
            timeout=300,
        )
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _static_root = root
    return _static_root


def manage(
    env: dict[str, str], *args: str, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``manage.py args`` in the repository with exactly ``env``, its output captured."""
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,  # callers read the return code and the output
    )


def wait_for(
    url: str,
    timeout: float = 60.0,
    status: int = 200,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll ``url`` until it answers ``status``; fail early if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == status:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last: {last})")


def poll(
    probe: Callable[[], T],
    done: Callable[[T], object],
    timeout: float,
    *,
    interval: float = 0.05,
    logs: Callable[[], str] = str,
) -> T:
    """``probe()`` until ``done`` holds for what it returns, which is returned; past
    ``timeout`` seconds, TimeoutError with the last value and the end of ``logs()``."""
    deadline = time.monotonic() + timeout
    while not done(value := probe()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {value!r} after {timeout:g}s\n{logs()[-3000:]}")
        time.sleep(interval)
    return value


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if ``proc`` has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_log(path: Path) -> str:
    """A process's log so far; empty before it wrote one."""
    return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Server:
    service: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The gunicorn master's process id (its workers are its children)."""
        return self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc)

    def logs(self) -> str:
        return read_log(self.log)

    # `with start_server(...) as server:` stops it however the block ends.
    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_server(
    service: str,
    tmp_dir: Path,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    workers: int = 1,
    ready_path: str = "/health/ready",
    timeout: float = 90.0,
) -> Server:
    """Start ``service`` (modelsvc or webapp) under gunicorn and wait until it is ready."""
    port = port or free_port()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_dir / f"{service}-{port}.log"
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"{service}.settings",
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "GUNICORN_WORKERS": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_dir / f"metrics-{service}-{port}"),
        "VAR_DIR": str(tmp_dir / "var"),
        "APP_MODE": "test",
        **({"STATIC_ROOT": str(collected_static())} if service == "webapp" else {}),
        **(env or {}),
    }
    handle = log.open("ab")
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "core/gunicorn_conf.py", f"{service}.wsgi:application"],
        cwd=REPO,
        env=full_env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    server = Server(service, port, proc, log, full_env)
    try:
        if ready_path:
            wait_for(server.url + ready_path, timeout=timeout, proc=proc)
    except (RuntimeError, TimeoutError):
        server.stop()
        raise RuntimeError(f"{service} did not become ready:\n{server.logs()[-3000:]}") from None
    return server
