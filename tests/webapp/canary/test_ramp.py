"""Progressive rollout: the guard's healthy checks walk B up its ramp plan to promotion, a
breach rolls it back to A, every step lands in the history and reaches a real webhook."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.webapp.canary.factories import CanaryGuardFactory
from tests.webapp.canary.traffic import served, traffic
from webapp.canary import services
from webapp.experiments import services as experiments
from webapp.experiments.models import Action, Experiment, Status

pytestmark = pytest.mark.django_db


def ramped_experiment(name: str, plan: str, checks: int) -> Experiment:
    draft = experiments.create_experiment(
        Experiment(name=name, weight=0.5, ramp_plan=plan, ramp_healthy_checks=checks),
        actor="test",
    )
    return experiments.start_experiment(draft, actor="alice")


def checker(experiment: Experiment):
    """Runs the guard's check as the beat does, one interval later each time."""
    guard = CanaryGuardFactory(
        experiment=experiment,
        min_sample_size=50,
        check_interval_seconds=60,
        window_minutes=30,
        healthy_checks_before_promotion=100,
    )
    moment = [timezone.now()]

    def check() -> str | None:
        moment[0] += timedelta(seconds=61)
        return services.check_guard(guard.pk, now=moment[0])

    return check


def ramp_history(experiment: Experiment) -> list[tuple]:
    return list(
        experiment.changes.filter(action__in=[Action.RAMP_STEP, Action.PROMOTED])
        .order_by("id")
        .values_list("actor", "action", "old_value", "new_value")
    )


def test_a_healthy_b_walks_the_plan_from_10_to_100_percent(
    webhook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        experiment = ramped_experiment("ramp-healthy", "10, 25, 50, 100", checks=2)
    assert experiment.weight == 0.1
    served(experiment, a=dict(answered=100, failed=1), b=dict(answered=100, failed=1))
    check = checker(experiment)

    weights = []
    for _ in range(6):
        with django_capture_on_commit_callbacks(execute=True):
            assert check() == "healthy"
        experiment.refresh_from_db()
        weights.append((experiment.status, experiment.weight))
    assert weights == [
        (Status.RUNNING, 0.1),
        (Status.RUNNING, 0.25),
        (Status.RUNNING, 0.25),
        (Status.RUNNING, 0.5),
        (Status.RUNNING, 0.5),
        (Status.PROMOTED, 0.5),
    ]
    assert check() is None  # a promoted experiment is not checked any more
    assert ramp_history(experiment) == [
        ("alice", Action.RAMP_STEP, "0.5", "0.1"),
        ("canary-guard", Action.RAMP_STEP, "0.1", "0.25"),
        ("canary-guard", Action.RAMP_STEP, "0.25", "0.5"),
        ("canary-guard", Action.PROMOTED, "running", "promoted"),
    ]
    promotion = experiment.changes.get(action=Action.PROMOTED)
    assert promotion.note.startswith("last step of the ramp plan. 2 consecutive healthy checks")

    bodies = webhook.wait_for(4)
    assert [body["event"] for body in bodies] == ["started", "ramp_step", "ramp_step", "promoted"]
    assert [(b["old"]["weight"], b["new"]["weight"]) for b in bodies[1:3]] == [
        (0.1, 0.25),
        (0.25, 0.5),
    ]
    assert bodies[1]["text"] == "Ramp step ramp-healthy: B goes from 10% to 25% of new visitors."
    assert {body["actor"] for body in bodies[1:]} == {"canary-guard"}


def test_a_breaching_b_is_rolled_back_to_a_mid_ramp(webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        experiment = ramped_experiment("ramp-breach", "10, 50, 100", checks=1)
    served(experiment, a=dict(answered=100, failed=1), b=dict(answered=100, failed=1))
    check = checker(experiment)
    with django_capture_on_commit_callbacks(execute=True):
        assert check() == "healthy"
    experiment.refresh_from_db()
    assert experiment.weight == 0.5

    traffic(experiment, "B", answered=20, failed=80)  # B starts failing at 50%
    with django_capture_on_commit_callbacks(execute=True):
        assert check() == "breach"
    experiment.refresh_from_db()
    assert experiment.status == Status.ROLLED_BACK
    assert experiments.assign("anyone", experiment=experiment).variant == "A"

    bodies = webhook.wait_for(4)
    assert [body["event"] for body in bodies] == ["started", "ramp_step", "breach", "rolled_back"]
    breach = bodies[2]
    assert breach["actor"] == "canary-guard"
    assert breach["old"] == {"status": "running", "weight": 0.5}
    assert breach["numbers"]["B"]["failures"] == 81
    assert breach["numbers"]["thresholds"]["max_error_rate_increase"] == 0.02
    assert "error rate of B" in breach["text"]
    assert bodies[3]["text"] == "Rolled back ramp-breach: every visitor now sees A."

    # After the rollback an operator may still promote B, without restarting the split.
    with django_capture_on_commit_callbacks(execute=True):
        experiments.promote_experiment(experiment, actor="alice")
    assert webhook.wait_for(5)[4]["event"] == "promoted"
