"""OpenAPI description of the Open Inference Protocol endpoints (drf-spectacular).

The serializers only document; requests are validated by modelsvc/oip/protocol.py. Component
names follow the protocol's own REST definition (InferenceRequest, MetadataTensor, ...).
"""

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from core import review
from modelsvc.config import MODEL_NAME
from modelsvc.oip.protocol import INPUT_NAME, OUTPUTS

TAG = "Open Inference Protocol (v2)"


class InferenceErrorResponse(serializers.Serializer):
    error = serializers.CharField(help_text="What was wrong, for a person to read.")


class Parameters(serializers.Serializer):
    content_type = serializers.ChoiceField(
        choices=["str"], required=False, allow_null=True, help_text='Only text ("str").'
    )


@extend_schema_field({"type": "string", "enum": [INPUT_NAME]})
class InputNameField(serializers.CharField):
    """The one input's name, inline (an enum component would clash with the outputs')."""


@extend_schema_field(review.json_schema())
class ReviewTextField(serializers.CharField):
    """One review, as /analyze takes it."""


# The protocol's "data" key, added in get_fields(): as a class attribute it would hide
# Serializer.data (the serialized output) on every instance. No docstring: drf-spectacular
# would publish it as the description of every subclass.
class DataKeySerializer(serializers.Serializer):
    def data_field(self) -> serializers.Field:
        raise NotImplementedError

    def get_fields(self) -> dict[str, serializers.Field]:
        return {**super().get_fields(), "data": self.data_field()}


class RequestInput(DataKeySerializer):
    name = InputNameField()
    shape = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=settings.MAX_BATCH_REVIEWS),
        min_length=1,
        max_length=2,
        help_text="[N] or [N, 1]: N reviews.",
    )
    datatype = serializers.ChoiceField(choices=["BYTES"])
    parameters = Parameters(required=False, allow_null=True)

    def data_field(self) -> serializers.Field:
        return serializers.ListField(
            child=ReviewTextField(),
            min_length=1,
            max_length=settings.MAX_BATCH_REVIEWS,
            help_text="The reviews, one string each (rows of one string for shape [N, 1]).",
        )


class RequestOutput(serializers.Serializer):
    name = serializers.ChoiceField(choices=list(OUTPUTS))


class InferenceRequest(serializers.Serializer):
    # Optional fields may also be null: clients built on pydantic models send them so.
    id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="Echoed in the response."
    )
    parameters = Parameters(required=False, allow_null=True)
    inputs = serializers.ListField(child=RequestInput(), min_length=1, max_length=1)
    outputs = RequestOutput(
        many=True,
        required=False,
        allow_null=True,
        help_text="Outputs to return; all of them when omitted, null or empty.",
    )


class ResponseOutput(DataKeySerializer):
    name = serializers.CharField()
    datatype = serializers.ChoiceField(choices=["BYTES", "FP64"])
    shape = serializers.ListField(child=serializers.IntegerField())
    parameters = serializers.DictField(required=False)

    def data_field(self) -> serializers.Field:
        return serializers.ListField(
            child=serializers.JSONField(), help_text="Row-major, flattened tensor data."
        )


class InferenceResponse(serializers.Serializer):
    model_name = serializers.CharField()
    model_version = serializers.CharField()
    id = serializers.CharField()
    parameters = serializers.DictField(help_text='{"model_variant": "v1" or "v2"}')
    outputs = ResponseOutput(many=True)


class MetadataTensor(serializers.Serializer):
    name = serializers.CharField()
    datatype = serializers.CharField()
    shape = serializers.ListField(child=serializers.IntegerField())


class MetadataModelResponse(serializers.Serializer):
    name = serializers.CharField()
    versions = serializers.ListField(child=serializers.CharField())
    platform = serializers.CharField()
    inputs = MetadataTensor(many=True)
    outputs = MetadataTensor(many=True)


class MetadataServerResponse(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    extensions = serializers.ListField(child=serializers.CharField())


class LiveServerResponse(serializers.Serializer):
    live = serializers.BooleanField()


class ReadyServerResponse(serializers.Serializer):
    ready = serializers.BooleanField()


class ReadyModelResponse(serializers.Serializer):
    name = serializers.CharField()
    ready = serializers.BooleanField()


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(InferenceErrorResponse) for code in codes}


_MODEL_PARAMS = [
    OpenApiParameter("name", str, OpenApiParameter.PATH, description=f'"{MODEL_NAME}"'),
]

server_live = extend_schema(
    tags=[TAG], summary="Server liveness", responses={200: LiveServerResponse}
)
server_ready = extend_schema(
    tags=[TAG],
    summary="Server readiness (503 until the model is loaded)",
    responses={200: ReadyServerResponse, 503: ReadyServerResponse},
)
server_metadata = extend_schema(
    tags=[TAG], summary="Server metadata", responses={200: MetadataServerResponse}
)
model_metadata = extend_schema(
    tags=[TAG],
    summary="Model metadata: inputs, outputs, versions",
    parameters=_MODEL_PARAMS,
    responses={200: MetadataModelResponse, **_errors(404, 503)},
)
model_ready = extend_schema(
    tags=[TAG],
    summary="Model readiness",
    parameters=_MODEL_PARAMS,
    responses={200: ReadyModelResponse, **_errors(404, 503)},
)
infer = extend_schema(
    tags=[TAG],
    summary="Classify reviews (Open Inference Protocol)",
    description=(
        f"Takes one BYTES input {INPUT_NAME!r} of N reviews (at most "
        f"{settings.MAX_BATCH_REVIEWS}), its shape [N] or [N, 1] matching the data, each "
        "review a non-blank string; returns the outputs named in `outputs`, or all of "
        "them: `label` (BYTES [N], positive|negative), `confidence` (FP64 [N]) and "
        "`predict_proba` (FP64 [N, 2], columns negative, positive)."
    ),
    parameters=_MODEL_PARAMS,
    request=InferenceRequest,
    responses={200: InferenceResponse, **_errors(400, 404, 413, 415, 503)},
    examples=[
        OpenApiExample(
            "Two reviews, probabilities only",
            request_only=True,
            value={
                "id": "42",
                "inputs": [
                    {
                        "name": INPUT_NAME,
                        "shape": [2],
                        "datatype": "BYTES",
                        "parameters": {"content_type": "str"},
                        "data": ["Loved the food.", "Cold and bland."],
                    }
                ],
                "outputs": [{"name": "predict_proba"}],
            },
        )
    ],
)
