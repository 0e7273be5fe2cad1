"""Every custom metric of both services, defined once (the contract is monitoring/README.md).

Label values are bounded: versions, variants, experiment names, URL names, sentiments,
reasons and status classes; never review text, paths or ids (tests/core/test_metrics.py holds
the allowed label names). Under gunicorn with several workers, prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR) sums the workers; gauges therefore name a
multiprocess_mode, or each worker would add a series of its own.
"""

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets cover an in-process prediction (sub-millisecond) up to a timed-out call.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
CONFIDENCE_BUCKETS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)

# --- model service -----------------------------------------------------------------------
MODEL_PREDICTIONS = Counter(
    "sentiment_model_predictions_total",
    "Reviews classified by the model service.",
    ["model_version", "sentiment"],
)
MODEL_INFERENCE_SECONDS = Histogram(
    "sentiment_model_inference_seconds",
    "Time spent in the model's predict_proba per call (one call may hold many reviews).",
    ["model_version", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
MODEL_CONFIDENCE = Histogram(
    "sentiment_model_confidence",
    "Confidence of each prediction (probability of the predicted class).",
    ["model_version"],
    buckets=CONFIDENCE_BUCKETS,
)
MODEL_BATCH_SIZE = Histogram(
    "sentiment_model_batch_size",
    "Reviews per inference call.",
    ["model_version", "endpoint"],
    buckets=BATCH_SIZE_BUCKETS,
)
MODEL_READY = Gauge(
    "sentiment_model_ready",
    "1 when a verified model is loaded and serving, else 0.",
    ["model_version"],
    multiprocess_mode="livemax",
)
MODEL_LOAD_FAILURES = Counter(
    "sentiment_model_load_failures_total",
    "Model artifacts that could not be fetched, verified or loaded.",
    ["reason"],
)

# Input drift (modelsvc/drift.py): live reviews counted per bin of each profiled feature, and
# the artifact's reference share of each bin; PSI is computed from both in PromQL (recording
# rule sentiment_model:drift_psi:30m). Labels are bin indices, never review text.
MODEL_DRIFT_OBSERVATIONS = Counter(
    "sentiment_model_drift_observations_total",
    "Live reviews per bin of a drift feature (length, oov_share, predicted_positive, confidence).",
    ["model_version", "feature", "bin"],
)
MODEL_DRIFT_REFERENCE = Gauge(
    "sentiment_model_drift_reference_ratio",
    "Share of the model's reference (held-out training) reviews in each bin of a drift feature.",
    ["model_version", "feature", "bin"],
    multiprocess_mode="livemax",
)

# --- web app -----------------------------------------------------------------------------
APP_INFO = Gauge(
    "sentiment_app_info",
    "Always 1; carries the running app version and variant as labels.",
    ["app_version", "app_variant"],
    multiprocess_mode="livemax",
)
APP_REQUESTS = Counter(
    "sentiment_app_requests_total",
    "Web app requests by experiment variant and status class.",
    ["app_version", "variant", "route", "status_class"],
)
APP_REQUEST_SECONDS = Histogram(
    "sentiment_app_request_seconds",
    "Web app request latency by experiment variant.",
    ["app_version", "variant", "route"],
    buckets=LATENCY_BUCKETS,
)
APP_PREDICTIONS = Counter(
    "sentiment_app_predictions_total",
    "Predictions served to users and stored.",
    ["app_version", "experiment", "variant", "model_version", "sentiment"],
)
APP_PREDICTION_SECONDS = Histogram(
    "sentiment_app_prediction_seconds",
    "End-to-end prediction latency in the web app (model call and database write).",
    ["app_version", "variant"],
    buckets=LATENCY_BUCKETS,
)
APP_FEEDBACK = Counter(
    "sentiment_app_feedback_total",
    "User feedback on predictions.",
    ["app_version", "experiment", "variant", "correct"],
)
APP_MODEL_ERRORS = Counter(
    "sentiment_app_model_errors_total",
    "Failed calls from the web app to the model service, by the model called.",
    ["app_version", "model_variant", "reason"],
)
APP_MODEL_FALLBACKS = Counter(
    "sentiment_app_model_fallbacks_total",
    "Single reviews that model v2 could not answer for now and v1 answered instead.",
    ["app_version", "model_variant", "reason"],
)

# --- experiments and background work ------------------------------------------------------
EXPERIMENT_ASSIGNMENTS = Counter(
    "sentiment_experiment_assignments_total",
    "Visitors assigned to an experiment variant.",
    ["experiment", "variant", "source"],
)
BATCH_JOBS = Counter(
    "sentiment_batch_jobs_total",
    "Batch analysis jobs by final status.",
    ["status"],
)
BATCH_ROWS = Counter(
    "sentiment_batch_rows_total",
    "Batch analysis rows by outcome.",
    ["outcome"],
)
BATCH_PENDING_ROWS = Gauge(
    "sentiment_batch_pending_rows",
    "Rows of queued and running batch jobs not classified yet: the queue depth the workers "
    "scale on (set by the workers after each chunk).",
    multiprocess_mode="livemax",
)
CANARY_CHECKS = Counter(
    "sentiment_canary_checks_total",
    "Canary guard evaluations by outcome.",
    ["experiment", "outcome"],
)
CANARY_ROLLBACKS = Counter(
    "sentiment_canary_rollbacks_total",
    "Experiments rolled back by the canary guard.",
    ["experiment"],
)
