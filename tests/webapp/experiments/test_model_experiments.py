"""Model experiments end to end through the web app: the model arm picks which model answers
(over real HTTP, named in x-model-variant), is recorded beside the frontend arm, has its own
statistics, falls back to v1 when v2 cannot answer, and sends nothing to v2 once rolled back."""

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY
from scipy.stats import chi2_contingency

from tests.support.servers import free_port
from tests.webapp.experiments.admin_forms import add_form
from webapp.experiments import selectors, services
from webapp.experiments.models import Experiment, Kind, Status
from webapp.reviews.models import FailedPrediction, Prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def models(two_models):
    return two_models


def model_experiment(weight: float) -> Experiment:
    """A running model experiment that steers model calls, B on model v2."""
    Experiment.objects.filter(kind=Kind.MODEL).update(steers_routing=False)
    experiment = services.create_experiment(
        Experiment(
            name=f"model-test-{weight:g}".replace(".", "-"),
            kind=Kind.MODEL,
            candidate_model="v2",
            weight=weight,
            steers_routing=True,
        ),
        actor="t",
    )
    return services.start_experiment(experiment, actor="t")


def analyze(visitor: str, **headers):
    return Client().post(
        "/api/analyze",
        {"review": "Lovely soup."},
        content_type="application/json",
        HTTP_X_USER_ID=visitor,
        **headers,
    )


def test_b_is_answered_by_model_v2_and_recorded_under_the_model_arm(models):
    experiment = model_experiment(1.0)
    response = analyze("visitor-1")
    assert response.status_code == 200, response.content
    assert response.json()["model_variant"] == "v2"
    assert [r.headers["x-model-variant"] for r in models["v2"].received] == ["v2"]
    assert not models["v1"].received
    prediction = Prediction.objects.get()
    assert (prediction.model_variant, prediction.model_version) == ("v2", "v2-1")
    assert (prediction.model_experiment, prediction.model_arm) == (experiment.name, "B")
    assert prediction.visitor_id == "visitor-1"


def test_a_is_answered_by_model_v1(models):
    experiment = model_experiment(0.0)
    assert analyze("visitor-2").json()["model_variant"] == "v1"
    assert [r.headers["x-model-variant"] for r in models["v1"].received] == ["v1"]
    prediction = Prediction.objects.get()
    assert (prediction.model_experiment, prediction.model_arm) == (experiment.name, "A")


def test_without_a_model_experiment_every_review_goes_to_v1(models):
    Experiment.objects.filter(kind=Kind.MODEL).update(steers_routing=False)
    analyze("visitor-3", HTTP_X_MODEL_VARIANT="v2")
    assert len(models["v1"].received) == 1 and not models["v2"].received
    assert Prediction.objects.get().model_experiment == ""


def test_rolled_back_nothing_reaches_v2_even_when_the_client_asks_for_it(models):
    experiment = model_experiment(1.0)
    services.rollback_experiment(experiment, actor="t", reason="test")
    for i in range(5):
        assert analyze(f"visitor-{i}", HTTP_X_MODEL_VARIANT="v2").status_code == 200
    assert not models["v2"].received
    assert {r.headers["x-model-variant"] for r in models["v1"].received} == {"v1"}
    # One arm only: no evidence about A against B, so no row counts for the experiment.
    assert set(Prediction.objects.values_list("model_arm", flat=True)) == {""}


def fallbacks(reason: str) -> float:
    labels = {"app_version": django_settings.APP_VERSION, "model_variant": "v2", "reason": reason}
    return REGISTRY.get_sample_value("sentiment_app_model_fallbacks_total", labels) or 0.0


def test_v2_not_ready_falls_back_to_v1_for_no_arm(models):
    model_experiment(1.0)
    models["v2"].answer(503, {"error": {"code": "not_ready", "message": "checksum mismatch"}})
    before = fallbacks("http_error")
    response = analyze("visitor-4")
    assert response.status_code == 200
    assert response.json()["model_variant"] == "v1"
    assert fallbacks("http_error") == before + 1
    prediction = Prediction.objects.get()
    assert (prediction.model_variant, prediction.model_arm, prediction.model_experiment) == (
        "v1",
        "",
        "",
    )


