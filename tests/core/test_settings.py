"""The shared settings: one TLS switch, and logging at info unless asked otherwise."""

import json
import secrets
import subprocess
import sys

import pytest

from tests.support.servers import REPO

TLS_NAMES = (
    "TLS_ENABLED",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "VISITOR_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
)


def settings_of(module: str, names: tuple[str, ...], **environ: str) -> dict:
    code = (
        f"import json, {module} as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}))"
    )
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), **environ}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


ON = {
    "TLS_ENABLED": True,
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "VISITOR_COOKIE_SECURE": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
}
OFF = {**dict.fromkeys(ON, False), "SECURE_HSTS_SECONDS": 0}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"APP_MODE": "dev"}, OFF),
        ({"APP_MODE": "prod"}, ON),
        ({"APP_MODE": "dev", "TLS_ENABLED": "true"}, ON),
        ({"APP_MODE": "prod", "TLS_ENABLED": "false"}, OFF),
    ],
)
def test_tls_enabled_decides_redirect_secure_cookies_and_hsts(environ, expected):
    assert settings_of("webapp.settings", TLS_NAMES, **environ) == expected


def test_the_old_knobs_no_longer_change_anything():
    shown = settings_of(
        "webapp.settings",
        TLS_NAMES,
        APP_MODE="prod",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="0",
    )
    assert shown == ON


def test_the_model_service_follows_the_same_switch():
    names = ("TLS_ENABLED", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS")
    assert settings_of("modelsvc.settings", names, APP_MODE="prod", TLS_ENABLED="false") == {
        "TLS_ENABLED": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
    }


@pytest.mark.parametrize("mode", ["dev", "prod"])
def test_logging_is_info_unless_asked(mode):
    shown = settings_of("webapp.settings", ("LOG_LEVEL", "LOGGING"), APP_MODE=mode)
    assert shown["LOG_LEVEL"] == "INFO"
    assert shown["LOGGING"]["root"]["level"] == "INFO"
    asked = settings_of("webapp.settings", ("LOG_LEVEL",), APP_MODE=mode, LOG_LEVEL="debug")
    assert asked["LOG_LEVEL"] == "DEBUG"


def test_gunicorn_logs_at_info_unless_asked():
    code = "import runpy; print(runpy.run_path('core/gunicorn_conf.py')['loglevel'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": ""},
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "info", result.stderr


def test_the_body_limit_follows_from_the_review_and_batch_limits():
    limits = ("MAX_REVIEW_CHARS", "MAX_BATCH_REVIEWS", "MAX_BODY_BYTES")
    default = settings_of("core.settings", limits)
    assert (
        default["MAX_BODY_BYTES"] >= 6 * default["MAX_REVIEW_CHARS"] * default["MAX_BATCH_REVIEWS"]
    )
    smaller = settings_of("core.settings", limits, MAX_REVIEW_CHARS="100", MAX_BATCH_REVIEWS="10")
    assert 6_000 < smaller["MAX_BODY_BYTES"] < 100_000


def test_a_body_limit_too_small_for_the_largest_batch_is_refused():
    env = {"PATH": "/usr/bin:/bin", "MAX_BODY_BYTES": "2621440"}
    result = subprocess.run(
        [sys.executable, "-c", "import core.settings"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "MAX_BODY_BYTES=2621440 cannot hold a batch" in result.stderr
