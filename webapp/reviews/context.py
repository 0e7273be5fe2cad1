"""What a request tells the reviews app: the experiment arm and the request id."""

from django.http import HttpRequest

from webapp import modelservice
from webapp.reviews.services import Assignment


def assignment_of(request: HttpRequest) -> Assignment:
    # Set by the experiments middleware; absent when it is not installed.
    return Assignment.of(getattr(request, "experiment", None))


def request_id_of(request: HttpRequest) -> str:
    return modelservice.request_id_from(request.headers.get("x-request-id"))
