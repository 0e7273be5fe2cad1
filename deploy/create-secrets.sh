#!/usr/bin/env bash
# Creates the Secrets of a Sentiment installation with strong random values, before
# `kubectl apply -k deploy/`. A Secret that already exists is left untouched (kubectl create
# never overwrites), so running this again is safe and keeps every value.
#
#   deploy/create-secrets.sh [--no-tls]
#
# Namespace sentiment: sentiment-django (Django key), sentiment-db (database password),
# sentiment-admin (admin account; ADMIN_USERNAME, ADMIN_EMAIL choose the name and address),
# github-token (GITHUB_TOKEN if set, for released models; empty otherwise).
# The ingress gateway's namespace (deploy/gateway/ingress-gateway.yaml): sentiment-tls, a
# self-signed certificate for the three host names, unless --no-tls (a certificate from
# cert-manager or your own CA: deploy/README.md, "TLS"). Values go through files in a private
# temporary folder, never through the command line or the output.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ns=sentiment
gateway_ns="$(awk '$1 == "namespace:" {print $2; exit}' "$here/gateway/ingress-gateway.yaml")"
hosts=(sentiment.local prometheus.sentiment.local grafana.sentiment.local)
tls=yes
for arg in "$@"; do
  case "$arg" in
    --no-tls) tls=no ;;
    *) echo "usage: $0 [--no-tls]" >&2; exit 2 ;;
  esac
done

umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

random() {  # $1 bytes of randomness, URL-safe text
  python3 -c 'import secrets, sys; print(secrets.token_urlsafe(int(sys.argv[1])), end="")' "$1"
}

exists() {  # namespace, name
  kubectl -n "$1" get secret "$2" >/dev/null 2>&1
}

create_generic() {  # name key=value-file...
  local name="$1"; shift
  if exists "$ns" "$name"; then
    echo "secret $ns/$name exists: kept"
    return
  fi
  local args=() pair
  for pair in "$@"; do args+=("--from-file=$pair"); done
  kubectl -n "$ns" create secret generic "$name" "${args[@]}" >/dev/null
  echo "secret $ns/$name created"
}

kubectl apply -f "$here/k8s/namespace.yaml" >/dev/null

random 50 >"$work/secret-key"
create_generic sentiment-django "secret-key=$work/secret-key"

random 32 >"$work/db-password"
create_generic sentiment-db "password=$work/db-password"

printf '%s' "${ADMIN_USERNAME:-admin}" >"$work/username"
printf '%s' "${ADMIN_EMAIL:-admin@sentiment.local}" >"$work/email"
random 24 >"$work/admin-password"
create_generic sentiment-admin "username=$work/username" "email=$work/email" \
  "password=$work/admin-password"

printf '%s' "${GITHUB_TOKEN:-}" >"$work/token"
create_generic github-token "token=$work/token"

if [ "$tls" = yes ]; then
  if exists "$gateway_ns" sentiment-tls; then
    echo "secret $gateway_ns/sentiment-tls exists: kept"
  else
    san="$(printf 'DNS:%s,' "${hosts[@]}")"
    openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes \
      -subj "/CN=${hosts[0]}" -addext "subjectAltName=${san%,}" \
      -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
    kubectl -n "$gateway_ns" create secret tls sentiment-tls \
      --cert="$work/tls.crt" --key="$work/tls.key" >/dev/null
    echo "secret $gateway_ns/sentiment-tls created (self-signed, 365 days)"
  fi
fi

echo "admin password: kubectl -n $ns get secret sentiment-admin -o jsonpath='{.data.password}' | base64 -d"
