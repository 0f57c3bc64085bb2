#!/usr/bin/env bash
# `make test`: start what the tests need (only what is not already running), lint, type-check,
# run pytest, and stop what this script started, also when a step fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export KAFKA_PORT=${KAFKA_PORT:-19092} KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
export PG_PORT=${PG_PORT:-55432}
started=()
cleanup() {
  for svc in "${started[@]}"; do bash "deploy/$svc/run-local" stop || true; done
}
trap cleanup EXIT

ensure() {  # ensure SERVICE: start it unless it already runs; remember that we started it
  local svc=$1
  if bash "deploy/$svc/run-local" status >/dev/null 2>&1; then
    echo "== $svc already running; leaving it running"
  else
    echo "== starting $svc"
    bash "deploy/$svc/run-local" start || { echo "could not start $svc" >&2; exit 1; }
    started+=("$svc")
  fi
}
ensure postgres
ensure kafka
bash deploy/prometheus/run-local install || { echo "could not install prometheus/alertmanager" >&2; exit 1; }
export TUMEN_TEST_KAFKA="127.0.0.1:${KAFKA_PORT}"
export TUMEN_TEST_DATABASE_URL="$(bash deploy/postgres/run-local url | tail -n 1)"

status=0
echo "== ruff";  .venv/bin/ruff check . && .venv/bin/ruff format --check . || status=1
echo "== mypy";  .venv/bin/mypy || status=1
echo "== pytest"; .venv/bin/pytest -q -p no:cacheprovider --durations=15 "$@" || status=1
exit $status
