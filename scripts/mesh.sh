#!/usr/bin/env bash
# The mesh on one machine: the model service v1 and v2 and web app v1 and v2
# (scripts/run-all.sh) behind a real Envoy playing the Istio ingress gateway, configured from
# deploy/istio/ by deploy/local/meshgen.py: the A/B routing of sentiment-vs, the subsets and
# limits of the DestinationRule, the gateway's access policy, the per-client-IP rate limit of
# the EnvoyFilter (static assets free, 429 with our JSON error). The same Envoy plays the web
# app's sidecar for the model Service on MESH_MODEL_PORT: sentiment-model-vs sends
# x-model-variant: v2 to model v2, everything else to v1, so the web app's MODEL_SERVICE_URL
# and MODEL_SERVICE_V2_URL both name that listener, as in the cluster. Until Ctrl-C.
# Ports: MESH_PORT (8080), MESH_MODEL_PORT (8081), MESH_ADMIN_PORT (9901), MODELSVC_PORT,
# MODELSVC_V2_PORT, WEBAPP_PORT, WEBAPP_V2_PORT.
# HTTPS as well (the Gateway's HTTPS server) with MESH_TLS_CERT and MESH_TLS_KEY (PEM files)
# on MESH_TLS_PORT (8443). MESH_ISTIO_DIR: another kustomization of the Istio objects.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
ENVOY=.venv/bin/envoy
MODELSVC_PORT=${MODELSVC_PORT:-5000}
MODELSVC_V2_PORT=${MODELSVC_V2_PORT:-5004}
WEBAPP_PORT=${WEBAPP_PORT:-5001}
WEBAPP_V2_PORT=${WEBAPP_V2_PORT:-5002}
MESH_HOST=${MESH_HOST:-127.0.0.1}
MESH_PORT=${MESH_PORT:-8080}
MESH_MODEL_PORT=${MESH_MODEL_PORT:-8081}
MESH_ADMIN_PORT=${MESH_ADMIN_PORT:-9901}
MESH_TLS_PORT=${MESH_TLS_PORT:-8443}
MESH_ISTIO_DIR=${MESH_ISTIO_DIR:-deploy/istio}
MESH_DIR=${VAR_DIR:-var}/mesh
export MODELSVC_PORT MODELSVC_V2_PORT WEBAPP_PORT WEBAPP_V2_PORT
# The web app reaches both model variants through the model listener, which picks by header.
export MODEL_SERVICE_URL="http://127.0.0.1:${MESH_MODEL_PORT}"
export MODEL_SERVICE_V2_URL="http://127.0.0.1:${MESH_MODEL_PORT}"

tls_args=()
tls_ports=()
if [[ -n ${MESH_TLS_CERT:-} || -n ${MESH_TLS_KEY:-} ]]; then
  [[ -r ${MESH_TLS_CERT:-} && -r ${MESH_TLS_KEY:-} ]] || {
    echo "MESH_TLS_CERT and MESH_TLS_KEY must both name readable PEM files" >&2; exit 2; }
  tls_args=(--tls-cert "$MESH_TLS_CERT" --tls-key "$MESH_TLS_KEY" --tls-port "$MESH_TLS_PORT")
  tls_ports=("$MESH_TLS_PORT")
fi
"$PY" scripts/ports_free.py "$MESH_PORT" "$MESH_MODEL_PORT" "$MESH_ADMIN_PORT" "$MODELSVC_PORT" \
  "$MODELSVC_V2_PORT" "$WEBAPP_PORT" "$WEBAPP_V2_PORT" "${tls_ports[@]}"
mkdir -p "$MESH_DIR"
# The Envoy configuration first: a manifest the translator or Envoy rejects stops here.
"$PY" deploy/local/meshgen.py --kustomize-dir "$MESH_ISTIO_DIR" --address "$MESH_HOST" \
  --port "$MESH_PORT" --admin-port "$MESH_ADMIN_PORT" "${tls_args[@]}" \
  --upstream "v1=127.0.0.1:${WEBAPP_PORT}" --upstream "v2=127.0.0.1:${WEBAPP_V2_PORT}" \
  --model-port "$MESH_MODEL_PORT" --model-upstream "v1=127.0.0.1:${MODELSVC_PORT}" \
  --model-upstream "v2=127.0.0.1:${MODELSVC_V2_PORT}" \
  --domain localhost --domain 127.0.0.1 --domain "$MESH_HOST" >"$MESH_DIR/envoy.yaml"
"$ENVOY" --mode validate -c "$MESH_DIR/envoy.yaml" -l error >/dev/null

source scripts/children.sh
child scripts/run-all.sh
"$PY" scripts/wait_ready.py 120 "http://127.0.0.1:${MODELSVC_PORT}/health/live" \
  "http://127.0.0.1:${MODELSVC_V2_PORT}/health/live" \
  "http://127.0.0.1:${WEBAPP_PORT}/health/live" "http://127.0.0.1:${WEBAPP_V2_PORT}/health/live"
child "$ENVOY" -c "$MESH_DIR/envoy.yaml" --disable-hot-restart --concurrency 1 -l warn \
  --log-path "$MESH_DIR/envoy.log"
envoy_pid=${pids[-1]}
"$PY" scripts/wait_ready.py 30 "http://127.0.0.1:${MESH_ADMIN_PORT}/ready"
kill -0 "$envoy_pid" 2>/dev/null || { echo "envoy stopped: see $MESH_DIR/envoy.log" >&2; exit 1; }

url="http://${MESH_HOST}:${MESH_PORT}"
https_line=""
if [[ ${#tls_args[@]} -gt 0 ]]; then
  https_line="mesh gateway https://${MESH_HOST}:${MESH_TLS_PORT}  (certificate ${MESH_TLS_CERT})"
fi
cat <<INFO
mesh gateway ${url}  (Envoy admin http://127.0.0.1:${MESH_ADMIN_PORT}, log ${MESH_DIR}/envoy.log)
${https_line}
model service http://127.0.0.1:${MESH_MODEL_PORT}  (the web app's sidecar: MODEL_SERVICE_URL, MODEL_SERVICE_V2_URL)
  curl -s ${url}/api/version                             # app_variant v1
  curl -s -H 'x-user-experiment: B' ${url}/api/version   # app_variant v2 (or the cookie)
  for i in \$(seq 11); do curl -s -o /dev/null -w '%{http_code} ' ${url}/health/live; done
                     # 10 x 200, then 429 with a JSON error (10 per minute per IP, /static/ free)
  curl -s -H 'x-model-variant: v2' http://127.0.0.1:${MESH_MODEL_PORT}/version   # model_variant v2
Ctrl-C stops everything.
INFO
wait
