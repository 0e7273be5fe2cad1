#!/usr/bin/env bash
# Local monitoring until Ctrl-C: Prometheus on 127.0.0.1:${PROMETHEUS_PORT:-9090} scraping the
# services of `make run` (model v1 and v2, web app v1 and v2) and, when `make mesh` runs, the
# local Envoy's admin endpoint, with the same alert rules as the cluster
# (monitoring/prometheusrule.yaml). Ports come from the same variables as `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."

export MODELSVC_PORT=${MODELSVC_PORT:-5000}
export MODELSVC_V2_PORT=${MODELSVC_V2_PORT:-5004}
export WEBAPP_PORT=${WEBAPP_PORT:-5001}
export WEBAPP_V2_PORT=${WEBAPP_V2_PORT:-5002}
export WORKER_METRICS_PORT=${WORKER_METRICS_PORT:-5003}
export ENVOY_ADMIN_PORT=${ENVOY_ADMIN_PORT:-${MESH_ADMIN_PORT:-9901}}
export SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-5s}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
OUT="${VAR_DIR:-var}/monitoring"

for tool in prometheus promtool; do
  command -v "$tool" >/dev/null || {
    echo "$tool not found: install Debian's prometheus package (make system-deps)" >&2
    exit 1
  }
done

mkdir -p "$OUT/data"
.venv/bin/python monitoring/local/render.py "$OUT"
promtool check config "$OUT/prometheus.yml" >/dev/null
# Grafana's dashboards as links to Prometheus's graph page, one per panel query.
LINKS="${VAR_DIR:-var}/monitor-links.md"
.venv/bin/python monitoring/local/links.py "$LINKS" \
  --prometheus "http://127.0.0.1:${PROMETHEUS_PORT}" --scrape-interval "$SCRAPE_INTERVAL"

cat <<INFO
Prometheus http://127.0.0.1:${PROMETHEUS_PORT}  (its menu: Alerts, Status > Targets)
scraping model v1 :${MODELSVC_PORT} and v2 :${MODELSVC_V2_PORT}, web app v1 :${WEBAPP_PORT} and v2 :${WEBAPP_V2_PORT},
Celery worker :${WORKER_METRICS_PORT} (all of them started by \`make run\`) and Envoy admin
:${ENVOY_ADMIN_PORT} (down unless \`make mesh\` runs), every ${SCRAPE_INTERVAL}.
Try: sum by (sentiment) (rate(sentiment_model_predictions_total[1m]))
The dashboards' panels, as links above, are also in ${LINKS}; the metrics and queries are
described in monitoring/README.md. Ctrl-C stops.
INFO

exec prometheus \
  --config.file="$OUT/prometheus.yml" \
  --storage.tsdb.path="$OUT/data" \
  --storage.tsdb.retention.time=2d \
  --web.listen-address="127.0.0.1:${PROMETHEUS_PORT}" \
  --log.level=warn
