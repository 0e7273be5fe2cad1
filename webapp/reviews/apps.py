from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "webapp.reviews"
    label = "reviews"
    verbose_name = "Reviews and predictions"

    def ready(self) -> None:
        from webapp.experiments import outcomes
        from webapp.reviews.models import FailedPrediction, Prediction

        # The experiment statistics count what this app stores.
        outcomes.register(
            outcomes.Outcomes(
                answered=Prediction, failed=FailedPrediction, verdict="feedback__correct"
            )
        )
