"""Readiness of the web app waits for its schema, against a real PostgreSQL: a pod started
before the migration Job has run is not sent traffic."""

import os
import subprocess

import pytest
import requests

from tests.reliability.harness import POSTGRES_ADMIN_URL, wait_until
from tests.support.servers import REPO, VENV_BIN, start_server

pytestmark = pytest.mark.slow

DATABASE = "test_prodsec_ready"
# The last migration of one app, left unapplied.
APP, BEFORE_LAST, LAST = "experiments", "0001_initial", "0002_frontend_v2"


@pytest.fixture
def database_url():
    psycopg = pytest.importorskip("psycopg")
    admin = os.environ.get("RELIABILITY_POSTGRES_URL", POSTGRES_ADMIN_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    yield admin.rsplit("/", 1)[0] + "/" + DATABASE
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def migrate(url: str, tmp_path, *target: str) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "APP_MODE": "test",
        "DATABASE_URL": url,
        "VAR_DIR": str(tmp_path / "var"),
    }
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", *target, "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=300,
    )


def test_not_ready_until_every_migration_is_applied(database_url, tmp_path):
    migrate(database_url, tmp_path)
    migrate(database_url, tmp_path, APP, BEFORE_LAST)  # the schema one step behind
    server = start_server(
        "webapp",
        tmp_path,
        {"DATABASE_URL": database_url, "REDIS_URL": "", "MODEL_SERVICE_URL": "http://127.0.0.1:9"},
        ready_path="/health/live",
    )
    try:
        behind = requests.get(server.url + "/health/ready", timeout=10)
        assert behind.status_code == 503
        error = behind.json()["error"]
        assert error["code"] == "migrations_pending"
        assert f"{APP}.{LAST}" in error["message"]
        assert requests.get(server.url + "/health/live", timeout=10).status_code == 200

        migrate(database_url, tmp_path)
        ready = wait_until(
            lambda: requests.get(server.url + "/health/ready", timeout=10).status_code == 200,
            30,
            what="ready once migrated",
        )
        assert ready
        # Known current once, the answer is kept: later probes load no migration graph.
        migrate(database_url, tmp_path, APP, BEFORE_LAST)
        assert requests.get(server.url + "/health/ready", timeout=10).status_code == 200
    finally:
        server.stop()
