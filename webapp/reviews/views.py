"""The review page: works as plain HTML forms; static/reviews/app.js enhances it in place."""

import uuid

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core import review
from webapp import modelservice
from webapp.reviews import selectors, services
from webapp.reviews.context import analyze_review_for
from webapp.reviews.forms import FeedbackForm, ReviewForm
from webapp.reviews.models import Prediction


def _see_result(prediction: Prediction) -> HttpResponseRedirect:
    """Post/Redirect/Get: reloading the result page does not send the form again."""
    url = reverse("reviews:prediction", kwargs={"prediction_id": prediction.id})
    response = HttpResponseRedirect(f"{url}#result")
    response.status_code = 303  # "see other": the browser follows with a GET
    return response


def _page(request: HttpRequest, form: ReviewForm, *, status: int = 200, **context) -> HttpResponse:
    context = {"form": form, "max_chars": review.max_chars(), **context}
    return render(request, "reviews/index.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, ReviewForm())
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        prediction = analyze_review_for(request, form.cleaned_data["review"])
    except modelservice.ModelServiceError:
        # The form keeps the text, so the user can simply try again.
        return _page(request, form, status=503, model_unavailable=True)
    return _see_result(prediction)


def _prediction_or_404(prediction_id: uuid.UUID) -> Prediction:
    prediction = selectors.prediction_with_feedback(prediction_id)
    if prediction is None:
        raise Http404("No such prediction.")
    return prediction


@require_http_methods(["GET", "HEAD"])
def prediction_page(request: HttpRequest, prediction_id: uuid.UUID) -> HttpResponse:
    prediction = _prediction_or_404(prediction_id)
    return _page(
        request,
        ReviewForm(),
        prediction=prediction,
        feedback=selectors.feedback_of(prediction),
    )


@require_POST
def feedback(request: HttpRequest, prediction_id: uuid.UUID) -> HttpResponse:
    prediction = _prediction_or_404(prediction_id)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            ReviewForm(),
            status=400,
            prediction=prediction,
            feedback=selectors.feedback_of(prediction),
            feedback_error=True,
        )
    try:
        services.record_feedback(prediction.id, form.cleaned_data["correct"])
    except services.FeedbackAlreadyGiven:
        pass  # the result page shows the answer that was kept
    except Prediction.DoesNotExist:
        raise Http404("No such prediction.") from None
    return _see_result(prediction)
