"""A/B experiments: which variant each visitor sees, who changed what, and the columns
every request recorded for an experiment carries.

Variant A is the stable app (v1), variant B the canary (v2). The mesh routes on the
``x-user-experiment`` cookie or header, so exactly one experiment may steer it.
"""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


def new_salt() -> str:
    return secrets.token_hex(16)


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    ROLLED_BACK = "rolled_back", "Rolled back"
    PROMOTED = "promoted", "Promoted"


class Variant(models.TextChoices):
    A = "A", "A (stable, v1)"
    B = "B", "B (canary, v2)"


class AppVariant(models.TextChoices):
    """Which of the two apps served a request."""

    V1 = "v1", "v1 (stable)"
    V2 = "v2", "v2 (canary)"


class Source(models.TextChoices):
    """How a visitor came to see a variant."""

    HASH = "hash", "Hash (traffic split)"
    CLIENT = "client", "Client-chosen"
    ROLLBACK = "rollback", "Rollback (everyone A)"
    PROMOTE = "promote", "Promotion (everyone B)"


class Decision(models.TextChoices):
    """Which of a metric's two intervals decides the headline and the canary guard."""

    SEQUENTIAL = "sequential", "Sequential (valid however often one looks)"
    FIXED = "fixed", "Fixed horizon (one look at a planned sample size)"


class Experiment(models.Model):
    # Predictions refer to experiments by name (max 64), so the name never changes.
    name = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    weight = models.FloatField(
        "weight of B",
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of new visitors assigned to B, from 0 to 1 (0.1 = 10%). Visitors "
        "already assigned keep their variant; start a new phase to re-draw everyone.",
    )
    salt = models.CharField(
        max_length=64,
        default=new_salt,
        help_text="Mixed into the hash that splits visitors; a new phase draws a new one.",
    )
    phase = models.PositiveIntegerField(default=1)
    steers_routing = models.BooleanField(
        default=False,
        help_text="This experiment sets the x-user-experiment cookie the mesh routes on. "
        "Only one experiment can.",
    )
    analysis_decision = models.CharField(
        "decided by",
        max_length=16,
        choices=Decision.choices,
        default=Decision.SEQUENTIAL,
        # Also in the database: rows written by older code (and data migrations) get it.
        db_default=Decision.SEQUENTIAL,
        help_text="The interval that decides the statistics page's verdicts. A fixed-horizon "
        "interval is only valid when read once, at a sample size planned in advance; the "
        "sequential one stays valid however often it is read. The canary guard, which "
        "looks continuously, always uses the sequential one.",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    phase_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["steers_routing"],
                condition=Q(steers_routing=True),
                name="experiments_one_steers_routing",
                violation_error_message="Another experiment already steers routing.",
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=0.0) & Q(weight__lte=1.0),
                name="experiments_weight_0_1",
                violation_error_message="The weight of B must be between 0 and 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """The variant a visitor was given in one phase of an experiment; written once, sticky.

    The stored record behind a request's arm (``webapp.experiments.arm.ExperimentArm``).
    """

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    phase = models.PositiveIntegerField()
    visitor_id = models.CharField(max_length=64)
    variant = models.CharField(max_length=1, choices=Variant.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    # The weight of B when this visitor was drawn: the sample-ratio check compares each
    # visitor with the split in force at the time, so weight changes raise no false alarm.
    weight = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "phase", "visitor_id"], name="experiments_one_assignment"
            )
        ]
        indexes = [models.Index(fields=["experiment", "phase", "source", "variant"])]

    def __str__(self) -> str:
        return f"{self.visitor_id} → {self.variant} ({self.experiment_id}/{self.phase})"


class Action(models.TextChoices):
    CREATED = "created", "Created"
    EDITED = "edited", "Edited"
    WEIGHT = "weight", "Weight changed"
    STARTED = "started", "Started"
    PAUSED = "paused", "Paused"
    ROLLED_BACK = "rolled_back", "Rolled back"
    PROMOTED = "promoted", "Promoted"
    NEW_PHASE = "new_phase", "New phase"


class ExperimentChange(models.Model):
    """One line of an experiment's history: who changed what, when, from what to what."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="changes")
    actor = models.CharField("who", max_length=150)
    action = models.CharField(max_length=16, choices=Action.choices)
    field = models.CharField("what", max_length=32, blank=True)
    old_value = models.TextField("from", blank=True)
    new_value = models.TextField("to", blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField("when", auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "change"

    def __str__(self) -> str:
        return f"{self.actor}: {self.get_action_display()} {self.field}".strip()


class ServedRequest(models.Model):
    """The columns of a request served to a user that the experiment statistics read: which
    app served it, in which experiment arm, and how long it took. Feature apps store their
    outcomes in models built on this one (see ``webapp.experiments.outcomes``)."""

    app_version = models.CharField(max_length=32, db_index=True)
    app_variant = models.CharField(max_length=2, choices=AppVariant.choices, db_index=True)
    # The experiment (by name) and variant (A/B) the visitor was in; blank when none ran.
    experiment = models.CharField(max_length=64, blank=True, db_index=True)
    variant = models.CharField(max_length=1, blank=True, db_index=True)
    visitor_id = models.CharField(max_length=64, blank=True)
    latency_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # Declared so that code holding any model built on this one can query it.
    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        # Named from each concrete model's table, as before there was a shared base.
        indexes = [models.Index(fields=["experiment", "variant", "created_at"])]
