"""The experiment arms a request is served in: one type for the middleware that decides them,
the services that record outcomes under them, the templates and the metrics.

A request has up to two arms, one per kind of experiment: the frontend arm (which app serves
it) and the model arm (which model classifies its review)."""

from dataclasses import dataclass

from django.http import HttpRequest

from core.model_variants import STABLE
from webapp.experiments.models import Source


@dataclass(frozen=True)
class ExperimentArm:
    """What the current request sees of an experiment that steers routing.

    The experiments middleware sets the frontend arm as ``request.experiment`` and the model
    arm as ``request.model_experiment``; read them with :func:`arm_of`, :func:`recorded_arm`
    and :func:`model_arm_of`.
    """

    experiment: str  # by name
    variant: str  # A or B
    visitor_id: str
    phase: int
    source: str  # a Source: how the visitor came to this variant
    # True when this request stored the visitor's assignment (first visit in this phase).
    created: bool = False
    # The model that answers this arm's reviews: v1, or a model experiment's candidate for B.
    model: str = STABLE

    @property
    def compares_variants(self) -> bool:
        """Whether what this request leads to is evidence about A against B. During a
        rollback or promotion only one arm gets traffic: stored under the experiment, such
        outcomes would skew the comparison."""
        return self.source not in (Source.ROLLBACK, Source.PROMOTE)


def set_arm(request: HttpRequest, arm: ExperimentArm | None) -> None:
    """Give the request its arm (the experiments middleware does)."""
    request.experiment = arm  # type: ignore[attr-defined]  # an attribute of our own


def arm_of(request: HttpRequest) -> ExperimentArm | None:
    """The request's arm; None when no experiment is live, the client takes no part, the
    other version's app serves the request, or the middleware is not installed."""
    return getattr(request, "experiment", None)


def recorded_arm(request: HttpRequest) -> ExperimentArm | None:
    """The arm the request's outcome is recorded and counted under; None when it counts
    for no experiment."""
    arm = arm_of(request)
    return arm if arm is not None and arm.compares_variants else None


def set_model_arm(request: HttpRequest, arm: ExperimentArm | None) -> None:
    request.model_experiment = arm  # type: ignore[attr-defined]  # an attribute of our own


def model_arm_of(request: HttpRequest) -> ExperimentArm | None:
    """The request's arm in the model experiment: it picks the model, and is recorded when
    it :attr:`~ExperimentArm.compares_variants`. None when no model experiment is live."""
    return getattr(request, "model_experiment", None)


def served_columns(
    arm: ExperimentArm | None, model_arm: ExperimentArm | None = None
) -> dict[str, str]:
    """The experiment columns of a ``ServedRequest`` served in ``arm`` (frontend) and
    ``model_arm``: blank for an arm that counts for no experiment."""
    if model_arm is not None and not model_arm.compares_variants:
        model_arm = None
    visitor = arm or model_arm
    return {
        "experiment": arm.experiment if arm else "",
        "variant": arm.variant if arm else "",
        "visitor_id": visitor.visitor_id if visitor else "",
        "model_experiment": model_arm.experiment if model_arm else "",
        "model_arm": model_arm.variant if model_arm else "",
    }
