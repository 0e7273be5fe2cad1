"""The guard on the real stack: celery beat schedules the checks through Redis, a real
worker runs them against the test database and exports its metrics."""

import pytest

from devtools.celery import start_beat
from tests.support.servers import poll
from tests.webapp.batch.workers import start_worker
from tests.webapp.canary.factories import CanaryGuardFactory
from tests.webapp.canary.traffic import running_experiment, served
from webapp.canary.models import CanaryEvent
from webapp.experiments.models import Experiment, Status

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout: float, what: str, *processes) -> None:
    def logs() -> str:
        return "\n".join(process.logs()[-2000:] for process in processes)

    try:
        poll(condition, bool, timeout, interval=0.2, logs=logs)
    except TimeoutError as exc:
        raise AssertionError(f"{what} did not happen: {exc}") from None


def test_beat_and_worker_roll_back_a_failing_canary_only(live_database_url, redis_url, tmp_path):
    failing = running_experiment("beat-failing")
    served(failing, a=dict(answered=100, failed=1), b=dict(answered=50, failed=50))
    healthy = running_experiment("beat-healthy")
    served(healthy, a=dict(answered=100, failed=1), b=dict(answered=100, failed=1))
    for experiment in (failing, healthy):
        CanaryGuardFactory(
            experiment=experiment,
            min_sample_size=50,
            check_interval_seconds=1,
            healthy_checks_before_promotion=2,
        )
    env = {"DATABASE_URL": live_database_url, "REDIS_URL": redis_url, "CANARY_BEAT_SECONDS": "1"}
    worker = start_worker(tmp_path, env)
    beat = start_beat(tmp_path, env)
    try:
        wait_for(
            lambda: Experiment.objects.get(pk=failing.pk).status == Status.ROLLED_BACK,
            45,
            "the rollback of beat-failing",
            worker,
            beat,
        )
        wait_for(
            lambda: CanaryEvent.objects.filter(experiment=healthy).exists(),
            45,
            "the promotion suggestion for beat-healthy",
            worker,
            beat,
        )
    finally:
        beat.stop()
    try:
        assert Experiment.objects.get(pk=healthy.pk).status == Status.RUNNING
        rollback = CanaryEvent.objects.get(experiment=failing)
        assert rollback.kind == "rollback"
        assert "error rate of B 50.0% vs A 1.0%" in rollback.message
        suggestion = CanaryEvent.objects.get(experiment=healthy)
        assert suggestion.kind == "promotion_suggested"
        # The worker's own metrics endpoint shows what it did.
        rollbacks = "sentiment_canary_rollbacks_total"
        checks = "sentiment_canary_checks_total"
        assert worker.metric(rollbacks, {"experiment": "beat-failing"}) == 1
        assert worker.metric(rollbacks, {"experiment": "beat-healthy"}) == 0
        assert worker.metric(checks, {"experiment": "beat-failing", "outcome": "breach"}) == 1
        assert worker.metric(checks, {"experiment": "beat-healthy", "outcome": "healthy"}) >= 2
    finally:
        worker.stop()
