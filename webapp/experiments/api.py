"""The stats API: an experiment's metrics, B against A at the visitor level, for staff.

Signed-in staff (the admin's session) or a staff user's token (``Authorization: Token
<key>``, created in the admin under *Auth Token* or with ``manage.py drf_create_token``).
"""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.downloads import DownloadView
from core.errors import ApiError
from core.schema import errors
from webapp.experiments import export, selectors
from webapp.experiments import serializers as s
from webapp.experiments.models import Experiment


class StaffOnly(APIView):
    # Token first: an anonymous request gets 401 with WWW-Authenticate, not a bare 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAdminUser]


def report_of(name: str) -> selectors.ExperimentReport:
    experiment = Experiment.objects.filter(name=name).first()
    if experiment is None:
        raise ApiError("not_found", "No experiment has this name.", 404)
    return selectors.experiment_report(experiment)


class StatsView(StaffOnly):
    @extend_schema(
        responses={200: s.StatsResponse, **errors(401, 403, 404)},
        summary="An experiment's metrics, B against A, with the visitor as the unit",
        description="Every metric (primary and guardrails) with per-arm visitors, "
        "numerator, denominator and estimate; the difference B - A with its fixed-horizon "
        "(delta method) and sequential (always-valid) intervals and p-values. Staff only: "
        "session or `Authorization: Token <key>`.",
    )
    def get(self, request: Request, name: str) -> Response:
        return Response(export.report_dict(report_of(name)))


class StatsCsvView(DownloadView, StaffOnly):
    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One row per metric: " + ",".join(export.CSV_HEADER),
            ),
            **errors(401, 403, 404),
        },
        summary="The same figures as CSV",
        operation_id="api_experiment_stats_csv",
    )
    def get(self, request: Request, name: str) -> StreamingHttpResponse:
        report = report_of(name)
        response = StreamingHttpResponse(
            export.report_csv_lines(report), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{report.experiment.name}-stats.csv"'
        )
        return response
