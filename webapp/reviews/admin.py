"""Read-only admin views of what users sent and said: records, not things to edit."""

from operator import attrgetter

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from webapp.admin import ReadOnlyAdminMixin
from webapp.reviews.models import FailedPrediction, Feedback, Prediction

EXCERPT_CHARS = 80


class RecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A record of what a user sent: searched by its review, and listed with an excerpt."""

    date_hierarchy = "created_at"
    list_per_page = 50
    review_lookup = "review"  # where the record's review text is, as a query lookup

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [self.review_lookup]

    @admin.display(description="review")
    def review_excerpt(self, obj: Model) -> str:
        text: str = attrgetter(self.review_lookup.replace("__", "."))(obj)
        return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


class FeedbackFilter(admin.SimpleListFilter):
    title = "feedback"
    parameter_name = "feedback"

    def lookups(self, request: HttpRequest, model_admin):
        return [("correct", "Correct"), ("wrong", "Wrong"), ("none", "No feedback")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        match self.value():
            case "correct":
                return queryset.filter(feedback__correct=True)
            case "wrong":
                return queryset.filter(feedback__correct=False)
            case "none":
                return queryset.filter(feedback__isnull=True)
        return queryset


@admin.register(Prediction)
class PredictionAdmin(RecordAdmin):
    list_display = [
        "created_at",
        "review_excerpt",
        "sentiment",
        "confidence",
        "feedback_given",
        "model_version",
        "app_version",
        "app_variant",
        "experiment",
        "variant",
    ]
    list_filter = [
        "sentiment",
        FeedbackFilter,
        "app_version",
        "app_variant",
        "model_version",
        "experiment",
        "variant",
    ]
    list_select_related = ["feedback"]

    @admin.display(description="feedback")
    def feedback_given(self, obj: Prediction) -> str | None:
        try:
            return "correct" if obj.feedback.correct else "wrong"
        except Feedback.DoesNotExist:
            return None  # shown as the admin's empty value


@admin.register(Feedback)
class FeedbackAdmin(RecordAdmin):
    list_display = ["created_at", "correct", "predicted", "review_excerpt", "model_version"]
    list_filter = [
        "correct",
        "prediction__sentiment",
        "prediction__app_version",
        "prediction__app_variant",
        "prediction__model_version",
        "prediction__variant",
    ]
    list_select_related = ["prediction"]
    review_lookup = "prediction__review"

    @admin.display(description="predicted", ordering="prediction__sentiment")
    def predicted(self, obj: Feedback) -> str:
        return obj.prediction.sentiment

    @admin.display(description="model version", ordering="prediction__model_version")
    def model_version(self, obj: Feedback) -> str:
        return obj.prediction.model_version


@admin.register(FailedPrediction)
class FailedPredictionAdmin(RecordAdmin):
    list_display = [
        "created_at",
        "reason",
        "review_excerpt",
        "latency_ms",
        "app_version",
        "app_variant",
        "experiment",
        "variant",
    ]
    list_filter = ["reason", "app_version", "app_variant", "experiment", "variant"]
