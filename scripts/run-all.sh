#!/usr/bin/env bash
# Runs every service of the product locally until Ctrl-C: the model service, web app v1 and
# v2, and (only when REDIS_URL is set) a Celery worker and beat. Ports from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MODELSVC_PORT=${MODELSVC_PORT:-5000}
MODELSVC_V2_PORT=${MODELSVC_V2_PORT:-5004}
WEBAPP_PORT=${WEBAPP_PORT:-5001}
WEBAPP_V2_PORT=${WEBAPP_V2_PORT:-5002}
export MODEL_SERVICE_URL=${MODEL_SERVICE_URL:-http://127.0.0.1:${MODELSVC_PORT}}

trap 'trap - INT TERM EXIT; kill 0 2>/dev/null; wait' INT TERM EXIT

scripts/serve.sh modelsvc "$MODELSVC_PORT" &
# Model v2 (the embed pipeline) beside v1: same code, its own artifact (make model trains it).
MODEL_VARIANT=v2 MODEL_DIR="${MODEL_V2_DIR:-${VAR_DIR:-var}/model-v2}" \
  scripts/serve.sh modelsvc "$MODELSVC_V2_PORT" &
APP_VARIANT=v1 scripts/serve.sh webapp "$WEBAPP_PORT" &
APP_VARIANT=v2 scripts/serve.sh webapp "$WEBAPP_V2_PORT" &
if [ -n "${REDIS_URL:-}" ]; then
  # Task metrics are summed across the prefork pool through this folder, served on 5003.
  rm -rf "${VAR_DIR:-var}/metrics/worker"; mkdir -p "${VAR_DIR:-var}/metrics/worker"
  DJANGO_SETTINGS_MODULE=webapp.settings WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-5003} \
    WORKER_METRICS_ADDR=127.0.0.1 PROMETHEUS_MULTIPROC_DIR="${VAR_DIR:-var}/metrics/worker" \
    .venv/bin/celery -A webapp.celery worker --loglevel=info &
  DJANGO_SETTINGS_MODULE=webapp.settings .venv/bin/celery -A webapp.celery beat --loglevel=info \
    --schedule "${VAR_DIR:-var}/celerybeat-schedule" &
fi
echo "model v1 http://127.0.0.1:${MODELSVC_PORT}  model v2 http://127.0.0.1:${MODELSVC_V2_PORT}  web app v1 http://127.0.0.1:${WEBAPP_PORT}  v2 http://127.0.0.1:${WEBAPP_V2_PORT}  (Ctrl-C stops all)"
# One service ending (a port in use, say) ends the rest through the EXIT trap.
wait -n
exit 1
