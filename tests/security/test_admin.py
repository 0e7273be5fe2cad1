"""The admin over real HTTP: staff only, CSRF on its forms, and sign-in throttling
(5 failures per username and address lock that pair out for 15 minutes with a 429)."""

import re
from datetime import timedelta

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import RequestFactory, override_settings
from django.utils import timezone

from tests.reliability.harness import start_webapp
from tests.support.servers import free_port
from webapp.security import client_ip

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def webapp(shared_db, tmp_path_factory):
    dead_model_service = f"http://127.0.0.1:{free_port()}"
    server = start_webapp(tmp_path_factory.mktemp("admin-webapp"), dead_model_service)
    yield server
    server.stop()


def make_user(username: str, *, staff: bool) -> None:
    # Hashed as the server's own settings do (the test settings use a fast hasher).
    hasher = PBKDF2PasswordHasher()
    get_user_model().objects.create(
        username=username,
        password=hasher.encode(PASSWORD, hasher.salt()),
        is_staff=staff,
        is_superuser=staff,
    )


def login(server, username: str, password: str, **headers) -> requests.Response:
    """A browser's sign-in: fetch the form (CSRF cookie and token), post it back."""
    session = requests.Session()
    form = session.get(server.url + "/admin/login/?next=/admin/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    return session.post(
        server.url + "/admin/login/?next=/admin/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token,
            "next": "/admin/",
        },
        headers={"Referer": server.url + "/admin/login/", **headers},
        allow_redirects=False,
        timeout=10,
    )


def test_the_admin_needs_a_staff_login(webapp):
    make_user("visitor", staff=False)
    make_user("editor", staff=True)
    anonymous = requests.get(webapp.url + "/admin/", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/admin/login/")

    not_staff = login(webapp, "visitor", PASSWORD)
    assert not_staff.status_code == 200  # the form again, with an error
    assert "sentiment_session" not in not_staff.cookies

    staff = login(webapp, "editor", PASSWORD)
    assert staff.status_code == 302 and staff.headers["Location"] == "/admin/"


def test_admin_forms_refuse_a_post_without_csrf_token(webapp):
    response = requests.post(
        webapp.url + "/admin/login/",
        data={"username": "editor", "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 403


def test_repeated_failures_lock_that_username_out_from_that_address(webapp):
    make_user("target", staff=True)
    make_user("bystander", staff=True)
    for attempt in range(1, 5):
        failed = login(webapp, "target", f"guess-{attempt}")
        assert failed.status_code == 200, attempt
    fifth = login(webapp, "target", "guess-5")
    assert fifth.status_code == 429
    assert "Too many failed sign-in attempts" in fifth.text
    assert int(fifth.headers["Retry-After"]) == 15 * 60

    # Locked: even the right password is refused, and a forged X-Forwarded-For is no way
    # around it (no proxy is trusted here).
    assert login(webapp, "target", PASSWORD).status_code == 429
    assert (
        login(webapp, "target", PASSWORD, **{"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    )
    # Another account from the same address is not affected.
    assert login(webapp, "bystander", PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(webapp):
    make_user("patient", staff=True)
    for attempt in range(5):
        login(webapp, "patient", f"wrong-{attempt}")
    assert login(webapp, "patient", PASSWORD).status_code == 429
    AccessAttempt.objects.filter(username="patient").update(
        attempt_time=timezone.now() - timedelta(minutes=16)
    )
    assert login(webapp, "patient", PASSWORD).status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_behind_the_gateway_the_address_it_appended_counts():
    request = RequestFactory().get(
        "/admin/login/",
        REMOTE_ADDR="127.0.0.6",
        HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.20",  # forged entry, gateway's entry
    )
    assert client_ip(request) == "203.0.113.20"
    junk = RequestFactory().get("/", REMOTE_ADDR="127.0.0.6", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_ip(junk) == "127.0.0.6"


def test_without_trusted_proxies_the_socket_address_counts():
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "10.1.2.3"
