"""Real servers for tests: gunicorn subprocesses on loopback, started and stopped by fixtures.

The process helpers live in ``devtools.servers`` (shared with ``bench/``); this module adds
what only tests need: the test database as a URL and the data sets' paths.
"""

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

SHARED_DATA = REPO.parent / "shared" / "data"
A1 = SHARED_DATA / "a1_RestaurantReviews_HistoricDump.tsv"
A2 = SHARED_DATA / "a2_RestaurantReviews_FreshDump.tsv"
CORPUS = REPO / "modelsvc" / "ml" / "corpus" / "reviews.tsv"


def server_database_url() -> str:
    """The test database (once pytest-django has made it) as a DATABASE_URL for servers."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
