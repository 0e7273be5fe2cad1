"""Writes: assigning visitors to variants and every change to an experiment.

Each change to an experiment writes an ``ExperimentChange`` row (who, what, when, old → new)
in the same transaction as the change itself. Nothing here is cached: a rollback saved by
the admin is what the very next request reads.
"""

import hashlib
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.metrics import EXPERIMENT_ASSIGNMENTS
from webapp.experiments.arm import ExperimentArm
from webapp.experiments.models import (
    Action,
    Assignment,
    Experiment,
    ExperimentChange,
    Source,
    Status,
    Variant,
    new_salt,
)

VARIANTS = frozenset(Variant.values)


class ExperimentError(ValueError):
    """A change that the experiment's current state does not allow."""


def bucket(salt: str, phase: int, visitor_id: str) -> float:
    """A visitor's deterministic, uniformly spread position in [0, 1)."""
    digest = hashlib.sha256(f"{salt}:{phase}:{visitor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hashed_variant(experiment: Experiment, visitor_id: str) -> str:
    position = bucket(experiment.salt, experiment.phase, visitor_id)
    return Variant.B if position < experiment.weight else Variant.A


def steering_experiment() -> Experiment | None:
    """The experiment that sets the routing cookie, read fresh from the database."""
    return Experiment.objects.filter(steers_routing=True).first()


def assign(
    visitor_id: str,
    *,
    experiment: Experiment | None = None,
    requested_variant: str | None = None,
) -> ExperimentArm | None:
    """The arm ``visitor_id`` is in now; None when the experiment is not live.

    ``experiment`` defaults to the one steering routing. ``requested_variant`` is a variant
    the client chose itself (header or cookie); it is honoured while the experiment runs
    and recorded with source "client", so the traffic-split check can leave it out.
    A rolled-back experiment answers A and a promoted one B, to everybody, without
    touching the database.
    """
    if experiment is None:
        experiment = steering_experiment()
    if experiment is None or experiment.status in (Status.DRAFT, Status.PAUSED):
        return None
    arm = partial(
        ExperimentArm, experiment=experiment.name, visitor_id=visitor_id, phase=experiment.phase
    )
    if experiment.status == Status.ROLLED_BACK:
        return arm(variant=Variant.A, source=Source.ROLLBACK)
    if experiment.status == Status.PROMOTED:
        return arm(variant=Variant.B, source=Source.PROMOTE)

    requested = requested_variant if requested_variant in VARIANTS else None
    defaults: dict[str, object]
    if requested:
        defaults = {"variant": requested, "source": Source.CLIENT, "weight": None}
    else:
        variant = hashed_variant(experiment, visitor_id)
        defaults = {"variant": variant, "source": Source.HASH, "weight": experiment.weight}
    # Two first requests of one visitor racing: the unique constraint keeps one row and
    # get_or_create answers the loser with the winner's row.
    row, created = Assignment.objects.get_or_create(
        experiment=experiment, phase=experiment.phase, visitor_id=visitor_id, defaults=defaults
    )
    if created:
        EXPERIMENT_ASSIGNMENTS.labels(experiment.name, row.variant, row.source).inc()
    if requested and requested != row.variant:
        return arm(variant=requested, source=Source.CLIENT)
    return arm(variant=row.variant, source=row.source, created=created)


# --- changes made by operators (admin) or the canary guard ----------------------------------


def _record(
    experiment: Experiment,
    *,
    actor: str,
    action: str,
    field: str = "",
    old: object = "",
    new: object = "",
    note: str = "",
) -> None:
    ExperimentChange.objects.create(
        experiment=experiment,
        actor=actor,
        action=action,
        field=field,
        old_value=str(old),
        new_value=str(new),
        note=note,
    )


def _locked(experiment: Experiment) -> Experiment:
    """A fresh, row-locked copy, so two concurrent changes cannot both apply to one state."""
    return Experiment.objects.select_for_update().get(pk=experiment.pk)


def _transition(
    experiment: Experiment,
    *,
    actor: str,
    to: str,
    allowed_from: set[str],
    action: str,
    verb: str,
    note: str = "",
) -> Experiment:
    with transaction.atomic():
        current = _locked(experiment)
        if current.status == to:
            return current  # already there: repeating a change is harmless
        if current.status not in allowed_from:
            raise ExperimentError(
                f"Cannot {verb} an experiment that is {current.get_status_display().lower()}."
            )
        old = current.status
        now = timezone.now()
        current.status = to
        if to == Status.RUNNING:
            current.started_at = current.started_at or now
            current.phase_started_at = current.phase_started_at or now
            current.ended_at = None
        elif to in (Status.ROLLED_BACK, Status.PROMOTED):
            current.ended_at = now
        current.save()
        _record(current, actor=actor, action=action, field="status", old=old, new=to, note=note)
        return current


def create_experiment(experiment: Experiment, *, actor: str) -> Experiment:
    """Save a new (unsaved) experiment as a draft and record who created it."""
    with transaction.atomic():
        experiment.status = Status.DRAFT
        experiment.full_clean()
        experiment.save()
        _record(
            experiment,
            actor=actor,
            action=Action.CREATED,
            note=f"weight of B {experiment.weight:g}, steers routing: {experiment.steers_routing}",
        )
    return experiment


# The statuses each status change may start from (a new phase is allowed in every status).
ALLOWED_FROM: dict[str, set[str]] = {
    Status.RUNNING: {Status.DRAFT, Status.PAUSED, Status.ROLLED_BACK, Status.PROMOTED},
    Status.PAUSED: {Status.RUNNING},
    Status.ROLLED_BACK: {Status.RUNNING, Status.PAUSED, Status.PROMOTED},
    Status.PROMOTED: {Status.RUNNING, Status.PAUSED},
}


def start_experiment(experiment: Experiment, *, actor: str) -> Experiment:
    """Run the experiment: new visitors are split by weight, assigned ones keep their variant."""
    return _transition(
        experiment,
        actor=actor,
        to=Status.RUNNING,
        allowed_from=ALLOWED_FROM[Status.RUNNING],
        action=Action.STARTED,
        verb="start",
    )


def pause_experiment(experiment: Experiment, *, actor: str) -> Experiment:
    """Stop the experiment for now: everyone is served A, assignments are kept for a resume."""
    return _transition(
        experiment,
        actor=actor,
        to=Status.PAUSED,
        allowed_from=ALLOWED_FROM[Status.PAUSED],
        action=Action.PAUSED,
        verb="pause",
    )


def rollback_experiment(experiment: Experiment, *, actor: str, reason: str = "") -> Experiment:
    """Everyone gets A from the next request on, including visitors assigned B."""
    return _transition(
        experiment,
        actor=actor,
        to=Status.ROLLED_BACK,
        allowed_from=ALLOWED_FROM[Status.ROLLED_BACK],
        action=Action.ROLLED_BACK,
        verb="roll back",
        note=reason,
    )


def promote_experiment(experiment: Experiment, *, actor: str) -> Experiment:
    """Everyone gets B from the next request on."""
    return _transition(
        experiment,
        actor=actor,
        to=Status.PROMOTED,
        allowed_from=ALLOWED_FROM[Status.PROMOTED],
        action=Action.PROMOTED,
        verb="promote",
    )


def start_new_phase(experiment: Experiment, *, actor: str) -> Experiment:
    """Re-draw everyone: a new phase and salt, so each visitor is assigned afresh on the next
    request. Earlier phases' assignments stay for the record."""
    with transaction.atomic():
        current = _locked(experiment)
        old_phase = current.phase
        current.phase = old_phase + 1
        current.salt = new_salt()
        current.phase_started_at = timezone.now()
        current.save()
        _record(
            current,
            actor=actor,
            action=Action.NEW_PHASE,
            field="phase",
            old=old_phase,
            new=current.phase,
            note="new salt; every visitor is assigned again",
        )
        return current


def set_weight(experiment: Experiment, weight: float, *, actor: str) -> Experiment:
    """Change the share of new visitors sent to B; visitors already assigned keep theirs."""
    weight = float(weight)
    if not 0.0 <= weight <= 1.0:
        raise ExperimentError("The weight of B must be between 0 and 1.")
    with transaction.atomic():
        current = _locked(experiment)
        if current.weight == weight:
            return current
        old = current.weight
        current.weight = weight
        current.save()
        _record(current, actor=actor, action=Action.WEIGHT, field="weight", old=old, new=weight)
        return current


EDITABLE_FIELDS = ("description", "steers_routing", "analysis_decision")


def update_experiment(experiment: Experiment, *, actor: str, **changes: Any) -> Experiment:
    """Apply admin form edits, one history row per changed field (the weight via
    ``set_weight``)."""
    unknown = set(changes) - {*EDITABLE_FIELDS, "weight"}
    if unknown:
        raise ExperimentError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        current = _locked(experiment)
        if "weight" in changes:
            current = set_weight(current, changes.pop("weight"), actor=actor)
        edited = {f: v for f, v in changes.items() if getattr(current, f) != v}
        for field, value in edited.items():
            _record(
                current,
                actor=actor,
                action=Action.EDITED,
                field=field,
                old=getattr(current, field),
                new=value,
            )
            setattr(current, field, value)
        if edited:
            current.full_clean()
            current.save()
        return current
