"""The trainable pipelines by name (``train_model --pipeline NAME``).

A :class:`Recipe` is what training needs of one: a factory of fresh unfitted pipelines (called
once for the shipped model and once per CV fold), the files to write beside ``model.joblib``,
the libraries worth recording in the manifest, and the major version of the model it makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from modelsvc.ml.features import ReviewNormalizer
from modelsvc.ml.pipeline import build_pipeline

DEFAULT_PIPELINE = "lexical"


@dataclass(frozen=True)
class Recipe:
    name: str
    build: Callable[[int], Pipeline]
    version_major: str
    libraries: tuple[str, ...] = ()
    # Entered around fitting and cross-validation (the embed pipeline memoises its encoder).
    training: Callable[[], AbstractContextManager[None]] = nullcontext


def _lexical() -> Recipe:
    return Recipe(DEFAULT_PIPELINE, build_pipeline, "1.0.0")


def _embed(precision: str = "int8") -> Recipe:
    from modelsvc.ml.embed import EmbedReviewFeatures  # noqa: PLC0415
    from modelsvc.ml.encoder_build import LIBRARIES, build_encoder  # noqa: PLC0415

    encoder = build_encoder("fp32" if precision == "fp32" else "int8")

    def build(seed: int) -> Pipeline:
        return Pipeline(
            [
                ("normalize", ReviewNormalizer()),
                ("features", EmbedReviewFeatures(encoder)),
                ("classifier", LogisticRegression(C=10.0, max_iter=5000, random_state=seed)),
            ]
        )

    @contextmanager
    def training() -> Iterator[None]:
        with encoder.memoized():
            yield

    name = "embed" if precision == "int8" else f"embed-{precision}"
    return Recipe(name, build, "2.0.0", LIBRARIES, training)


# embed-fp32 (the encoder unquantised) is kept for comparison: as accurate, 2-3x slower.
PIPELINES: dict[str, Callable[[], Recipe]] = {
    "lexical": _lexical,
    "embed": _embed,
    "embed-fp32": lambda: _embed("fp32"),
}


def recipe(name: str) -> Recipe:
    """The named recipe (building what it needs, e.g. the encoder); KeyError if unknown."""
    return PIPELINES[name]()
