"""The canary guard at work: check the due guards, roll back on a breach, walk the
experiment's ramp plan after enough healthy checks per step, and suggest or perform the
promotion of B after enough healthy checks.

A check is claimed with a conditional UPDATE of ``last_checked_at`` before it runs, so two
schedulers (or a redelivered task) never check the same guard twice in one interval.
"""

import dataclasses
import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core import metrics
from webapp.canary.models import CanaryEvent, CanaryGuard, EventKind, Outcome
from webapp.canary.rules import Thresholds, Verdict, evaluate, requests_of
from webapp.experiments import notifications
from webapp.experiments import services as experiments
from webapp.experiments.models import Experiment, Status, WebhookEvent, share
from webapp.experiments.selectors import metric_results, variant_stats

logger = logging.getLogger(__name__)

ACTOR = "canary-guard"


def is_due(guard: CanaryGuard, now: datetime) -> bool:
    if guard.last_checked_at is None:
        return True
    return now - guard.last_checked_at >= timedelta(seconds=guard.check_interval_seconds)


def due_guard_ids(now: datetime | None = None) -> list[int]:
    """Enabled guards of running experiments whose interval has elapsed."""
    now = now or timezone.now()
    guards = CanaryGuard.objects.filter(enabled=True, experiment__status=Status.RUNNING)
    return [guard.pk for guard in guards if is_due(guard, now)]


def _claim(guard: CanaryGuard, now: datetime) -> bool:
    # Matching the value read (None compiles to IS NULL): only one claimant wins.
    claimed = CanaryGuard.objects.filter(pk=guard.pk, last_checked_at=guard.last_checked_at)
    return bool(claimed.update(last_checked_at=now, updated_at=now))


def _numbers(stats: dict, limits: Thresholds, window_minutes: int, since: datetime) -> dict:
    return {
        "since": since.isoformat(),
        "window_minutes": window_minutes,
        "A": dataclasses.asdict(stats["A"]),
        "B": dataclasses.asdict(stats["B"]),
        "thresholds": dataclasses.asdict(limits),
    }


def _sample(stats: dict) -> str:
    return f"A {requests_of(stats['A'])} requests, B {requests_of(stats['B'])}"


def check_guard(guard_id: int, *, now: datetime | None = None) -> str | None:
    """Check one guard if it is due; the outcome, or None when it was not checked."""
    now = now or timezone.now()
    guard = CanaryGuard.objects.select_related("experiment").get(pk=guard_id)
    experiment = guard.experiment
    if not guard.enabled or experiment.status != Status.RUNNING or not is_due(guard, now):
        return None
    if not _claim(guard, now):
        return None  # another run took this check
    since = now - timedelta(minutes=guard.window_minutes)
    limits = Thresholds.of(guard)
    try:
        stats = variant_stats(experiment, since=since)
        # Guardrails over the whole phase: the sequential test is valid for a growing sample.
        verdict = evaluate(stats["A"], stats["B"], limits, metric_results(experiment))
    except Exception:
        metrics.CANARY_CHECKS.labels(experiment.name, Outcome.ERROR).inc()
        CanaryGuard.objects.filter(pk=guard.pk).update(last_outcome=Outcome.ERROR)
        raise
    numbers = _numbers(stats, limits, guard.window_minutes, since)
    if verdict.outcome == Outcome.BREACH:
        _roll_back(guard, verdict, numbers, stats)
    elif verdict.outcome == Outcome.HEALTHY:
        _healthy(guard, numbers, stats)
    else:
        CanaryGuard.objects.filter(pk=guard.pk).update(
            last_outcome=verdict.outcome, healthy_streak=0
        )
    metrics.CANARY_CHECKS.labels(experiment.name, verdict.outcome).inc()
    logger.info("canary guard of %s: %s %s", experiment.name, verdict.outcome, verdict.breaches)
    return verdict.outcome


