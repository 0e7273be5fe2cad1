"""The experiment arm a request is served in: one type for the middleware that decides it,
the services that record outcomes under it, the templates and the metrics."""

from dataclasses import dataclass

from django.http import HttpRequest

from webapp.experiments.models import Source


@dataclass(frozen=True)
class ExperimentArm:
    """What the current request sees of the experiment that steers routing.

    The experiments middleware sets it as ``request.experiment``; read it with
    :func:`arm_of` or :func:`recorded_arm`.
    """

    experiment: str  # by name
    variant: str  # A or B
    visitor_id: str
    phase: int
    source: str  # a Source: how the visitor came to this variant
    # True when this request stored the visitor's assignment (first visit in this phase).
    created: bool = False

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


def served_columns(arm: ExperimentArm | None) -> dict[str, str]:
    """The experiment columns of a ``ServedRequest`` served in ``arm``: blank without one."""
    if arm is None:
        return {"experiment": "", "variant": "", "visitor_id": ""}
    return {"experiment": arm.experiment, "variant": arm.variant, "visitor_id": arm.visitor_id}
