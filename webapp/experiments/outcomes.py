"""Where the outcomes of the requests served in an experiment are stored.

The experiment statistics count answered and failed requests and the users' verdicts, but
the models holding them belong to the feature app that serves the requests (reviews). That
app registers them here from its ``AppConfig.ready``, so this app never imports it.
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from webapp.experiments.models import ServedRequest


@dataclass(frozen=True)
class Outcomes:
    answered: type[ServedRequest]  # requests that got an answer
    failed: type[ServedRequest]  # requests that got none
    # The lookup from an answered request to the user's verdict: True when the answer was
    # right, null while nobody said.
    verdict: str


_registered: list[Outcomes] = []


def register(outcomes: Outcomes) -> None:
    """Make ``outcomes`` what the statistics read; registering the same again is harmless."""
    if _registered and _registered[0] != outcomes:
        raise ImproperlyConfigured(
            f"Experiment outcomes are already stored in {_registered[0].answered.__name__}."
        )
    _registered[:] = [outcomes]


def registered() -> Outcomes:
    if not _registered:
        raise ImproperlyConfigured("No installed app registers the outcomes of experiments.")
    return _registered[0]
