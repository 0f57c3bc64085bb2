#!/usr/bin/env bash
# `make bench`: figures, not assertions. Starts Kafka and PostgreSQL like `make test` does.
set -uo pipefail
cd "$(dirname "$0")/.."
export KAFKA_PORT=${KAFKA_PORT:-19092} KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
export PG_PORT=${PG_PORT:-55432}
started=()
cleanup() { for svc in "${started[@]}"; do bash "deploy/$svc/run-local" stop || true; done; }
trap cleanup EXIT
for svc in postgres kafka; do
  if ! bash "deploy/$svc/run-local" status >/dev/null 2>&1; then
    bash "deploy/$svc/run-local" start >/dev/null || exit 1
    started+=("$svc")
  fi
done
export TUMEN_TEST_KAFKA="127.0.0.1:${KAFKA_PORT}"
export TUMEN_TEST_DATABASE_URL="$(bash deploy/postgres/run-local url | tail -n 1)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for b in bench/bench_classify.py bench/bench_producer.py bench/bench_pipeline.py; do
  [ -f "$b" ] || continue
  echo "== $b"
  .venv/bin/python "$b" || echo "(failed: $b)"
done
