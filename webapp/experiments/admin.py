"""Experiments in the admin: edit, start, pause, roll back, promote, re-draw, read statistics.

Every change goes through ``services`` so it lands in the experiment's history.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from webapp.admin import ReadOnlyAdminMixin
from webapp.experiments import charts, selectors, services
from webapp.experiments.models import (
    CANDIDATE_MODELS,
    Assignment,
    Delivery,
    Experiment,
    ExperimentChange,
    Status,
    share,
)


@dataclass(frozen=True)
class Operation:
    label: str
    done: str  # how the message after it starts: "Rolled back frontend-v2: ..."
    target: str | None  # the status it leads to; None for a new phase (any status)
    service: Callable[..., Experiment]  # called with the experiment and actor=
    reason_keyword: str | None = None  # the service's keyword for the reason asked for, if any

    @property
    def asks_reason(self) -> bool:
        return self.reason_keyword is not None

    def run(self, experiment: Experiment, actor: str, reason: str) -> Experiment:
        if self.reason_keyword is None:
            return self.service(experiment, actor=actor)
        return self.service(experiment, actor=actor, **{self.reason_keyword: reason})


OPERATIONS = {
    "start": Operation("Start", "Started", Status.RUNNING, services.start_experiment),
    "pause": Operation("Pause", "Paused", Status.PAUSED, services.pause_experiment),
    "rollback": Operation(
        "Roll back", "Rolled back", Status.ROLLED_BACK, services.rollback_experiment, "reason"
    ),
    "promote": Operation(
        "Promote", "Promoted", Status.PROMOTED, services.promote_experiment, "note"
    ),
    "new_phase": Operation("New phase", "Started a new phase of", None, services.start_new_phase),
}


def _start_explanation(experiment: Experiment) -> str:
    plan = experiment.ramp_weights
    weight = plan[0] if experiment.status == Status.DRAFT and plan else experiment.weight
    text = f"New visitors are split from the next request on: B gets {share(weight)} of them."
    if experiment.status == Status.DRAFT:
        return text
    return (
        f"{text} Visitors already assigned in phase {experiment.phase} get their variant "
        "back, so visitors moved to A by a rollback or to B by a promotion return to it."
    )


def _promote_explanation(experiment: Experiment) -> str:
    text = (
        "Everyone gets B from the next request on, including visitors assigned A (their "
        "cookie is rewritten to B). Statistics stop at this moment."
    )
    if experiment.status == Status.ROLLED_BACK:
        return (
            f"{text} The experiment goes straight from rolled back to promoted: the split "
            "is not restarted, so no visitor is sent back to the split first."
        )
    return text


EXPLANATIONS: dict[str, Callable[[Experiment], str]] = {
    "start": _start_explanation,
    "pause": lambda exp: (
        "Everyone is served A from the next request on and nothing is recorded for the "
        "experiment. Assignments are kept: starting again gives every visitor their variant "
        "back."
    ),
    "rollback": lambda exp: (
        "Everyone gets A from the next request on, including visitors assigned B (their "
        "cookie is rewritten to A). Statistics stop at this moment; B can still be "
        "promoted later without restarting the split."
    ),
    "promote": _promote_explanation,
    "new_phase": lambda exp: (
        f"A new salt re-draws every visitor on their next request: phase {exp.phase + 1}, "
        f"B gets {share(exp.weight)} of them. Statistics restart from this moment; earlier "
        "assignments stay for the record."
    ),
}


def operation_allowed(operation: Operation, experiment: Experiment) -> bool:
    if operation.target is None:
        return True
    return experiment.status in services.ALLOWED_FROM[operation.target]


def state_of(experiment: Experiment) -> str:
    """What a confirmation page showed of the experiment, to notice changes before acting."""
    return f"{experiment.status}:{experiment.phase}:{experiment.weight!r}:{experiment.ramp_plan}"


def actor_of(request: HttpRequest) -> str:
    return request.user.get_username()


class ExperimentChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The experiment's history: the one record of who changed what (the admin's own
    "History" link leads here too)."""

    model = ExperimentChange
    verbose_name_plural = "History"
    fields = ("created_at", "actor", "action", "field", "from_value", "to_value", "note")
    readonly_fields = fields
    extra = 0
    show_change_link = False

    @admin.display(description="from")
    def from_value(self, obj: ExperimentChange) -> str:
        return obj.old_display

    @admin.display(description="to")
    def to_value(self, obj: ExperimentChange) -> str:
        return obj.new_display


# Sections other apps put on the experiment's page, above and below its history. They add
# them from their own admin module (the canary guard does), so this app imports none.
_INLINES_ABOVE_HISTORY: list[type[InlineModelAdmin]] = []
_INLINES_BELOW_HISTORY: list[type[InlineModelAdmin]] = []


def add_inline(inline: type[InlineModelAdmin], *, above_history: bool = False) -> None:
    """Show ``inline`` on every experiment's admin page."""
    section = _INLINES_ABOVE_HISTORY if above_history else _INLINES_BELOW_HISTORY
    if inline not in section:
        section.append(inline)


def _bulk_action(key: str, description: str) -> Callable[..., None]:
    """An admin list action running the operation ``key`` on every selected experiment."""

    @admin.action(description=description, permissions=["change"])
    def action(model_admin: "ExperimentAdmin", request: HttpRequest, queryset: QuerySet) -> None:
        model_admin.run_selected(request, queryset, key)

    action.__name__ = f"{key}_selected"
    return action


