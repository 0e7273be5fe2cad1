"""Production settings: Django's deployment checklist passes for both services, and a real
server in production mode sends HTTPS-only cookies and headers (TLS ends at the gateway,
which sets X-Forwarded-Proto)."""

import re
import secrets

import pytest
import requests

from tests.reliability.harness import start_webapp, wait_until
from tests.support.servers import free_port, manage

pytestmark = pytest.mark.slow

HOST = "sentiment.example.org"


def production_env() -> dict:
    return {
        "APP_MODE": "prod",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        # Probes ask for localhost, as the cluster's do (deploy/k8s/app.yaml).
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "DJANGO_DEBUG": "false",
    }


@pytest.mark.parametrize("service", ["webapp", "modelsvc"])
def test_the_deployment_checklist_passes(service, tmp_path):
    import os

    env = {
        **os.environ,
        **production_env(),
        "DJANGO_SETTINGS_MODULE": f"{service}.settings",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("TLS_ENABLED", None)
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.fixture(scope="module")
def production_webapp(shared_db, tmp_path_factory):
    server = start_webapp(
        tmp_path_factory.mktemp("prod-webapp"),
        f"http://127.0.0.1:{free_port()}",
        production_env(),
        ready_path="",
    )
    probe = {"Host": "localhost"}
    wait_until(
        lambda: requests.get(server.url + "/health/live", headers=probe, timeout=2).ok,
        60,
        what="production web app alive",
    )
    yield server
    server.stop()


def via_gateway(server, path: str, **kwargs) -> requests.Response:
    headers = {"Host": HOST, "X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
    return requests.get(
        server.url + path, headers=headers, allow_redirects=False, timeout=10, **kwargs
    )


def set_cookies(response: requests.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name (requests folds them into one string)."""
    raw = response.raw.headers.getlist("Set-Cookie")
    return {line.split("=", 1)[0]: line for line in raw}


def has(attribute: str, line: str) -> bool:
    return re.search(rf";\s*{attribute}(;|$)", line, re.IGNORECASE) is not None


def everyone_a() -> None:
    """The experiment runs with everyone in A: this (v1) app serves the page, no redirect."""
    from django.utils import timezone

    from webapp.experiments.models import Experiment

    Experiment.objects.update_or_create(
        name="frontend-v2",
        defaults={
            "status": "running",
            "steers_routing": True,
            "weight": 0.0,
            "started_at": timezone.now(),
            "phase_started_at": timezone.now(),
        },
    )


@pytest.mark.django_db(transaction=True)
def test_production_cookies_are_secure_httponly_and_samesite(production_webapp):
    everyone_a()
    page = via_gateway(production_webapp, "/", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text[:300]
    cookies = set_cookies(page)
    assert {"sentiment_visitor", "x-user-experiment", "csrftoken"} <= set(cookies)
    assert has("HttpOnly", cookies["sentiment_visitor"])
    assert has("HttpOnly", cookies["x-user-experiment"])
    for name, line in cookies.items():
        assert has("Secure", line), f"{name} cookie without Secure: {line}"
        assert has("SameSite=Lax", line), f"{name} cookie without SameSite: {line}"

    hsts = page.headers["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts


@pytest.mark.django_db(transaction=True)
def test_the_admin_session_cookie_is_secure_httponly_and_samesite(production_webapp):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    get_user_model().objects.create(
        username="ops",
        password=hasher.encode("a long admin passphrase", hasher.salt()),
        is_staff=True,
        is_superuser=True,
    )
    session = requests.Session()
    form = via_gateway(production_webapp, "/admin/login/", cookies=session.cookies)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    # requests keeps Secure cookies for https only: hand the CSRF cookie back by hand.
    csrf_cookie = set_cookies(form)["csrftoken"].split(";", 1)[0]
    signed_in = requests.post(
        production_webapp.url + "/admin/login/",
        data={
            "username": "ops",
            "password": "a long admin passphrase",
            "csrfmiddlewaretoken": token,
            "next": "/admin/",
        },
        headers={
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "Cookie": csrf_cookie,
            "Referer": f"https://{HOST}/admin/login/",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302, signed_in.text[:300]
    session_cookie = set_cookies(signed_in)["sentiment_session"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert has(attribute, session_cookie), session_cookie


@pytest.mark.django_db(transaction=True)
def test_plain_http_is_sent_to_https_but_probes_are_not(production_webapp):
    plain = requests.get(
        production_webapp.url + "/", headers={"Host": HOST}, allow_redirects=False, timeout=10
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{HOST}/"
    probe = requests.get(
        production_webapp.url + "/health/live", headers={"Host": "localhost"}, timeout=10
    )
    assert probe.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_without_tls_nothing_asks_for_https(shared_db, tmp_path):
    """TLS_ENABLED=false (a plain-HTTP gateway): no redirect, no Secure cookie, no HSTS, so
    that browsers keep the cookies the admin and the mesh's routing need."""
    everyone_a()
    env = {**production_env(), "TLS_ENABLED": "false"}
    server = start_webapp(tmp_path, f"http://127.0.0.1:{free_port()}", env, ready_path="")
    try:
        wait_until(
            lambda: (
                requests.get(
                    server.url + "/health/live", headers={"Host": "localhost"}, timeout=2
                ).ok
            ),
            60,
            what="web app without TLS alive",
        )
        page = requests.get(
            server.url + "/",
            headers={"Host": HOST, "Accept": "text/html"},
            allow_redirects=False,
            timeout=10,
        )
        assert page.status_code == 200, page.text[:300]
        cookies = set_cookies(page)
        assert {"sentiment_visitor", "x-user-experiment", "csrftoken"} <= set(cookies)
        for name, line in cookies.items():
            assert not has("Secure", line), f"{name} cookie is Secure: {line}"
            assert has("SameSite=Lax", line), line
        assert "Strict-Transport-Security" not in page.headers
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_unknown_hosts_are_refused_cleanly(production_webapp):
    for path in ("/", "/api/version"):
        response = via_gateway(production_webapp, path, headers={"Host": "evil.example"})
        assert response.status_code == 400, path
        assert "Traceback" not in response.text