def test_a_call_for_v2_that_model_v1_answers_falls_back(models, settings):
    """v2's URL leading to v1 (no mesh in front of one Service): not v2's answer."""
    model_experiment(1.0)
    settings.MODEL_SERVICE_V2_URL = settings.MODEL_SERVICE_URL
    before = fallbacks("wrong_model")
    assert analyze("visitor-7").json()["model_variant"] == "v1"
    assert fallbacks("wrong_model") == before + 1
    assert Prediction.objects.get().model_arm == ""


def test_v2_and_v1_down_is_a_failure_of_no_arm(models, settings):
    experiment = model_experiment(1.0)
    settings.MODEL_SERVICE_URL = settings.MODEL_SERVICE_V2_URL = f"http://127.0.0.1:{free_port()}"
    assert analyze("visitor-5").status_code == 503
    failed = FailedPrediction.objects.get()
    assert (failed.model_arm, failed.model_experiment) == ("", "")
    stats = selectors.variant_stats(experiment)
    assert stats["A"].failures == stats["B"].failures == 0


def test_v2_answering_garbage_is_charged_to_b(models):
    experiment = model_experiment(1.0)
    models["v2"].answer(200, {"sentiment": "meh"})
    assert analyze("visitor-6").status_code == 503
    assert not models["v1"].received  # a refusal is v2's own answer: no fallback
    failed = FailedPrediction.objects.get()
    assert (failed.model_arm, failed.model_variant, failed.reason) == ("B", "v2", "bad_response")
    assert selectors.variant_stats(experiment)["B"].failures == 1


def test_statistics_of_a_model_experiment_count_its_own_arms(models):
    experiment = model_experiment(0.5)
    for i in range(40):
        assert analyze(f"stats-{i}").status_code == 200
    stats = selectors.variant_stats(experiment)
    by_arm = {
        arm: Prediction.objects.filter(model_experiment=experiment.name, model_arm=arm).count()
        for arm in ("A", "B")
    }
    assert stats["A"].predictions == by_arm["A"] == len(models["v1"].received)
    assert stats["B"].predictions == by_arm["B"] == len(models["v2"].received)
    assert by_arm["A"] > 0 and by_arm["B"] > 0
    assert stats["A"].visitors + stats["B"].visitors == 40
    report = selectors.experiment_report(experiment)
    assert report.primary.arms["A"].visitors + report.primary.arms["B"].visitors == 40


def test_model_and_frontend_arms_are_drawn_independently():
    """Two experiments' hashes with their own salts: the 2-by-2 table of a visitor's arms
    passes a chi-squared test of independence (scipy)."""
    frontend = Experiment(name="f", salt="salt-f", weight=0.5, phase=1)
    model = Experiment(name="m", salt="salt-m", weight=0.5, phase=1, kind=Kind.MODEL)
    table = [[0, 0], [0, 0]]
    for i in range(4000):
        visitor = f"v-{i}"
        f = services.hashed_variant(frontend, visitor) == "B"
        m = services.hashed_variant(model, visitor) == "B"
        table[f][m] += 1
    assert chi2_contingency(table).pvalue > 0.001
    same_salt = Experiment(name="m2", salt="salt-f", weight=0.5, phase=1, kind=Kind.MODEL)
    assert all(
        services.hashed_variant(frontend, f"v-{i}") == services.hashed_variant(same_salt, f"v-{i}")
        for i in range(100)
    )  # the salt is what separates them


@pytest.mark.parametrize(
    ("candidate", "message"),
    [("v9", "There is no model 'v9'"), ("v1", "There is no model 'v1'"), ("", "needs a model")],
)
def test_a_model_experiment_needs_a_model_that_exists(candidate, message):
    experiment = Experiment(name="m", kind=Kind.MODEL, candidate_model=candidate)
    with pytest.raises(ValidationError, match=message):
        experiment.full_clean()


