#!/usr/bin/env bash
# Runs the whole product locally until Ctrl-C: the model service, web app v1 and v2, and a
# Celery worker and beat, on Redis when REDIS_URL is set and otherwise on the embedded broker
# (a SQLite file under var/, see webapp/settings.py). Ports from the environment. The banner
# appears once every service answers its readiness check.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
VAR=${VAR_DIR:-var}
MODELSVC_PORT=${MODELSVC_PORT:-5000}
MODELSVC_V2_PORT=${MODELSVC_V2_PORT:-5004}
WEBAPP_PORT=${WEBAPP_PORT:-5001}
WEBAPP_V2_PORT=${WEBAPP_V2_PORT:-5002}
WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-5003}
export MODEL_SERVICE_URL=${MODEL_SERVICE_URL:-http://127.0.0.1:${MODELSVC_PORT}}
export MODEL_SERVICE_V2_URL=${MODEL_SERVICE_V2_URL:-http://127.0.0.1:${MODELSVC_V2_PORT}}

"$PY" scripts/ports_free.py "$MODELSVC_PORT" "$MODELSVC_V2_PORT" "$WEBAPP_PORT" "$WEBAPP_V2_PORT" \
  "$WORKER_METRICS_PORT"

source scripts/children.sh

child scripts/serve.sh modelsvc "$MODELSVC_PORT"
# Model v2 (the embed pipeline) beside v1: same code, its own artifact (make model trains it).
MODEL_VARIANT=v2 MODEL_DIR="${MODEL_V2_DIR:-$VAR/model-v2}" \
  child scripts/serve.sh modelsvc "$MODELSVC_V2_PORT"
APP_VARIANT=v1 child scripts/serve.sh webapp "$WEBAPP_PORT"
APP_VARIANT=v2 child scripts/serve.sh webapp "$WEBAPP_V2_PORT"
# Task metrics are summed across the prefork pool through this folder.
rm -rf "$VAR/metrics/worker"; mkdir -p "$VAR/metrics/worker"
DJANGO_SETTINGS_MODULE=webapp.settings WORKER_METRICS_PORT=$WORKER_METRICS_PORT \
  WORKER_METRICS_ADDR=127.0.0.1 PROMETHEUS_MULTIPROC_DIR="$VAR/metrics/worker" \
  child .venv/bin/celery -A webapp.celery worker --loglevel=info
DJANGO_SETTINGS_MODULE=webapp.settings \
  child .venv/bin/celery -A webapp.celery beat --loglevel=info --schedule "$VAR/celerybeat-schedule"
services=("${pids[@]}")

broker="the embedded broker ($VAR/celery-broker.sqlite3)"
[[ -n ${REDIS_URL:-} ]] && broker="Redis"
(
  "$PY" scripts/wait_ready.py 300 "http://127.0.0.1:${MODELSVC_PORT}/health/ready" \
    "http://127.0.0.1:${MODELSVC_V2_PORT}/health/ready" \
    "http://127.0.0.1:${WEBAPP_PORT}/health/ready" \
    "http://127.0.0.1:${WEBAPP_V2_PORT}/health/ready" \
    "http://127.0.0.1:${WORKER_METRICS_PORT}/metrics" || exit 0
  cat <<INFO

Sentiment is running (Ctrl-C stops all):
  model service  http://127.0.0.1:${MODELSVC_PORT}   (/api/docs)
  model v2       http://127.0.0.1:${MODELSVC_V2_PORT}   (the embed pipeline)
  web app v1     http://127.0.0.1:${WEBAPP_PORT}   (/admin/, /batch, /api/docs)
  web app v2     http://127.0.0.1:${WEBAPP_V2_PORT}
  Celery worker and beat on ${broker}; worker metrics http://127.0.0.1:${WORKER_METRICS_PORT}/metrics

INFO
) & pids+=($!)
# One service ending (a crash, say) ends the rest through the EXIT trap.
wait -n "${services[@]}"
echo "a service stopped; stopping the others" >&2
exit 1
