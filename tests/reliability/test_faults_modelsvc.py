"""The model service fails under a real web app: stopped, too slow, or answering garbage.
The web app answers 503 JSON (API) or a friendly page (form), keeps every review as a
FailedPrediction, and recovers by itself once the model service is back."""

import re
import time

import pytest
import requests

from tests.reliability.harness import FaultProxy, start_webapp, tiny_model_dir, wait_until
from tests.support.servers import free_port, start_server
from webapp.reviews.models import FailedPrediction, Prediction

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READ_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def stack(shared_db, tmp_path_factory):
    """model service <- fault proxy <- web app, all real processes on loopback."""
    tmp = tmp_path_factory.mktemp("model-faults")
    model_env = {"MODEL_DIR": str(tiny_model_dir(tmp / "model"))}
    model = start_server("modelsvc", tmp, model_env, port=free_port())
    proxy = FaultProxy(model.port)
    webapp = start_webapp(
        tmp, proxy.url, {"MODEL_SERVICE_READ_TIMEOUT": str(READ_TIMEOUT)}, workers=2
    )
    state = {"model": model, "proxy": proxy, "webapp": webapp, "tmp": tmp, "env": model_env}
    yield state
    webapp.stop()
    proxy.close()
    state["model"].stop()


def analyze(stack, review: str) -> requests.Response:
    return requests.post(stack["webapp"].url + "/api/analyze", json={"review": review}, timeout=30)


def assert_degraded(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.json()["error"]["code"] == "model_unavailable"


def assert_recovered(stack) -> requests.Response:
    answer = wait_until(
        lambda: (r := analyze(stack, "Back again, lovely")).status_code == 200 and r,
        30,
        interval=0.3,
        what="the web app answering again",
    )
    return answer


def stored_reasons() -> list[str]:
    return list(FailedPrediction.objects.order_by("created_at").values_list("reason", flat=True))


def test_a_stopped_model_service_degrades_and_recovers(stack):
    assert analyze(stack, "Before the outage").status_code == 200
    port = stack["model"].port
    stack["model"].stop()
    stack["proxy"].drop_connections()

    assert_degraded(analyze(stack, "Review during the outage"))
    session = requests.Session()
    page = session.get(stack["webapp"].url + "/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = session.post(
        stack["webapp"].url + "/",
        data={"review": "Typed in the form during the outage", "csrfmiddlewaretoken": token},
        headers={"Referer": stack["webapp"].url + "/"},
        timeout=30,
    )
    assert form.status_code == 503
    assert form.headers["content-type"].startswith("text/html")
    assert "Typed in the form during the outage" in form.text  # the text is kept for a retry
    assert requests.get(stack["webapp"].url + "/health/ready", timeout=10).status_code == 200
    version = requests.get(stack["webapp"].url + "/api/version", timeout=10).json()
    assert version["model_service"] is None and version["model_service_error"]

    stack["model"] = start_server("modelsvc", stack["tmp"], stack["env"], port=port)
    recovered = assert_recovered(stack)

    assert stored_reasons() == ["unavailable", "unavailable"]
    assert set(FailedPrediction.objects.values_list("review", flat=True)) == {
        "Review during the outage",
        "Typed in the form during the outage",
    }
    assert Prediction.objects.filter(pk=recovered.json()["prediction_id"]).exists()
    assert Prediction.objects.count() == 2  # before the outage and after it


def test_a_model_service_slower_than_the_timeout_degrades_and_recovers(stack):
    assert analyze(stack, "Before it slows down").status_code == 200
    stack["proxy"].set_mode("stall")
    started = time.monotonic()
    assert_degraded(analyze(stack, "Waiting forever"))
    assert time.monotonic() - started < READ_TIMEOUT + 3  # bounded by the timeout, not hung
    stack["proxy"].set_mode("forward")
    assert_recovered(stack)
    assert stored_reasons() == ["timeout"]
    assert Prediction.objects.count() == 2


GARBAGE = {
    "wrong JSON": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 26\r\n"
        b'Connection: close\r\n\r\n{"sentiment": "delicious"}',
        "bad_response",
    ),
    "confidence out of range": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 71\r\n"
        b"Connection: close\r\n\r\n"
        b'{"sentiment": "positive", "confidence": 7.5, "model_version": "x" }    ',
        "bad_response",
    ),
    "HTML error page": (
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 20\r\n"
        b"Connection: close\r\n\r\n<h1>Bad Gateway</h1>",
        "http_error",
    ),
    "not HTTP at all": (b"\x00\xff\xfe garbage \x00\r\n\r\n", "unavailable"),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_from_the_model_service_degrades_and_recovers(stack, name):
    garbage, reason = GARBAGE[name]
    stack["proxy"].set_mode("garbage", garbage)
    assert_degraded(analyze(stack, f"Answered with {name}"))
    stack["proxy"].set_mode("forward")
    assert_recovered(stack)
    assert stored_reasons() == [reason]
    assert FailedPrediction.objects.get().review == f"Answered with {name}"
    assert Prediction.objects.count() == 1