def test_one_model_experiment_and_one_frontend_experiment_may_steer_at_once():
    Experiment.objects.update(steers_routing=False)
    Experiment.objects.create(name="f", steers_routing=True)
    Experiment.objects.create(name="m", kind=Kind.MODEL, candidate_model="v2", steers_routing=True)
    steering = services.steering_experiments()
    assert (steering[Kind.FRONTEND].name, steering[Kind.MODEL].name) == ("f", "m")
    with pytest.raises(ValidationError, match="Another experiment of this kind"):
        Experiment(
            name="m3", kind=Kind.MODEL, candidate_model="v2", steers_routing=True
        ).full_clean()
    assert Experiment.objects.get(name="m").status == Status.DRAFT


@pytest.mark.parametrize(
    ("candidate", "message"),
    [("v9", "Select a valid choice"), ("", "A model experiment needs a model for B.")],
)
def test_the_admin_refuses_a_model_experiment_without_a_model_that_exists(
    admin_client, candidate, message
):
    response = admin_client.post(
        "/admin/experiments/experiment/add/",
        add_form(name="model-v3", kind="model", candidate_model=candidate),
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Experiment.objects.filter(name="model-v3").exists()


def test_an_operator_adds_a_model_experiment_in_the_admin(admin_client):
    Experiment.objects.filter(kind=Kind.MODEL).update(steers_routing=False)
    response = admin_client.post(
        "/admin/experiments/experiment/add/",
        add_form(name="model-v3", kind="model", candidate_model="v2", steers_routing="on"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    experiment = Experiment.objects.get(name="model-v3")
    assert (experiment.kind, experiment.candidate_model, experiment.status) == (
        Kind.MODEL,
        "v2",
        Status.DRAFT,
    )
    assert "Model (model v1 against a candidate model)" in experiment.changes.get().note


def test_an_operator_runs_a_10_percent_model_experiment_and_rolls_it_back_in_one_click(
    models, admin_client
):
    """The whole operation from the admin: add, start at 10%, see B's predictions come from
    model v2 with their statistics and latency, roll back with one button."""
    Experiment.objects.filter(kind=Kind.MODEL).update(steers_routing=False)
    added = admin_client.post(
        "/admin/experiments/experiment/add/",
        add_form(
            name="model-ten", kind="model", candidate_model="v2", weight="0.1", steers_routing="on"
        ),
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    experiment = Experiment.objects.get(name="model-ten")
    started = admin_client.post(
        reverse("admin:experiments_experiment_operation", args=[experiment.pk, "start"])
    )
    assert started.status_code == 302
    experiment.refresh_from_db()
    assert (experiment.status, experiment.weight) == (Status.RUNNING, 0.1)

    visitors = [f"operator-{n}" for n in range(300)]
    for visitor in visitors:
        assert analyze(visitor).status_code == 200
    b = Prediction.objects.filter(model_experiment="model-ten", model_arm="B")
    # 10% of 300 visitors: 30 expected, 15 to 45 is beyond 2.7 standard deviations.
    assert 15 <= b.count() <= 45
    assert set(b.values_list("model_variant", flat=True)) == {"v2"}
    assert set(b.values_list("model_version", flat=True)) == {"v2-1"}
    assert len(models["v2"].received) == b.count()
    a = Prediction.objects.filter(model_experiment="model-ten", model_arm="A")
    assert set(a.values_list("model_variant", flat=True)) == {"v1"}

    page = admin_client.get(
        reverse("admin:experiments_experiment_stats", args=[experiment.pk])
    ).content.decode()
    assert "Statistics: model-ten" in page
    assert "model v2" in page and "p95 latency" in page
    assert f"<dt>Predictions</dt><dd>{b.count()}</dd>" in page

    rolled_back = admin_client.post(
        reverse("admin:experiments_experiment_operation", args=[experiment.pk, "rollback"]),
        {"reason": "v2 is too slow"},
    )
    assert rolled_back.status_code == 302
    sent_to_v2 = len(models["v2"].received)
    for visitor in visitors:
        assert analyze(visitor).json()["model_variant"] == "v1"
    assert len(models["v2"].received) == sent_to_v2
