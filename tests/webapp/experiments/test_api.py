"""The stats API, its CSV export and the statistics page: the same figures from one selector,
for staff only (session or token)."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.support.pages import assert_no_inline_code
from tests.webapp.reviews.factories import (
    FailedPredictionFactory,
    FeedbackFactory,
    PredictionFactory,
)
from webapp.experiments.analysis import METRICS
from webapp.experiments.export import CSV_HEADER
from webapp.experiments.models import Experiment
from webapp.experiments.selectors import metric_results
from webapp.reviews.models import Feedback, Prediction


def stats_url(experiment: Experiment, csv_file: bool = False) -> str:
    name = "experiments:api-stats-csv" if csv_file else "experiments:api-stats"
    return reverse(name, args=[experiment.name])


@pytest.fixture
def measured(experiment) -> Experiment:
    """300 visitors per arm, one prediction each, over the last three hours: 40% of A's get
    feedback, 70% of B's; a few failures on each side."""
    start = timezone.now() - timedelta(hours=3)
    Experiment.objects.filter(pk=experiment.pk).update(phase_started_at=start)
    experiment.refresh_from_db()
    shape = {"A": (120, 100, 3), "B": (210, 160, 6)}  # feedback, correct, failures
    rows = Prediction.objects.bulk_create(
        PredictionFactory.build(experiment=experiment.name, variant=v, visitor_id=f"{v}{i}")
        for v in shape
        for i in range(300)
    )
    Feedback.objects.bulk_create(
        FeedbackFactory.build(prediction=row, correct=int(row.visitor_id[1:]) < shape[v][1])
        for row in rows
        for v in [row.variant]
        if int(row.visitor_id[1:]) < shape[v][0]
    )
    for v, (_, _, failed) in shape.items():
        for i in range(failed):
            FailedPredictionFactory(experiment=experiment.name, variant=v, visitor_id=f"{v}{i}")
    for hour in range(3):  # a third of the visitors in each hour
        Prediction.objects.filter(pk__in=[r.pk for r in rows[hour::3]]).update(
            created_at=start + timedelta(hours=hour, minutes=30)
        )
    return experiment


@pytest.fixture
def staff_token(db) -> str:
    user = User.objects.create_user("analyst", password="pw-analyst-123", is_staff=True)
    return Token.objects.create(user=user).key


def test_stats_api_returns_every_metric_at_the_visitor_level(measured, client, staff_token):
    response = client.get(stats_url(measured), HTTP_AUTHORIZATION=f"Token {staff_token}")
    assert response.status_code == 200
    body = response.json()
    assert (body["experiment"], body["unit"], body["decided_by"]) == (
        measured.name,
        "visitor",
        "sequential",
    )
    assert [m["key"] for m in body["metrics"]] == [m.key for m in METRICS]
    expected = {r.metric.key: r for r in metric_results(measured)}
    rate = body["metrics"][0]
    assert (rate["role"], rate["direction"], rate["unit"]) == ("primary", "higher", "visitor")
    assert rate["arms"]["A"] == {
        "visitors": 300,
        "numerator": 120.0,
        "denominator": 300.0,
        "estimate": pytest.approx(0.4),
    }
    assert rate["difference"] == pytest.approx(0.3)
    for metric in body["metrics"]:
        result = expected[metric["key"]]
        assert metric["fixed"]["low"] == pytest.approx(result.comparison.fixed.low)
        assert metric["sequential"]["high"] == pytest.approx(result.comparison.sequential.high)
        assert metric["sequential"]["p_value"] == pytest.approx(
            result.comparison.sequential.p_value
        )
        assert metric["fixed"]["method"] and metric["sequential"]["method"]
    assert rate["verdict"] == "better"
    assert rate["planning"]["visitors_needed"] > 0


def test_stats_api_is_for_staff_only(measured, client):
    anonymous = client.get(stats_url(measured))
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"]
    user = User.objects.create_user("visitor", password="pw-visitor-123")
    token = Token.objects.create(user=user).key
    assert client.get(stats_url(measured), HTTP_AUTHORIZATION=f"Token {token}").status_code == 403
    assert client.get(stats_url(measured), HTTP_AUTHORIZATION="Token nonsense").status_code == 401
    assert client.get(stats_url(measured, csv_file=True)).status_code == 401


def test_stats_api_accepts_the_admin_session(measured, admin_client):
    assert admin_client.get(stats_url(measured)).status_code == 200


def test_unknown_experiment_is_a_404(db, admin_client):
    response = admin_client.get(reverse("experiments:api-stats", args=["no-such-thing"]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_csv_export_has_the_same_figures(measured, admin_client):
    response = admin_client.get(stats_url(measured, csv_file=True))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert tuple(rows[0]) == CSV_HEADER
    body = admin_client.get(stats_url(measured)).json()
    for row, metric in zip(rows, body["metrics"], strict=True):
        assert row["metric"] == metric["key"]
        assert float(row["B_estimate"]) == pytest.approx(metric["arms"]["B"]["estimate"])
        assert float(row["sequential_low"]) == pytest.approx(metric["sequential"]["low"])
        assert float(row["fixed_p_value"]) == pytest.approx(metric["fixed"]["p_value"])


def test_openapi_schema_documents_the_stats(db, client):
    schema = client.get(reverse("schema"), HTTP_ACCEPT="application/json").content.decode()
    assert "/api/experiments/{name}/stats" in schema
    assert "StatsResponse" in schema and "sequential" in schema


def test_stats_page_shows_the_primary_metric_guardrails_and_the_band(measured, admin_client):
    url = reverse("admin:experiments_experiment_stats", args=[measured.pk])
    text = admin_client.get(url).content.decode()
    assert "Primary metric: feedback rate" in text
    assert "is higher than A" in text
    assert "Sequential 95% interval" in text and "which decides" in text
    assert "Guardrails" in text and "Correct share" in text and "p95 latency" in text
    assert 'class="exp-band"' in text and 'class="exp-line"' in text
    assert stats_url(measured, csv_file=True) in text
    assert_no_inline_code(text)
