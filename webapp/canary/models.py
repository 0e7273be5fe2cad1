"""The canary guard of an experiment: thresholds B must stay within, and what it did.

A periodic task rolls the experiment back when a guardrail metric of B (the canary) is worse
than A's with confidence over the phase (webapp.canary.rules), or when B breaks a hard
threshold over a recent window; after enough healthy checks it suggests (or,
when allowed, performs) the promotion of B.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Outcome(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    BREACH = "breach", "Breach (rolled back)"
    INSUFFICIENT_DATA = "insufficient_data", "Insufficient data"
    ERROR = "error", "Check failed"


class CanaryGuard(models.Model):
    experiment = models.OneToOneField(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="canary_guard"
    )
    enabled = models.BooleanField(default=True)
    max_error_rate_increase = models.FloatField(
        "max error-rate increase",
        default=0.02,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Largest allowed error rate of B minus that of A, as a fraction "
        "(0.02 = 2 percentage points).",
    )
    max_p95_latency_ms = models.FloatField(
        "max p95 latency of B (ms)",
        default=500.0,
        validators=[MinValueValidator(1.0)],
        help_text="Largest allowed 95th percentile of B's prediction latency.",
    )
    min_sample_size = models.PositiveIntegerField(
        default=50,
        validators=[MinValueValidator(1)],
        help_text="Requests (answered and failed) each variant needs in the window before "
        "the guard judges; below it the check is 'insufficient data'.",
    )
    check_interval_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        help_text="Seconds between checks. The scheduler looks every 30 s "
        "(CANARY_BEAT_SECONDS), so shorter intervals run at that pace.",
    )
    window_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1)],
        help_text="Each check looks at this many recent minutes of the current phase.",
    )
    allow_auto_promotion = models.BooleanField(
        "allow automatic promotion",
        default=False,
        help_text="Promote B by itself after the healthy checks below; otherwise only suggest it.",
    )
    healthy_checks_before_promotion = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="Consecutive healthy checks before the promotion of B is suggested.",
    )
    # Written by the guard itself.
    healthy_streak = models.PositiveIntegerField(default=0, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_outcome = models.CharField(
        max_length=20, choices=Outcome.choices, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "canary guard"

    def __str__(self) -> str:
        return f"canary guard of {self.experiment}"


class EventKind(models.TextChoices):
    ROLLBACK = "rollback", "Rolled back"
    PROMOTION_SUGGESTED = "promotion_suggested", "Promotion suggested"
    PROMOTED = "promoted", "Promoted"


class CanaryEvent(models.Model):
    """Something the guard did, with the numbers that made it do it."""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="canary_events"
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    message = models.TextField()
    # Both variants' statistics and the thresholds in force at the time.
    numbers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "canary event"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:80]}"
