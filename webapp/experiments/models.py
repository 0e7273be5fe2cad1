"""A/B experiments: which variant each visitor sees, who changed what, and the columns
every request recorded for an experiment carries.

Two kinds. A *frontend* experiment compares the stable app (v1, variant A) with the canary
app (v2, variant B); the mesh routes on the ``x-user-experiment`` cookie or header. A *model*
experiment compares the stable model (v1, A) with a candidate model (B); the web app names
the arm's model in the ``x-model-variant`` header of its model calls. At most one experiment
of each kind steers routing, and each has its own salt, so a visitor's two arms are drawn
independently.
"""

import itertools
import re
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.model_variants import MODEL_VARIANTS, STABLE


def new_salt() -> str:
    return secrets.token_hex(16)


def parse_ramp_plan(text: str) -> list[float]:
    """The weights of B of a ramp plan written as percentages ("10, 25, 50, 100" or
    "10 → 25 → 50 → 100"), as fractions; raises ValidationError when it is not one."""
    parts = [part for part in re.split(r"[\s,;>→%-]+", text) if part]
    try:
        weights = [float(part) / 100 for part in parts]
    except ValueError:
        raise ValidationError(
            "Write the ramp plan as percentages of new visitors, such as 10, 25, 50, 100."
        ) from None
    if any(not 0 < weight <= 1 for weight in weights):
        raise ValidationError("Each step of the ramp plan must be above 0% and at most 100%.")
    if any(later <= earlier for earlier, later in itertools.pairwise(weights)):
        raise ValidationError("Each step of the ramp plan must give B more than the one before.")
    return weights


def validate_ramp_plan(text: str) -> None:
    parse_ramp_plan(text)


def share(weight: float) -> str:
    """A weight of B as a percentage: 0.25 → "25%"."""
    return f"{weight * 100:g}%"


class Kind(models.TextChoices):
    FRONTEND = "frontend", "Frontend (web app v1 against v2)"
    MODEL = "model", "Model (model v1 against a candidate model)"


# The models a model experiment can send B to.
CANDIDATE_MODELS = tuple(variant for variant in MODEL_VARIANTS if variant != STABLE)


def validate_candidate_model(value: str) -> None:
    """A model experiment's B must be a model the web app can call, other than v1."""
    if value not in CANDIDATE_MODELS:
        raise ValidationError(
            f"There is no model {value!r} to compare with v1. Models served: "
            f"{', '.join(CANDIDATE_MODELS)}."
        )


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
    kind = models.CharField(
        max_length=16,
        choices=Kind.choices,
        default=Kind.FRONTEND,
        db_default=Kind.FRONTEND,
        help_text="What B changes: the web app (v2) or the model that classifies reviews.",
    )
    candidate_model = models.CharField(
        "model of B",
        max_length=16,
        blank=True,
        default="",
        db_default="",
        validators=[validate_candidate_model],
        help_text="Model experiments only: the model variant B's reviews are sent to "
        "(A is always v1).",
    )
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
    # Database defaults too, so rows written by earlier code (and migrations) get them.
    ramp_plan = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        validators=[validate_ramp_plan],
        help_text="Optional steps of the weight of B, in percent, such as 10, 25, 50, 100. "
        "Starting from draft sets the first step; the canary guard moves to the next one "
        "after the healthy checks below and rolls back on a breach; 100 promotes B.",
    )
    ramp_healthy_checks = models.PositiveIntegerField(
        "healthy checks per step",
        default=5,
        db_default=5,
        validators=[MinValueValidator(1)],
        help_text="Consecutive healthy checks of the canary guard before the next ramp step.",
    )
    steers_routing = models.BooleanField(
        default=False,
        help_text="A frontend experiment that steers sets the x-user-experiment cookie the "
        "mesh routes on; a model experiment that steers picks the model of every review "
        "(x-model-variant). Only one experiment of each kind can.",
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
                fields=["kind"],
                condition=Q(steers_routing=True),
                name="experiments_one_steers_per_kind",
                violation_error_message="Another experiment of this kind already steers routing.",
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=0.0) & Q(weight__lte=1.0),
                name="experiments_weight_0_1",
                violation_error_message="The weight of B must be between 0 and 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == Kind.MODEL and not self.candidate_model:
            raise ValidationError({"candidate_model": "A model experiment needs a model for B."})
        if self.kind == Kind.FRONTEND and self.candidate_model:
            raise ValidationError(
                {"candidate_model": "Only a model experiment sends B to another model."}
            )

    def model_of(self, variant: str) -> str:
        """The model variant that answers an arm's reviews (v1 outside model experiments)."""
        if self.kind == Kind.MODEL and variant == Variant.B:
            return self.candidate_model
        return STABLE

    @property
    def ramp_weights(self) -> list[float]:
        """The ramp plan's weights of B; empty without a plan."""
        return parse_ramp_plan(self.ramp_plan) if self.ramp_plan.strip() else []

    @property
    def next_ramp_weight(self) -> float | None:
        """The step after the weight in force; None when there is no plan or it is done."""
        return next((w for w in self.ramp_weights if w > self.weight + 1e-9), None)

    def describe_ramp(self) -> str:
        """The plan in words, with where the experiment stands on it."""
        weights = self.ramp_weights
        if not weights:
            return "No ramp plan: the weight of B changes only when someone changes it."
        steps = " → ".join(share(w) for w in weights)
        following = self.next_ramp_weight
        if following is None:
            return f"Ramp plan {steps}: every step is done."
        checks = self.ramp_healthy_checks
        then = "promotes B" if following >= 1.0 else f"moves B to {share(following)}"
        return (
            f"Ramp plan {steps}: after {checks} consecutive healthy checks of the canary "
            f"guard it {then}; a breach rolls back to A."
        )

    def exposure(self) -> str:
        """What visitors see now, in words (the weight only counts while it runs)."""
        if self.status == Status.ROLLED_BACK:
            return "Rolled back: every visitor sees A."
        if self.status == Status.PROMOTED:
            return "Promoted: every visitor sees B."
        if self.status == Status.PAUSED:
            return (
                "Paused: every visitor sees A. When started again, B gets "
                f"{share(self.weight)} of new visitors."
            )
        if self.status == Status.DRAFT:
            return (
                "Draft: nobody takes part yet. When started, B gets "
                f"{share(self.weight)} of new visitors."
            )
        return (
            f"Running: B gets {share(self.weight)} of new visitors; assigned visitors keep "
            "their variant."
        )


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
    RAMP_STEP = "ramp_step", "Ramp step"


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

    @property
    def old_display(self) -> str:
        return self._display(self.old_value)

    @property
    def new_display(self) -> str:
        return self._display(self.new_value)

    def _display(self, raw: str) -> str:
        """A recorded value as people read it: status labels, weights in percent."""
        if self.field == "status" and raw in Status.values:
            return Status(raw).label
        if self.field == "weight" and raw:
            try:
                return share(float(raw))
            except ValueError:
                return raw
        if raw in ("True", "False"):
            return "yes" if raw == "True" else "no"
        return raw


