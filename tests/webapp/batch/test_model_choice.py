"""A batch job classified by the model chosen at upload (v1 by default), over real HTTP."""

import io

import pytest
from django.test import Client

from webapp.batch.models import BatchJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def models(two_models, eager):
    return two_models


def upload(**fields):
    handle = io.BytesIO(b"Review\nGreat food!\nCold soup.\n")
    handle.name = "reviews.tsv"
    return Client().post("/api/batch", {"file": handle, **fields})


@pytest.mark.parametrize("chosen", [None, "v1", "v2"])
def test_the_chosen_model_classifies_the_job_and_is_recorded(models, chosen):
    response = upload(**({"model": chosen} if chosen else {}))
    assert response.status_code in (201, 202), response.content
    expected = chosen or "v1"
    other = "v2" if expected == "v1" else "v1"
    job = BatchJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.model_variant, job.model_version) == (
        "done",
        expected,
        f"{expected}-1",
    )
    assert {r.headers["x-model-variant"] for r in models[expected].received} == {expected}
    assert not models[other].received
    status = Client().get(f"/api/batch/{job.id}").json()
    assert (status["model_variant"], status["model_version"]) == (expected, f"{expected}-1")


def test_a_model_that_does_not_exist_is_refused(models):
    response = upload(model="v9")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_model"
    assert not BatchJob.objects.exists()
    assert not models["v1"].received and not models["v2"].received
