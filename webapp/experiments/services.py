"""Writes: assigning visitors to variants and every change to an experiment.

Each change to an experiment writes an ``ExperimentChange`` row (who, what, when, old → new)
in the same transaction as the change itself; starts, ramp steps, rollbacks and promotions
also queue a webhook notification, sent once that transaction commits. Nothing here is
cached: a rollback saved by the admin is what the very next request reads.
"""

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.metrics import EXPERIMENT_ASSIGNMENTS
from webapp.experiments import notifications
from webapp.experiments.arm import ExperimentArm
from webapp.experiments.models import (
    Action,
    Assignment,
    Experiment,
    ExperimentChange,
    Kind,
    Source,
    Status,
    Variant,
    WebhookEvent,
    new_salt,
    share,
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


def steering_experiments() -> dict[str, Experiment]:
    """The experiments that steer routing, by kind (at most one each), read fresh from the
    database in one query."""
    return {e.kind: e for e in Experiment.objects.filter(steers_routing=True)}


def steering_experiment(kind: str = Kind.FRONTEND) -> Experiment | None:
    """The experiment of ``kind`` that steers routing (frontend: sets the routing cookie)."""
    return steering_experiments().get(kind)


def assign(
    visitor_id: str,
    *,
    experiment: Experiment | None = None,
    requested_variant: str | None = None,
) -> ExperimentArm | None:
    """The arm ``visitor_id`` is in now; None when the experiment is not live.

    ``experiment`` defaults to the frontend one steering routing. ``requested_variant`` is a
    variant the client chose itself (header or cookie); it is honoured while a frontend
    experiment runs and recorded with source "client", so the traffic-split check can leave
    it out. Nobody chooses their model: a model experiment ignores it.
    A rolled-back experiment answers A and a promoted one B, to everybody, without
    touching the database.
    """
    if experiment is None:
        experiment = steering_experiment()
    if experiment is None or experiment.status in (Status.DRAFT, Status.PAUSED):
        return None

    def arm(variant: str, source: str, created: bool = False) -> ExperimentArm:
        return ExperimentArm(
            experiment=experiment.name,
            variant=variant,
            visitor_id=visitor_id,
            phase=experiment.phase,
            source=source,
            created=created,
            model=experiment.model_of(variant),
        )

    if experiment.status == Status.ROLLED_BACK:
        return arm(variant=Variant.A, source=Source.ROLLBACK)
    if experiment.status == Status.PROMOTED:
        return arm(variant=Variant.B, source=Source.PROMOTE)

    chosen = requested_variant if experiment.kind == Kind.FRONTEND else None
    requested = chosen if chosen in VARIANTS else None
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


def outcome(experiment: Experiment) -> str:
    """What visitors get after a change, as the end of a sentence."""
    if experiment.status == Status.ROLLED_BACK:
        return "every visitor now sees A"
    if experiment.status == Status.PROMOTED:
        return "every visitor now sees B"
    if experiment.status == Status.PAUSED:
        return "every visitor sees A until it is started again"
    if experiment.status == Status.RUNNING:
        return f"B gets {share(experiment.weight)} of new visitors"
    return "nobody takes part yet"


# The notification each status change sends (pausing sends none).
EVENT_OF_STATUS: dict[str, str] = {
    Status.RUNNING: WebhookEvent.STARTED,
    Status.ROLLED_BACK: WebhookEvent.ROLLED_BACK,
    Status.PROMOTED: WebhookEvent.PROMOTED,
}


# The statuses each status change may start from (a new phase is allowed in every status).
ALLOWED_FROM: dict[str, set[str]] = {
    Status.RUNNING: {Status.DRAFT, Status.PAUSED, Status.ROLLED_BACK, Status.PROMOTED},
    Status.PAUSED: {Status.RUNNING},
    Status.ROLLED_BACK: {Status.RUNNING, Status.PAUSED, Status.PROMOTED},
    # After a rollback B can be promoted as it is: no new phase, no return to the split.
    Status.PROMOTED: {Status.RUNNING, Status.PAUSED, Status.ROLLED_BACK},
}


# Each status change: the action recorded in the history and the verb of its error message.
CHANGES: dict[str, tuple[str, str]] = {
    Status.RUNNING: (Action.STARTED, "start"),
    Status.PAUSED: (Action.PAUSED, "pause"),
    Status.ROLLED_BACK: (Action.ROLLED_BACK, "roll back"),
    Status.PROMOTED: (Action.PROMOTED, "promote"),
}


def _transition(experiment: Experiment, *, actor: str, to: str, note: str = "") -> Experiment:
    """Move ``experiment`` to status ``to``, if ALLOWED_FROM allows, recorded and announced."""
    action, verb = CHANGES[to]
    allowed_from = ALLOWED_FROM[to]
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
        if to in EVENT_OF_STATUS:
            notifications.notify(
                current,
                EVENT_OF_STATUS[to],
                actor=actor,
                old={"status": old, "weight": current.weight},
                new={"status": to, "weight": current.weight},
                text=f"{Action(action).label} {current}: {outcome(current)}.",
                note=note,
            )
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
            note=f"{experiment.get_kind_display()}, weight of B {experiment.weight:g}, "
            f"steers routing: {experiment.steers_routing}"
            + (f", model of B {experiment.candidate_model}" if experiment.candidate_model else "")
            + (f", ramp plan {experiment.ramp_plan}" if experiment.ramp_plan else ""),
        )
    return experiment


