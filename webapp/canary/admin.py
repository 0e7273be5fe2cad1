"""Admin of the canary guard.

``CanaryGuardInline`` and ``CanaryEventInline`` are added to the experiment's admin page
from here (the experiments app knows nothing of the guard); the models are also registered
on their own, so guards and events are visible either way.
"""

from typing import TYPE_CHECKING, ClassVar

from django.contrib import admin

from webapp.admin import ReadOnlyAdminMixin
from webapp.canary.models import CanaryEvent, CanaryGuard
from webapp.experiments.admin import add_inline

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts

    Fieldsets = tuple[tuple[str | None, _FieldOpts], ...]

GUARD_FIELDSETS: "Fieldsets" = (
    (
        "Hard thresholds for B (compared with A)",
        {
            "fields": (
                "enabled",
                "max_error_rate_increase",
                "max_p95_latency_ms",
                "min_sample_size",
            )
        },
    ),
    ("Schedule", {"fields": ("check_interval_seconds", "window_minutes")}),
    ("Promotion", {"fields": ("allow_auto_promotion", "healthy_checks_before_promotion")}),
    ("Last check", {"fields": ("last_checked_at", "last_outcome", "healthy_streak")}),
)
GUARD_STATE = ("last_checked_at", "last_outcome", "healthy_streak")
EVENT_FIELDS = ("created_at", "kind", "message")


class CanaryGuardInline(admin.StackedInline):
    model = CanaryGuard
    fieldsets = GUARD_FIELDSETS
    readonly_fields = GUARD_STATE
    extra = 0
    max_num = 1
    verbose_name_plural = "canary guard"


class CanaryEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CanaryEvent
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS
    extra = 0
    show_change_link = True
    verbose_name_plural = "canary guard events"


# The guard's settings above the experiment's history, its events below.
add_inline(CanaryGuardInline, above_history=True)
add_inline(CanaryEventInline)


@admin.register(CanaryGuard)
class CanaryGuardAdmin(admin.ModelAdmin):
    list_display = (
        "experiment",
        "enabled",
        "max_error_rate_increase",
        "max_p95_latency_ms",
        "min_sample_size",
        "last_outcome",
        "last_checked_at",
    )
    list_filter = ("enabled", "last_outcome")
    list_select_related = ("experiment",)
    fieldsets: ClassVar["Fieldsets"] = ((None, {"fields": ("experiment",)}), *GUARD_FIELDSETS)
    readonly_fields = GUARD_STATE


@admin.register(CanaryEvent)
class CanaryEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "experiment", "kind", "message")
    list_filter = ("kind",)
    list_select_related = ("experiment",)
    date_hierarchy = "created_at"
    readonly_fields = ("experiment", "kind", "message", "numbers", "created_at")
    # Events are the guard's record: nobody adds or edits them by hand, deleting stays open.
    can_delete = True
