"""Real servers for tests: gunicorn subprocesses on loopback, started and stopped by fixtures.

The process helpers and the data sets' paths live in ``devtools`` (shared with ``bench/``);
this module adds what only tests need: the test database as a URL.
"""

import subprocess
import time
from pathlib import Path

from devtools.data import A1, A2, CORPUS, SHARED_DATA
from devtools.servers import REPO, VENV_BIN, Server, free_port, start_server, wait_for

__all__ = [
    "A1",
    "A2",
    "CORPUS",
    "REPO",
    "SHARED_DATA",
    "VENV_BIN",
    "Server",
    "free_port",
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
