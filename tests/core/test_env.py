"""Configuration from the environment and mounted secret files."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import env
from tests.support.servers import REPO


def test_booleans_integers_and_lists(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_LIST", "a, b,,c ")
    assert env.env_bool("X_BOOL") is True
    assert env.env_int("X_INT", 1) == 12
    assert env.env_list("X_LIST", []) == ["a", "b", "c"]
    assert env.env_int("X_MISSING", 7) == 7


@pytest.mark.parametrize(("getter", "value"), [(env.env_bool, "maybe"), (env.env_int, "ten")])
def test_bad_values_name_the_variable(monkeypatch, getter, value):
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(ImproperlyConfigured, match="X_BAD"):
        getter("X_BAD", 0) if getter is env.env_int else getter("X_BAD")


def test_secret_from_a_mounted_file_wins(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-file\n")
    monkeypatch.setenv("X_SECRET", "from-env")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_secret("X_SECRET") == "from-file"


def test_unreadable_secret_file_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfigured, match="X_SECRET_FILE"):
        env.env_secret("X_SECRET")


def load_settings(module: str, **environ: str) -> subprocess.CompletedProcess:
    code = f"import {module} as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE)"
    clean = {"PATH": "/usr/bin:/bin", **environ}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True
    )


@pytest.mark.parametrize("module", ["webapp.settings", "modelsvc.settings"])
def test_production_refuses_the_default_secret(module):
    result = load_settings(module, APP_MODE="prod")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_with_a_real_secret_is_hardened():
    result = load_settings("webapp.settings", APP_MODE="prod", DJANGO_SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
