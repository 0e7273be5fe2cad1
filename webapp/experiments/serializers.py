"""The stats API's response, for the OpenAPI schema (export.report_dict builds it)."""

from rest_framework import serializers


class IntervalSerializer(serializers.Serializer):
    low = serializers.FloatField(help_text="B - A, lower end")
    high = serializers.FloatField()
    p_value = serializers.FloatField()
    method = serializers.CharField()


class ArmSerializer(serializers.Serializer):
    visitors = serializers.IntegerField(help_text="Visitors with a request in the window")
    numerator = serializers.FloatField(
        allow_null=True, help_text="Sum over visitors; null for a quantile"
    )
    denominator = serializers.FloatField(help_text="Sum over visitors (events for a quantile)")
    estimate = serializers.FloatField(allow_null=True)


class PlanningSerializer(serializers.Serializer):
    minimum_detectable_effect = serializers.FloatField(
        allow_null=True, help_text="At the current sample size, 80% power, two-sided 5%"
    )
    effect = serializers.FloatField(allow_null=True, help_text="10% of A's estimate")
    visitors_needed = serializers.IntegerField(
        allow_null=True, help_text="Visitors (both arms) to detect `effect` at 80% power"
    )


class MetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    definition = serializers.CharField()
    role = serializers.ChoiceField(choices=["primary", "guardrail"])
    direction = serializers.ChoiceField(choices=["higher", "lower"], help_text="which is better")
    unit = serializers.ChoiceField(choices=["visitor"], help_text="the unit of analysis")
    estimate_unit = serializers.ChoiceField(choices=["fraction", "ms"])
    method = serializers.CharField()
    arms = serializers.DictField(child=ArmSerializer(), help_text="keys A and B")
    difference = serializers.FloatField(allow_null=True, help_text="B - A, as a fraction (or ms)")
    fixed = IntervalSerializer(allow_null=True)
    sequential = IntervalSerializer(allow_null=True)
    decided_by = serializers.ChoiceField(choices=["sequential", "fixed"])
    verdict = serializers.ChoiceField(choices=["better", "worse", "unclear"])
    planning = PlanningSerializer()


class SampleRatioSerializer(serializers.Serializer):
    observed = serializers.DictField(child=serializers.IntegerField())
    expected = serializers.DictField(child=serializers.FloatField())
    p_value = serializers.FloatField()
    flagged = serializers.BooleanField()


class StatsResponse(serializers.Serializer):
    experiment = serializers.CharField()
    status = serializers.CharField()
    phase = serializers.IntegerField()
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    unit = serializers.ChoiceField(choices=["visitor"])
    confidence = serializers.FloatField()
    decided_by = serializers.ChoiceField(choices=["sequential", "fixed"])
    metrics = MetricSerializer(many=True)
    sample_ratio = SampleRatioSerializer(allow_null=True)
