#!/usr/bin/env bash
# `make airflow`: Airflow 3 (standalone: api-server, scheduler, dag-processor, triggerer) on localhost only, with this
# repository's dags/, the embedded storage (.drifting) and metrics database, and the demo projects registered.
# Ctrl-C stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

export AIRFLOW_HOME="$ROOT/.airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=${AIRFLOW_PORT:-8080}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
export DRIFTING_STORAGE_URL=${DRIFTING_STORAGE_URL:-$ROOT/.drifting}
PATH="$ROOT/.venv/bin:$PATH"

if [ ! -f "$DRIFTING_STORAGE_URL/store.json" ] || ! grep -q credit-default "$DRIFTING_STORAGE_URL/store.json"; then
  echo "== no demo projects yet: running the demo first"
  drifting-etl demo
fi
mkdir -p "$AIRFLOW_HOME"

# standalone starts many processes; run it in its own process group so that we can stop all of them
setsid airflow standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
GROUP=$!
stop() {
  echo; echo "== stopping Airflow (process group $GROUP)"
  kill -TERM -- "-$GROUP" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 -- "-$GROUP" 2>/dev/null || exit 0; sleep 1; done
  kill -KILL -- "-$GROUP" 2>/dev/null || true
}
trap stop INT TERM EXIT

URL="http://127.0.0.1:$AIRFLOW__API__PORT"
echo "== starting Airflow at $URL (log: $AIRFLOW_HOME/standalone.log) ..."
for _ in $(seq 120); do
  curl -fs "$URL/api/v2/monitor/health" > /dev/null 2>&1 && break
  kill -0 "$GROUP" 2>/dev/null || { echo "Airflow exited; see $AIRFLOW_HOME/standalone.log"; exit 1; }
  sleep 1
done
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
echo "== Airflow is up: $URL"
echo "   log in as admin, password: $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" "$PASSWORDS" 2>/dev/null || echo "see $PASSWORDS")"
echo "   DAGs: drift_monitor__<project> (one per active project) and retrain__<project>; unpause one to start"
echo "   backfill the demo week:  AIRFLOW_HOME=$AIRFLOW_HOME .venv/bin/airflow backfill create --dag-id drift_monitor__credit-default --from-date <first day> --to-date <last day>"
echo "   Ctrl-C stops everything."
wait "$GROUP"
