"""Read-only admin views of what users sent and said: records, not things to edit."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from webapp.admin import ReadOnlyAdminMixin
from webapp.reviews.models import FailedPrediction, Feedback, Prediction


class RecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    date_hierarchy = "created_at"
    list_per_page = 50


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


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    search_fields = ["review"]

    @admin.display(description="review")
    def review_excerpt(self, obj: Prediction) -> str:
        return _short(obj.review)

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
    search_fields = ["prediction__review"]

    @admin.display(description="review")
    def review_excerpt(self, obj: Feedback) -> str:
        return _short(obj.prediction.review)

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
    search_fields = ["review"]

    @admin.display(description="review")
    def review_excerpt(self, obj: FailedPrediction) -> str:
        return _short(obj.review)
