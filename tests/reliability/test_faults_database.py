"""The database goes away under a real web app: health turns not-ready, every request fails
cleanly (503 JSON on the API, a friendly page elsewhere, never a 500), and the app recovers
on its own when the database is back.

PostgreSQL is reached through a TCP proxy that the test cuts (closing live connections and
refusing new ones) and restores; the machine's PostgreSQL itself is never stopped."""

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from tests.reliability.harness import (
    FaultProxy,
    postgres_database,
    start_webapp,
    tiny_model_dir,
    wait_until,
)
from tests.support.servers import start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("db-faults-model")
    with start_server("modelsvc", tmp, {"MODEL_DIR": str(tiny_model_dir(tmp / "model"))}) as server:
        yield server


def through(proxy: FaultProxy, url: str) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{proxy.port}"))


def assert_database_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "database_unavailable"


def assert_friendly_page(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert "try again" in response.text.lower()
    assert "Traceback" not in response.text and "OperationalError" not in response.text


@pytest.mark.django_db(transaction=True)
def test_a_postgres_outage_is_answered_cleanly_and_healed_without_restart(model, tmp_path):
    with postgres_database(tmp_path) as db_url:
        port = urlsplit(db_url).port or 5432
        proxy = FaultProxy(port)
        webapp = start_webapp(
            tmp_path, model.url, {"DATABASE_URL": through(proxy, db_url)}, workers=2
        )
        try:
            run_outage(webapp, proxy, db_url)
        finally:
            webapp.stop()
            proxy.close()


def csrf_token(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def analyze(url: str, review: str) -> requests.Response:
    return requests.post(url + "/api/analyze", json={"review": review}, timeout=10)


def give_feedback(url: str, prediction_id: str, correct: bool) -> requests.Response:
    return requests.post(
        url + "/api/feedback",
        json={"prediction_id": prediction_id, "correct": correct},
        timeout=10,
    )


def admin_sign_in(url: str) -> requests.Response:
    """The sign-in form needs no database; signing in does."""
    session = requests.Session()
    form = session.get(url + "/admin/login/", timeout=10)
    assert form.status_code == 200
    token = csrf_token(form)
    return session.post(
        url + "/admin/login/",
        data={"username": "staff", "password": "whatever", "csrfmiddlewaretoken": token},
        headers={"Referer": url + "/admin/login/"},
        timeout=10,
    )


def run_outage(webapp, proxy: FaultProxy, db_url: str) -> None:
    url = webapp.url
    before = analyze(url, "Before the cut")
    assert before.status_code == 200
    session = requests.Session()
    page = session.get(url + "/", timeout=10)
    token = csrf_token(page)

    proxy.cut()
    assert_database_unavailable(requests.get(url + "/health/ready", timeout=10))
    assert requests.get(url + "/health/live", timeout=10).status_code == 200
    for _ in range(3):  # every worker, fresh and broken connections alike
        assert_database_unavailable(analyze(url, "During the cut"))
    assert_database_unavailable(give_feedback(url, before.json()["prediction_id"], True))
    assert_friendly_page(
        session.post(
            url + "/",
            data={"review": "Form during the cut", "csrfmiddlewaretoken": token},
            headers={"Referer": url + "/"},
            timeout=10,
        )
    )
    assert_friendly_page(
        session.get(url + f"/predictions/{before.json()['prediction_id']}", timeout=10)
    )
    assert_friendly_page(admin_sign_in(url))

    proxy.restore()
    wait_until(
        lambda: requests.get(url + "/health/ready", timeout=5).status_code == 200,
        30,
        what="ready again",
    )
    after = wait_until(
        lambda: (r := analyze(url, "After the cut")).status_code == 200 and r,
        30,
        what="predictions stored again",
    )
    feedback = give_feedback(url, after.json()["prediction_id"], True)
    assert feedback.status_code == 201

    with psycopg.connect(db_url) as conn:
        reviews = [
            row[0]
            for row in conn.execute("SELECT review FROM reviews_prediction ORDER BY created_at")
        ]
        feedback_rows = conn.execute("SELECT count(*) FROM reviews_feedback").fetchone()[0]
    assert reviews == ["Before the cut", "After the cut"]
    assert feedback_rows == 1


def test_an_unreachable_database_never_yields_a_500(model, tmp_path):
    """With no database at all (its file cannot be opened), on either backend."""
    missing = tmp_path / "no-such-dir" / "db.sqlite3"
    webapp = start_webapp(
        tmp_path, model.url, {"DATABASE_URL": f"sqlite:///{missing}"}, ready_path="/health/live"
    )
    try:
        url = webapp.url
        assert_database_unavailable(requests.get(url + "/health/ready", timeout=10))
        assert_database_unavailable(analyze(url, "No database"))
        assert_database_unavailable(
            give_feedback(url, "6f1c1f43-3f0c-4d7e-9a39-3f1d1c9c9e11", False)
        )
        assert_database_unavailable(
            requests.get(url + "/api/batch/6f1c1f43-3f0c-4d7e-9a39-3f1d1c9c9e11", timeout=10)
        )
        assert_friendly_page(admin_sign_in(url))
        home = requests.get(url + "/", timeout=10)
        assert home.status_code in {200, 503}
        if home.status_code == 503:
            assert_friendly_page(home)
    finally:
        webapp.stop()
