"""Experiments in the admin: edit, start, pause, roll back, promote, re-draw, read statistics.

Every change goes through ``services`` so it lands in the experiment's history.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from webapp.admin import ReadOnlyAdminMixin
from webapp.experiments import charts, selectors, services
from webapp.experiments.models import Assignment, Experiment, ExperimentChange, Status


@dataclass(frozen=True)
class Operation:
    label: str
    target: str | None  # the status it leads to; None for a new phase (any status)
    explanation: str
    run: Callable[[Experiment, str, str], Experiment]  # (experiment, actor, reason)
    asks_reason: bool = False


OPERATIONS = {
    "start": Operation(
        "Start",
        Status.RUNNING,
        "New visitors are split by the weight of B from the next request on. Visitors "
        "already assigned in this phase get their variant back.",
        lambda exp, actor, reason: services.start_experiment(exp, actor=actor),
    ),
    "pause": Operation(
        "Pause",
        Status.PAUSED,
        "Everyone is served A from the next request on and nothing is recorded for the "
        "experiment. Assignments are kept: starting again gives every visitor their variant "
        "back.",
        lambda exp, actor, reason: services.pause_experiment(exp, actor=actor),
    ),
    "rollback": Operation(
        "Roll back",
        Status.ROLLED_BACK,
        "Everyone gets A from the next request on, including visitors assigned B (their "
        "cookie is rewritten to A). Statistics stop at this moment.",
        lambda exp, actor, reason: services.rollback_experiment(exp, actor=actor, reason=reason),
        asks_reason=True,
    ),
    "promote": Operation(
        "Promote",
        Status.PROMOTED,
        "Everyone gets B from the next request on. Statistics stop at this moment.",
        lambda exp, actor, reason: services.promote_experiment(exp, actor=actor),
    ),
    "new_phase": Operation(
        "New phase",
        None,
        "A new salt re-draws every visitor on their next request, with the current weight of "
        "B. Statistics restart from this moment; earlier assignments stay for the record.",
        lambda exp, actor, reason: services.start_new_phase(exp, actor=actor),
    ),
}


def operation_allowed(operation: Operation, experiment: Experiment) -> bool:
    if operation.target is None:
        return True
    return experiment.status in services.ALLOWED_FROM[operation.target]


def actor_of(request: HttpRequest) -> str:
    return request.user.get_username()


class ExperimentChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ExperimentChange
    verbose_name_plural = "history"
    fields = ("created_at", "actor", "action", "field", "old_value", "new_value", "note")
    readonly_fields = fields
    extra = 0
    show_change_link = False


# Sections other apps put on the experiment's page, above and below its history. They add
# them from their own admin module (the canary guard does), so this app imports none.
_INLINES_ABOVE_HISTORY: list[type[InlineModelAdmin]] = []
_INLINES_BELOW_HISTORY: list[type[InlineModelAdmin]] = []


def add_inline(inline: type[InlineModelAdmin], *, above_history: bool = False) -> None:
    """Show ``inline`` on every experiment's admin page."""
    section = _INLINES_ABOVE_HISTORY if above_history else _INLINES_BELOW_HISTORY
    if inline not in section:
        section.append(inline)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    change_form_template = "admin/experiments/experiment/change_form.html"
    list_display = (
        "name",
        "status",
        "weight_percent",
        "phase",
        "steers_routing",
        "started_at",
        "statistics_link",
    )
    list_filter = ("status", "steers_routing")
    search_fields = ("name", "description")
    actions = (
        "start_selected",
        "pause_selected",
        "rollback_selected",
        "promote_selected",
        "new_phase_selected",
    )
    fieldsets = (
        (None, {"fields": ("name", "description", "status", "statistics_link")}),
        ("Traffic", {"fields": ("weight", "steers_routing", "phase", "salt")}),
        ("Analysis", {"fields": ("analysis_decision",)}),
        (
            "Times",
            {"fields": ("started_at", "ended_at", "phase_started_at", "created_at", "updated_at")},
        ),
    )
    always_read_only = (
        "status",
        "statistics_link",
        "phase",
        "started_at",
        "ended_at",
        "phase_started_at",
        "created_at",
        "updated_at",
    )

    def get_inlines(self, request, obj):
        return (*_INLINES_ABOVE_HISTORY, ExperimentChangeInline, *_INLINES_BELOW_HISTORY)

    @admin.display(description="weight of B", ordering="weight")
    def weight_percent(self, obj: Experiment) -> str:
        return f"{obj.weight * 100:g}%"

    @admin.display(description="statistics")
    def statistics_link(self, obj: Experiment) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:experiments_experiment_stats", args=[obj.pk])
        return format_html('<a href="{}">Statistics</a>', url)

    def get_readonly_fields(self, request, obj=None):
        # The name labels recorded predictions and the salt fixes the split: both only
        # change deliberately (a new experiment, a new phase).
        if obj is None:
            return self.always_read_only
        return (*self.always_read_only, "name", "salt")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # history and assignments are worth keeping
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        actor = actor_of(request)
        if not change:
            services.create_experiment(obj, actor=actor)
            return
        edits = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in (*services.EDITABLE_FIELDS, "weight")
        }
        if edits:
            current = Experiment.objects.get(pk=obj.pk)
            services.update_experiment(current, actor=actor, **edits)

    # --- status changes: admin actions on the list, buttons on the change page ---------------

    def _run(self, request: HttpRequest, experiment: Experiment, key: str, reason: str) -> bool:
        operation = OPERATIONS[key]
        try:
            operation.run(experiment, actor_of(request), reason)
        except services.ExperimentError as exc:
            self.message_user(request, f"{experiment}: {exc}", messages.ERROR)
            return False
        self.message_user(request, f"{experiment}: {operation.label.lower()} done.")
        return True

    def _run_selected(self, request: HttpRequest, queryset, key: str) -> None:
        for experiment in queryset:
            self._run(request, experiment, key, reason="")

    @admin.action(description="Start selected experiments", permissions=["change"])
    def start_selected(self, request, queryset):
        self._run_selected(request, queryset, "start")

    @admin.action(description="Pause selected experiments", permissions=["change"])
    def pause_selected(self, request, queryset):
        self._run_selected(request, queryset, "pause")

    @admin.action(description="Roll back selected experiments (everyone A)", permissions=["change"])
    def rollback_selected(self, request, queryset):
        self._run_selected(request, queryset, "rollback")

    @admin.action(description="Promote selected experiments (everyone B)", permissions=["change"])
    def promote_selected(self, request, queryset):
        self._run_selected(request, queryset, "promote")

    @admin.action(description="Start a new phase (re-draw visitors)", permissions=["change"])
    def new_phase_selected(self, request, queryset):
        self._run_selected(request, queryset, "new_phase")

    # --- extra pages ------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/stats/",
                wrap(self.stats_view),
                name="experiments_experiment_stats",
            ),
            path(
                "<path:object_id>/operation/<str:key>/",
                wrap(self.operation_view),
                name="experiments_experiment_operation",
            ),
            *super().get_urls(),
        ]

    def _experiment_or_404(self, request: HttpRequest, object_id: str) -> Experiment:
        experiment = self.get_object(request, object_id)
        if experiment is None:
            raise Http404("No such experiment.")
        return experiment

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.has_change_permission(request, obj):
            context["operations"] = [
                (key, operation)
                for key, operation in OPERATIONS.items()
                if operation_allowed(operation, obj)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def operation_view(self, request: HttpRequest, object_id: str, key: str) -> HttpResponse:
        experiment = self._experiment_or_404(request, object_id)
        if not self.has_change_permission(request, experiment):
            raise PermissionDenied
        operation = OPERATIONS.get(key)
        if operation is None:
            raise Http404("No such operation.")
        if request.method == "POST":
            reason = request.POST.get("reason", "").strip()[:1000]
            self._run(request, experiment, key, reason)
            change_url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": experiment,
            "operation": operation,
            "allowed": operation_allowed(operation, experiment),
            "title": f"{operation.label}: {experiment}",
        }
        return TemplateResponse(
            request, "admin/experiments/experiment/operation_confirm.html", context
        )

    def stats_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        experiment = self._experiment_or_404(request, object_id)
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        report = selectors.experiment_report(experiment)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": experiment,
            "title": f"Statistics: {experiment}",
            "report": report,
            "a": report.stats["A"],
            "b": report.stats["B"],
            "charts": [charts.rate_chart(report.stats), charts.latency_chart(report.stats)],
            "primary": report.primary,
            "primary_plot": charts.interval_plot(report.primary),
            "guardrails": [(r, charts.interval_plot(r)) for r in report.guardrails],
            "over_time": charts.time_chart(selectors.primary_over_time(experiment)),
            "split": charts.split_bar(report.sample_ratio),
        }
        return TemplateResponse(request, "admin/experiments/experiment/stats.html", context)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "visitor_id",
        "experiment",
        "phase",
        "variant",
        "source",
        "weight",
        "created_at",
    )
    list_filter = ("experiment", "variant", "source", "phase")
    search_fields = ("visitor_id",)
    list_select_related = ("experiment",)
    show_full_result_count = False  # counting millions of rows on every page is slow
