from django.conf import settings
from rest_framework import serializers

from core.fields import ReviewField


class AnalyzeRequest(serializers.Serializer):
    review = ReviewField()


class BatchRequest(serializers.Serializer):
    reviews = serializers.ListField(
        child=ReviewField(),
        allow_empty=False,
        min_length=1,
        max_length=settings.MAX_BATCH_REVIEWS,
    )


class PredictionOut(serializers.Serializer):
    sentiment = serializers.ChoiceField(choices=["positive", "negative"])
    confidence = serializers.FloatField(min_value=0, max_value=1)


class AnalyzeResponse(PredictionOut):
    model_version = serializers.CharField()
    model_variant = serializers.CharField(help_text="which model answered: v1 or v2")


class BatchResponse(serializers.Serializer):
    results = PredictionOut(many=True)
    model_version = serializers.CharField()
    model_variant = serializers.CharField(help_text="which model answered: v1 or v2")


class VersionResponse(serializers.Serializer):
    service = serializers.CharField()
    service_version = serializers.CharField()
    model_variant = serializers.CharField()
    model_version = serializers.CharField(allow_null=True)
    model_sha256 = serializers.CharField(allow_null=True)
    model_metrics = serializers.DictField(allow_null=True)


class HealthResponse(serializers.Serializer):
    status = serializers.CharField()
    model_version = serializers.CharField(required=False)
