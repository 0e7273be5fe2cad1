"""Real servers for tests: gunicorn subprocesses on loopback, started and stopped by fixtures.

The process helpers and the data sets' paths live in ``devtools`` (shared with ``bench/``);
this module adds what only tests need: the test database as a URL, and a small JSON server
to stand upstream of a proxy under test.
"""

import http.server
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from devtools.data import A1, A2, CORPUS, SHARED_DATA
from devtools.servers import (
    REPO,
    VENV_BIN,
    Server,
    free_port,
    manage,
    poll,
    start_server,
    wait_for,
)

__all__ = [
    "A1",
    "A2",
    "CORPUS",
    "REPO",
    "SHARED_DATA",
    "VENV_BIN",
    "JsonServer",
    "Server",
    "free_port",
    "manage",
    "poll",
    "server_database_url",
    "start_script",
    "start_server",
    "wait_for",
    "wait_for_output",
]


def server_database_url() -> str:
    """The test database (once pytest-django has made it) as a DATABASE_URL for servers."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class JsonServer(http.server.ThreadingHTTPServer):
    """A loopback HTTP server, in a thread of its own, answering every GET and POST with
    ``status`` and the JSON that ``answer`` makes of the request (its body read into
    ``handler.body``); ``hits`` counts the requests it answered."""

    daemon_threads = True

    def __init__(self, answer: Callable[["_JsonHandler"], object], status: int = 200):
        super().__init__(("127.0.0.1", 0), _JsonHandler)
        self.answer = answer
        self.status = status
        self.hits = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _JsonHandler(http.server.BaseHTTPRequestHandler):
    server: JsonServer
    body = b""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.hits += 1
        body = json.dumps(self.server.answer(self)).encode()
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def start_script(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A script of the repository (`make run`, `make mesh`) in a session of its own, as a
    terminal runs it, its output in ``log``: signal the session as Ctrl-C would."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for_output(proc: subprocess.Popen, log: Path, text: str, timeout: float) -> None:
    """Until ``text`` appears in ``log``; fails with the log's end if the script stops first."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"exited:\n{log.read_text(errors='replace')[-3000:]}"
        assert time.monotonic() < deadline, f"{text!r} not seen:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
