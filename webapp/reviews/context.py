"""What a request tells the reviews app: the request id, and with the experiment arm, whose
prediction a review becomes."""

from django.http import HttpRequest

from webapp import modelservice
from webapp.experiments.arm import recorded_arm
from webapp.reviews import services
from webapp.reviews.models import Prediction


def request_id_of(request: HttpRequest) -> str:
    return modelservice.request_id_from(request.headers.get("x-request-id"))


def analyze_review_for(request: HttpRequest, review: str) -> Prediction:
    """``services.analyze_review`` for a review sent in ``request``: stored under the
    request's recorded experiment arm, traced with its request id."""
    return services.analyze_review(
        review, arm=recorded_arm(request), request_id=request_id_of(request)
    )
