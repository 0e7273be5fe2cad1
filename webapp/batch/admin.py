from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from webapp.admin import ReadOnlyAdminMixin
from webapp.batch import services
from webapp.batch.models import ACTIVE_STATUSES, BatchJob


@admin.register(BatchJob)
class BatchJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "filename", "status", "processed_rows", "total_rows", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "filename", "client")
    date_hierarchy = "created_at"
    # Jobs are written by the upload and the workers only; the admin watches them, can
    # cancel a running one, and can delete one with its uploaded reviews.
    readonly_fields = [field.name for field in BatchJob._meta.fields]
    can_delete = True
    actions = ["cancel_jobs"]

    @admin.action(description="Cancel the selected jobs (what was classified is kept)")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[BatchJob]) -> None:
        active = queryset.filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True)
        cancelled = sum(services.cancel_job(pk) for pk in active)
        self.message_user(
            request, f"{cancelled} job(s) cancelled; they stop after their current chunk."
        )
        if cancelled < queryset.count():
            self.message_user(
                request, "Jobs that had already ended were left as they were.", messages.WARNING
            )