class WebhookEvent(models.TextChoices):
    STARTED = "started", "Started"
    RAMP_STEP = "ramp_step", "Ramp step"
    ROLLED_BACK = "rolled_back", "Rolled back"
    PROMOTED = "promoted", "Promoted"
    BREACH = "breach", "Guard breach"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    RETRYING = "retrying", "Failed, will retry"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed, gave up"


class Delivery(models.Model):
    """One webhook notification and how sending it went."""

    experiment = models.CharField(max_length=64, db_index=True)  # by name, like predictions
    event = models.CharField(max_length=16, choices=WebhookEvent.choices)
    payload = models.JSONField()
    # Scheme and host only: the full URL may carry a token.
    target = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.get_event_display()} of {self.experiment}: {self.get_status_display()}"


class ServedRequest(models.Model):
    """The columns of a request served to a user that the experiment statistics read: which
    app and model served it, in which arm of each kind of experiment, and how long it took.
    Feature apps store their outcomes in models built on this one (see
    ``webapp.experiments.outcomes``)."""

    app_version = models.CharField(max_length=32, db_index=True)
    app_variant = models.CharField(max_length=2, choices=AppVariant.choices, db_index=True)
    # The experiment (by name) and variant (A/B) the visitor was in; blank when none ran.
    experiment = models.CharField(max_length=64, blank=True, db_index=True)
    variant = models.CharField(max_length=1, blank=True, db_index=True)
    visitor_id = models.CharField(max_length=64, blank=True)
    # The same for the model experiment that steers model calls, drawn independently.
    model_experiment = models.CharField(max_length=64, blank=True, default="", db_default="")
    model_arm = models.CharField(max_length=1, blank=True, default="", db_default="")
    # The model that answered (or, for a failure, was asked): v1 or v2.
    model_variant = models.CharField(max_length=2, blank=True, default="", db_default="")
    latency_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # Declared so that code holding any model built on this one can query it.
    objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        # Named from each concrete model's table, as before there was a shared base.
        indexes = [
            models.Index(fields=["experiment", "variant", "created_at"]),
            models.Index(fields=["model_experiment", "model_arm", "created_at"]),
        ]
