from django.contrib import admin

from webapp.admin import ReadOnlyAdminMixin
from webapp.batch.models import BatchJob


@admin.register(BatchJob)
class BatchJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "filename", "status", "processed_rows", "total_rows", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "filename")
    date_hierarchy = "created_at"
    # Jobs are written by the upload and the workers only; the admin watches them, and can
    # delete one with its uploaded reviews.
    readonly_fields = [field.name for field in BatchJob._meta.fields]
    can_delete = True
