from rest_framework import serializers

from core.fields import ReviewField
from core.model_variants import MODEL_VARIANTS


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true or false: "yes", "true", 1 or 0 are refused, not guessed at."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictUUIDField(serializers.UUIDField):
    """A UUID written as a string; numbers are not turned into ids."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class AnalyzeRequest(serializers.Serializer):
    review = ReviewField()

    class Meta:
        ref_name = "Analyze"  # the schema adds "Request": AnalyzeRequest


class AnalyzeResponse(serializers.Serializer):
    prediction_id = serializers.UUIDField()
    sentiment = serializers.ChoiceField(choices=["positive", "negative"])
    confidence = serializers.FloatField(min_value=0, max_value=1)
    emoji = serializers.CharField()
    app_version = serializers.CharField()
    model_version = serializers.CharField()
    model_variant = serializers.ChoiceField(
        choices=list(MODEL_VARIANTS), help_text="The model that answered: v1 or v2."
    )
    variant = serializers.ChoiceField(
        choices=["A", "B"], allow_null=True, help_text="Experiment variant; null outside one."
    )


class FeedbackRequest(serializers.Serializer):
    prediction_id = StrictUUIDField()
    correct = StrictBooleanField(help_text="true if the predicted sentiment was right.")

    class Meta:
        ref_name = "Feedback"


class FeedbackResponse(serializers.Serializer):
    prediction_id = serializers.UUIDField()
    correct = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class VersionResponse(serializers.Serializer):
    app_version = serializers.CharField()
    app_variant = serializers.ChoiceField(choices=["v1", "v2"])
    variant = serializers.ChoiceField(choices=["A", "B"], allow_null=True)
    model_variant = serializers.ChoiceField(
        choices=list(MODEL_VARIANTS),
        help_text="The model that answers this client's reviews (its model experiment arm).",
    )
    model_service = serializers.DictField(
        allow_null=True, help_text="That model's /version answer; null when unreachable."
    )
    model_service_error = serializers.CharField(
        allow_null=True,
        help_text="Why the model service could not answer (unavailable, timeout, http_error, "
        "bad_response); null when it did.",
    )


class HealthResponse(serializers.Serializer):
    status = serializers.CharField()