def _ramp_to(current: Experiment, weight: float, *, actor: str, note: str) -> float:
    """Set a locked experiment's weight of B to a ramp step and record it; the old weight."""
    old = current.weight
    current.weight = weight
    current.save(update_fields=["weight", "updated_at"])
    _record(
        current,
        actor=actor,
        action=Action.RAMP_STEP,
        field="weight",
        old=old,
        new=weight,
        note=note,
    )
    return old


def start_experiment(experiment: Experiment, *, actor: str) -> Experiment:
    """Run the experiment: new visitors are split by weight, assigned ones keep their variant.

    Started from draft with a ramp plan, the weight of B becomes the plan's first step."""
    with transaction.atomic():
        current = _locked(experiment)
        plan = current.ramp_weights
        if current.status == Status.DRAFT and plan and current.weight != plan[0]:
            _ramp_to(current, plan[0], actor=actor, note="first step of the ramp plan")
        return _transition(current, actor=actor, to=Status.RUNNING)


def pause_experiment(experiment: Experiment, *, actor: str) -> Experiment:
    """Stop the experiment for now: everyone is served A, assignments are kept for a resume."""
    return _transition(experiment, actor=actor, to=Status.PAUSED)


def rollback_experiment(experiment: Experiment, *, actor: str, reason: str = "") -> Experiment:
    """Everyone gets A from the next request on, including visitors assigned B."""
    return _transition(experiment, actor=actor, to=Status.ROLLED_BACK, note=reason)


def promote_experiment(experiment: Experiment, *, actor: str, note: str = "") -> Experiment:
    """Everyone gets B from the next request on, from running, paused or rolled back."""
    return _transition(experiment, actor=actor, to=Status.PROMOTED, note=note)


def advance_ramp(experiment: Experiment, *, actor: str, note: str = "") -> Experiment:
    """Move a running experiment to the next step of its ramp plan: a larger weight of B for
    new visitors (assigned visitors keep their variant), or, at 100%, the promotion of B.
    Nothing happens when it is not running or the plan is done."""
    with transaction.atomic():
        current = _locked(experiment)
        following = current.next_ramp_weight
        if current.status != Status.RUNNING or following is None:
            return current
        if following >= 1.0:
            return promote_experiment(
                current, actor=actor, note=f"last step of the ramp plan. {note}".strip()
            )
        old = _ramp_to(current, following, actor=actor, note=note)
        notifications.notify(
            current,
            WebhookEvent.RAMP_STEP,
            actor=actor,
            old={"status": current.status, "weight": old},
            new={"status": current.status, "weight": following},
            text=f"Ramp step {current}: B goes from {share(old)} to {share(following)} of new "
            "visitors.",
            note=note,
        )
        return current


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


# The kind and the model of B are fixed at creation: changing them would mix two comparisons.
EDITABLE_FIELDS = (
    "description",
    "steers_routing",
    "ramp_plan",
    "ramp_healthy_checks",
    "analysis_decision",
)


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
