"""Predictions served to users and the feedback they gave on them."""

import uuid

from django.db import models

from webapp.experiments.models import ServedRequest


class Sentiment(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEGATIVE = "negative", "Negative"


EMOJI = {
    Sentiment.POSITIVE: "\N{SMILING FACE WITH SMILING EYES}",
    Sentiment.NEGATIVE: "\N{DISAPPOINTED FACE}",
}


class Prediction(ServedRequest):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    review = models.TextField()
    sentiment = models.CharField(max_length=8, choices=Sentiment.choices, db_index=True)
    confidence = models.FloatField()
    model_version = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"{self.sentiment} ({self.confidence:.2f}): {self.review[:60]}"

    @property
    def emoji(self) -> str:
        return EMOJI.get(Sentiment(self.sentiment), "")

    @property
    def confidence_percent(self) -> int:
        # Half-up, like the page script's Math.round, so both show the same number.
        return int(self.confidence * 100 + 0.5)


class Feedback(models.Model):
    # One feedback per prediction, enforced by the database (OneToOne is unique).
    prediction = models.OneToOneField(Prediction, on_delete=models.CASCADE, related_name="feedback")
    correct = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{'correct' if self.correct else 'wrong'}: {self.prediction_id}"


class FailedPrediction(ServedRequest):
    """A request the model service could not answer; kept so nothing the user sent is lost
    and so error rates per variant can be computed."""

    review = models.TextField()
    reason = models.CharField(max_length=32, db_index=True)

    def __str__(self) -> str:
        return f"{self.reason}: {self.review[:60]}"
