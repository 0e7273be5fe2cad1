"""The batch API's documented shapes (OpenAPI); see api.job_payload for the response."""

from rest_framework import serializers

from core.model_variants import MODEL_VARIANTS, STABLE


class UploadRequest(serializers.Serializer):
    file = serializers.FileField(
        help_text="UTF-8 CSV or TSV with a Review column (delimiter taken from the header)."
    )
    model = serializers.ChoiceField(
        choices=list(MODEL_VARIANTS),
        required=False,
        default=STABLE,
        help_text="The model that classifies the reviews: v1 (stable, the default) or v2.",
    )


class Progress(serializers.Serializer):
    processed = serializers.IntegerField(help_text="Reviews classified so far.")
    total = serializers.IntegerField(help_text="Reviews to classify.")
    percent = serializers.FloatField()


class Skipped(serializers.Serializer):
    empty = serializers.IntegerField(help_text="Empty rows, skipped.")
    too_long = serializers.IntegerField(help_text="Reviews over MAX_REVIEW_CHARS, skipped.")


class JobError(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    row = serializers.IntegerField(required=False)


class ResultSummary(serializers.Serializer):
    positive = serializers.IntegerField()
    negative = serializers.IntegerField()
    share_positive = serializers.FloatField(allow_null=True)


class JobResponse(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "running", "done", "failed", "cancelled"])
    filename = serializers.CharField()
    progress = Progress()
    skipped = Skipped()
    notice = serializers.CharField(allow_null=True, help_text="What a running job waits for.")
    summary = ResultSummary(allow_null=True, help_text="Set once the job is done.")
    model_variant = serializers.ChoiceField(
        choices=list(MODEL_VARIANTS), help_text="The model chosen for the job."
    )
    model_version = serializers.CharField(allow_null=True)
    results_url = serializers.CharField(allow_null=True, help_text="Set once the job is done.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # The response's "errors" key, added here: as a class attribute it would hide
        # Serializer.errors (the validation errors) on every instance.
        fields = {}
        for name, field in super().get_fields().items():
            fields[name] = field
            if name == "skipped":
                fields["errors"] = JobError(many=True)
        return fields


class JobListResponse(serializers.Serializer):
    jobs = JobResponse(many=True)


class ProgressResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=["queued", "running", "done", "failed"])
    processed = serializers.IntegerField(help_text="Reviews classified so far.")
    total = serializers.IntegerField(help_text="Reviews to classify.")
    notice = serializers.CharField(allow_null=True, help_text="What a running job waits for.")
