"""The admin lists predictions, feedback and failures, searchable, filterable, read-only."""

import pytest

from tests.webapp.reviews.factories import FailedPredictionFactory, PredictionFactory
from webapp.reviews.models import FailedPrediction, Feedback, Prediction

pytestmark = pytest.mark.django_db

ADMIN = "/admin/reviews"


@pytest.fixture
def data():
    every = {"app_version": "1.0.0"}  # the app_version filter below must list all three
    PredictionFactory(review="Right about the ramen", feedback=True, **every)
    PredictionFactory(
        review="Wrong about the waffles",
        sentiment="negative",
        model_version="m-2",
        app_variant="v2",
        feedback=False,
        **every,
    )
    PredictionFactory(review="Nobody said anything about the noodles", **every)
    FailedPredictionFactory(review="Lost in the timeout", reason="timeout")


def listed(admin_client, path: str, **query) -> str:
    response = admin_client.get(path, query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"feedback": "correct"}, ["ramen"], ["waffles", "noodles"]),
        ({"feedback": "wrong"}, ["waffles"], ["ramen", "noodles"]),
        ({"feedback": "none"}, ["noodles"], ["ramen", "waffles"]),
        ({"sentiment": "negative"}, ["waffles"], ["ramen", "noodles"]),
        ({"model_version": "m-2"}, ["waffles"], ["ramen"]),
        ({"app_variant": "v2"}, ["waffles"], ["ramen"]),
        ({"app_version": "1.0.0"}, ["ramen", "waffles", "noodles"], []),
        ({"q": "noodles"}, ["noodles"], ["ramen", "waffles"]),
    ],
)
def test_predictions_filter_and_search(admin_client, data, query, shown, hidden):
    html = listed(admin_client, f"{ADMIN}/prediction/", **query)
    for word in shown:
        assert word in html
    for word in hidden:
        assert word not in html


def test_feedback_and_failures_are_listed(admin_client, data):
    html = listed(admin_client, f"{ADMIN}/feedback/", correct__exact="0")
    assert "waffles" in html and "ramen" not in html
    assert "ramen" in listed(admin_client, f"{ADMIN}/feedback/", q="ramen")
    html = listed(admin_client, f"{ADMIN}/failedprediction/", reason="timeout")
    assert "Lost in the timeout" in html
    assert "Lost in the timeout" in listed(admin_client, f"{ADMIN}/failedprediction/", q="lost")
    assert "0 results" in listed(admin_client, f"{ADMIN}/failedprediction/", q="ramen")


@pytest.mark.parametrize("model", ["prediction", "feedback", "failedprediction"])
def test_everything_is_read_only(admin_client, data, model):
    html = listed(admin_client, f"{ADMIN}/{model}/")
    assert f"{ADMIN}/{model}/add/" not in html
    assert admin_client.get(f"{ADMIN}/{model}/add/").status_code == 403
    obj = {"prediction": Prediction, "feedback": Feedback, "failedprediction": FailedPrediction}[
        model
    ].objects.first()
    detail = admin_client.get(f"{ADMIN}/{model}/{obj.pk}/change/")
    assert detail.status_code == 200
    assert 'type="submit"' not in detail.content.decode().split('id="content-main"')[1]
    assert admin_client.post(f"{ADMIN}/{model}/{obj.pk}/delete/").status_code == 403
    count = type(obj).objects.count()
    admin_client.post(
        f"{ADMIN}/{model}/", {"action": "delete_selected", "_selected_action": [obj.pk]}
    )
    assert type(obj).objects.count() == count
