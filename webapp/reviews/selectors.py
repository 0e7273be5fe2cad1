"""Reads of the reviews app."""

import uuid
from collections.abc import Iterator

from webapp.reviews.models import Feedback, Prediction, Sentiment


def prediction_with_feedback(prediction_id: uuid.UUID) -> Prediction | None:
    return Prediction.objects.select_related("feedback").filter(pk=prediction_id).first()


def feedback_of(prediction: Prediction) -> Feedback | None:
    try:
        return prediction.feedback
    except Feedback.DoesNotExist:
        return None


def labelled_reviews() -> Iterator[tuple[str, int]]:
    """(review, liked) pairs learned from feedback, oldest first: the predicted label when
    the user said it was correct, the opposite one when they said it was wrong."""
    rows = (
        Feedback.objects.order_by("created_at", "pk")
        .values_list("prediction__review", "prediction__sentiment", "correct")
        .iterator(chunk_size=2000)
    )
    for review, sentiment, correct in rows:
        positive = sentiment == Sentiment.POSITIVE
        yield review, int(positive if correct else not positive)
