"""What a request tells the reviews app: the request id, and with the experiment arms, which
model answers a review and whose prediction it becomes."""

from django.http import HttpRequest

from webapp import modelservice
from webapp.experiments.arm import model_arm_of, recorded_arm
from webapp.reviews import services
from webapp.reviews.models import Prediction


def request_id_of(request: HttpRequest) -> str:
    return modelservice.request_id_from(request.headers.get("x-request-id"))


def analyze_review_for(request: HttpRequest, review: str) -> Prediction:
    """``services.analyze_review`` for a review sent in ``request``: answered by the model
    of the request's model arm, stored under its recorded arms, traced with its request id."""
    return services.analyze_review(
        review,
        arm=recorded_arm(request),
        model_arm=model_arm_of(request),
        request_id=request_id_of(request),
    )
