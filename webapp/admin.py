"""What the admin pages of every app share. Registers nothing itself."""

from django.contrib.admin.options import BaseModelAdmin
from django.http import HttpRequest


class ReadOnlyAdminMixin(BaseModelAdmin):
    """For records the app writes itself: the admin shows them, nobody adds or edits them by
    hand. Deleting is refused too unless ``can_delete`` is set (an inline's own switch, with
    the same meaning on a model admin).

    Put it first: ``class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin)``.
    """

    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.can_delete and super().has_delete_permission(request, obj)
