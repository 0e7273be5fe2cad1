"""Real servers for tests: gunicorn subprocesses on loopback, started and stopped by fixtures.

The process helpers and the data sets' paths live in ``devtools`` (shared with ``bench/``);
this module adds what only tests need: the test database as a URL.
"""

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
    "start_server",
    "wait_for",
]


def server_database_url() -> str:
    """The test database (once pytest-django has made it) as a DATABASE_URL for servers."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