class ExperimentForm(forms.ModelForm):
    # A choice, so a model that does not exist cannot be typed in.
    candidate_model = forms.ChoiceField(
        label="Model of B",
        required=False,
        choices=[("", "— (frontend experiments)"), *((m, m) for m in CANDIDATE_MODELS)],
        help_text=Experiment._meta.get_field("candidate_model").help_text,
    )

    class Meta:
        model = Experiment
        # The admin's fieldsets decide the fields shown; these are the ones clean() reads.
        fields = ("kind", "candidate_model", "steers_routing")

    def clean(self):
        cleaned = super().clean()
        # Kind is read-only on the change page, which leaves its constraint unchecked there.
        kind = cleaned.get("kind") or self.instance.kind
        if cleaned.get("steers_routing") and selectors.another_steers(kind, self.instance.pk):
            self.add_error(
                "steers_routing", "Another experiment of this kind already steers routing."
            )
        return cleaned


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    change_form_template = "admin/experiments/experiment/change_form.html"
    list_display = (
        "name",
        "kind",
        "status",
        "weight_percent",
        "phase",
        "steers_routing",
        "started_at",
        "statistics_link",
    )
    list_filter = ("kind", "status", "steers_routing")
    search_fields = ("name", "description")
    actions = (
        "start_selected",
        "pause_selected",
        "rollback_selected",
        "promote_selected",
        "new_phase_selected",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "kind",
                    "candidate_model",
                    "description",
                    "status",
                    "statistics_link",
                )
            },
        ),
        (
            "Traffic",
            {
                "fields": (
                    "weight",
                    "ramp_plan",
                    "ramp_healthy_checks",
                    "ramp_progress",
                    "steers_routing",
                    "phase",
                    "salt",
                )
            },
        ),
        ("Analysis", {"fields": ("analysis_decision",)}),
        (
            "Times",
            {"fields": ("started_at", "ended_at", "phase_started_at", "created_at", "updated_at")},
        ),
    )
    always_read_only = (
        "status",
        "statistics_link",
        "ramp_progress",
        "phase",
        "started_at",
        "ended_at",
        "phase_started_at",
        "created_at",
        "updated_at",
    )

    def get_inlines(self, request: HttpRequest, obj):
        return (*_INLINES_ABOVE_HISTORY, ExperimentChangeInline, *_INLINES_BELOW_HISTORY)

    @admin.display(description="weight of B", ordering="weight")
    def weight_percent(self, obj: Experiment) -> str:
        return f"{obj.weight * 100:g}%"

    @admin.display(description="ramp")
    def ramp_progress(self, obj: Experiment) -> str:
        return obj.describe_ramp() if obj.pk else "—"

    @admin.display(description="statistics")
    def statistics_link(self, obj: Experiment) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:experiments_experiment_stats", args=[obj.pk])
        return format_html('<a href="{}">Statistics</a>', url)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # The name labels recorded predictions and the salt fixes the split: both only
        # change deliberately (a new experiment, a new phase).
        if obj is None:
            return self.always_read_only
        return (*self.always_read_only, "name", "kind", "candidate_model", "salt")

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # history and assignments are worth keeping
        return actions

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.status != Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj, form, change) -> None:
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
        before = Experiment.objects.get(pk=experiment.pk)
        try:
            after = operation.run(before, actor_of(request), reason)
        except services.ExperimentError as exc:
            self.message_user(
                request, f"Could not {operation.label.lower()} {experiment}: {exc}", messages.ERROR
            )
            return False
        if operation.target is not None and before.status == after.status:
            self.message_user(
                request,
                f"Nothing changed: {experiment} is already {after.get_status_display().lower()}.",
                messages.WARNING,
            )
            return False
        self.message_user(request, f"{operation.done} {experiment}: {services.outcome(after)}.")
        return True

    def run_selected(self, request: HttpRequest, queryset, key: str) -> None:
        for experiment in queryset:
            self._run(request, experiment, key, reason="")

    start_selected = _bulk_action("start", "Start selected experiments")
    pause_selected = _bulk_action("pause", "Pause selected experiments")
    rollback_selected = _bulk_action("rollback", "Roll back selected experiments (everyone A)")
    promote_selected = _bulk_action("promote", "Promote selected experiments (everyone B)")
    new_phase_selected = _bulk_action("new_phase", "Start a new phase (re-draw visitors)")

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

    def render_change_form(  # noqa: PLR0917 - Django calls it with this signature
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
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
        changed_meanwhile = False
        if request.method == "POST":
            # The page showed a state; if the guard or someone else changed it since, show
            # the new one instead of acting on what the operator did not see.
            changed_meanwhile = request.POST.get("seen", state_of(experiment)) != state_of(
                experiment
            )
            if not changed_meanwhile:
                reason = request.POST.get("reason", "").strip()[:1000]
                self._run(request, experiment, key, reason)
                change_url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": experiment,
            "operation": operation,
            "explanation": EXPLANATIONS[key](experiment),
            "exposure": experiment.exposure(),
            "ramp": experiment.describe_ramp(),
            "seen": state_of(experiment),
            "changed_meanwhile": changed_meanwhile,
            "allowed": operation_allowed(operation, experiment),
            "title": f"{operation.label}: {experiment}",
        }
        return TemplateResponse(
            request, "admin/experiments/experiment/operation_confirm.html", context
        )

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        # One history: the experiment's own, on its page (it records the guard's changes
        # and the reasons, which the admin's log does not).
        experiment = self._experiment_or_404(request, object_id)
        change_url = reverse("admin:experiments_experiment_change", args=[experiment.pk])
        return HttpResponseRedirect(f"{change_url}#changes-group")

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


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "experiment",
        "event",
        "status",
        "attempts",
        "response_code",
        "target",
    )
    list_filter = ("status", "event")
    search_fields = ("experiment",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "experiment",
        "event",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "target",
        "payload",
        "created_at",
        "updated_at",
        "delivered_at",
    )
