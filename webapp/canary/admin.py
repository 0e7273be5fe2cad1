"""Admin of the canary guard.

``CanaryGuardInline`` and ``CanaryEventInline`` belong on the experiment's admin page; the
models are also registered on their own, so guards and events are visible either way.
"""

from django.contrib import admin

from webapp.canary.models import CanaryEvent, CanaryGuard

GUARD_FIELDSETS = (
    (
        "Thresholds for B (compared with A)",
        {
            "fields": (
                "enabled",
                "max_error_rate_increase",
                "max_p95_latency_ms",
                "max_correct_rate_drop",
                "min_sample_size",
                "min_feedback",
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


class CanaryEventInline(admin.TabularInline):
    model = CanaryEvent
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "canary guard events"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CanaryGuard)
class CanaryGuardAdmin(admin.ModelAdmin):
    list_display = (
        "experiment",
        "enabled",
        "max_error_rate_increase",
        "max_p95_latency_ms",
        "max_correct_rate_drop",
        "min_sample_size",
        "last_outcome",
        "last_checked_at",
    )
    list_filter = ("enabled", "last_outcome")
    list_select_related = ("experiment",)
    fieldsets = ((None, {"fields": ("experiment",)}), *GUARD_FIELDSETS)
    readonly_fields = GUARD_STATE


@admin.register(CanaryEvent)
class CanaryEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "experiment", "kind", "message")
    list_filter = ("kind",)
    list_select_related = ("experiment",)
    date_hierarchy = "created_at"
    readonly_fields = ("experiment", "kind", "message", "numbers", "created_at")

    # Events are the guard's record: nobody adds or edits them by hand.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
