"""Production refuses every secret value the repository holds.

The values are found by scanning the repository (Secret manifests, kustomize secret
generators, env files), not copied from core/known_secrets.py: a new placeholder that
production would accept fails here. Real processes (manage.py, gunicorn) are started in
production mode with those values, from the environment and from mounted files.
"""

import base64
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest
import yaml

from core.known_secrets import is_known_secret
from tests.security.test_secrets import repository_files
from tests.support.servers import REPO, manage, start_server

# Keys of a Secret that name someone rather than prove who they are.
NOT_SECRET_KEYS = {"username", "user", "email"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE", re.IGNORECASE)


def _secret_values_of(doc: dict) -> dict[str, str]:
    values = {k: str(v) for k, v in (doc.get("stringData") or {}).items()}
    for key, encoded in (doc.get("data") or {}).items():
        values[key] = base64.b64decode(encoded).decode("utf-8", "replace")
    return {k: v for k, v in values.items() if k.lower() not in NOT_SECRET_KEYS}


def _generator_values(doc: dict) -> dict[str, str]:
    values = {}
    for generator in doc.get("secretGenerator") or []:
        for literal in generator.get("literals") or []:
            key, _, value = literal.partition("=")
            values[key] = value
    return {k: v for k, v in values.items() if k.lower() not in NOT_SECRET_KEYS}


def _env_file_values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
        if match and SECRET_NAME.search(match.group(1)):
            value = match.group(2).strip().strip("\"'")
            if value and not value.startswith("$"):
                values[match.group(1)] = value
    return values


def repository_secret_values() -> dict[str, str]:
    """Every secret value in the repository, by where it was found."""
    found: dict[str, str] = {}
    for name in repository_files():
        path = REPO / name
        if not path.is_file() or "node_modules" in name:
            continue
        if path.suffix in {".yaml", ".yml"}:
            try:
                docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except (yaml.YAMLError, UnicodeDecodeError):
                continue
            for doc in docs:
                if not isinstance(doc, dict):
                    continue
                if doc.get("kind") == "Secret":
                    values = _secret_values_of(doc)
                elif doc.get("kind") == "Kustomization":
                    values = _generator_values(doc)
                else:
                    continue
                for key, value in values.items():
                    found[f"{name}: {doc.get('metadata', {}).get('name', '')}/{key}"] = value
        elif path.name.startswith(".env") or path.suffix == ".env":
            for key, value in _env_file_values(path.read_text(errors="replace")).items():
                found[f"{name}: {key}"] = value
    # The development default of DJANGO_SECRET_KEY, read from the settings' source.
    source = (REPO / "core" / "known_secrets.py").read_text()
    found["core/known_secrets.py: DEV_SECRET_KEY"] = re.search(
        r'^DEV_SECRET_KEY = "([^"]+)"', source, re.MULTILINE
    ).group(1)
    return found


SCANNED = repository_secret_values()


def test_the_scan_finds_the_placeholder_secrets():
    """The scan itself works: it finds the Secrets the first install applies."""
    kinds = {where.split(": ", 1)[1].rsplit("/", 1)[-1] for where in SCANNED}
    assert {"secret-key", "password", "token", "DEV_SECRET_KEY"} <= kinds, SCANNED.keys()
    assert len(set(SCANNED.values())) >= 5


@pytest.mark.parametrize("where", sorted(SCANNED))
def test_every_secret_value_of_the_repository_is_refused(where):
    assert is_known_secret(SCANNED[where]), f"{where} would be accepted in production"


def test_random_secrets_are_accepted():
    for _ in range(200):
        assert not is_known_secret(secrets.token_urlsafe(50))


def test_the_scan_reads_env_files_and_generators():
    lines = ["DJANGO_SECRET_KEY=abc", "DEBUG=1", "export DB_PASSWORD='x'"]
    assert _env_file_values("\n".join(lines)) == {
        "DJANGO_SECRET_KEY": "abc",
        "DB_PASSWORD": "x",
    }
    doc = {"secretGenerator": [{"name": "s", "literals": ["password=p1", "username=u"]}]}
    assert _generator_values(doc) == {"password": "p1"}


# --- Real processes in production mode -----------------------------------------------------


def prod_env(tmp_path: Path, service: str, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "APP_MODE": "prod",
        "DJANGO_SETTINGS_MODULE": f"{service}.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    env.update(extra)
    return env


def supply(env: dict[str, str], setting: str, value: str, via: str, tmp_path: Path) -> None:
    """Put ``value`` in ``setting`` from the environment or from a mounted file."""
    if via == "env":
        env[setting] = value
        return
    secret = tmp_path / f"{setting.lower()}-secret"
    secret.write_text(value + "\n")
    env.pop(setting, None)
    env[f"{setting}_FILE"] = str(secret)


def assert_refused(result: subprocess.CompletedProcess, setting: str, value: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert f"refuses {setting}" in output, output[-2000:]
    assert value not in output


def value_at(suffix: str) -> str:
    (value,) = {v for where, v in SCANNED.items() if where.endswith(suffix)}
    return value


DJANGO_KEY = "demo/demo-secrets.yaml: sentiment-django/secret-key"
DB_PASSWORD = "demo/demo-secrets.yaml: sentiment-db/password"
ADMIN_PASSWORD = "demo/demo-secrets.yaml: sentiment-admin/password"


@pytest.mark.parametrize("via", ["env", "file"])
@pytest.mark.parametrize(
    ("service", "setting", "where"),
    [
        ("webapp", "DJANGO_SECRET_KEY", DJANGO_KEY),
        ("modelsvc", "DJANGO_SECRET_KEY", DJANGO_KEY),
        ("webapp", "DATABASE_PASSWORD", DB_PASSWORD),
    ],
)
def test_manage_py_refuses_a_published_secret(tmp_path, service, setting, where, via):
    value = value_at(where)
    env = prod_env(tmp_path, service)
    supply(env, setting, value, via, tmp_path)
    assert_refused(manage(env, "check"), setting, value)


def test_the_same_command_with_fresh_secrets_passes(tmp_path):
    """The control: nothing but the published value makes the commands above fail."""
    env = prod_env(tmp_path, "webapp", DATABASE_PASSWORD=secrets.token_urlsafe(24))
    result = manage(env, "check")
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("value", sorted(set(SCANNED.values())))
def test_each_published_value_is_refused_as_the_django_key(tmp_path, value):
    env = prod_env(tmp_path, "webapp")
    supply(env, "DJANGO_SECRET_KEY", value, "env", tmp_path)
    result = manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stdout + result.stderr
    assert value not in result.stdout + result.stderr


def test_a_password_inside_database_url_is_refused(tmp_path):
    value = value_at(DB_PASSWORD)
    env = prod_env(tmp_path, "webapp", DATABASE_URL="postgres://sentiment:" + value + "@db/x")
    assert_refused(manage(env, "check"), "DATABASE_URL", value)


def test_the_migration_job_refuses_the_published_admin_password(tmp_path):
    """deploy/k8s/migrate-job.yaml runs `createsuperuser --noinput` with the admin Secret's
    password in DJANGO_SUPERUSER_PASSWORD; in production that value stops the Job."""
    value = value_at(ADMIN_PASSWORD)
    env = prod_env(
        tmp_path,
        "webapp",
        DJANGO_SUPERUSER_USERNAME="admin",
        DJANGO_SUPERUSER_EMAIL="admin@example.org",
        DJANGO_SUPERUSER_PASSWORD=value,
    )
    assert manage(env, "migrate", "--noinput").returncode != 0
    assert_refused(manage(env, "createsuperuser", "--noinput"), "DJANGO_SUPERUSER_PASSWORD", value)
    # With a fresh password the same commands create the admin user.
    env["DJANGO_SUPERUSER_PASSWORD"] = secrets.token_urlsafe(24)
    assert manage(env, "migrate", "--noinput", "-v", "0").returncode == 0
    created = manage(env, "createsuperuser", "--noinput")
    assert created.returncode == 0, created.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("service", ["webapp", "modelsvc"])
def test_the_server_stops_with_the_reason_in_its_log(tmp_path, service):
    """gunicorn in production mode with the placeholder key from a mounted file (as the
    cluster mounts it) exits instead of serving; its log names the setting, not the value."""
    value = value_at(DJANGO_KEY)
    env = prod_env(tmp_path, service)
    supply(env, "DJANGO_SECRET_KEY", value, "file", tmp_path)
    server = start_server(service, tmp_path, env, ready_path="")
    try:
        code = server.proc.wait(timeout=90)
    finally:
        server.stop()
    output = server.logs()
    assert code != 0, output[-2000:]
    assert "refuses DJANGO_SECRET_KEY" in output
    assert value not in output
