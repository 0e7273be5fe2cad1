"""Load without loss: many concurrent clients against the real web app (gunicorn, two
workers, the suite's database). Every acknowledged prediction and feedback is stored
exactly once, nothing unacknowledged is stored, and /metrics counts what the database holds.

Traffic stays on loopback and is bounded in count (CLIENTS x ROUNDS) and in time."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.reliability.harness import metric_total, start_webapp
from webapp.reviews.models import Feedback, Prediction

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 16
ROUNDS = 15
DEADLINE_SECONDS = 120


@pytest.fixture(scope="module")
def webapp(shared_db, tiny_modelsvc, tmp_path_factory):
    server = start_webapp(tmp_path_factory.mktemp("load-webapp"), tiny_modelsvc.url, workers=2)
    yield server
    server.stop()


class Ledger:
    """What the clients were told, by prediction id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.predictions: dict[str, str] = {}  # id -> review
        self.feedback: dict[str, bool] = {}  # id -> correct
        self.refused_feedback = 0
        self.unexpected: list[str] = []

    def note(self, text: str) -> None:
        with self.lock:
            self.unexpected.append(text)


def client(url: str, number: int, ledger: Ledger, deadline: float) -> None:
    rng = random.Random(number)
    session = requests.Session()
    for round_ in range(ROUNDS):
        if time.monotonic() > deadline:
            ledger.note(f"client {number} ran out of time")
            return
        review = f"Client {number} round {round_}: " + rng.choice(
            ["lovely pasta", "cold soup", "friendly staff", "slow and rude"]
        )
        answer = session.post(url + "/api/analyze", json={"review": review}, timeout=30)
        if answer.status_code != 200:
            ledger.note(f"analyze {answer.status_code}: {answer.text[:200]}")
            continue
        prediction_id = answer.json()["prediction_id"]
        with ledger.lock:
            ledger.predictions[prediction_id] = review
        if round_ % 2:
            continue
        correct = rng.random() < 0.7
        # Every other feedback is sent twice, as an impatient user would: the second is refused.
        for attempt in range(1 + (round_ % 4 == 0)):
            sent = session.post(
                url + "/api/feedback",
                timeout=30,
                json={"prediction_id": prediction_id, "correct": correct},
            )
            if sent.status_code == 201 and attempt == 0:
                with ledger.lock:
                    ledger.feedback[prediction_id] = correct
            elif sent.status_code == 409 and attempt == 1:
                with ledger.lock:
                    ledger.refused_feedback += 1
            else:
                ledger.note(f"feedback attempt {attempt}: {sent.status_code} {sent.text[:200]}")


def test_concurrent_predictions_and_feedback_are_stored_exactly_once(webapp):
    ledger = Ledger()
    deadline = time.monotonic() + DEADLINE_SECONDS
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        for future in [
            pool.submit(client, webapp.url, n, ledger, deadline) for n in range(CLIENTS)
        ]:
            future.result()

    assert not ledger.unexpected, ledger.unexpected[:10]
    assert len(ledger.predictions) == CLIENTS * ROUNDS
    assert ledger.refused_feedback == CLIENTS * len(range(0, ROUNDS, 4))

    stored = dict(Prediction.objects.values_list("id", "review"))
    assert {str(k): v for k, v in stored.items()} == ledger.predictions
    stored_feedback = dict(Feedback.objects.values_list("prediction_id", "correct"))
    assert {str(k): v for k, v in stored_feedback.items()} == ledger.feedback

    metrics = requests.get(webapp.url + "/metrics", timeout=10).text
    assert metric_total(metrics, "sentiment_app_predictions_total") == len(stored)
    assert metric_total(metrics, "sentiment_app_feedback_total") == len(stored_feedback)
