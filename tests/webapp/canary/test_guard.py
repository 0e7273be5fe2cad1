"""The canary guard against the database: rollbacks, events, promotion, metrics."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from tests.webapp.canary.factories import CanaryGuardFactory
from tests.webapp.canary.traffic import (
    running_experiment,
    running_model_experiment,
    served,
    traffic,
)
from webapp.canary import services
from webapp.canary.models import CanaryEvent, CanaryGuard
from webapp.experiments.models import ExperimentChange, Status
from webapp.experiments.services import pause_experiment

pytestmark = pytest.mark.django_db


def counted(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def checks(experiment: str, outcome: str) -> float:
    """The guard checks of an experiment counted with that outcome."""
    return counted("sentiment_canary_checks_total", experiment=experiment, outcome=outcome)


def guard_for(experiment, **settings) -> CanaryGuard:
    values = {
        "max_error_rate_increase": 0.02,
        "max_p95_latency_ms": 300.0,
        "min_sample_size": 50,
        "check_interval_seconds": 60,
        "window_minutes": 10,
        "healthy_checks_before_promotion": 3,
    }
    return CanaryGuardFactory(experiment=experiment, **(values | settings))


def check_with_feedback(name: str, answered: int, *, a: tuple[int, int], b: tuple[int, int]) -> str:
    """One check of a new guard over arms whose predictions got (correct, wrong) feedback."""
    experiment = running_experiment(name)
    for variant, (correct, wrong) in (("A", a), ("B", b)):
        traffic(experiment, variant, answered=answered, correct=correct, wrong=wrong)
    return services.check_guard(guard_for(experiment).pk)


def test_a_failing_b_is_rolled_back_with_the_numbers():
    experiment = running_experiment("failing-b")
    served(experiment, a=dict(answered=100, failed=1), b=dict(answered=60, failed=40))
    guard = guard_for(experiment)
    rollbacks = counted("sentiment_canary_rollbacks_total", experiment="failing-b")
    breaches = checks("failing-b", "breach")

    assert services.check_guard(guard.pk) == "breach"

    experiment.refresh_from_db()
    assert experiment.status == Status.ROLLED_BACK
    change = ExperimentChange.objects.get(experiment=experiment, action="rolled_back")
    assert change.actor == "canary-guard"
    assert "error rate of B 40.0% vs A 1.0%" in change.note
    assert "A 101 requests, B 100" in change.note
    event = CanaryEvent.objects.get(experiment=experiment)
    assert event.kind == "rollback"
    assert event.message == change.note
    assert event.numbers["B"]["failures"] == 40
    assert event.numbers["A"]["predictions"] == 100
    assert event.numbers["thresholds"]["max_error_rate_increase"] == 0.02
    assert event.numbers["window_minutes"] == 10
    guard.refresh_from_db()
    assert guard.last_outcome == "breach"
    assert counted("sentiment_canary_rollbacks_total", experiment="failing-b") == rollbacks + 1
    assert checks("failing-b", "breach") == breaches + 1
    # A rolled-back experiment is not checked again.
    assert services.due_guard_ids(timezone.now() + timedelta(hours=1)) == []


def test_a_slow_b_is_rolled_back():
    experiment = running_experiment("slow-b")
    served(experiment, a=dict(answered=80, latency_ms=40), b=dict(answered=80, latency_ms=900))
    guard = guard_for(experiment)
    assert services.check_guard(guard.pk) == "breach"
    experiment.refresh_from_db()
    assert experiment.status == Status.ROLLED_BACK
    assert "p95 latency of B 900 ms (at most 300 ms; A 40 ms)" in CanaryEvent.objects.get().message


def test_a_slow_model_v2_is_rolled_back_by_its_model_experiment_alone():
    frontend = running_experiment("frontend-healthy")
    served(frontend, a=dict(answered=80, latency_ms=40), b=dict(answered=80, latency_ms=40))
    model = running_model_experiment("model-slow")
    served(model, a=dict(answered=80, latency_ms=40), b=dict(answered=80, latency_ms=900))
    guard_for(frontend)
    guard = guard_for(model)
    assert services.check_guard(guard.pk) == "breach"
    model.refresh_from_db()
    assert model.status == Status.ROLLED_BACK
    assert "p95 latency of B 900 ms (at most 300 ms; A 40 ms)" in CanaryEvent.objects.get().message
    frontend.refresh_from_db()
    assert frontend.status == Status.RUNNING


def test_a_worse_b_by_feedback_is_rolled_back():
    # 300 visitors per arm, one prediction each, half with feedback: 90% against 60% correct.
    assert check_with_feedback("wrong-b", 300, a=(135, 15), b=(90, 60)) == "breach"
    assert "correct share of B worse than A with confidence: -30.0 points" in (
        CanaryEvent.objects.get().message
    )


def test_a_slightly_worse_b_on_few_visitors_is_not_rolled_back():
    # The same 30-point drop on 60 visitors is within what chance does under repeated looks.
    assert check_with_feedback("unclear-b", 60, a=(27, 3), b=(18, 12)) == "healthy"


def test_a_healthy_b_is_left_alone_and_promotion_is_only_suggested():
    experiment = running_experiment("healthy-b")
    served(experiment, a=dict(answered=100, failed=1), b=dict(answered=100, failed=1))
    guard = guard_for(experiment)
    now = timezone.now()
    healthy = checks("healthy-b", "healthy")

    outcomes = [
        services.check_guard(guard.pk, now=now + timedelta(minutes=minute)) for minute in range(5)
    ]

    assert outcomes == ["healthy"] * 5
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    events = list(CanaryEvent.objects.filter(experiment=experiment))
    assert [event.kind for event in events] == ["promotion_suggested"]  # once, at the 3rd
    assert "3 consecutive checks" in events[0].message
    guard.refresh_from_db()
    assert guard.healthy_streak == 5
    assert checks("healthy-b", "healthy") == healthy + 5


def test_promotion_happens_only_when_allowed():
    experiment = running_experiment("promote-b")
    served(experiment, a=dict(answered=60), b=dict(answered=60))
    guard = guard_for(experiment, allow_auto_promotion=True, healthy_checks_before_promotion=2)
    now = timezone.now()
    assert services.check_guard(guard.pk, now=now) == "healthy"
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert services.check_guard(guard.pk, now=now + timedelta(minutes=1)) == "healthy"
    experiment.refresh_from_db()
    assert experiment.status == Status.PROMOTED
    kinds = list(CanaryEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["promotion_suggested", "promoted"]
    assert ExperimentChange.objects.get(experiment=experiment, action="promoted").actor == (
        "canary-guard"
    )


def test_too_little_traffic_is_insufficient_data_and_changes_nothing():
    experiment = running_experiment("quiet-b")
    served(
        experiment, a=dict(answered=100), b=dict(answered=10, failed=10)
    )  # 50 % errors, but only 20 requests
    guard = guard_for(experiment)
    before = checks("quiet-b", "insufficient_data")
    assert services.check_guard(guard.pk) == "insufficient_data"
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert not CanaryEvent.objects.exists()
    guard.refresh_from_db()
    assert guard.last_outcome == "insufficient_data"
    assert guard.healthy_streak == 0
    assert checks("quiet-b", "insufficient_data") == before + 1


def test_only_traffic_inside_the_window_counts():
    experiment = running_experiment("old-failures")
    served(experiment, a=dict(answered=100), b=dict(answered=100, failed=50))
    guard = guard_for(experiment, window_minutes=5)
    # Ten minutes later the failures are out of the window, and so is everything else.
    later = timezone.now() + timedelta(minutes=10)
    assert services.check_guard(guard.pk, now=later) == "insufficient_data"
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING


def test_checks_follow_each_guards_interval():
    experiment = running_experiment("interval")
    guard = guard_for(experiment, check_interval_seconds=120)
    now = timezone.now()
    assert services.due_guard_ids(now) == [guard.pk]
    assert services.check_guard(guard.pk, now=now) == "insufficient_data"
    assert services.due_guard_ids(now + timedelta(seconds=119)) == []
    assert services.check_guard(guard.pk, now=now + timedelta(seconds=119)) is None
    assert services.due_guard_ids(now + timedelta(seconds=120)) == [guard.pk]


def test_a_check_is_claimed_once():
    experiment = running_experiment("claimed")
    guard = guard_for(experiment)
    stale = CanaryGuard.objects.get(pk=guard.pk)
    now = timezone.now()
    assert services._claim(stale, now) is True
    assert services._claim(stale, now) is False  # a second scheduler run read the same state


def test_disabled_guards_and_stopped_experiments_are_not_checked():
    off = running_experiment("disabled")
    guard_for(off, enabled=False)
    paused = running_experiment("paused")
    guard = guard_for(paused)
    pause_experiment(paused, actor="test")
    assert services.due_guard_ids() == []
    assert services.check_guard(guard.pk) is None
    assert services.check_due_guards() == {}


def test_allowing_promotion_after_the_streak_passed_the_count_still_promotes():
    experiment = running_experiment("late-allow")
    served(experiment, a=dict(answered=60), b=dict(answered=60))
    guard = guard_for(experiment, healthy_checks_before_promotion=2)
    now = timezone.now()
    for minute in range(3):
        assert services.check_guard(guard.pk, now=now + timedelta(minutes=minute)) == "healthy"
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING

    CanaryGuard.objects.filter(pk=guard.pk).update(allow_auto_promotion=True)
    assert services.check_guard(guard.pk, now=now + timedelta(minutes=3)) == "healthy"

    experiment.refresh_from_db()
    assert experiment.status == Status.PROMOTED
    kinds = list(CanaryEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["promotion_suggested", "promoted"]  # suggested once, at the 2nd check
    assert "4 consecutive checks" in CanaryEvent.objects.get(kind="promoted").message


def test_a_check_without_enough_data_restarts_the_healthy_streak():
    experiment = running_experiment("streak-reset")
    served(experiment, a=dict(answered=60), b=dict(answered=60))
    guard = guard_for(experiment)  # a suggestion after 3 healthy checks in a row
    now = timezone.now()
    for minute in range(2):
        assert services.check_guard(guard.pk, now=now + timedelta(minutes=minute)) == "healthy"
    CanaryGuard.objects.filter(pk=guard.pk).update(min_sample_size=1000)
    assert services.check_guard(guard.pk, now=now + timedelta(minutes=2)) == "insufficient_data"
    guard.refresh_from_db()
    assert guard.healthy_streak == 0

    CanaryGuard.objects.filter(pk=guard.pk).update(min_sample_size=50)
    assert services.check_guard(guard.pk, now=now + timedelta(minutes=3)) == "healthy"
    guard.refresh_from_db()
    assert guard.healthy_streak == 1
    assert not CanaryEvent.objects.exists()  # not 3 in a row
