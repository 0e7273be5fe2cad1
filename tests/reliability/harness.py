"""Tools for reliability and security tests: real servers, a fault-injecting TCP proxy,
a private Redis, and access to the test database from outside the test transaction."""

import json
import os
import select
import socket
import subprocess
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests
from django.conf import settings

from devtools.servers import stop_process
from tests.support.artifacts import write_tiny_artifact
from tests.support.servers import (
    REPO,
    VENV_BIN,
    Server,
    free_port,
    server_database_url,
    start_server,
)


def tiny_model_dir(directory: Path, version: str = "tiny-1") -> Path:
    """A MODEL_DIR holding a small real pipeline and its manifest: the service starts in
    about a second instead of training the default model first."""
    sha = write_tiny_artifact(directory / "model.joblib", version)
    (directory / "manifest.json").write_text(json.dumps({"artifact_sha256": sha}))
    return directory


@pytest.fixture(scope="module")
def shared_db(django_db_setup) -> str:
    """DATABASE_URL of the test database for servers a module starts once. Its tests are
    marked ``django_db(transaction=True)``: what they write is committed, so the servers see
    it, and the database is emptied after each test."""
    return server_database_url()


def is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_database(tmp_dir: Path):
    """A migrated PostgreSQL database for servers: the session's test database when the
    suite runs on PostgreSQL, else a fresh one on the local server, dropped afterwards."""
    import psycopg

    if is_postgres():
        yield server_database_url()
        return
    name = f"sentiment_reliability_{os.getpid()}"
    admin = os.environ.get("RELIABILITY_POSTGRES_URL", POSTGRES_ADMIN_URL)
    url = admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "APP_MODE": "test",
            "DATABASE_URL": url,
            "VAR_DIR": str(tmp_dir),
        }
        subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", "migrate", "-v", "0"],
            cwd=REPO,
            env=env,
            check=True,
            timeout=300,
        )
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_webapp(tmp_dir: Path, model_url: str, env: dict | None = None, **kwargs) -> Server:
    """The web app under gunicorn against the test database and the given model service."""
    base = {
        "DATABASE_URL": server_database_url(),
        "MODEL_SERVICE_URL": model_url,
        "DB_CONN_MAX_AGE": "60",
        "REDIS_URL": "",
        # Without a broker given, batch jobs run inside the request; with Redis, on workers.
        "CELERY_TASK_ALWAYS_EAGER": "false" if (env or {}).get("REDIS_URL") else "true",
    }
    return start_server("webapp", tmp_dir, {**base, **(env or {})}, **kwargs)


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; that value is returned."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, OSError) as exc:
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s (last error: {last_error!r})")


def metric_total(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets) in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in {"{", " "}:
            total += float(line.rsplit(" ", 1)[1])
    return total


class FaultProxy:
    """A TCP forwarder on 127.0.0.1 that a test can break on purpose.

    Modes: ``forward`` (pass bytes both ways), ``stall`` (accept, never answer),
    ``garbage`` (answer every request with ``garbage`` bytes), and :meth:`cut`, which
    closes every open connection and stops listening so new ones are refused, until
    :meth:`restore` listens again on the same port.
    """

    def __init__(self, target_port: int, port: int | None = None):
        self.target = ("127.0.0.1", target_port)
        self.port = port or free_port()
        self.mode = "forward"
        self.garbage = b""
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self.listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def set_mode(self, mode: str, garbage: bytes = b"") -> None:
        """Switch mode for new connections and drop the open ones (pooled keep-alive
        connections would otherwise carry on in the old mode)."""
        self.mode, self.garbage = mode, garbage
        self.drop_connections()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        self.drop_connections()

    def restore(self) -> None:
        self.mode = "forward"
        if self._listener is None:
            self.listen()

    def drop_connections(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            _close(conn)

    def close(self) -> None:
        self._closed.set()
        self.cut()

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._conns.update(socks)

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        mode = self.mode
        if mode == "stall":
            return  # kept open and silent until drop_connections() or close()
        if mode == "garbage":
            try:
                client.recv(65536)
                client.sendall(self.garbage)
            except OSError:
                pass
            _close(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        self._track(upstream)
        self._pump(client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            _close(a)
            _close(b)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class RedisServer:
    """A private, memory-only redis-server on its own port (never the machine's shared one)."""

    def __init__(self, directory: Path, port: int | None = None):
        self.port = port or free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._pings, 10, what=f"redis on {self.port}")

    def _pings(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=10)
        self.proc = None
