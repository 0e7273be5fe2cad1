"""The review data sets that tests and benchmarks read.

The two public dumps sit beside the checkout in ``../shared/data``, outside the repository;
the labelled corpus the default model is trained from ships with the model service.
"""

from devtools.servers import REPO
from modelsvc.config import CORPUS_PATH as CORPUS

SHARED_DATA = REPO.parent / "shared" / "data"
A1 = SHARED_DATA / "a1_RestaurantReviews_HistoricDump.tsv"  # labelled, historic
A2 = SHARED_DATA / "a2_RestaurantReviews_FreshDump.tsv"  # unlabelled, what traffic brings

__all__ = ["A1", "A2", "CORPUS", "SHARED_DATA"]
