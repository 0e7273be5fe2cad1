"""Request bodies for the benchmark, the same bytes for every server.

Reviews come from the unlabelled "fresh" dump (../shared/data/a2, what production traffic
brings) when it is there, else from the shipped corpus. Inference bodies use the shape
MLServer documents for its scikit-learn runtime, which our service accepts too: one BYTES
input "text" with content_type "str", and the one output both servers can name,
"predict_proba". Each body file holds one JSON document per line for bench/wrk.lua.
"""

from __future__ import annotations

import json
from pathlib import Path

from devtools.data import A2 as FRESH
from devtools.data import CORPUS

INFER_PATH = "/v2/models/sentiment/infer"
LIVE_PATH = "/v2/health/live"
BATCH = 100


def read_reviews(path: Path) -> list[str]:
    """First column of a tab-separated file with a header row (the data set is unquoted)."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [text for text in (line.split("\t")[0] for line in lines) if text.strip()]


def sample_reviews() -> list[str]:
    reviews = read_reviews(FRESH if FRESH.exists() else CORPUS)
    while len(reviews) < BATCH:
        reviews = reviews + reviews
    return reviews


def oip_request(texts: list[str], outputs: tuple[str, ...] = ("predict_proba",)) -> dict:
    return {
        "inputs": [
            {
                "name": "text",
                "shape": [len(texts)],
                "datatype": "BYTES",
                "parameters": {"content_type": "str"},
                "data": texts,
            }
        ],
        "outputs": [{"name": name} for name in outputs],
    }


def _compact(payload: dict) -> bytes:
    # ensure_ascii keeps each body on one line whatever the review holds.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def oip_body(texts: list[str]) -> bytes:
    return _compact(oip_request(texts))


def analyze_body(text: str) -> bytes:
    return _compact({"review": text})


def bodies(kind: str, reviews: list[str] | None = None) -> list[bytes]:
    """The bodies of one payload kind: ``oip-1``, ``oip-100`` or ``analyze``."""
    reviews = reviews or sample_reviews()
    if kind == "oip-1":
        return [oip_body([text]) for text in reviews]
    if kind == "oip-100":
        # Every window of BATCH consecutive reviews (wrapping), up to 10 distinct bodies.
        doubled = reviews + reviews
        starts = range(0, len(reviews), max(1, len(reviews) // 10))
        return [oip_body(doubled[start : start + BATCH]) for start in starts][:10]
    if kind == "analyze":
        return [analyze_body(text) for text in reviews]
    raise ValueError(f"unknown payload kind {kind!r}")


def write_bodies(path: Path, kind: str, reviews: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(bodies(kind, reviews)) + b"\n")
    return path