def _roll_back(guard: CanaryGuard, verdict: Verdict, numbers: dict, stats: dict) -> None:
    experiment = guard.experiment
    reason = (
        f"Canary guard: {'; '.join(verdict.breaches)}. Last {guard.window_minutes} min, "
        f"{_sample(stats)}."
    )
    with transaction.atomic():
        # Locked and read again: an operator may have changed the experiment meanwhile.
        CanaryGuard.objects.filter(pk=guard.pk).update(
            last_outcome=Outcome.BREACH, healthy_streak=0
        )
        current = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if current.status != Status.RUNNING:
            return
        notifications.notify(
            current,
            WebhookEvent.BREACH,
            actor=ACTOR,
            old={"status": current.status, "weight": current.weight},
            new={"status": Status.ROLLED_BACK, "weight": current.weight},
            text=f"Canary guard breach in {current}: {'; '.join(verdict.breaches)}.",
            note=reason,
            numbers=numbers,
        )
        experiments.rollback_experiment(current, actor=ACTOR, reason=reason)
        CanaryEvent.objects.create(
            experiment=current, kind=EventKind.ROLLBACK, message=reason, numbers=numbers
        )
    metrics.CANARY_ROLLBACKS.labels(experiment.name).inc()
    logger.warning("experiment %s rolled back: %s", experiment.name, reason)


def _ramp_step(guard: CanaryGuard, streak: int, stats: dict) -> bool:
    """Take the next step of the experiment's ramp plan once the step has had its healthy
    checks; whether a step was taken (the streak then counts for the new step)."""
    experiment = guard.experiment
    following = experiment.next_ramp_weight
    if following is None or streak < experiment.ramp_healthy_checks:
        return False
    note = (
        f"{streak} consecutive healthy checks at {share(experiment.weight)} "
        f"(last {guard.window_minutes} min: {_sample(stats)})."
    )
    experiments.advance_ramp(experiment, actor=ACTOR, note=note)
    CanaryGuard.objects.filter(pk=guard.pk).update(healthy_streak=0)
    logger.info("canary guard of %s: ramp step to %s", experiment.name, share(following))
    return True


def _healthy(guard: CanaryGuard, numbers: dict, stats: dict) -> None:
    experiment = guard.experiment
    streak = guard.healthy_streak + 1
    with transaction.atomic():
        CanaryGuard.objects.filter(pk=guard.pk).update(
            last_outcome=Outcome.HEALTHY, healthy_streak=streak
        )
        if _ramp_step(guard, streak, stats):
            return
        if streak < guard.healthy_checks_before_promotion:
            return
        summary = (
            f"B stayed within every threshold for {streak} consecutive checks "
            f"(last {guard.window_minutes} min: {_sample(stats)})."
        )
        if streak == guard.healthy_checks_before_promotion:  # suggested once per streak
            CanaryEvent.objects.create(
                experiment=experiment,
                kind=EventKind.PROMOTION_SUGGESTED,
                message=f"{summary} Promoting B is suggested.",
                numbers=numbers,
            )
        # Checked on every healthy check past the count, so allowing it later still promotes.
        if not guard.allow_auto_promotion:
            return
        current = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if current.status != Status.RUNNING:
            return
        experiments.promote_experiment(current, actor=ACTOR)
        CanaryEvent.objects.create(
            experiment=current,
            kind=EventKind.PROMOTED,
            message=f"{summary} Promoted automatically, as allowed.",
            numbers=numbers,
        )
    logger.info("canary guard of %s: %s", experiment.name, summary)


def check_due_guards(now: datetime | None = None) -> dict[int, str | None]:
    """Check every due guard; one guard's failure does not keep the others from running."""
    outcomes: dict[int, str | None] = {}
    for guard_id in due_guard_ids(now):
        try:
            outcomes[guard_id] = check_guard(guard_id, now=now)
        except Exception:
            logger.exception("canary guard %s: check failed", guard_id)
            outcomes[guard_id] = Outcome.ERROR
    return outcomes
