from django.contrib import admin

from webapp.batch.models import BatchJob


@admin.register(BatchJob)
class BatchJobAdmin(admin.ModelAdmin):
    list_display = ("id", "filename", "status", "processed_rows", "total_rows", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "filename")
    date_hierarchy = "created_at"
    # Jobs are written by the upload and the workers only; the admin watches them.
    readonly_fields = [field.name for field in BatchJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
